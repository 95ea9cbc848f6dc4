"""Every atomic function, at its defaults and with each parameter off its default, gives RefAV's answer.

One small program per variant (tests/data/refav_golden/function_programs.md) was run through RefAV's
own implementation on the four demo logs; its raw scenario is compared with avmine's, whole:
referred tracks, related tracks at every level, and timestamps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from store import Store

from .golden import load, normalise, run_case

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


@pytest.mark.parametrize("key", CASES)
def test_function_matches_refav(key: str, demo_db: Store, tmp_path: Path) -> None:
    _, log_id = key.split("|")
    run, expected = run_case(GOLDEN, key, demo_db.log_dir(log_id), tmp_path)
    if expected["error"]:
        assert run.error is not None, f"RefAV failed ({expected['error']}), avmine did not"
        return
    assert run.error is None, run.error
    assert normalise(run.outputs[0].scenario) == normalise(expected["scenario"])
