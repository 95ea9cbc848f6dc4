"""RefAV's example programs give RefAV's own answers on the demo logs.

The golden scenarios (tests/data/refav_golden/examples.json) were produced by RefAV's
implementation; here the same program text runs through avmine's runtime, unmodified.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from atomic.program import run_program
from store import Store

from .golden import NAMESPACE, load, normalise, run_case

GOLDEN = load("examples.json")
GOLDEN_LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
COVERED_AT_LEAST = {0, 1, 3, 4, 5, 6, 7, 8, 11}
"""Example programs whose functions are all implemented (grows as functions land; never shrinks)."""
DEFECTIVE = {8: "direction='behind' is not allowed; use one of 'forward', 'backward', 'left', 'right'"}
"""Examples that RefAV ran to a silent empty answer and avmine refuses with an actionable error."""


def _called_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code.replace("’", "'"))
    except SyntaxError:
        return set()
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _runnable(index: int) -> bool:
    names = _called_names(GOLDEN["programs"][index]["code"]) - {"output_scenario"}
    return bool(names) and names <= set(NAMESPACE)


CASES = sorted(
    (key for key, result in GOLDEN["results"].items() if not result["error"] and _runnable(int(key.split("|")[0]))),
    key=lambda key: (int(key.split("|")[0]), key),
)


FAILED_IN_REFAV = sorted(key for key, result in GOLDEN["results"].items() if result["error"])
"""Examples whose own code fails in RefAV (e.g. example 10 names an undefined variable)."""


def test_coverage_never_shrinks() -> None:
    assert {int(key.split("|")[0]) for key in CASES} >= COVERED_AT_LEAST


@pytest.mark.parametrize("key", CASES)
def test_program_matches_refav(key: str, demo_db: Store, tmp_path: Path) -> None:
    index, log_id = key.split("|")
    run, expected = run_case(GOLDEN, key, demo_db.log_dir(log_id), tmp_path)
    if int(index) in DEFECTIVE:
        assert run.error is not None and DEFECTIVE[int(index)] in run.error
        return
    assert run.error is None, run.error
    assert len(run.outputs) == 1
    assert normalise(run.outputs[0].scenario) == normalise(expected["scenario"])


@pytest.mark.parametrize("key", FAILED_IN_REFAV)
def test_programs_that_fail_in_refav_fail_here_with_the_same_error(key: str, demo_db: Store, tmp_path: Path) -> None:
    _, log_id = key.split("|")
    run, expected = run_case(GOLDEN, key, demo_db.log_dir(log_id), tmp_path)
    kind = {"SyntaxError": "syntax error on line"}.get(str(expected["error"]).split(":")[0], "")
    kind = kind or str(expected["error"]).split(":")[0]  # e.g. NameError, with the name
    assert run.error is not None and kind in run.error, (run.error, expected["error"])


def test_syntax_errors_are_reported_with_their_line(demo_db: Store, tmp_path: Path) -> None:
    code = GOLDEN["programs"][2]["code"]  # RefAV's example 3 has an unterminated string
    run = run_program(code, NAMESPACE, demo_db.log_dir(GOLDEN_LOG), "x", tmp_path)
    assert run.error is not None and run.error.startswith("syntax error on line 2")
