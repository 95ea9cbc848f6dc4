"""Bounds on text a program produced (errors, printed output), wherever it is returned or stored.

A program decides how long its exception messages and printed output are; unbounded, one run
could return megabytes to an agent and grow the database by as much per log.
"""

from __future__ import annotations

ERROR_CHARS = 8 << 10
"""The longest error kept: a message and the program's lines of its traceback fit many times over."""
STDOUT_CHARS = (64 << 10) + 256
"""The longest printed output kept: the sandbox's default bound (64 KiB) and its note on what it dropped."""


def bound(text: str, limit: int) -> str:
    """Text cut to at most ``limit`` characters, its end a note of how much was cut (unchanged when it fits).

    Bounding bounded text changes nothing, so each layer that returns or stores text can bound it.
    """
    if len(text) <= limit:
        return text
    keep = max(limit - 80, 0)  # room for the note
    return text[:keep] + f"\n[... {len(text) - keep} more characters cut (limit {limit})]"
