"""Per-function speed of the RefAV atomic functions on the demo logs, warm, in-process.

Each atomic function is called at its defaults (relational ones with vehicles as tracks and
pedestrians as related objects; a required choice gets a representative value) on each demo
log: once ("first": the log's context is loaded and its base kinematics and map are built, but
nothing of this function's own work is cached yet), then five more times ("warm": the median).
Then RefAV's example programs (tests/data/refav_golden/examples.json) run twice per log; every
atomic call inside them is timed on the second run and the slowest calls are listed.

``--reference DIR`` runs the same measurements on another source tree (e.g. ``git archive`` of
an earlier commit unpacked in DIR) in a subprocess on the same logs, and prints ratios.

    python benchmarks/bench_functions.py [--reference DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "tests" / "data" / "refav_golden" / "examples.json"

UNARY: dict[str, dict[str, Any]] = {
    "turning": {},
    "changing_lanes": {},
    "has_lateral_acceleration": {},
    "accelerating": {},
    "has_velocity": {},
    "at_pedestrian_crossing": {},
    "on_lane_type": {"lane_type": "VEHICLE"},
    "near_intersection": {},
    "on_intersection": {},
    "stationary": {},
    "at_stop_sign": {},
    "in_drivable_area": {},
    "on_road": {},
    "is_category": {"category": "VEHICLE"},
    "is_color": {"color": "white"},
}
RELATIONAL: dict[str, dict[str, Any]] = {
    "has_objects_in_relative_direction": {"direction": "forward"},
    "get_objects_in_relative_direction": {"direction": "forward"},
    "facing_toward": {},
    "heading_toward": {},
    "being_crossed_by": {},
    "near_objects": {},
    "following": {},
    "heading_in_relative_direction_to": {"direction": "same"},
    "in_same_lane": {},
    "on_relative_side_of_road": {"side": "same"},
    "getting_closer": {},
    "getting_farther": {},
    "across_intersection_from": {},
}
TEMPORAL: dict[str, tuple[str, ...]] = {
    "then": ("stopped", "moving"),
    "overlapping": ("moving", "stopped"),
    "without": ("moving", "stopped"),
    "after": ("moving", "stopped"),
    "before": ("moving", "stopped"),
    "lasting": ("stopped",),
    "first_time": ("stopped",),
    "last_time": ("stopped",),
}
"""Behaviours in time, on the vehicles' stops (has_velocity up to 0.5 m/s) and movement (RefAV's default)."""
TIMED = set(UNARY) | set(RELATIONAL) | set(TEMPORAL) | {"get_objects_of_category"}


def _prepare_logs(tmp: Path) -> list[Path]:
    from avmine.server.ingestion import prepare_logs
    from avmine.store import Store
    from avmine.store.demo import ingest_demo

    with Store.open(tmp / "bench.duckdb") as store:
        reports = ingest_demo(store, progress=False)
        sources = [(s, log_id) for r in reports for s, log_id, *_ in r.sources]
        prepare_logs(store, sources, progress=False)
        return [store.log_dir(log_id) for log_id in sorted({log_id for _, log_id in sources})]


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.process_time
"""CPU time of this process by default: on a shared machine wall time mostly measures the neighbours."""


def _ms(call: Callable[[], Any]) -> float:
    started = clock()
    call()
    return (clock() - started) * 1000


def measure(log_dirs: list[Path], repeats: int) -> dict[str, Any]:
    """{"functions": {name: {log: [first_ms, warm_ms]}}, "programs": {call: {log: ms}}} in this process."""
    from avmine import atomic
    from avmine.atomic.context import context_for
    from avmine.atomic.runner import run_program

    namespace = atomic.program_namespace()
    functions: dict[str, dict[str, list[float]]] = {}
    for log_dir in log_dirs:
        log = log_dir.name[:8]
        ctx = context_for(log_dir)
        # the base every program pays once per log: kinematics, footprints, the map, lane assignment
        for name in ("velocity_city", "acceleration_city", "yaw_rate", "footprints_ego", "footprints_city"):
            getattr(ctx, name)
        _ = ctx.map_regions, ctx.row_lane, ctx.is_stationary
        get = namespace["get_objects_of_category"]
        vehicles, peds = get(log_dir, category="VEHICLE"), get(log_dir, category="PEDESTRIAN")
        calls = {n: functools.partial(namespace[n], vehicles, log_dir, **k) for n, k in UNARY.items()}
        calls |= {n: functools.partial(namespace[n], vehicles, peds, log_dir, **k) for n, k in RELATIONAL.items()}
        parts = {
            "stopped": namespace["has_velocity"](vehicles, log_dir, min_velocity=0, max_velocity=0.5),
            "moving": namespace["has_velocity"](vehicles, log_dir),
        }
        calls |= {
            n: functools.partial(namespace[n], *(parts[a] for a in args), log_dir) for n, args in TEMPORAL.items()
        }
        for name, call in calls.items():
            first = _ms(call)
            warm = statistics.median(_ms(call) for _ in range(repeats))
            functions.setdefault(name, {})[log] = [first, warm]

    programs: dict[str, dict[str, float]] = {}
    examples = json.loads(EXAMPLES.read_text())
    timed: dict[str, float] = {}

    def timer(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                timed[name] = max(timed.get(name, 0.0), (clock() - started) * 1000)

        return wrapped

    timed_namespace = {k: (timer(k, v) if k in TIMED else v) for k, v in namespace.items()}
    with tempfile.TemporaryDirectory() as out:
        for index, program in enumerate(examples["programs"]):
            for log_dir in log_dirs:
                for _ in range(2):  # the second run is the warm one
                    timed.clear()
                    run_program(program["code"], timed_namespace, log_dir, "bench", Path(out))
                for name, ms in timed.items():
                    programs.setdefault(f"{index}:{name}", {})[log_dir.name[:8]] = ms
    return {"functions": functions, "programs": programs}


def _reference(tree: Path, log_dirs: list[Path], repeats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [sys.executable, str(Path(__file__).resolve()), "--json", "--repeats", str(repeats)]
    args += ["--clock", "cpu" if clock is time.process_time else "wall", "--logs"]
    done = subprocess.run([*args, *map(str, log_dirs)], env=env, cwd=tree, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _report(now: dict[str, Any], before: dict[str, Any] | None) -> None:
    logs = sorted({log for per_log in now["functions"].values() for log in per_log})
    width = 29 if before else 17
    head = " ".join(f"{log:>{width}}" for log in logs)
    print(f"{'CPU' if clock is time.process_time else 'wall'} ms per log: warm median (first call in brackets)")
    if before:
        print("each cell: this tree's warm (first) ms, the reference tree's warm ms, their ratio")
    print(f"{'function':<36} {head}")
    for name, per_log in now["functions"].items():
        cells = []
        for log in logs:
            first, warm = per_log[log]
            cell = f"{warm:7.1f} ({first:6.1f})"
            if before:
                old = before["functions"][name][log][1]
                cell = f"{warm:5.1f} ({first:4.0f}) {old:6.1f} {old / warm:4.0f}x"
            cells.append(f"{cell:>{width}}")
        print(f"{name:<36} {' '.join(cells)}")
    print("\nRefAV example programs: each atomic call, warm ms per log (second run)")
    print(f"{'program:call':<36} {head}")
    for call, per_log in sorted(now["programs"].items(), key=lambda kv: (int(kv[0].split(":")[0]), kv[0])):
        cells = []
        for log in logs:
            ms = per_log.get(log)
            old = before["programs"].get(call, {}).get(log) if before else None
            cell = "-" if ms is None else f"{ms:7.1f}" + (f" {old:7.1f} {old / ms:4.0f}x" if old else "")
            cells.append(f"{cell:>{width}}")
        print(f"{call:<36} {' '.join(cells)}")
    worst = max((ms, call) for call, per_log in now["programs"].items() for ms in per_log.values())
    print(f"\nslowest call in the example programs: {worst[1]} {worst[0]:.1f} ms")
    if before:
        old_worst = max((ms, call) for call, per_log in before["programs"].items() for ms in per_log.values())
        print(f"in the reference tree: {old_worst[1]} {old_worst[0]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="another source tree to measure the same way")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="CPU time (default) or wall time")
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    parser.add_argument("--logs", type=Path, nargs="*", help="cached log directories (default: ingest the demo)")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    with tempfile.TemporaryDirectory() as tmp:
        log_dirs = args.logs or _prepare_logs(Path(tmp))
        before = _reference(args.reference, log_dirs, args.repeats) if args.reference else None
        if args.reference and not args.json:
            print(f"reference measured ({args.reference}); now this tree", file=sys.stderr)
        now = measure(log_dirs, args.repeats)
    if args.json:
        print(json.dumps(now))
    else:
        _report(now, before)


if __name__ == "__main__":
    main()
