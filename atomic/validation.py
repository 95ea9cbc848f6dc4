"""Argument checks with errors a program's author can act on.

RefAV silently returns nothing for many wrong arguments (an unknown direction, an unknown
category); avmine says what was wrong and what is allowed instead, so an agent can fix its
program. These are the only places where avmine deliberately answers differently from RefAV.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable


class ArgumentError(ValueError):
    """A program passed an argument an atomic function cannot use."""


def choice(function: str, name: str, value: object, allowed: Iterable[str | None]) -> None:
    """Require one of the allowed values (strings, or None where it is allowed)."""
    allowed = list(allowed)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ArgumentError(f"{function}: {name}={value!r} is not allowed; use one of {shown}.")


def number(function: str, name: str, value: object, minimum: float | None = None) -> None:
    """Require a real number (not a bool), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{function}: {name} must be a number, got {type(value).__name__} {value!r}.")
    if minimum is not None and float(value) < minimum:
        raise ArgumentError(f"{function}: {name}={value!r} must be at least {minimum:g}.")


def non_negative(function: str, **values: object) -> None:
    """Require every named value to be a number ≥ 0 (distances, counts, angles)."""
    for name, value in values.items():
        number(function, name, value, minimum=0.0)


DIRECTIONS = ("forward", "backward", "left", "right")
"""Directions relative to an object's heading."""
