"""A batch's summary for people: one row per prompt, then what went wrong in which session."""

from __future__ import annotations

from collections import Counter

from avmine.server.headless.batch import BatchSummary
from avmine.store.agent_runs import SessionStatus

PROMPT_WIDTH = 44


def summary_text(summary: BatchSummary, screening: bool) -> str:
    """The table of prompts (status, attempts, score when screening, cost, time, reason) and the totals."""
    cost: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for session in summary.sessions:
        cost[session.prompt] = cost.get(session.prompt, 0.0) + (session.cost_usd or 0.0)
        seconds[session.prompt] = seconds.get(session.prompt, 0.0) + session.seconds
    header = f"{'prompt':<{PROMPT_WIDTH}} {'status':<15} {'tries':>5}"
    header += f" {'ts BA':>6}" if screening else ""
    lines = [header + f" {'cost $':>7} {'time s':>7}  reason"]
    for outcome in summary.outcomes:
        prompt = outcome.prompt if len(outcome.prompt) <= PROMPT_WIDTH else outcome.prompt[: PROMPT_WIDTH - 1] + "…"
        row = f"{prompt:<{PROMPT_WIDTH}} {outcome.status:<15} {outcome.attempts:>5}"
        if screening:
            row += f" {outcome.timestamp_ba:>6.3f}" if outcome.timestamp_ba is not None else f" {'-':>6}"
        resumed = " (finished earlier)" if outcome.prompt in summary.resumed else ""
        row += f" {cost.get(outcome.prompt, 0.0):>7.3f} {seconds.get(outcome.prompt, 0.0):>7.1f}"
        row += f"  {_clip(outcome.reason or '', 100)}{resumed}"
        lines.append(row)
    statuses = Counter(o.status for o in summary.outcomes)
    lines.append("")
    lines.append(
        f"{len(summary.outcomes)} prompts: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        + f"; {len(summary.sessions)} agent sessions, ${summary.cost_usd:.3f}, {summary.seconds:.0f} s"
    )  # fmt: skip
    troubles = [s for s in summary.sessions if s.status not in (SessionStatus.SUBMITTED, SessionStatus.APPROVED)]
    for session in troubles:
        # avmine's own advice (log in, then ...) in full; an agent's words, which can run long, clipped
        detail = session.detail or ""
        detail = detail if session.status == SessionStatus.NOT_LOGGED_IN else _clip(detail, 160)
        lines.append(f"  {session.phase} session {session.attempt} of {session.prompt!r}: {session.status}: {detail}")
    if summary.duplicates:
        lines.append(f"duplicate prompts (solved once): {', '.join(repr(p) for p in summary.duplicates)}")
    if summary.skipped_failures:
        lines.append(f"{len(summary.skipped_failures)} prompt(s) failed in an earlier run of this batch and were not "
                     "tried again: add --retry-failed to solve them again")  # fmt: skip
    if summary.not_started:
        lines.append(f"not started, the budget ran out ({len(summary.not_started)}): run the same command again "
                     "with a larger --budget to go on")  # fmt: skip
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis where it was cut (so no sentence ends silently)."""
    return text if len(text) <= width else text[: width - 1] + "…"
