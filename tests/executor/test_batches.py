"""One program over many logs: batches share a sandboxed child, yet each log runs as if alone.

Every log starts with fresh globals and NumPy state, has its own wall-clock, CPU and memory limits,
and its answer equals an in-process run of the same program on that log alone. A tiny memory
budget makes workers drop logs they loaded and load them again, still answering correctly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avmine import atomic
from avmine.atomic.context import active_source, set_active_source
from avmine.atomic.runner import run_program
from avmine.server.executor import Executor, Limits, LogSelection, memory
from avmine.server.executor.sandboxed_child import scenario_document
from avmine.store import Store

from .log_copies import copy_log

LEFT_TURNS = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
)
NEAR_PEDESTRIANS = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
    "output_scenario(near_objects(vehicles, peds, log_dir, distance_thresh=10), description, log_dir, output_dir)\n"
)
FRESH_STATE = (
    "try:\n    count += 1\nexcept NameError:\n    count = 0\n"  # a global left by an earlier log would be found
    "print(count, np.random.randint(0, 10**9))\n"
    "np.random.seed(len(str(log_dir)))\n"
    "output_scenario({}, description, log_dir, output_dir)\n"
)
LIMITS = Limits(wall_seconds=20.0, cpu_seconds=20, memory_bytes=1 << 30, stdout_chars=4096, result_bytes=1 << 22)


@pytest.fixture(scope="module")
def many_logs(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo's four logs and four copies of one, in a store of their own (the demo's own is shared)."""
    root = tmp_path_factory.mktemp("batches")
    demo_store.con.execute("CHECKPOINT")
    shutil.copy(demo_store.path, root / "many.duckdb")
    shutil.copytree(demo_store.cache_root, root / "many.duckdb.cache", copy_function=os.link)
    store = Store.open(root / "many.duckdb")
    copy_log(store, "3b3570b4-7b0b-3268-a571-b0889dbf40b6", 4)
    yield store
    store.close()


def _logs(store: Store) -> list[str]:
    rows = store.con.execute("SELECT log_id FROM track_sources WHERE source = 'annotations' ORDER BY log_id")
    return [str(r[0]) for r in rows.fetchall()]


def _in_process(store: Store, program: str, log_id: str, tmp: Path) -> dict[str, Any]:
    """The program on one log in this process, through the sandboxed child's runner (``avmine.atomic.runner``)."""
    previous = active_source()
    set_active_source("annotations")
    try:
        log_dir = store.log_dir(log_id)
        run = run_program(program, atomic.program_namespace(), log_dir, "p", tmp)
        assert run.error is None, run.error
        document: dict[str, Any] = scenario_document(run.scenario)
        return document
    finally:
        set_active_source(previous)


@pytest.mark.parametrize("program", [LEFT_TURNS, NEAR_PEDESTRIANS], ids=["turning", "near"])
def test_answers_over_many_logs_equal_runs_on_each_log_alone(many_logs: Store, tmp_path: Path, program: str) -> None:
    logs = _logs(many_logs)
    assert len(logs) == 8
    with Executor(many_logs, workers=1, limits=LIMITS) as executor:
        execution = executor.run(program, "p", LogSelection(logs=tuple(logs)))
    assert execution.status == "ok", [r.error for r in execution.results]
    found = {r.log_id: r.scenario for r in execution.results}
    assert any(found.values())  # the programs find something: equal answers are not all empty
    for log_id in logs:
        assert found[log_id] == _in_process(many_logs, program, log_id, tmp_path), log_id


