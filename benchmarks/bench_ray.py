"""The executor on a Ray cluster against the local pool: 1 node vs 2 nodes, and the Ray backend's cost per log.

Builds ``--logs`` copies of the demo logs (``store/split_copier.py``), ingests them, then times
warm runs (median of ``--repeat``, each run's code new so nothing is re-used) of two programs over
every log:

- ``probe``: a program that does nothing (``output_scenario({})``): what is left is the
  executor's own cost per log, local pool or Ray relay;
- ``left_turn``: RefAV's left-turn program, a typical cheap real program.

Configurations: the local pool with 1 and 2 workers; a Ray cluster on this machine (loopback,
``ray start``) with 1 node of 1 CPU (one relay actor), then a second node joined (two actors).
All nodes share this machine's cores, so 2 nodes cannot be faster than 2 local workers.

With ``--ship`` the second node keeps its own caches, shipped through the object store (as a node
without the shared filesystem does), and its first run includes the shipping.

With ``--scoring`` it times scoring instead, on the demo's scenario-mining logs and ground truth
(``--runs`` runs of one (log, prompt) pair each): the head's reading of a run's inputs from the
database, its metrics here, and its metrics as tasks on a 2-node cluster (many runs at once, and one).

    python benchmarks/bench_ray.py [--logs 48] [--repeat 7] [--ship]
    python benchmarks/bench_ray.py --scoring [--runs 16] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import ray

from avmine.evaluation.score_runs import score_inputs, scoring_inputs
from avmine.server.executor import Executor, Limits, LogSelection
from avmine.server.executor.cache_shipping import LOCAL_VARIABLE, local_root
from avmine.server.executor.ray_backend import RayBackend
from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.split_copier import make_split
from tests.executor.ray_nodes import LocalCluster

PROGRAMS = {
    "probe": "output_scenario({}, description, log_dir, output_dir)\n",
    "left_turn": (
        "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
    ),
}
LIMITS = Limits(wall_seconds=60.0, cpu_seconds=30)


def timed(executor: Executor, repeat: int) -> dict[str, float]:
    """Median wall seconds of a warm run of each program over the split, and the head's CPU seconds for the probe."""
    for code in PROGRAMS.values():  # warm: workers started, every log loaded where it will run
        assert executor.run(code + f"# {uuid.uuid4()}\n", "warm", LogSelection(split="val")).status == "ok"
    medians = {}
    for name, code in PROGRAMS.items():
        times, cpu = [], []
        for _ in range(repeat):
            started, head = time.perf_counter(), time.process_time()
            run = executor.run(code + f"# {uuid.uuid4()}\n", name, LogSelection(split="val"))
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - head)
            assert run.status == "ok", [r.error for r in run.results if r.error]
        medians[name] = statistics.median(times)
        if name == "probe":
            medians["head_cpu_probe"] = statistics.median(cpu)
    return medians


def relay_round_trip(executor: Executor, calls: int = 200) -> float:
    """Median seconds of one call to a relay actor and back (what each relayed message costs at least)."""
    actor = executor._workers()[0].actor  # type: ignore[attr-defined]
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        ray.get(actor.ping.remote())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def median_seconds(call: Callable[[], object], repeat: int, cpu: bool = False) -> float:
    """Median wall seconds of ``call`` (``cpu``: this process's CPU seconds instead)."""
    clock = time.process_time if cpu else time.perf_counter
    times = []
    for _ in range(repeat):
        started = clock()
        call()
        times.append(clock() - started)
    return statistics.median(times)


