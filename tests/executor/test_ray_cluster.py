"""The executor on a real Ray cluster (a head and a second node, `ray start`, loopback): the local pool's answers.

One cluster for the module (1 CPU and 100 MB of object store per node); the test that stops the
second node runs last. The head reads the database's cache folder; the second node keeps its own,
shipped through the object store (as a node without the shared filesystem does).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import ray
from mcp import Client

from avmine.evaluation.guarded_scoring import prompt_hold_out
from avmine.evaluation.score_runs import score_stored_run, score_stored_runs
from avmine.server.executor import Executor, Limits, LogSelection
from avmine.server.executor import cluster as cluster_choice
from avmine.server.executor.cache_shipping import LOCAL_VARIABLE, MARKER, local_root
from avmine.server.executor.cluster import ClusterError
from avmine.server.executor.ray_backend import RayBackend, RayWorker
from avmine.server.ingestion import prepare_logs
from avmine.server.mcp.app import create_server
from avmine.store import Store, ingest
from avmine.store.agent_runs import outcomes
from avmine.store.demo import SCENARIO_MINING_DIR, ingest_demo
from avmine.store.paths import cache_root_for
from avmine.store.runs import load_run
from avmine.store.split_copier import copy_id, make_split, original_of

from ..agents.conftest import add_negative_pairs
from ..agents.programs import LOGS, STOPPED, STOPPED_PROGRAM
from .conftest import LOG, Listener
from .ray_nodes import REPO, LocalCluster, free_port

LIMITS = Limits(wall_seconds=30.0, cpu_seconds=10, memory_bytes=1 << 30, stdout_chars=4096, result_bytes=1 << 20)
OUT = "output_scenario({}, description, log_dir, output_dir)\n"
LEFT_TURN = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
)
CROSSING = (
    "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "crossing = reverse_relationship(being_crossed_by)(vehicles, peds, log_dir)\n"
    "output_scenario(crossing, description, log_dir, output_dir)\n"
)
SLOW = "x = 0\nfor i in range(2_000_000):\n    x += i\n"
"""Makes each log take a while, so a node can be stopped mid-run."""
COPIES = 24


@pytest.fixture(scope="module")
def nodes() -> Iterator[LocalCluster]:
    started = LocalCluster(cpus_per_node=1)
    try:
        started.add_node(env={LOCAL_VARIABLE: "1"})
        yield started
    finally:
        if ray.is_initialized():
            ray.shutdown()
        started.stop()


@pytest.fixture(scope="module")
def backend(nodes: LocalCluster) -> RayBackend:
    return RayBackend.connect(nodes.address)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store.open(tmp_path_factory.mktemp("ray-demo") / "demo.duckdb")
    reports = ingest_demo(store, progress=False)
    prepare_logs(store, [(s, log_id) for r in reports for s, log_id, *_ in r.sources], progress=False)
    yield store
    store.close()
    shutil.rmtree(local_root(str(store.cache_root)), ignore_errors=True)


@pytest.fixture(scope="module")
def local_answers(demo: Store) -> dict[str, dict[str, object]]:
    """Each program's answer per demo log from the local pool."""
    with Executor(demo, workers=1, limits=LIMITS) as local:
        runs = {
            name: local.run(code, name, LogSelection()) for name, code in (("left", LEFT_TURN), ("cross", CROSSING))
        }
    assert all(run.status == "ok" for run in runs.values())
    return {name: {r.log_id: r.scenario for r in run.results} for name, run in runs.items()}


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory, backend: RayBackend) -> Iterator[Store]:
    """24 copies of the demo logs (the project's split copier), their map features computed on the cluster."""
    root = tmp_path_factory.mktemp("ray-copies")
    make_split(root / "val", COPIES)
    store = Store.open(root / "copies.duckdb")
    report = ingest(store, root / "val", split="val", progress=False)
    cluster_choice._selected = backend  # as `avmine ingest --ray` chooses it
    try:
        prepare_logs(store, [(s, log_id) for s, log_id, *_ in report.sources], progress=False)
    finally:
        cluster_choice._selected = None
    yield store
    store.close()
    shutil.rmtree(local_root(str(store.cache_root)), ignore_errors=True)


@pytest.fixture(scope="module")
def on_cluster(demo: Store, backend: RayBackend) -> Iterator[Executor]:
    with Executor(demo, limits=LIMITS, backend=backend) as executor:
        yield executor


