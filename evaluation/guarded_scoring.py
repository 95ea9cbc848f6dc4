"""Scoring that cannot be turned into a label oracle: what agents and screening get instead of raw scores.

Three guards, each enough to stop a different probe:

- **honest programs only**: a run whose program hard-codes ids or timestamps or picks tracks by
  id text or position (``avmine.atomic.honesty``, ``avmine.atomic.track_picking``) is not scored, so one score
  cannot tell whether one track is referred;
- **a per-prompt budget**: the runs of one prompt are scored at most ``budget`` times at agents'
  request in a database (default 30, ``AVMINE_SCORING_BUDGET`` or ``avmine serve --scoring-budget``),
  so many near-identical programs cannot read labels a bit at a time; refusals cost nothing;
- **held-out logs** (``avmine.evaluation.holdout``): refinement scores never cover the logs the library's
  admission decision is made on.

Every scoring is recorded (``avmine.store.scorings``) before its numbers are returned.
"""

from __future__ import annotations

import logging
import os

from avmine.atomic.honesty import DishonestProgramError, check_honest
from avmine.atomic.program import ProgramError
from avmine.evaluation.holdout import HoldOut, hold_out
from avmine.evaluation.score_runs import RunScore, ScoringRefusedError, labelled_logs, score_stored_run
from avmine.store.database import Store
from avmine.store.runs import load_run
from avmine.store.scorings import Scoring, count_scorings, record_scoring

logger = logging.getLogger(__name__)

DEFAULT_SCORING_BUDGET = 30
BUDGET_VARIABLE = "AVMINE_SCORING_BUDGET"


class ScoringBudgetError(ScoringRefusedError):
    """The prompt's runs were scored as often as the database allows."""


def scoring_budget_from_env() -> int:
    """The per-prompt scoring budget: ``$AVMINE_SCORING_BUDGET``, else 30.

    Raises:
        ValueError: the variable is not a positive integer.
    """
    raw = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_SCORING_BUDGET
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{BUDGET_VARIABLE}={raw!r} is not a positive integer (scorings per prompt).")
    return int(raw)


def prompt_hold_out(store: Store, prompt: str) -> HoldOut:
    """The prompt's ground-truth logs split for refinement and admission.

    Raises:
        ScoringRefusedError: no ground truth for the prompt, or only in a hidden split.
    """
    return hold_out(prompt, labelled_logs(store, prompt))


def check_budget(store: Store, prompt: str, budget: int) -> None:
    """Refuse when an agent's scorings of ``prompt`` have used up ``budget``.

    Raises:
        ScoringBudgetError: with how to go on and how to raise the budget.
    """
    used = count_scorings(store, prompt)
    if used >= budget:
        raise ScoringBudgetError(
            f"the runs of the prompt {prompt!r} were scored {used} times in this database, its budget of {budget} "
            "(a limit so that scores cannot be used to read labels track by track). Refine from the diagnostics, "
            f"inspect_track, renders and the VLM; an operator can raise it with `avmine serve --scoring-budget N` "
            f"or {BUDGET_VARIABLE}=N (for avmine screen)."
        )


def score_for_refinement(store: Store, run_id: str, budget: int, reveal: bool = False) -> RunScore:
    """Score a run for an agent refining it: honest programs, within the budget, on the logs not held out.

    Raises:
        ScoringRefusedError: the program is not honest; no ground truth; every log is held out.
        ScoringBudgetError: the prompt's budget is used up.
        StoreError: no such run.
    """
    record, _ = load_run(store, run_id)
    prompt, program = str(record["prompt"]), str(record["program"])
    try:
        check_honest(program)
    except DishonestProgramError as exc:
        raise ScoringRefusedError(f"not scored: {exc}") from exc
    except ProgramError as exc:  # it does not parse or never outputs: it found nothing, and scoring says so
        logger.debug("run %s is scored although its program cannot run: %s", run_id, exc)
    split = prompt_hold_out(store, prompt)
    if not split.refinement:
        raise ScoringRefusedError(
            f"the prompt {prompt!r} has a single ground-truth log and it is held out: the few-shot library "
            "admits programs only on logs they were never scored on. Refine from the diagnostics, inspect_track, "
            "renders and the VLM; screening scores the final program on the held-out log."
        )
    check_budget(store, prompt, budget)
    record_scoring(store, Scoring(prompt, run_id, "refinement", "mcp", split.refinement))
    return score_stored_run(store, run_id, reveal=reveal, logs=split.refinement)


def score_for_admission(store: Store, run_id: str, origin: str) -> RunScore:
    """Score a run on its prompt's held-out logs only, for the library's decision (recorded as ``origin``).

    Raises:
        ScoringRefusedError: no ground truth for the prompt, or only in a hidden split.
        StoreError: no such run.
    """
    record, _ = load_run(store, run_id)
    prompt = str(record["prompt"])
    split = prompt_hold_out(store, prompt)
    record_scoring(store, Scoring(prompt, run_id, "admission", origin, split.held_out))
    return score_stored_run(store, run_id, logs=split.held_out)
