"""RefAV's example programs on the demo logs: avmine's runtime vs RefAV's implementation.

RefAV's times are those recorded when its golden outputs were made (tests/data/refav_golden, a
shared 2-core machine; indicative). avmine's are measured here, cold (first run in the process,
including loading the log) and warm (again, with per-log state cached), and answers are checked
equal to RefAV's.

    python benchmarks/bench_atomic.py
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from avmine import atomic
from avmine.atomic.output import post_process_scenario
from avmine.atomic.runner import run_program
from avmine.store import Store
from avmine.store.demo import ingest_demo

GOLDEN = json.loads((Path(__file__).parents[1] / "tests" / "data" / "refav_golden" / "examples.json").read_text())


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    return sorted({int(t) for t in value})


def main() -> None:
    namespace = atomic.program_namespace()
    rows: list[tuple[str, str, float | None, float | None, float, str]] = []
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
            expected = copy.deepcopy(golden["scenario"])  # RefAV's raw answer; the runner post-processes avmine's
            post_process_scenario(expected, store.log_dir(log_id))
            same = _normalise(run.scenario) == _normalise(expected)
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
    print(
        f"{'program':<48} {'logs':>4} {'cold s':>7} {'warm s':>7} {'RefAV s':>8} {'cold x':>7} {'warm x':>7}  answers"
    )
    by_program: dict[str, list[tuple[float, float, float, str]]] = {}
    for key, description, cold, warm, refav, verdict in rows:
        label = f"{key.split('|')[0]}: {description[:44]}"
        if cold is None or warm is None:
            print(f"{label:<48} {'':>4} {'-':>7} {'-':>7} {refav:>8.1f} {'-':>7} {'-':>7}  {verdict}")
            continue
        by_program.setdefault(label, []).append((cold, warm, refav, verdict))
    totals = [0.0, 0.0, 0.0]
    for label, runs in by_program.items():
        cold = sum(r[0] for r in runs)
        warm = sum(r[1] for r in runs)
        refav = sum(r[2] for r in runs)
        totals = [totals[0] + cold, totals[1] + warm, totals[2] + refav]
        verdicts = ", ".join(sorted({r[3] for r in runs}))
        ratios = f"{refav / cold:>6.0f}x {refav / warm:>6.0f}x"
        print(f"{label:<48} {len(runs):>4} {cold:>7.2f} {warm:>7.2f} {refav:>8.1f} {ratios}  {verdicts}")
    cold, warm, refav = totals
    if cold:
        print(f"\nall: avmine {cold:.1f} s cold, {warm:.1f} s warm; RefAV {refav:.0f} s")
        print(f"ratio: {refav / cold:.0f}x cold, {refav / warm:.0f}x warm")


if __name__ == "__main__":
    main()