def test_an_unreachable_cluster_is_refused_at_once() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ClusterError, match=r"no Ray cluster answers at 127\.0\.0\.1"):
        cluster_choice.select(address)
    assert time.monotonic() - started < 10
    program = REPO / "tests" / "executor" / "ray_nodes.py"  # any file: the command stops before reading it
    done = subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "exec", str(program), "--prompt", "p", "--ray", address],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2
    assert "avmine exec: error: no Ray cluster answers at" in done.stderr and "ray start --head" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_answers_equal_the_local_pool(
    on_cluster: Executor, local_answers: dict[str, dict[str, object]], nodes: LocalCluster
) -> None:
    for name, code in (("left", LEFT_TURN), ("cross", CROSSING)):
        run = on_cluster.run(code, name, LogSelection())
        assert run.status == "ok", [r.error for r in run.results]
        assert {r.log_id: r.scenario for r in run.results} == local_answers[name]
        assert run.layers and all(v for k, v in run.layers.items() if k not in ("mode", "user_namespace"))
    workers = on_cluster._workers()
    assert all(isinstance(w, RayWorker) for w in workers)
    assert len({w.node_id for w in workers}) == 2  # type: ignore[attr-defined]  # an actor on each node


def test_24_copies_built_and_run_on_the_cluster_equal_the_local_pool(
    copies: Store, backend: RayBackend, local_answers: dict[str, dict[str, object]]
) -> None:
    with Executor(copies, limits=LIMITS, backend=backend) as executor:
        run = executor.run(LEFT_TURN, "left", LogSelection(split="val"))
        again = executor.run(LEFT_TURN + "# again\n", "left", LogSelection(split="val"))
        held = dict(executor._holder)
    assert run.status == "ok", [r.error for r in run.results if r.error]
    assert len(run.results) == COPIES
    for i in range(COPIES):  # a copy's answer is its original's (same boxes, map and poses)
        assert (
            run.results[[r.log_id for r in run.results].index(copy_id(i))].scenario
            == (local_answers["left"][original_of(i).name])
        )
    assert [r.scenario for r in again.results] == [r.scenario for r in run.results]
    assert len({w.node_id for w in held.values()}) == 2  # type: ignore[attr-defined]
    shipped = {p.parent.name for p in local_root(str(copies.cache_root)).glob(f"*/{MARKER}")}
    on_second = {log_id for log_id, w in held.items() if w.shipping is not None}  # type: ignore[attr-defined]
    assert on_second and on_second <= shipped  # the second node ran its logs from copies shipped to it


def test_escape_attempts_through_an_actor_have_no_effect(on_cluster: Executor, listener: Listener) -> None:
    one = LogSelection(logs=("3b3570b4",))
    attempts = [
        ("x = [0] * (10 ** 10)\n" + OUT, "MemoryError"),
        ("def f(n):\n    return f(n + 1)\nf(0)\n" + OUT, "RecursionError"),
        ("import os\nos.system('touch /tmp/avmine-ray-escape')\n" + OUT, "import of 'os' is not allowed"),
        ("import statistics\nr = statistics.random\n" + OUT, "has no attribute 'random'"),
    ]
    for code, message in attempts:
        result = on_cluster.run(code, "escape", one).results[0]
        assert result.status != "ok" and message in (result.error or ""), result.error
    assert not Path("/tmp/avmine-ray-escape").exists()
    assert listener.connections == 0
    ok = on_cluster.run(LEFT_TURN + "# still serves\n", "left", one)
    assert ok.status == "ok" and ok.layers["network_namespace"] and ok.layers["syscall_filter"]
    probed = on_cluster.layers()  # the probe program, on a node's worker
    assert probed.network_namespace and probed.pid_namespace and probed.syscall_filter and probed.private_root


def test_cancel_reaches_the_cluster(copies: Store, backend: RayBackend) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int, log_id: str) -> None:
        cancel.set()  # after the first log: the rest is in flight or waiting on the nodes

    with Executor(copies, limits=LIMITS, backend=backend) as executor:
        before = executor._workers()
        run = executor.run(SLOW + LEFT_TURN, "left", LogSelection(split="val"), progress=progress, cancel=cancel)
        assert run.status == "cancelled"
        assert sum(r.status == "cancelled" for r in run.results) >= COPIES // 2
        assert not any(w.alive() for w in before)  # the nodes' workers were killed, not left running
        after = executor.run(LEFT_TURN + "# after\n", "left", LogSelection(logs=(copy_id(0),)))
        assert after.status == "ok"


