"""Argument ranges that can never match: a ``min_x`` at or above its ``max_x`` in a program's calls.

Read from the program's text, with each function's defaults filled in, so the classic mistake
``has_velocity(cars, log_dir, max_velocity=0.5)`` (``min_velocity`` stays at its default 0.5) is
named before the agent wonders why every log came back empty.
"""

from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from avmine.atomic.program import normalise

WRAPPERS = ("scenario_not", "reverse_relationship")
"""Higher-order functions whose result takes the wrapped function's arguments."""
COUNTS = ("number", "objects")
"""Ranges of counts: an equal minimum and maximum means "exactly", which can match."""
SUGGESTED = {"min_velocity": "min_velocity=0", "min_accel": "min_accel=-np.inf"}
"""The usual fix where a default minimum is the trouble ("stopped", "braking")."""


@dataclass(frozen=True)
class EmptyRange:
    """One call whose min_/max_ pair leaves no value."""

    line: int
    function: str
    low_name: str
    low: float
    high_name: str
    high: float
    low_by_default: bool

    def text(self) -> str:
        """The mistake and its fix, for the diagnostics."""
        default = " (its default)" if self.low_by_default else ""
        example = f" (e.g. {SUGGESTED[self.low_name]})" if self.low_name in SUGGESTED else ""
        return (
            f"line {self.line}: {self.function}(..., {self.high_name}={self.high:g}) with {self.low_name}="
            f"{self.low:g}{default} is a range that can never match; give {self.low_name} a value below "
            f"{self.high_name}{example}"
        )


def _value(node: ast.expr) -> float | None:
    """A numeric literal's value (numbers, np.inf, float('inf'), signs); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Attribute) and node.attr == "inf" and isinstance(node.value, ast.Name):
        return math.inf if node.value.id in ("np", "numpy", "math") else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "float"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        try:
            return float(node.args[0].value)
        except ValueError:
            return None
    return None


def _called(node: ast.Call) -> str | None:
    """The atomic function a call runs: ``f(...)``, or ``scenario_not(f)(...)`` and the like."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if (
        isinstance(func, ast.Call)
        and isinstance(func.func, ast.Name)
        and func.func.id in WRAPPERS
        and len(func.args) == 1
        and isinstance(func.args[0], ast.Name)
    ):
        return func.args[0].id
    return None


def _arguments(node: ast.Call, signature: inspect.Signature) -> dict[str, ast.expr] | None:
    """The call's arguments by parameter name; None when it unpacks (*args, **kwargs) and cannot be read."""
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    names = list(signature.parameters)
    given = dict(zip(names, node.args, strict=False))
    given.update({k.arg: k.value for k in node.keywords if k.arg is not None})
    return given


def _pairs(signature: inspect.Signature) -> Iterator[tuple[str, str]]:
    for name in signature.parameters:
        if name.startswith("min_") and f"max_{name[4:]}" in signature.parameters:
            yield name, f"max_{name[4:]}"


def empty_ranges(program: str, functions: dict[str, Callable[..., Any]]) -> list[EmptyRange]:
    """Calls in ``program`` whose min_/max_ argument pair can match no value (min > max; min == max but counts).

    Arguments that are not numeric literals are not judged. A program that does not parse has none.
    """
    try:
        tree = ast.parse(normalise(program))
    except SyntaxError:
        return []
    found: list[EmptyRange] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node)
        if name is None or name not in functions:
            continue
        signature = inspect.signature(functions[name])
        given = _arguments(node, signature)
        if given is None:
            continue
        for low_name, high_name in _pairs(signature):
            values = []
            for param in (low_name, high_name):
                default = signature.parameters[param].default
                values.append(_value(given[param]) if param in given else default)
            low, high = values
            if not isinstance(low, int | float) or not isinstance(high, int | float):
                continue
            exact_count_allowed = low_name[4:] in COUNTS
            if low > high or (low == high and not exact_count_allowed):
                found.append(
                    EmptyRange(node.lineno, name, low_name, float(low), high_name, float(high), low_name not in given)
                )
    return sorted(found, key=lambda e: e.line)
