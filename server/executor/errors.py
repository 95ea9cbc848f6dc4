"""Errors an agent can act on: where in its program, what went wrong, what it may have meant."""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Iterable

from store.bounds import ERROR_CHARS, bound

PROGRAM_FILE = "<program>"


def runtime_error(exc: BaseException, text: str, known_names: Iterable[str]) -> str:
    """A runtime error with the traceback cut to the program's own lines, and a suggestion for unknown names."""
    lines = text.splitlines()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == PROGRAM_FILE]
    trace = [
        f"  line {f.lineno}: {bound(lines[f.lineno - 1].strip(), 200) if f.lineno and f.lineno <= len(lines) else ''}"
        for f in frames
    ]
    message = bound(f"{type(exc).__name__}: {exc}", ERROR_CHARS // 2)  # a program chooses its messages' length
    if isinstance(exc, NameError) and exc.name:
        close = difflib.get_close_matches(exc.name, list(known_names), n=3, cutoff=0.6)
        if close:
            message += f". Did you mean {' or '.join(close)}?"
    return bound("\n".join([message, *trace]), ERROR_CHARS) if trace else message
