"""Overlapping runs share the worker pool without mixing their answers; progress is reported; runs cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from avmine.server.executor import Executor, Limits, LogSelection
from avmine.store import Store
from avmine.store.runs import load_run

from .conftest import LOG


def category_program(category: str) -> str:
    return (
        f"objects = get_objects_of_category(log_dir, category={category!r})\n"
        "output_scenario(objects, description, log_dir, output_dir)\n"
    )


CATEGORIES = ("REGULAR_VEHICLE", "PEDESTRIAN", "BICYCLE", "EGO_VEHICLE", "BOLLARD", "ANY", "VEHICLE", "BUS")
SLOW = "n = 0\nwhile n >= 0:\n    n += 1\n" + category_program("ANY")


@pytest.fixture(scope="module")
def shared_executor(demo_store: Store) -> Iterator[Executor]:
    with Executor(demo_store, workers=2, limits=Limits(wall_seconds=60, cpu_seconds=30)) as executor:
        yield executor


def test_overlapping_runs_each_get_their_own_answers(shared_executor: Executor, demo_store: Store) -> None:
    expected = {
        category: {
            log.log_id: sorted(log.scenario or {}) for log in shared_executor.run(category_program(category), category,
                                                                              LogSelection()).results
        }
        for category in CATEGORIES
    }  # fmt: skip
    # a comment makes each program new text, so nothing is answered from the re-use cache
    with ThreadPoolExecutor(len(CATEGORIES)) as pool:
        runs = list(
            pool.map(lambda c: shared_executor.run(category_program(c) + "# again\n", c, LogSelection()), CATEGORIES)
        )
    for category, execution in zip(CATEGORIES, runs, strict=True):
        assert execution.status == "ok", execution.results
        assert {log.log_id: sorted(log.scenario or {}) for log in execution.results} == expected[category]
    assert len(expected["PEDESTRIAN"]) == 4 and any(expected["PEDESTRIAN"].values())


def test_progress_counts_every_log(shared_executor: Executor) -> None:
    seen: list[tuple[int, int, str]] = []
    execution = shared_executor.run(
        category_program("BUS") + "# progress\n", "buses", LogSelection(), progress=lambda *a: seen.append(a)
    )
    assert [done for done, _, _ in seen] == [1, 2, 3, 4]
    assert {total for _, total, _ in seen} == {4}
    assert {log for _, _, log in seen} == {log.log_id for log in execution.results}


def test_a_cancelled_run_stops_promptly_is_recorded_and_the_pool_keeps_serving(
    shared_executor: Executor, demo_store: Store, tmp_path: Path
) -> None:
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.perf_counter()
    execution = shared_executor.run(SLOW, "slow", LogSelection(), cancel=cancel)
    assert time.perf_counter() - started < 10  # the program alone would spin until its 30 s CPU limit
    assert execution.status == "cancelled"
    assert {log.status for log in execution.results} == {"cancelled"}
    shared_executor.flush()
    record, _ = load_run(demo_store, execution.run_id)
    assert record["status"] == "cancelled"
    after = shared_executor.run(category_program("BUS") + "# after cancel\n", "buses", LogSelection(logs=(LOG,)))
    assert after.status == "ok"
