"""What programs printed, bounded per log and in total and marked as theirs, for tools that return it."""

from __future__ import annotations

from avmine.store.bounds import bound
from avmine.store.runs import LogResult

PER_LOG_CHARS = 2_000
"""The most of one log's printed output a tool returns (``avmine exec`` and the database keep more)."""
TOTAL_CHARS = 6_000
"""The most printed output one tool response returns, all logs together."""


def program_output(
    results: list[LogResult], per_log_chars: int = PER_LOG_CHARS, total_chars: int = TOTAL_CHARS
) -> dict[str, str]:
    """Per log that printed anything, what it printed, each cut to ``per_log_chars`` and all to ``total_chars``.

    Logs past the total are left out; ``printed_lines`` says how many.
    """
    printed: dict[str, str] = {}
    left = total_chars
    for result in results:
        if not result.stdout.strip() or left <= 0:
            continue
        text = bound(result.stdout.rstrip(), min(per_log_chars, max(left, 200)))
        printed[result.log_id] = text
        left -= len(text)
    return printed


def printed_lines(printed: dict[str, str], results: list[LogResult]) -> list[str]:
    """The printed output as text, each log's under a line saying it is the program's own output."""
    lines = []
    for log_id, text in printed.items():
        lines.append(f"--- the program's own output (print) on {log_id[:8]}:")
        lines.append(text)
    left_out = sum(bool(r.stdout.strip()) for r in results) - len(printed)
    if left_out:
        lines.append(f"--- the program printed on {left_out} more logs (left out to bound this response; see get_run)")
    return lines
