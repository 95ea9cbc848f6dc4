"""Every atomic function, at its defaults and with each parameter off its default, gives RefAV's answer.

One small program per variant (tests/data/refav_golden/function_programs.md) was run through RefAV's
own implementation on the four demo logs; here it runs through avmine's sandboxed executor, as
`avmine exec` runs it, each program once over its logs. Its answer is compared with RefAV's
(post-processed as RefAV's ``output_scenario`` does), whole: referred tracks, related tracks at
every level, and timestamps. The raw answers (before post-processing, which drops empty entries and
far related objects that composed functions still see) are compared in-process, where a test can look
inside a run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avmine.atomic.runner import run_program
from avmine.server.executor import Executor
from avmine.store import Store
from avmine.store.runs import LogResult

from .golden import NAMESPACE, load, normalise, refav_answer, run_golden

GOLDEN = load("functions.json")
CASES = sorted(GOLDEN["results"], key=lambda key: (int(key.split("|")[0]), key))


COVERED_AT_LEAST = {
    "accelerating",
    "at_pedestrian_crossing",
    "at_stop_sign",
    "being_crossed_by",
    "changing_lanes",
    "facing_toward",
    "following",
    "get_objects_in_relative_direction",
    "get_objects_of_category",
    "has_lateral_acceleration",
    "has_objects_in_relative_direction",
    "has_velocity",
    "heading_in_relative_direction_to",
    "heading_toward",
    "in_drivable_area",
    "in_same_lane",
    "is_category",
    "is_color",
    "near_intersection",
    "near_objects",
    "on_intersection",
    "on_lane_type",
    "on_relative_side_of_road",
    "on_road",
    "stationary",
    "turning",
}
"""Functions with golden cases so far (RefAV takes minutes per map-based call; the set only grows)."""


def test_golden_coverage_never_shrinks() -> None:
    covered = {GOLDEN["results"][key]["description"].split(":")[0] for key in CASES}
    assert covered >= COVERED_AT_LEAST


@pytest.fixture(scope="module")
def answers(golden_executor: Executor) -> dict[str, LogResult]:
    return run_golden(golden_executor, GOLDEN, CASES)


@pytest.mark.parametrize("key", CASES)
def test_function_matches_refav(key: str, answers: dict[str, LogResult], demo_db: Store) -> None:
    _, log_id = key.split("|")
    expected = GOLDEN["results"][key]
    result = answers[key]
    if expected["error"]:
        assert result.error is not None, f"RefAV failed ({expected['error']}), avmine did not"
        return
    assert result.status == "ok", result.error
    assert normalise(result.scenario) == normalise(refav_answer(expected["scenario"], demo_db.log_dir(log_id)))


@pytest.mark.parametrize("key", CASES)
def test_function_raw_answer_matches_refav_in_process(key: str, demo_db: Store, tmp_path: Path) -> None:
    index, log_id = key.split("|")
    expected = GOLDEN["results"][key]
    program = next(str(p["code"]) for p in GOLDEN["programs"] if str(p["index"]) == index)
    run = run_program(program, NAMESPACE, demo_db.log_dir(log_id), expected["description"], tmp_path, keep_raw=True)
    if expected["error"]:
        assert run.error is not None, f"RefAV failed ({expected['error']}), avmine did not"
        return
    assert run.error is None, run.error
    assert normalise(run.raw_outputs[-1]) == normalise(expected["scenario"])
