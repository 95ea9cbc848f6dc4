"""One program runner: a program gives the same answer, output and error in the sandbox as in-process.

The sandboxed child and trusted in-process callers both run programs through ``avmine.atomic.runner``;
what differs is only what the sandbox takes away (builtins, modules), never how a run is reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avmine import atomic
from avmine.atomic.context import active_source, set_active_source
from avmine.atomic.runner import LogRun, run_program
from avmine.server.executor import Executor, LogSelection
from avmine.server.executor.sandboxed_child import scenario_document
from avmine.store import Store

from .conftest import LOG

PROGRAMS = {
    "answer and output": (
        "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "print('cars:', len(cars))\n"
        "output_scenario(has_velocity(cars, log_dir, min_velocity=3), description, log_dir, output_dir)\n"
    ),
    "misspelt name": (
        "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "output_scenario(stationary(vehicels, log_dir), description, log_dir, output_dir)\n"
    ),
    "wrong argument in a helper": (
        "def behind(a, b):\n"
        "    return get_objects_in_relative_direction(a, b, log_dir, direction='behind')\n"
        "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "output_scenario(behind(cars, cars), description, log_dir, output_dir)\n"
    ),
    "no output": (
        "cars = get_objects_of_category(log_dir, category='VEHICLE')\nprint('none found')\n"
        "if len(cars) < 0:\n    output_scenario(cars, description, log_dir, output_dir)\n"
    ),
    "only the compiler sees it": "return 1\noutput_scenario({}, description, log_dir, output_dir)\n",
    "fenced": (
        "Here it is:\n```python\n\ncars = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "x = cars['no such track']\noutput_scenario(cars, description, log_dir, output_dir)\n```\n"
    ),
}


def _in_process(store: Store, program: str, tmp: Path) -> LogRun:
    previous = active_source()
    set_active_source("annotations")
    try:
        return run_program(program, atomic.program_namespace(), store.log_dir(LOG), "p", tmp)
    finally:
        set_active_source(previous)


EXPECTED = {
    "answer and output": [],
    "misspelt name": [
        "NameError: name 'vehicels' is not defined. Did you mean vehicles?",
        "\n  line 2: output_scenario(stationary(vehicels, log_dir), description, log_dir, output_dir)",
    ],
    "wrong argument in a helper": [  # named for the call the program wrote, with each of its lines on the way
        "ArgumentError: get_objects_in_relative_direction: direction='behind' is not allowed",
        "\n  line 4: output_scenario(behind(cars, cars), description, log_dir, output_dir)",
        "\n  line 2: return get_objects_in_relative_direction(a, b, log_dir, direction='behind')",
    ],
    "no output": ["the program finished without calling output_scenario"],  # with what it printed
    "only the compiler sees it": ["syntax error on line 1: 'return' outside function"],
    "fenced": ["KeyError: 'no such track'", "\n  line 3: x = cars['no such track']"],  # the fenced code's lines
}
"""What each error says (the texts compared are ones an agent can act on, not two equal placeholders)."""


@pytest.mark.parametrize("name", PROGRAMS)
def test_sandboxed_and_in_process_runs_report_alike(
    name: str, executor: Executor, canary_store: Store, tmp_path: Path
) -> None:
    program = PROGRAMS[name]
    result = executor.run(program, "p", LogSelection(logs=(LOG,))).results[0]
    alone = _in_process(canary_store, program, tmp_path)
    assert result.error == alone.error
    assert result.stdout == alone.stdout
    assert result.scenario == (None if alone.error else scenario_document(alone.scenario))
    for fragment in EXPECTED[name]:
        assert fragment in (result.error or ""), (fragment, result.error)
    if name == "answer and output":
        assert result.status == "ok" and result.stdout.startswith("cars: ") and result.scenario
    else:
        assert result.status == "error"
    if name == "no output":
        assert result.stdout == "none found\n"
