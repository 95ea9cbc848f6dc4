"""The per-step trace the runner records: lines, calls, what each kept, and its bound."""

from __future__ import annotations

from pathlib import Path

from avmine import atomic
from avmine.atomic import docs
from avmine.atomic.runner import run_program
from avmine.atomic.scenario import timestamps
from avmine.atomic.trace import MAX_INPUTS, MAX_STEPS
from avmine.server.executor.messages import TraceDocument
from avmine.store import Store

from .conftest import LOGS

PROGRAM = """\
vehicles = get_objects_of_category(log_dir, category='VEHICLE')
moving = scenario_not(stationary)(vehicles, log_dir)
for direction in ('left', 'left', 'right'):
    turned = turning(moving, log_dir, direction=direction)
def too_fast(s):
    return has_velocity(s, log_dir, min_velocity=100)
print(len(turned))
output_scenario(too_fast(turned), description, log_dir, output_dir)
"""


def _kept(scenario: dict[str, object]) -> tuple[int, int]:
    """Objects with a timestamp and their timestamps, counted here without the trace's code."""
    stamps = [len(set(timestamps(value))) for value in scenario.values()]  # type: ignore[arg-type]
    return sum(n > 0 for n in stamps), sum(stamps)


def test_trace_counts_what_each_call_kept(demo_db: Store, tmp_path: Path) -> None:
    log_dir = demo_db.log_dir(LOGS[0])
    run = run_program(PROGRAM, atomic.program_namespace(), log_dir, "x", tmp_path)
    assert run.error is None, run.error
    steps = run.trace["steps"]
    assert [(s["line"], s["function"], s["args"], s["calls"]) for s in steps] == [
        (1, "get_objects_of_category", "category='VEHICLE'", 1),
        (2, "scenario_not(stationary)", "<scenario>", 1),  # stationary, called inside it, is no step of its own
        (4, "turning", "<scenario>, direction='left'", 2),  # a loop's calls with the same arguments: one step
        (4, "turning", "<scenario>, direction='right'", 1),
        (6, "has_velocity", "<scenario>, min_velocity=100", 1),  # the helper's line
    ]
    functions = atomic.FUNCTIONS
    vehicles = functions["get_objects_of_category"](log_dir, category="VEHICLE")
    moving = functions["scenario_not"](functions["stationary"])(vehicles, log_dir)
    left = functions["turning"](moving, log_dir, direction="left")
    assert [steps[0]["objects"], steps[0]["timestamps"]] == list(_kept(vehicles))
    assert steps[1]["inputs"] == [_kept(vehicles)[0]] and steps[1]["objects"] == _kept(moving)[0]
    assert steps[2]["inputs"] == [2 * _kept(moving)[0]] and steps[2]["objects"] == 2 * _kept(left)[0]
    # RefAV's filters keep every key: len() counts candidates, the trace objects with timestamps
    assert run.stdout.strip() == str(len(moving)) and 0 < _kept(left)[0] < len(left)
    assert steps[4]["objects"] == 0 and steps[4]["empty_calls"] == 1
    assert run.trace["first_empty"] == next(i for i, s in enumerate(steps) if s["empty_calls"])


def test_trace_is_bounded(demo_db: Store, tmp_path: Path) -> None:
    program = (
        "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
        "everything = scenario_and([cars] * 100)\n"
        f"for speed in range({MAX_STEPS}):\n"
        "    has_velocity(cars, log_dir, min_velocity=speed)\n"
        "output_scenario(cars, description, log_dir, output_dir)\n"
    )
    run = run_program(program, atomic.program_namespace(), demo_db.log_dir(LOGS[0]), "x", tmp_path)
    steps = run.trace["steps"]
    assert len(steps) == MAX_STEPS and run.trace["more_steps"] == 2  # the last two speeds' calls
    assert steps[1]["function"] == "scenario_and" and steps[1]["args"].endswith("...")
    assert len(steps[1]["inputs"]) == MAX_INPUTS
    TraceDocument.model_validate(run.trace)  # what the sandboxed child sends passes the executor's schema


def test_every_filter_doc_says_it_keeps_every_key() -> None:
    entries = [e for e in docs.registry().values() if "filter" in e.kind or "relational" in e.kind]
    assert len(entries) > 40
    assert all(docs.KEEPS_EVERY_KEY in e.returns and "len(result)" in e.render() for e in entries)
