"""RefAV's example programs on the demo logs: avmine's runtime vs RefAV's implementation.

RefAV's times are those recorded when its golden outputs were made (tests/data/refav_golden, a
shared 2-core machine; indicative). avmine's are measured here, cold (first run in the process,
including loading the log) and warm (again, with per-log state cached), and answers are checked
equal to RefAV's.

    python benchmarks/bench_atomic.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import atomic
from atomic.program import run_program
from store import Store
from store.demo import ingest_demo

GOLDEN = json.loads((Path(__file__).parents[1] / "tests" / "data" / "refav_golden" / "examples.json").read_text())


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    return sorted({int(t) for t in value})


def main() -> None:
    namespace = atomic.program_namespace()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        ingest_demo(store, progress=False)
        for key, golden in sorted(GOLDEN["results"].items(), key=lambda kv: (int(kv[0].split("|")[0]), kv[0])):
            index, log_id = key.split("|")
            if golden["error"]:
                continue
            code = GOLDEN["programs"][int(index)]["code"]
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                run = run_program(code, namespace, store.log_dir(log_id), golden["description"], Path(tmp))
                timings.append(time.perf_counter() - started)
            if run.error:
                rows.append((key, golden["description"], None, None, golden["seconds"], run.error.split(":")[0]))
                continue
            same = _normalise(run.outputs[0].scenario) == _normalise(golden["scenario"])
            rows.append(
                (
                    key,
                    golden["description"],
                    timings[0],
                    timings[1],
                    golden["seconds"],
                    "equal" if same else "DIFFERENT",
                )
            )
    print(f"{'program / log':<16} {'description':<44} {'cold s':>7} {'warm s':>7} {'RefAV s':>8} {'ratio':>7}  answer")
    total_ours = total_refav = 0.0
    for key, description, cold, warm, refav, verdict in rows:
        if cold is None:
            print(f"{key[:14]:<16} {description[:44]:<44} {'-':>7} {'-':>7} {refav:>8.1f} {'-':>7}  {verdict}")
            continue
        total_ours += cold
        total_refav += refav
        ratio = f"{refav / cold:.0f}x"
        print(f"{key[:14]:<16} {description[:44]:<44} {cold:>7.2f} {warm:>7.2f} {refav:>8.1f} {ratio:>7}  {verdict}")
    if total_ours:
        ratio = total_refav / total_ours
        print(f"\nall runnable pairs: avmine {total_ours:.1f} s cold, RefAV {total_refav:.0f} s: {ratio:.0f}x")


if __name__ == "__main__":
    main()
