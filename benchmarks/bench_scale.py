"""avmine at the scale of a real split: ingest, then execute_scenario through ``avmine serve`` over stdio.

Makes N logs as copies of the demo logs (``avmine.store.split_copier``; 150 copies hold about as many
boxes as an AV2 val or test split), ingests them with ``avmine ingest`` in a fresh process (wall
seconds, peak RSS), then starts ``avmine serve`` with a real MCP client and times
execute_scenario over the split for a set of programs. Cold: the first call after the server
started. Warm: the server already loaded the logs through another program; every timed program
carries a fresh comment, so no result is reused. "Outside" is the executor's time outside the
programs per log: call seconds minus the sum of the run's per-log seconds, over the logs. The
server's memory is the PSS of its process tree (the server and every descendant, from
/proc/PID/smaps_rollup), sampled during the calls. Last, ``avmine exec --split val`` of the
left-turn program in a fresh process. Prints a table and the ratio of each number to its target.

    python benchmarks/bench_scale.py [--logs 150] [--cold trivial,left_turn] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import duckdb
from mcp import Client, StdioServerParameters

from avmine.store.split_copier import make_split

PROGRAMS: dict[str, tuple[str, str]] = {  # name: (kind, program)
    "trivial": ("trivial", "output_scenario(get_objects_of_category(log_dir, category='EGO_VEHICLE'), "
                "description, log_dir, output_dir)\n"),
    "left_turn": ("left-turn", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                  "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"),
    "near_objects": ("relational", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                     "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
                     "output_scenario(near_objects(vehicles, peds, log_dir, distance_thresh=10), description, "
                     "log_dir, output_dir)\n"),
    "relative_direction": ("relational", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                           "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
                           "output_scenario(has_objects_in_relative_direction(vehicles, peds, log_dir, "
                           "direction='forward', within_distance=20), description, log_dir, output_dir)\n"),
    "heading_toward": ("relational", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                       "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
                       "output_scenario(heading_toward(peds, vehicles, log_dir), description, log_dir, output_dir)\n"),
    "being_crossed_by": ("relational", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                         "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
                         "output_scenario(being_crossed_by(vehicles, peds, log_dir), description, log_dir, "
                         "output_dir)\n"),
    "in_drivable_area": ("map", "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
                         "output_scenario(in_drivable_area(peds, log_dir), description, log_dir, output_dir)\n"),
    "near_intersection": ("map", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                          "output_scenario(near_intersection(vehicles, log_dir), description, log_dir, output_dir)\n"),
    "on_lane_type": ("map", "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
                     "output_scenario(on_lane_type(vehicles, log_dir, lane_type='BUS'), description, log_dir, "
                     "output_dir)\n"),
}  # fmt: skip
REFAV_EXAMPLES = Path(__file__).resolve().parents[1] / "store" / "demo_data" / "refav_examples.txt"
NUM_REFAV_EXAMPLES = 3
GIB = 2**30
TARGETS = {  # row: (target, unit)
    "warm left-turn": (1.5, "s"),
    "warm relational (worst)": (5.0, "s"),
    "first call after serve starts": (30.0, "s"),
    "cold exec --split val": (20.0, "s"),
    "ingest": (30.0, "s"),
    "ingest peak RSS": (1.0, "GiB"),
    "server tree PSS (peak)": (2.0, "GiB"),
}


def refav_examples() -> dict[str, tuple[str, str]]:
    """The first few of RefAV's example programs shipped in the repository."""
    blocks = [b.split("```", 1)[0] for b in REFAV_EXAMPLES.read_text().split("```python")[1:]]
    programs = {}
    for block in blocks[:NUM_REFAV_EXAMPLES]:
        lines = [line for line in block.strip().splitlines() if not line.startswith("description")]
        first = block.strip().splitlines()[0]
        name = "refav: " + first.split("=", 1)[1].strip().strip("'\"’ ")
        programs[name] = ("refav example", "\n".join(lines) + "\n")
    return programs


