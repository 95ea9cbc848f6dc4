"""Scoring that cannot be turned into a label oracle: what agents and screening get instead of raw scores.

Three guards, each enough to stop a different probe:

- **honest programs only**: a run whose program hard-codes ids or timestamps or picks tracks by
  id text or position (``avmine.atomic.honesty``, ``avmine.atomic.track_picking``) is not scored, so one score
  cannot tell whether one track is referred;
- **a per-prompt budget**: the runs of one prompt are scored at most ``budget`` times at agents'
  request in a database (default 30, ``AVMINE_SCORING_BUDGET`` or ``avmine serve --scoring-budget``),
  so many near-identical programs cannot read labels a bit at a time; refusals cost nothing;
- **held-out logs** (``avmine.evaluation.holdout``): refinement scores never cover the logs the library's
  admission decision is made on. A prompt with a single ground-truth log is scored on it when an agent
  asks (an agent gets a score for every labelled prompt), and from then on it is not admitted; a
  screening batch keeps that log for its admission decision instead.

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
from avmine.store.scorings import Scoring, count_scorings, record_scoring, scorings

logger = logging.getLogger(__name__)

DEFAULT_SCORING_BUDGET = 30
BUDGET_VARIABLE = "AVMINE_SCORING_BUDGET"


JUDGE_WITHOUT_SCORES = "execute_scenario's diagnostics, inspect_track and render_bev"
"""The tools that judge a run without ground truth: what refusals point to."""


class ScoringBudgetError(ScoringRefusedError):
    """The prompt's runs were scored as often as the database allows."""


class NotAdmissibleError(ScoringRefusedError):
    """No ground-truth log of the prompt is left that its runs were never scored on for refinement."""


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

    ``avmine.evaluation.holdout``'s split, except that a held-out log a run of the prompt was scored on for
    refinement (a single log, which score_run may score) counts as a refinement log from then on: admission
    only ever judges logs no refinement scoring covered.

    Raises:
        ScoringRefusedError: no ground truth for the prompt, or only in a hidden split.
    """
    split = hold_out(prompt, labelled_logs(store, prompt))
    refined = {log for s in scorings(store, prompt) if s.purpose == "refinement" for log in s.logs}
    spent = tuple(log for log in split.held_out if log in refined)
    if not spent:
        return split
    return HoldOut(split.refinement + spent, tuple(log for log in split.held_out if log not in refined))


def check_budget(store: Store, prompt: str, budget: int) -> None:
    """Refuse when an agent's scorings of ``prompt`` have used up ``budget``.

    Raises:
        ScoringBudgetError: with how to go on and how to raise the budget.
    """
    used = count_scorings(store, prompt)
    if used >= budget:
        raise ScoringBudgetError(
            f"the runs of the prompt {prompt!r} were scored {used} times in this database, its budget of {budget} "
            "(a limit so that scores cannot be used to read labels track by track). Refine with "
            f"{JUDGE_WITHOUT_SCORES} (and vlm_check where a VLM is configured); an operator can raise the budget with "
            f"`avmine serve --scoring-budget N` or {BUDGET_VARIABLE}=N (for avmine screen)."
        )


def score_for_refinement(
    store: Store, run_id: str, budget: int, reveal: bool = False, keep_single_log: bool = False
) -> RunScore:
    """Score a run for an agent refining it: honest programs, within the budget, on the logs not held out.

    A prompt with a single ground-truth log is scored on it (the prompt is then no longer admitted),
    unless ``keep_single_log`` (a screening batch, whose admission decision needs that log).

    Raises:
        ScoringRefusedError: the program is not honest; no ground truth; the single log is kept.
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
    logs = split.refinement
    if not logs and keep_single_log:
        raise ScoringRefusedError(
            f"the prompt {prompt!r} has a single ground-truth log, and this screening batch judges the submitted "
            f"program on it, so it is not scored during refinement. Refine with {JUDGE_WITHOUT_SCORES}, then "
            "submit_program."
        )
    logs = logs or split.held_out  # the single log: the agent's to refine on from now
    check_budget(store, prompt, budget)
    record_scoring(store, Scoring(prompt, run_id, "refinement", "mcp", logs))
    return score_stored_run(store, run_id, reveal=reveal, logs=logs)


def admission_logs(store: Store, prompt: str) -> tuple[str, ...]:
    """The logs the library judges a program for ``prompt`` on: its held-out logs.

    Raises:
        ScoringRefusedError: no ground truth for the prompt, or only in a hidden split.
        NotAdmissibleError: every ground-truth log of the prompt was scored for refinement.
    """
    split = prompt_hold_out(store, prompt)
    if not split.held_out:
        raise NotAdmissibleError(
            f"score_run scored runs of the prompt {prompt!r} on each of its ground-truth logs (a prompt with a single "
            "log is scored on it), so no fresh ground truth is left to judge a program for the few-shot library "
            "on; the library does not take "
            "programs for this prompt. The refined program stands as the prompt's answer (submit_program records "
            "it). More ground-truth logs of the prompt (an operator ingests them; RefAV pairs every prompt with "
            "positive and negative logs) can give it held-out logs again."
        )
    return split.held_out


def score_for_admission(store: Store, run_id: str, origin: str) -> RunScore:
    """Score a run on its prompt's held-out logs only, for the library's decision (recorded as ``origin``).

    Raises:
        ScoringRefusedError: no ground truth for the prompt, or only in a hidden split.
        NotAdmissibleError: no held-out log is left (see ``admission_logs``).
        StoreError: no such run.
    """
    record, _ = load_run(store, run_id)
    prompt = str(record["prompt"])
    logs = admission_logs(store, prompt)
    record_scoring(store, Scoring(prompt, run_id, "admission", origin, logs))
    return score_stored_run(store, run_id, logs=logs)