def test_an_mcp_clients_cancel_stops_the_program_on_its_node(
    tmp_path: Path, backend: RayBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mcp.duckdb"
    with Store.open(db) as store:
        ingest(store, SCENARIO_MINING_DIR / LOG, split="val", progress=False)
    monkeypatch.setattr(cluster_choice, "_selected", backend)  # as `avmine serve --ray` chooses it
    spin = "n = 0\nwhile n >= 0:\n    n += 1\n"

    async def session() -> str:
        async with Client(create_server(db, image_dir=tmp_path / "images")) as client:
            with anyio.move_on_after(12):
                await client.call_tool("execute_scenario", {"program": spin + LEFT_TURN, "prompt": "spin"})
                pytest.fail("the spinning program cannot finish")
            after = await client.call_tool("execute_scenario", {"program": LEFT_TURN, "prompt": "after"})
            assert after.structured_content is not None and after.structured_content["status"] == "ok"
            assert after.structured_content["sandbox"]["syscall_filter"] is True
            await client.call_tool("get_run", {"run_id": after.structured_content["run_id"]})  # records written
            return str(after.structured_content["run_id"])

    anyio.run(session)
    with Store.open(db) as store:
        assert store.con.execute("SELECT status FROM runs WHERE prompt = 'spin'").fetchall() == [("cancelled",)]
        shutil.rmtree(local_root(str(store.cache_root)), ignore_errors=True)


def test_many_runs_scored_on_the_cluster_score_as_here(
    demo: Store, on_cluster: Executor, backend: RayBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = [str(r[0]) for r in demo.con.execute("SELECT DISTINCT prompt FROM gt_frames ORDER BY 1").fetchall()]
    runs = [on_cluster.run(code, prompt, LogSelection()).run_id for prompt in prompts for code in (LEFT_TURN, CROSSING)]
    on_cluster.flush()
    here = score_stored_runs(demo, runs, reveal=True)
    monkeypatch.setattr(cluster_choice, "_selected", backend)  # as `avmine screen --ray` chooses it
    before = sum(backend.scored_on.values())
    spread = score_stored_runs(demo, runs, reveal=True)
    assert sum(backend.scored_on.values()) - before == len(runs)  # each run was scored by a task on a node
    assert len(backend.scored_on) == 2  # on both nodes
    assert [(s.run_id, s.metrics, s.per_log, s.not_run) for s in spread] == [
        (s.run_id, s.metrics, s.per_log, s.not_run) for s in here
    ]
    assert any(s.metrics["Timestamp BA"] > 0 for s in here)  # not only empty answers compared
    assert score_stored_run(demo, runs[0]).metrics == here[0].metrics  # one run: scored here, the same


def test_screen_with_ray_runs_the_final_program_on_the_cluster(tmp_path: Path, nodes: LocalCluster) -> None:
    """`avmine screen --ray`: agents reach the head's MCP server; the final execution runs on the cluster."""
    db = tmp_path / "screen.duckdb"
    with Store.open(db) as store:
        ingest(store, SCENARIO_MINING_DIR, split="val", progress=False)
        prepare_logs(store, [("annotations", log) for log in LOGS], progress=False)
    add_negative_pairs(db)  # two ground-truth logs: one to refine on, one held out for admission
    (tmp_path / "plan.json").write_text(json.dumps({STOPPED: [{"submit": STOPPED_PROGRAM}]}))
    (tmp_path / "state").mkdir()
    (tmp_path / "prompts.txt").write_text(STOPPED + "\n")
    agent = f"{sys.executable} {REPO / 'tests' / 'agents' / 'scripted_agent.py'}"
    env = os.environ | {
        "SCRIPTED_AGENT_PLAN": str(tmp_path / "plan.json"),
        "SCRIPTED_AGENT_STATE": str(tmp_path / "state"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "screen", "--split", "val", "--prompts",
             str(tmp_path / "prompts.txt"), "--agent", "command", "--agent-command", agent, "--no-review",
             "--max-attempts", "1", "--name", "rayscreen", "--quiet", "--ray", nodes.address],
            capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert "let this process in without a token" in done.stderr  # the test cluster runs without Ray's tokens
        with Store.open(db) as store:
            end = outcomes(store, "rayscreen")[STOPPED]
            assert end.run_id is not None and end.timestamp_ba is not None
            ran = {(str(o), json.loads(d).get("ray_cluster")) for o, d in store.con.execute(
                "SELECT origin, details FROM runs").fetchall()}  # fmt: skip
            assert ("headless:rayscreen", nodes.address) in ran  # the final execution
            assert len(ran) >= 2 and {where for _, where in ran} == {nodes.address}  # the agent's executions too
            _, final = load_run(store, end.run_id)
            with Executor(store, workers=1, limits=LIMITS) as local:  # the same program here: the same answers
                here = local.run(STOPPED_PROGRAM, STOPPED, LogSelection(tuple(r.log_id for r in final)))
            assert {r.log_id: r.scenario for r in final} == {r.log_id: r.scenario for r in here.results}
            held_out = prompt_hold_out(store, STOPPED).held_out
            assert end.timestamp_ba == score_stored_run(store, end.run_id, logs=held_out).metrics["Timestamp BA"]
    finally:
        for pid in map(int, (tmp_path / "state" / "pids").read_text().split()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(local_root(str(cache_root_for(db))), ignore_errors=True)


def _alive_node_ids() -> set[str]:
    return {str(node["NodeID"]) for node in ray.nodes() if node["Alive"]}  # type: ignore[no-untyped-call]


def test_a_node_that_cannot_sandbox_gets_no_jobs(
    demo: Store, nodes: LocalCluster, local_answers: dict[str, dict[str, object]], caplog: pytest.LogCaptureFixture
) -> None:
    """A node joins whose processes run as nobody where user namespaces are refused: refused, said, unused."""
    known = _alive_node_ids()
    nodes.add_node_without_user_namespaces()
    deadline = time.monotonic() + 60
    while len(_alive_node_ids()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    refused = _alive_node_ids() - known
    assert len(refused) == 1
    backend = RayBackend.connect(nodes.address)  # a new backend: every node checked anew
    logs = caplog.at_level(logging.ERROR, logger="avmine.server.executor.ray_backend")
    with logs, Executor(demo, limits=LIMITS, backend=backend) as executor:
        run = executor.run(LEFT_TURN + "# beside a refused node\n", "left", LogSelection())
        used = {w.node_id for w in executor._workers()}  # type: ignore[attr-defined]
    assert run.status == "ok", [r.error for r in run.results]
    assert {r.log_id: r.scenario for r in run.results} == local_answers["left"]
    assert backend._refused == refused and not used & refused and len(used) == 2
    said = [r.getMessage() for r in caplog.records if "was refused" in r.getMessage()]
    assert len(said) == 1 and next(iter(refused))[:8] in said[0]  # which node, and why, once
    assert "creating a user namespace failed" in said[0] and "max_user_namespaces" in said[0]


def test_a_node_lost_mid_run_has_its_logs_run_again(
    copies: Store, backend: RayBackend, nodes: LocalCluster, local_answers: dict[str, dict[str, object]]
) -> None:
    """Runs last: the second node's raylet is ended by pid (not `ray stop`, which stops every node here)."""
    second = nodes.raylet_pid(nodes.nodes[1])
    killed = threading.Event()

    def progress(done: int, total: int, log_id: str) -> None:
        if done >= 3 and not killed.is_set():
            killed.set()
            subprocess.run(["kill", "-9", str(second)], check=True)

    with Executor(copies, limits=LIMITS, backend=backend) as executor:
        before = executor._workers()
        assert len({w.node_id for w in before}) == 2  # type: ignore[attr-defined]
        run = executor.run(SLOW + LEFT_TURN, "left", LogSelection(split="val"), progress=progress)
        assert killed.is_set()
        assert run.status == "ok", [r.error for r in run.results if r.error]
        for result in run.results:
            assert result.scenario == local_answers["left"][original_of(int(result.log_id[-12:], 16) - 1).name]
        lost = [w for w in before if not w.alive()]
        assert lost and all(w.lost() for w in lost)  # the actor went with its node, not through a program
        assert len(executor._workers()) == 1  # the pool now has the head's node only