def test_each_log_starts_with_fresh_globals_and_numpy_state(many_logs: Store) -> None:
    logs = _logs(many_logs)
    with Executor(many_logs, workers=1, limits=LIMITS) as executor:
        alone = executor.run(FRESH_STATE + "# alone\n", "p", LogSelection(logs=(logs[0],)))
        together = executor.run(FRESH_STATE, "p", LogSelection(logs=tuple(logs)))
        patched = executor.run("np.pi = 3\n" + FRESH_STATE, "p", LogSelection(logs=tuple(logs[:2])))
    for result in patched.results:  # the logs of a call share the wrapped modules: they cannot be changed
        assert result.status == "error" and "cannot change a module's attributes (tried to set 'pi')" in (
            result.error or ""
        )
    outputs = {r.stdout for r in together.results}
    assert outputs == {alone.results[0].stdout}, outputs  # count 0 and the same random draw on every log
    assert alone.results[0].stdout.startswith("0 ")


def test_a_program_that_hangs_or_overflows_on_one_log_fails_there_only(many_logs: Store) -> None:
    logs = _logs(many_logs)
    hangs, overflows = logs[0], logs[4]  # each first in its batch: the logs after it share its child
    program = (
        f"if str(log_dir).endswith({hangs!r}):\n    print('stuck here')\n    while True:\n        pass\n"
        f"if str(log_dir).endswith({overflows!r}):\n    big = np.ones(1 << 31)\n" + LEFT_TURNS
    )
    limits = Limits(wall_seconds=3.0, cpu_seconds=30, memory_bytes=1 << 30, result_bytes=1 << 22)
    with Executor(many_logs, workers=1, limits=limits) as executor:
        reference = executor.run(LEFT_TURNS, "p", LogSelection(logs=tuple(logs)))
        execution = executor.run(program, "p", LogSelection(logs=tuple(logs)))
    by_log = {r.log_id: r for r in execution.results}
    expected = {r.log_id: r.scenario for r in reference.results}
    assert by_log[hangs].status == "timeout" and "ran past its 3 s limit" in (by_log[hangs].error or "")
    assert by_log[hangs].stdout == "stuck here\n"  # what it printed before it was killed is kept
    assert by_log[overflows].status == "error" and "MemoryError" in (by_log[overflows].error or "")
    for log_id in logs:
        if log_id not in (hangs, overflows):
            assert by_log[log_id].status == "ok", by_log[log_id].error
            assert by_log[log_id].scenario == expected[log_id]


def test_a_tiny_memory_budget_drops_loaded_logs_and_still_answers(many_logs: Store) -> None:
    logs = _logs(many_logs)
    with Executor(many_logs, workers=1, limits=LIMITS) as roomy:
        expected = {r.log_id: r.scenario for r in roomy.run(LEFT_TURNS, "p", LogSelection(logs=tuple(logs))).results}
        assert roomy.memory()[0]["loaded_logs"] == len(logs)
    with Executor(many_logs, workers=1, limits=LIMITS, memory_budget=1 << 20) as tight:
        for call in range(2):
            execution = tight.run(LEFT_TURNS + f"# {call}\n", "p", LogSelection(logs=tuple(logs)))
            assert execution.status == "ok", [r.error for r in execution.results]
            assert {r.log_id: r.scenario for r in execution.results} == expected
        stats = tight.memory()[0]
    assert stats["loaded_logs"] == 1  # only the last one: each log alone is over the budget
    assert stats["budget_bytes"] == 1 << 20


def test_memory_budgets_are_read_from_sizes_and_say_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [memory.parse_budget(t) for t in ("2G", "1.5GiB", "512m", "1000")] == [2 << 30, 3 << 29, 512 << 20, 1000]
    with pytest.raises(ValueError, match="'lots' is not a size: give bytes or a number with K, M, G or T"):
        memory.parse_budget("lots")
    monkeypatch.setenv(memory.ENVIRONMENT, "3G")
    assert memory.configured_budget() == 3 << 30 and memory.configured_budget("1G") == 1 << 30
    monkeypatch.setenv(memory.ENVIRONMENT, "-1")
    with pytest.raises(ValueError, match="AVMINE_MEMORY_BUDGET: memory budget '-1' is not a size"):
        memory.configured_budget()
    monkeypatch.delenv(memory.ENVIRONMENT)
    assert memory.configured_budget() == max(memory.MIN_BUDGET, memory.host_memory() // memory.HOST_SHARE)