def tree_pss(root: int) -> int:
    """Bytes of PSS of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class PssSampler:
    """Samples the PSS of the ``avmine serve`` process tree (a child of this process) in the background."""

    def __init__(self, db: Path) -> None:
        self.db, self.peak, self._stop = str(db), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _server(self) -> int | None:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"serve" in cmd and self.db.encode() in cmd:
                    return int(entry)
        return None

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            pid = self._server()
            if pid is not None:
                self.peak = max(self.peak, tree_pss(pid))

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def session(db: Path, calls: list[tuple[str, str]], sampler: PssSampler) -> list[tuple[str, float, str]]:
    """Start ``avmine serve`` over stdio and make the calls in order: (label, seconds, run id) each."""
    command = [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "serve"]
    out = []
    async with Client(StdioServerParameters(command=command[0], args=command[1:]), read_timeout_seconds=3600) as client:
        for i, (label, program) in enumerate(calls):
            started = time.perf_counter()
            result = await client.call_tool(
                "execute_scenario", {"program": program + f"# bench_scale {time.time_ns()} {i}\n", "prompt": label}
            )
            seconds = time.perf_counter() - started
            data: Any = result.structured_content or {}
            if result.is_error or "run_id" not in data:
                raise RuntimeError(f"{label}: {result.content}")
            out.append((label, seconds, str(data["run_id"])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", type=int, default=150)
    parser.add_argument("--cold", default="trivial,left_turn", help="programs timed cold (a server start each)")
    parser.add_argument("--dir", help="work directory (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="avmine-scale-"))
    split = work / "val"
    make_split(split, args.logs)
    os.sync()  # the copies written back first: the ingest's time is its own, not the copier's write-back
    db = work / "scale.duckdb"
    for old in work.glob("scale.duckdb*"):
        subprocess.run(["rm", "-rf", str(old)], check=True)
    rows: list[tuple[str, str, float | None, str]] = []  # what, value text, number vs target, unit

    started = time.perf_counter()
    ingest = subprocess.Popen([sys.executable, "-m", "avmine.server.cli",
                               "--db", str(db), "ingest", "--quiet", str(split)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    _, status, usage = os.wait4(ingest.pid, 0)
    ingest_s = time.perf_counter() - started
    assert status == 0, ingest.stdout.read() if ingest.stdout else status
    boxes = duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM boxes").fetchall()[0][0]
    rows.append(("ingest", f"{ingest_s:.1f} s ({boxes:,} boxes)", ingest_s, "s"))
    rows.append(("ingest peak RSS", f"{usage.ru_maxrss / 2**20:.2f} GiB", usage.ru_maxrss * 1024 / GIB, "GiB"))
    rows.append(("ingest CPU (user+sys)", f"{usage.ru_utime + usage.ru_stime:.1f} s", None, ""))
    disk = sum(p.stat().st_size for p in work.rglob("*") if p.is_file() and p.name.startswith("scale.duckdb")) + sum(
        p.stat().st_size for p in (work / "scale.duckdb.cache").rglob("*") if p.is_file()
    )
    rows.append(("on disk (db, SQL copy, caches)", f"{disk / GIB:.2f} GiB", None, ""))

    programs = {**PROGRAMS, **refav_examples()}
    runs: list[tuple[str, str, float, str]] = []  # label, mode, seconds, run id
    with PssSampler(db) as sampler:
        for name in [n for n in args.cold.split(",") if n]:
            for label, seconds, run_id in anyio.run(session, db, [(name, programs[name][1])], sampler):
                runs.append((label, "cold", seconds, run_id))
        warm_calls = [("warm-up", PROGRAMS["trivial"][1])] + [(n, p) for n, (_, p) in programs.items()]
        for label, seconds, run_id in anyio.run(session, db, warm_calls, sampler)[1:]:
            runs.append((label, "warm", seconds, run_id))
    started = time.perf_counter()
    program_file = work / "left_turn.py"
    program_file.write_text(PROGRAMS["left_turn"][1] + f"# cold exec {time.time_ns()}\n")
    command = ["exec", str(program_file), "--prompt", "vehicle turning left", "--split", "val", "--json"]
    subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "--db", str(db), *command], check=True, stdout=subprocess.DEVNULL
    )
    exec_s = time.perf_counter() - started

    con = duckdb.connect(str(db), read_only=True)
    print(f"\n{args.logs} logs, {boxes:,} boxes\n")
    print(f"{'program':<42} {'kind':<14} {'mode':<5} {'seconds':>8} {'outside/log (ms)':>17}")
    worst_relational = 0.0
    for label, mode, seconds, run_id in runs:
        inside, logs = con.execute(
            "SELECT sum(seconds), count(*) FROM run_results WHERE run_id = ?", [run_id]
        ).fetchall()[0]
        outside_ms = (seconds - (inside or 0.0)) / max(logs, 1) * 1e3
        kind = programs[label][0]
        print(f"{label:<42} {kind:<14} {mode:<5} {seconds:>8.2f} {outside_ms:>17.1f}")
        if mode == "warm" and kind == "relational":
            worst_relational = max(worst_relational, seconds)
        if mode == "warm" and label == "left_turn":
            rows.append(("warm left-turn", f"{seconds:.2f} s", seconds, "s"))
        if mode == "cold" and label == args.cold.split(",")[0]:
            rows.append(("first call after serve starts", f"{seconds:.2f} s ({label})", seconds, "s"))
    rows.append(("warm relational (worst)", f"{worst_relational:.2f} s", worst_relational, "s"))
    rows.append(("server tree PSS (peak)", f"{sampler.peak / GIB:.2f} GiB", sampler.peak / GIB, "GiB"))
    rows.append(("cold exec --split val", f"{exec_s:.2f} s", exec_s, "s"))
    print("\n| measure | value | target | ratio (value / target) |\n|---|---|---|---|")
    for what, text, number, _ in rows:
        target = TARGETS.get(what)
        ratio = f"{number / target[0]:.2f}" if target and number is not None else ""
        print(f"| {what} | {text} | {f'≤ {target[0]:g} {target[1]}' if target else ''} | {ratio} |")
    print(f"\nwork directory: {work}")


if __name__ == "__main__":
    main()
