"""RefAV's example programs give RefAV's own answers on the demo logs.

The golden scenarios (tests/data/refav_golden/examples.json) were produced by RefAV's
implementation; here the same program text runs unmodified through avmine's sandboxed executor,
as `avmine exec` runs it, each program once over all the logs of its cases.
"""

from __future__ import annotations

import ast

import pytest

from avmine.server.executor import Executor
from avmine.store import Store
from avmine.store.runs import LogResult

from .golden import NAMESPACE, load, normalise, refav_answer, run_golden

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


SYNTAX_ERROR = 2
"""RefAV's example 3 has an unterminated string (its cases are among FAILED_IN_REFAV)."""


@pytest.fixture(scope="module")
def answers(golden_executor: Executor) -> dict[str, LogResult]:
    """avmine's result for every case, those that fail in RefAV included."""
    return run_golden(golden_executor, GOLDEN, CASES + FAILED_IN_REFAV)


def test_coverage_never_shrinks() -> None:
    assert {int(key.split("|")[0]) for key in CASES} >= COVERED_AT_LEAST


@pytest.mark.parametrize("key", CASES)
def test_program_matches_refav(key: str, answers: dict[str, LogResult], demo_db: Store) -> None:
    index, log_id = key.split("|")
    result = answers[key]
    if int(index) in DEFECTIVE:
        assert result.error is not None and DEFECTIVE[int(index)] in result.error
        return
    assert result.status == "ok", result.error
    expected = refav_answer(GOLDEN["results"][key]["scenario"], demo_db.log_dir(log_id))
    assert normalise(result.scenario) == normalise(expected)


@pytest.mark.parametrize("key", FAILED_IN_REFAV)
def test_programs_that_fail_in_refav_fail_here_with_the_same_error(key: str, answers: dict[str, LogResult]) -> None:
    expected = GOLDEN["results"][key]["error"]
    kind = {"SyntaxError": "syntax error on line"}.get(str(expected).split(":")[0], "")
    kind = kind or str(expected).split(":")[0]  # e.g. NameError, with the name
    error = answers[key].error
    assert error is not None and kind in error, (error, expected)


def test_syntax_errors_are_reported_with_their_line(answers: dict[str, LogResult]) -> None:
    error = answers[f"{SYNTAX_ERROR}|{GOLDEN_LOG}"].error
    assert error is not None and error.startswith("syntax error on line 2")
