"""Errors an agent can act on: where in its program, what went wrong, what it may have meant."""

from __future__ import annotations

import difflib
import inspect
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from avmine.atomic.validation import ArgumentError
from avmine.store.bounds import ERROR_CHARS, bound

PROGRAM_FILE = "<program>"
_NAMED = re.compile(r"^(\w+): ")
_BIND_MESSAGES = ("missing a required argument", "got an unexpected keyword argument", "too many positional arguments")
"""What inspect.Signature.bind says (without the function's name) when a lifted function is called wrongly."""


def name_the_call(exc: BaseException, name: str, func: Callable[..., Any]) -> None:
    """Make an argument error name ``name``, the function the program called, in place.

    A function may check its arguments in a helper it calls (get_objects_in_relative_direction
    in has_objects_in_relative_direction); the program's author knows only the name it wrote.
    Only the innermost call the program made renames the error.
    """
    if vars(exc).get("avmine_named") or not exc.args or not isinstance(exc.args[0], str):
        return
    message = exc.args[0]
    if isinstance(exc, ArgumentError):
        exc.args = (_NAMED.sub(f"{name}: ", message, count=1) if _NAMED.match(message) else f"{name}: {message}",)
    elif isinstance(exc, TypeError) and message.startswith(_BIND_MESSAGES):
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            params = []
        listed = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params)
        shown = f"; its signature is {name}({listed})" if listed else ""
        exc.args = (f"{name}: {message}{shown}",)
    else:
        return
    vars(exc)["avmine_named"] = True  # outer calls (a function the program passed in) keep this name


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
