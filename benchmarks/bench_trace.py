"""The per-step trace's cost: RefAV's example programs on the demo logs, each traced call's recording timed.

Every atomic call a program makes is recorded (``avmine.atomic.trace``): its line, arguments and what its
result kept. This times that recording per call (warm: each program runs once first) and sets it against the
programs' own time.

    python benchmarks/bench_trace.py
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_atomic import GOLDEN

from avmine import atomic
from avmine.atomic.runner import Scope, compile_program, run_on_log, timed
from avmine.atomic.trace import Trace
from avmine.store import Store
from avmine.store.demo import ingest_demo


class TimedTrace(Trace):
    """A trace that times each of its recordings."""

    def __init__(self) -> None:
        super().__init__()
        self.costs: list[float] = []

    def record(self, *args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        super().record(*args, **kwargs)
        self.costs.append(time.perf_counter() - started)


def main() -> None:
    namespace = atomic.program_namespace()
    costs: list[float] = []
    program_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        ingest_demo(store, progress=False)
        for key, golden in GOLDEN["results"].items():
            index, log_id = key.split("|")
            if golden["error"]:
                continue
            program = compile_program(GOLDEN["programs"][int(index)]["code"])
            for attempt in range(2):  # the first run warms the log's caches
                seconds: dict[str, float] = {}
                trace = TimedTrace()
                scope = {n: timed(n, f, seconds, trace) if callable(f) else f for n, f in namespace.items()}
                scope["output_dir"] = Path(tmp)
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    run = run_on_log(
                        program, Scope(scope, printed.getvalue, seconds, trace), store.log_dir(log_id), "x"
                    )
                if attempt:
                    costs += trace.costs
                    program_seconds += run.seconds
    micro = sorted(c * 1e6 for c in costs)
    print(f"{len(costs)} traced calls over {program_seconds:.2f} s of programs (warm)")
    print(f"recording per call: mean {statistics.mean(micro):.0f} us, p50 {micro[len(micro) // 2]:.0f} us, "
          f"p95 {micro[int(len(micro) * 0.95)]:.0f} us, max {micro[-1]:.0f} us")  # fmt: skip
    print(f"all recordings: {sum(costs) * 1e3:.1f} ms, {sum(costs) / program_seconds:.2%} of the programs' time")


if __name__ == "__main__":
    main()
