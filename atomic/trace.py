"""The per-step trace of a program on one log: what each atomic call it wrote kept.

Every function of a program's namespace is wrapped (``avmine.atomic.runner.timed``) so that each call the
program's own code makes records its line, the function, the arguments that matter (scalars as written,
scenario dicts as ``<scenario>``) and how many objects (keys with at least one timestamp) and object
timestamps its result holds. RefAV's filters keep every input key, an empty one with ``[]``, so
``len(result)`` counts all candidates; the trace counts only objects still referred somewhere.

Calls from one line with the same arguments (a loop) are one step, their counts summed; calls an atomic
function makes itself (a wrapped function passed to ``scenario_not``) belong to the outer call.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avmine.atomic.program_errors import PROGRAM_FILE

MAX_STEPS = 60
"""Distinct steps kept per log; calls of further steps are counted in ``more_steps`` only."""
ARG_CHARS = 60
"""The longest rendering of one argument (a long string or list is cut)."""
ARGS_CHARS = 400
"""The longest rendering of a call's arguments; NAME_CHARS bounds its function's name."""
NAME_CHARS = 120
MAX_INPUTS = 16
"""Scenario arguments whose sizes a step keeps (``scenario_and`` may take any number)."""
SCENARIO = "<scenario>"
"""How a scenario argument appears in a step's arguments; its size is in the step's ``inputs``."""


def count(value: Any) -> tuple[int, int]:
    """Objects with at least one timestamp, and their timestamps (one per object per timestamp), of a scenario.

    Anything that is not a scenario dict counts (0, 0).
    """
    if not isinstance(value, dict):
        return 0, 0
    objects = stamps = 0
    for child in value.values():
        n = _stamps(child)
        objects += n > 0
        stamps += n
    return objects, stamps


def _stamps(value: Any) -> int:
    if isinstance(value, dict):
        found: set[int] = set()
        _union(value, found)
        return len(found)
    try:
        return len(value)
    except TypeError:
        return 0


def _union(value: dict[Any, Any], found: set[int]) -> None:
    for child in value.values():
        if isinstance(child, dict):
            _union(child, found)
        elif isinstance(child, Iterable) and not isinstance(child, str | bytes):
            found.update(child)


def _argument(value: Any) -> tuple[str, int | None]:
    """An argument as a step shows it, and its objects when it is a scenario."""
    if isinstance(value, dict):
        return SCENARIO, count(value)[0]
    if isinstance(value, Path):
        return "log_dir", None
    if callable(value):
        return str(getattr(value, "__name__", type(value).__name__)), None
    if isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value):
        return f"[{', '.join(SCENARIO for _ in value)}]", None  # scenario_and/or: sizes are its inputs
    return _cut(repr(value), ARG_CHARS), None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Step:
    """One call site with one set of arguments, summed over its calls on a log."""

    line: int
    function: str
    args: str
    calls: int = 0
    inputs: list[int] = field(default_factory=list)
    objects: int = 0
    timestamps: int = 0
    empty_calls: int = 0

    def as_json(self) -> dict[str, Any]:
        """The step as the result document carries it."""
        return {
            "line": self.line, "function": self.function, "args": self.args, "calls": self.calls,
            "inputs": self.inputs, "objects": self.objects, "timestamps": self.timestamps,
            "empty_calls": self.empty_calls,
        }  # fmt: skip


@dataclass
class Trace:
    """The steps of a program on one log, in the order of their first call."""

    steps: dict[tuple[int, str, str], Step] = field(default_factory=dict)
    first_empty: int | None = None
    """The step whose call first returned no object (the index into ``steps``), if any did."""
    more_steps: int = 0
    depth: int = 0
    """Calls in progress: a call made inside another (scenario_not's function) is not a step of its own."""

    def record(self, name: str, parameters: list[str], args: tuple[Any, ...], kwargs: dict[str, Any],
               result: Any) -> None:  # fmt: skip
        """Add one call the program's code made."""
        shown: list[str] = []
        inputs: list[int] = []
        named = [(parameters[i] if i < len(parameters) else "", v) for i, v in enumerate(args)]
        for param, value in [*named, *kwargs.items()]:
            text, objects = _argument(value)
            if text == "log_dir":
                continue
            scenarios = objects is not None or text.startswith(f"[{SCENARIO}")
            if objects is not None:
                inputs.append(objects)
            elif scenarios:
                inputs += [count(v)[0] for v in value]
            shown.append(text if scenarios or not param else f"{param}={text}")
        key = (_caller_line(), _cut(name, NAME_CHARS), _cut(", ".join(shown), ARGS_CHARS))
        inputs = inputs[:MAX_INPUTS]
        step = self.steps.get(key)
        if step is None:
            if len(self.steps) >= MAX_STEPS:
                self.more_steps += 1
                return
            step = self.steps[key] = Step(key[0], key[1], key[2], inputs=[0] * len(inputs))
        objects, stamps = count(result)
        step.calls += 1
        step.inputs = [a + b for a, b in zip(step.inputs, inputs, strict=False)]
        step.objects += objects
        step.timestamps += stamps
        if isinstance(result, dict) and not objects:
            step.empty_calls += 1
            if self.first_empty is None:
                self.first_empty = list(self.steps).index(key)

    def as_json(self) -> dict[str, Any]:
        """The trace as the result document carries it."""
        return {
            "steps": [step.as_json() for step in self.steps.values()],
            "first_empty": self.first_empty,
            "more_steps": self.more_steps,
        }


def _caller_line() -> int:
    """The line of the program's code the call was written on (0 when no frame of the program is found)."""
    frame = sys._getframe(2)
    for _ in range(8):  # the wrappers between the program and here, then a helper or comprehension of it
        if frame is None:
            break
        if frame.f_code.co_filename == PROGRAM_FILE:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return 0


def parameter_names(func: Callable[..., Any]) -> list[str]:
    """The names of a function's positional parameters, to show the arguments given by position by name."""
    try:
        return list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return []