def scoring(runs: int, repeat: int) -> None:
    """Print the milliseconds per run of each part of scoring (see the module's docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "scoring.duckdb")
        report = ingest(store, SCENARIO_MINING_DIR, split="val", progress=False)
        prepare_logs(store, [(s, log_id) for s, log_id, *_ in report.sources], progress=False)
        prompts = [str(r[0]) for r in store.con.execute("SELECT DISTINCT prompt FROM gt_frames").fetchall()]
        with Executor(store, workers=1, limits=LIMITS) as local:
            ids = [local.run(PROGRAMS["left_turn"] + f"# {i}\n", prompts[i % len(prompts)], LogSelection()).run_id
                   for i in range(runs)]  # fmt: skip
            local.flush()
        inputs = [scoring_inputs(store, run_id) for run_id in ids]
        ms: dict[str, float] = {
            "head reads (DuckDB, caches)": median_seconds(lambda: [scoring_inputs(store, r) for r in ids], repeat),
            "metrics here": median_seconds(lambda: [score_inputs(one) for one in inputs], repeat),
            "  the head's CPU for it": median_seconds(lambda: [score_inputs(one) for one in inputs], repeat, cpu=True),
        }
        cluster = LocalCluster(cpus_per_node=1)
        try:
            cluster.add_node()
            backend = RayBackend.connect(cluster.address)
            backend.score(inputs)  # warm: a worker process per node
            ms["metrics on 2 nodes, all runs at once"] = median_seconds(lambda: backend.score(inputs), repeat)
            ms["  the head's CPU for that"] = median_seconds(lambda: backend.score(inputs), repeat, cpu=True)
            ms["metrics on the cluster, one run"] = median_seconds(lambda: backend.score(inputs[:1]), repeat) * runs
            ms["metrics here, one run"] = median_seconds(lambda: score_inputs(inputs[0]), repeat) * runs
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.stop()
            store.close()
    per_run = {name: round(1000 * seconds / runs, 1) for name, seconds in ms.items()}
    for name, value in per_run.items():
        print(f"{name:40s} {value:7.1f} ms/run")
    print(json.dumps({"runs": runs, "repeat": repeat, "ms_per_run": per_run}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--ship", action="store_true", help="the second node gets caches through the object store")
    parser.add_argument("--scoring", action="store_true", help="time scoring (head reads, metrics here and on nodes)")
    parser.add_argument("--runs", type=int, default=16, help="with --scoring: runs scored")
    args = parser.parse_args()
    if args.scoring:
        scoring(args.runs, args.repeat)
        return
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        make_split(Path(tmp) / "val", args.logs)
        store = Store.open(Path(tmp) / "bench.duckdb")
        report = ingest(store, Path(tmp) / "val", split="val", progress=False)
        prepare_logs(store, [(s, log_id) for s, log_id, *_ in report.sources], progress=False)
        for workers in (1, 2):
            with Executor(store, workers=workers, limits=LIMITS) as local:
                if workers == 1:
                    started = time.perf_counter()
                    local.run(PROGRAMS["probe"], "start", LogSelection(split="val"))
                    results["local, start: first run"] = {"probe": time.perf_counter() - started}
                results[f"local, {workers} worker(s)"] = timed(local, args.repeat)
        cluster = LocalCluster(cpus_per_node=1)
        try:
            backend = RayBackend.connect(cluster.address)
            with Executor(store, limits=LIMITS, backend=backend) as remote:
                started = time.perf_counter()
                remote.run(PROGRAMS["probe"], "start", LogSelection(split="val"))
                results["ray, start: first run"] = {"probe": time.perf_counter() - started}
                results["ray, 1 node (1 actor)"] = timed(remote, args.repeat)
                results["ray, relay round trip"] = {"ping": relay_round_trip(remote)}
                cluster.add_node(env={LOCAL_VARIABLE: "1"} if args.ship else None)
                deadline = time.monotonic() + 60
                while backend.size(None) < 2 and time.monotonic() < deadline:
                    time.sleep(0.5)
                started = time.perf_counter()
                remote.run(PROGRAMS["probe"] + "# joined\n", "joined", LogSelection(split="val"))
                results["ray, 2 nodes: first run after the second joined"] = {"probe": time.perf_counter() - started}
                results["ray, 2 nodes (2 actors)"] = timed(remote, args.repeat)
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.stop()
            shutil.rmtree(local_root(str(store.cache_root)), ignore_errors=True)
            store.close()
    for name, medians in results.items():
        per_log = {k: round(1000 * v / args.logs, 2) for k, v in medians.items()}
        print(f"{name:28s} " + "  ".join(f"{k} {v:.2f} s ({per_log[k]} ms/log)" for k, v in medians.items()))
    print(json.dumps({"logs": args.logs, "repeat": args.repeat, "ship": args.ship, "seconds": results}))


if __name__ == "__main__":
    main()
