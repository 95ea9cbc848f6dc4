"""Sandbox overhead: RefAV example programs over the demo logs, in the sandboxed executor vs in-process.

Warm on both sides (worker pool started and logs loaded; in-process contexts cached). Prints p50/p95
per call (one program on one log) and the overhead per call. Sandboxed calls are spaced by 0.1 s, as
an agent's calls are: between calls the worker reaps the last sandbox and arms the next.

With ``--logs N``, one program over N logs instead (copies of a demo log, sharing its cached arrays):
per call, the sum of the programs' own times, the executor's overhead per log (the workers' time
not spent in programs) and the proportional memory (PSS) of the whole process tree, warm.

    python benchmarks/bench_executor.py [--repeat N]
    python benchmarks/bench_executor.py --logs 150 [--workers 2] [--repeat 3] [--memory-budget 1G]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from avmine import atomic
from avmine.atomic.runner import run_program
from avmine.server.executor import Executor, LogSelection
from avmine.server.executor.memory import budget_option
from avmine.server.ingestion import prepare_logs
from avmine.store import Store
from avmine.store.demo import ingest_demo

GOLDEN = json.loads((Path(__file__).parents[1] / "tests" / "data" / "refav_golden" / "examples.json").read_text())
PROGRAMS = [p["code"] for p in GOLDEN["programs"] if p["index"] in (0, 1, 3, 4, 5, 6, 7)]


LEFT_TURN = "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n" + (
    "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
)


def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of a process and all its descendants (shared pages divided among sharers)."""
    total, frontier = 0, [pid]
    while frontier:
        current = frontier.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                frontier += [int(k) for k in task.read_text().split()]
        except OSError:
            continue
    return total


def scale(logs: int, workers: int, repeat: int, budget: int | None = None) -> None:
    """One program over many logs: overhead per log and memory of the process tree."""
    import os

    from tests.executor.log_copies import copy_log

    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        reports = ingest_demo(store, progress=False)
        prepare_logs(store, [(s, log) for r in reports for s, log, *_ in r.sources], progress=False)
        original = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
        copies = copy_log(store, original, logs - 1)
        selection = LogSelection(logs=(original, *copies))
        with Executor(store, workers=workers, memory_budget=budget) as executor:
            started = time.perf_counter()
            first = executor.run(LEFT_TURN + "# cold\n", "p", selection)
            print(f"cold call over {logs} logs: {time.perf_counter() - started:.2f} s ({first.status})")
            for call in range(repeat):
                started = time.perf_counter()
                execution = executor.run(LEFT_TURN + f"# call {call}\n", "p", selection)
                wall = time.perf_counter() - started
                in_programs = sum(r.seconds for r in execution.results)
                assert execution.status == "ok", [r.error for r in execution.results if r.error][:3]
                overhead = (wall * workers - in_programs) / logs
                print(
                    f"warm call over {logs} logs, {workers} worker(s): {wall:.2f} s; programs {in_programs:.2f} s "
                    f"({in_programs / logs * 1e3:.1f} ms per log); overhead {overhead * 1e3:.1f} ms per log"
                )
            executor.flush()
            print(f"PSS of the process tree: {tree_pss_bytes(os.getpid()) / 2**30:.2f} GiB")
            for number, held in enumerate(executor.memory()):
                print(f"worker {number}: {held['loaded_logs']} logs loaded, {held['held_bytes'] / 2**20:.0f} MiB "
                      f"held of its {held['budget_bytes'] / 2**20:.0f} MiB budget")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--logs", type=int, default=0, help="one program over this many logs (copies of a demo log)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--memory-budget", type=budget_option, default=None, help="for all workers (e.g. 1G)")
    args = parser.parse_args()
    if args.logs:
        scale(args.logs, args.workers, args.repeat, args.memory_budget)
        return
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        reports = ingest_demo(store, progress=False)
        prepare_logs(store, [(s, log) for r in reports for s, log, *_ in r.sources], progress=False)
        logs = [str(log) for log in store.query_df("SELECT log_id FROM logs ORDER BY log_id")["log_id"]]
        namespace = atomic.program_namespace()
        in_process: list[float] = []
        sandboxed: list[float] = []
        with Executor(store, workers=1) as executor:
            for program in PROGRAMS:  # warm both sides
                executor.run(program, "warm", LogSelection())
                for log_id in logs:
                    run_program(program, namespace, store.log_dir(log_id), "warm", Path(tmp))
            for _ in range(args.repeat):
                for program in PROGRAMS:
                    for log_id in logs:
                        started = time.perf_counter()
                        # the same work as a sandboxed call: the runner post-processes each output
                        run_program(program, namespace, store.log_dir(log_id), "p", Path(tmp))
                        in_process.append(time.perf_counter() - started)
                        # calls come from an agent that reads each result first: give the worker the
                        # moment it uses between calls to reap the last sandbox and arm the next one
                        time.sleep(0.1)
                        started = time.perf_counter()
                        # a fresh comment makes each call new code: identical code would re-use the last result
                        executor.run(program + f"\n# call {len(sandboxed)}\n", "p", LogSelection(logs=(log_id,)))
                        sandboxed.append(time.perf_counter() - started)
    overhead = np.array(sandboxed) - np.array(in_process)
    for name, values in (("in-process", in_process), ("sandboxed", sandboxed), ("overhead", list(overhead))):
        p50 = statistics.median(values) * 1e3
        p95 = float(np.percentile(values, 95)) * 1e3
        print(f"{name:<11} per call: p50 {p50:7.1f} ms, p95 {p95:7.1f} ms  ({len(values)} calls)")
    print(
        f"ratio sandboxed / in-process (medians): {statistics.median(sandboxed) / statistics.median(in_process):.2f}x"
    )


if __name__ == "__main__":
    main()
