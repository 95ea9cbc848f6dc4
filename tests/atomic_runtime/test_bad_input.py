"""Bad arguments get errors that say what was wrong and what is allowed; empty input is fine."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmine import atomic
from avmine.atomic.runner import run_program
from avmine.atomic.validation import ArgumentError
from avmine.store import Store

from .conftest import LOGS

F = atomic.FUNCTIONS


@pytest.fixture
def log_dir(demo_db: Store) -> Path:
    return demo_db.log_dir(LOGS[0])


def test_unknown_category_lists_the_valid_ones(log_dir: Path) -> None:
    with pytest.raises(ArgumentError, match=r"unknown category 'CARS'; valid categories: REGULAR_VEHICLE, .*VEHICLE"):
        F["get_objects_of_category"](log_dir, "CARS")
    with pytest.raises(ArgumentError, match="unknown category 'truck'"):
        F["is_category"](F["get_objects_of_category"](log_dir, "ANY"), log_dir, category="truck")


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "message"),
    [
        ("has_objects_in_relative_direction", ("V", "V"), {"direction": "front"},
         "direction='front' is not allowed; use one of 'forward', 'backward', 'left', 'right'"),
        ("being_crossed_by", ("V", "V"), {"direction": "ahead"}, "direction='ahead' is not allowed"),
        ("being_crossed_by", ("V", "V"), {"in_direction": "cw"}, "'clockwise', 'counterclockwise', 'either'"),
        ("turning", ("V",), {"direction": "u-turn"}, "use one of 'left', 'right', None"),
        ("heading_in_relative_direction_to", ("V", "V"), {"direction": "parallel"}, "'same', 'opposite'"),
        ("near_objects", ("V", "V"), {"distance_thresh": -1}, "distance_thresh=-1 must be at least 0"),
        ("facing_toward", ("V", "V"), {"max_distance": -5.0}, "max_distance=-5.0 must be at least 0"),
        ("has_velocity", ("V",), {"min_velocity": "fast"}, "min_velocity must be a number, got str 'fast'"),
        ("is_color", ("V",), {"color": "green"}, "color='green' is not allowed"),
    ],
)  # fmt: skip
def test_bad_arguments_say_what_is_allowed(log_dir: Path, name: str, args: tuple[str, ...],
                                           kwargs: dict[str, object], message: str) -> None:  # fmt: skip
    vehicles = F["get_objects_of_category"](log_dir, "VEHICLE")
    positional = [vehicles for _ in args]
    with pytest.raises(ArgumentError) as info:
        F[name](*positional, log_dir, **kwargs)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{name}:")


def test_empty_scenarios_are_valid_and_give_empty_results(log_dir: Path) -> None:
    vehicles = F["get_objects_of_category"](log_dir, "VEHICLE")
    assert F["has_velocity"]({}, log_dir) == {}
    assert F["near_objects"]({}, vehicles, log_dir) == {}
    assert F["near_objects"](vehicles, {}, log_dir) == {}
    assert F["scenario_and"]([]) == {} and F["scenario_or"]([]) == {}
    assert F["scenario_not"](F["stationary"])({}, log_dir) == {}


def test_a_track_related_only_to_itself_relates_to_nothing(log_dir: Path) -> None:
    ego = F["get_objects_of_category"](log_dir, "EGO_VEHICLE")
    for name, kwargs in (("facing_toward", {}), ("following", {}), ("heading_toward", {}),
                         ("has_objects_in_relative_direction", {"direction": "forward"}),
                         ("robust_facing_toward", {}), ("robust_following", {})):  # fmt: skip
        assert F[name](ego, ego, log_dir, **kwargs) == {uuid: {} for uuid in ego}, name


def test_defective_refav_example_gets_an_actionable_error(demo_db: Store, tmp_path: Path) -> None:
    """RefAV's example 9 asks for direction='behind'; RefAV quietly found nothing."""
    code = (
        "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
        "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "behind = get_objects_in_relative_direction(cars, peds, log_dir, direction='behind')\n"
        "output_scenario(behind, description, log_dir, output_dir)\n"
    )
    run = run_program(code, atomic.program_namespace(), demo_db.log_dir(LOGS[0]), "x", tmp_path)
    assert run.error is not None
    # the error names the function the program called, and the program's line, as the executor's does
    assert run.error.startswith("ArgumentError: get_objects_in_relative_direction: direction='behind' is not allowed")
    assert "'forward', 'backward', 'left', 'right'" in run.error
    assert "line 3: behind = get_objects_in_relative_direction(" in run.error


def test_programs_with_helpers_lambdas_and_comprehensions_work(demo_db: Store, tmp_path: Path) -> None:
    """RefAV's runner execs with separate globals and locals, which breaks all three."""
    code = (
        "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "def moving(objs):\n"
        "    return scenario_not(stationary)(objs, log_dir)\n"
        "pick = lambda objs: has_velocity(objs, log_dir, min_velocity=1)\n"
        "parts = [pick(moving(vehicles)) for _ in range(2)]\n"
        "merged = {k: v for k, v in scenario_and(parts).items()}\n"
        "output_scenario(merged, description, log_dir, output_dir)\n"
    )
    run = run_program(code, atomic.program_namespace(), demo_db.log_dir(LOGS[0]), "x", tmp_path)
    assert run.error is None, run.error
    assert any(run.scenario.values())


def test_shape_mistakes_say_what_was_expected(log_dir: Path) -> None:
    vehicles = F["get_objects_of_category"](log_dir, "VEHICLE")
    with pytest.raises(TypeError, match=r"reverse_relationship needs a relational function .* stationary takes"):
        F["reverse_relationship"](F["stationary"])
    with pytest.raises(TypeError, match="item 1 is a int, not a scenario dict"):
        F["scenario_and"]([vehicles, 5])
    with pytest.raises(TypeError, match="item 0 is a list, not a scenario dict"):
        F["scenario_or"]([["uuid"]])
