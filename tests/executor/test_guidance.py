"""Guidance an agent follows must work: shipped examples run, errors name the call, impossible ranges are named."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from avmine.atomic import FUNCTIONS
from avmine.server.executor import Executor, Limits, LogSelection
from avmine.server.executor.diagnostics import diagnose
from avmine.server.executor.ranges import empty_ranges
from avmine.server.mcp.guidance import SEMANTIC_RULES
from avmine.store import Store
from avmine.store.demo import demo_programs
from avmine.store.library import REFAV_EXAMPLES, parse_refav_examples

from .conftest import LOG

ROOMY = Limits(wall_seconds=60.0, cpu_seconds=60, memory_bytes=2 << 30, stdout_chars=4096, result_bytes=1 << 22)
"""Shipped examples are judged on whether they run, not on the tight limits of the sandbox tests."""
CARS = "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"


@pytest.fixture(scope="module")
def roomy(canary_store: Store) -> Iterator[Executor]:
    with Executor(canary_store, workers=1, limits=ROOMY) as ex:
        yield ex


def _program(expression: str) -> str:
    return CARS + f"found = {expression}\noutput_scenario(found, description, log_dir, output_dir)\n"


def test_every_shipped_example_runs_on_a_demo_log(roomy: Executor) -> None:
    examples = parse_refav_examples(REFAV_EXAMPLES.read_text()) + list(demo_programs().items())
    assert len(examples) == 16
    failures = {}
    for prompt, program in examples:
        execution = roomy.run(program, prompt, LogSelection(logs=(LOG,)))
        if execution.status != "ok":
            failures[prompt] = execution.error or execution.results[0].error
    assert failures == {}


def test_typographic_quotes_run_as_ascii(roomy: Executor, canary_store: Store) -> None:
    curly = _program("has_velocity(cars, log_dir, min_velocity=10)").replace("'VEHICLE'", "\u2018VEHICLE\u2019")
    execution = roomy.run(curly, "fast vehicle", LogSelection(logs=(LOG,)))
    assert execution.status == "ok" and execution.results[0].scenario
    assert "\u2018" not in execution.program  # the stored, hashed and run text is the ASCII one


def test_argument_errors_name_the_function_the_program_called(roomy: Executor) -> None:
    behind = _program("get_objects_in_relative_direction(cars, cars, log_dir, direction='behind')")
    error = roomy.run(behind, "p", LogSelection(logs=(LOG,))).results[0].error or ""
    assert error.startswith("ArgumentError: get_objects_in_relative_direction: direction='behind' is not allowed")
    assert "has_objects_in_relative_direction" not in error
    wrapped = _program("scenario_not(has_velocity)(cars, log_dir, max_velocity='fast')")
    error = roomy.run(wrapped, "p", LogSelection(logs=(LOG,))).results[0].error or ""
    assert error.startswith("ArgumentError: has_velocity: max_velocity must be a number")
    misspelt = _program("has_velocity(cars, log_dir, max_speed=1)")
    error = roomy.run(misspelt, "p", LogSelection(logs=(LOG,))).results[0].error or ""
    assert error.startswith("TypeError: has_velocity: got an unexpected keyword argument 'max_speed'")
    assert "its signature is has_velocity(track_candidates, log_dir, min_velocity=0.5, max_velocity=inf)" in error


def test_a_range_that_can_never_match_is_the_likely_mistake(roomy: Executor, canary_store: Store) -> None:
    stopped = _program("has_velocity(cars, log_dir, max_velocity=0.5)")
    diagnostics = diagnose(canary_store, roomy.run(stopped, "stopped car", LogSelection(logs=(LOG,))), "annotations")
    assert diagnostics.empty_logs == 1
    first = diagnostics.likely_mistakes[0]
    assert first.startswith("line 2: has_velocity(..., max_velocity=0.5) with min_velocity=0.5 (its default)")
    assert "can never match" in first and "min_velocity=0" in first
    fixed = _program("has_velocity(cars, log_dir, min_velocity=0, max_velocity=0.5)")
    diagnostics = diagnose(canary_store, roomy.run(fixed, "stopped car", LogSelection(logs=(LOG,))), "annotations")
    assert diagnostics.empty_logs == 0 and not any("never match" in m for m in diagnostics.likely_mistakes)


def test_empty_ranges_of_every_min_max_pair() -> None:
    def found(expression: str) -> list[str]:
        return [f"{e.function}:{e.low_name}" for e in empty_ranges(_program(expression), FUNCTIONS)]

    assert found("accelerating(cars, log_dir, max_accel=-1)") == ["accelerating:min_accel"]
    assert found("accelerating(cars, log_dir, min_accel=-np.inf, max_accel=-1)") == []
    assert found("scenario_not(has_lateral_acceleration)(cars, log_dir, min_accel=2, max_accel=-2)") == [
        "has_lateral_acceleration:min_accel"
    ]
    assert found("robust_has_velocity(cars, log_dir, 3, 1.0)") == ["robust_has_velocity:min_velocity"]
    assert found("has_velocity(cars, log_dir, min_velocity=2, max_velocity=2)") == ["has_velocity:min_velocity"]
    # counts: equal bounds mean "exactly n", which can match; more than the maximum cannot
    relative = "get_objects_in_relative_direction(cars, cars, log_dir, direction='left', min_number={}, max_number={})"
    assert found(relative.format(1, 1)) == []
    assert found(relative.format(3, 2)) == ["get_objects_in_relative_direction:min_number"]
    # values it cannot read are not judged
    assert found("has_velocity(cars, log_dir, max_velocity=limit)") == []
    assert empty_ranges("has_velocity(cars, log_dir, max_velocity=0.5", FUNCTIONS) == []


def test_the_advice_for_stopped_is_a_range_that_matches() -> None:
    advice = [SEMANTIC_RULES, FUNCTIONS["has_velocity"].__doc__ or "", FUNCTIONS["robust_has_velocity"].__doc__ or ""]
    advice += list(demo_programs().values())
    calls = [call.replace("...", "x, log_dir") for text in advice for call in re.findall(r"\w+\([^()]*\)", text)]
    velocity_calls = [call for call in calls if "velocity(" in call]
    assert len(velocity_calls) >= 4
    for call in velocity_calls:
        assert not empty_ranges(call, FUNCTIONS), call
    assert "min_velocity=0, max_velocity=0.5" in SEMANTIC_RULES
