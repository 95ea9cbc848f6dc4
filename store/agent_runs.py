"""Headless agent runs: every agent session and each prompt's outcome, per batch, so a batch resumes.

A batch is one ``avmine run`` or ``avmine screen`` invocation, named so that running it again
skips the prompts it already finished. Sessions are never overwritten: failures are rows too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from avmine.store.database import Store, now

Phase = Literal["generate", "review"]
"""A session's phase: "generate" (draft, execute, refine, submit) or "review" (fresh context, check meaning)."""


class SessionStatus(StrEnum):
    """How an agent session ended."""

    SUBMITTED = "submitted"
    APPROVED = "approved"  # review kept the program
    NO_SUBMISSION = "no_submission"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    NOT_LOGGED_IN = "not_logged_in"  # the agent CLI had no usable login
    REJECTED = "rejected"  # the submitted program failed a check


class OutcomeStatus(StrEnum):
    """Where a prompt ended in a batch."""

    DONE = "done"  # a program to submit
    KEPT = "kept"  # screening: into the library
    BELOW_THRESHOLD = "below_threshold"  # screening: best score too low
    FAILED = "failed"  # no usable program


@dataclass(frozen=True)
class AgentSession:
    """One agent CLI session for one prompt.

    Attributes:
        phase: see ``Phase``.
        status: see ``SessionStatus``.
        program: the program the session submitted, if any.
        detail: what went wrong or what the agent said last.
        cost_usd: the agent's own cost report (None when it gives none).
    """

    batch: str
    prompt: str
    attempt: int
    phase: Phase
    status: SessionStatus
    program: str | None = None
    detail: str | None = None
    seconds: float = 0.0
    turns: int | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class PromptOutcome:
    """Where a prompt ended in a batch.

    Attributes:
        status: see ``OutcomeStatus``.
        program: the final (or best) program, if any.
        timestamp_ba: its Timestamp BA when screened.
        reason: why it failed or was not kept.
        run_id: the run of the final program over the split, which the submission is built from.
    """

    batch: str
    prompt: str
    status: OutcomeStatus
    program: str | None
    attempts: int
    timestamp_ba: float | None = None
    reason: str | None = None
    run_id: str | None = None


def record_session(store: Store, session: AgentSession) -> None:
    """Add a session row."""
    s = session
    store.con.execute(
        "INSERT INTO agent_sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [s.batch, s.prompt, s.attempt, s.phase, str(s.status), s.program, s.detail, s.seconds, s.turns, s.cost_usd,
         s.input_tokens, s.output_tokens, now()],
    )  # fmt: skip


def sessions(store: Store, batch: str) -> list[AgentSession]:
    """A batch's sessions in the order they ran."""
    rows = store.con.execute(
        "SELECT batch, prompt, attempt, phase, status, program, detail, seconds, turns, cost_usd, input_tokens, "
        "output_tokens FROM agent_sessions WHERE batch = ? ORDER BY started_at",
        [batch],
    ).fetchall()
    return [replace(AgentSession(*row), status=SessionStatus(row[4])) for row in rows]


def record_outcome(store: Store, outcome: PromptOutcome) -> None:
    """Set a prompt's outcome in its batch (replacing an earlier one)."""
    o = outcome
    store.con.execute(
        "INSERT OR REPLACE INTO agent_outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [o.batch, o.prompt, str(o.status), o.program, o.attempts, o.timestamp_ba, o.reason, o.run_id, now()],
    )


def outcomes(store: Store, batch: str) -> dict[str, PromptOutcome]:
    """A batch's finished prompts by prompt."""
    rows = store.con.execute(
        "SELECT batch, prompt, status, program, attempts, timestamp_ba, reason, run_id FROM agent_outcomes "
        "WHERE batch = ?",
        [batch],
    ).fetchall()
    return {str(row[1]): replace(PromptOutcome(*row), status=OutcomeStatus(row[2])) for row in rows}
