"""Bounded responses: every tool answer fits a client's limits, larger ones continue behind a cursor.

Claude Code refuses results above about 25k tokens; avmine keeps each response under
``LIMIT_CHARS`` characters and hands out an opaque cursor for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mcp.server.mcpserver.exceptions import ToolError

LIMIT_CHARS = 20_000
"""Default size bound of one response, in characters."""


@dataclass(frozen=True)
class Page:
    """A slice of items that fits the bound, and the cursor to the next slice (None at the end)."""

    items: list[str]
    next_cursor: str | None
    total: int

    def text(self, separator: str = "\n") -> str:
        """The items joined, with a last line saying how to get the rest."""
        body = separator.join(self.items)
        if self.next_cursor is None:
            return body
        left = self.total - int(self.next_cursor)
        return f"{body}{separator}[{left} more; call again with cursor='{self.next_cursor}']"


def start_of(cursor: str | None, total: int) -> int:
    """The item index a cursor points at.

    Raises:
        ToolError: the cursor is not one this server handed out for this listing.
    """
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit() or int(cursor) > total:
        raise ToolError(f"cursor {cursor!r} is not valid here; use the cursor from the previous page, or none.")
    return int(cursor)


def paginate(items: Sequence[str], cursor: str | None = None, limit_chars: int = LIMIT_CHARS) -> Page:
    """The items from ``cursor`` on that fit ``limit_chars`` (always at least one, cut if it alone is larger)."""
    start = start_of(cursor, len(items))
    taken: list[str] = []
    size = 0
    for item in items[start:]:
        if taken and size + len(item) + 1 > limit_chars:
            break
        taken.append(item if len(item) <= limit_chars else item[: limit_chars - 40] + " [... cut to fit the limit]")
        size += len(item) + 1
    end = start + len(taken)
    return Page(taken, str(end) if end < len(items) else None, len(items))


def clip(text: str, limit_chars: int = LIMIT_CHARS) -> str:
    """Text cut to the bound, saying so."""
    if len(text) <= limit_chars:
        return text
    return text[: limit_chars - 80] + f"\n[... {len(text) - limit_chars + 80} characters cut; narrow the request]"
