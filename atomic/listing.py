"""The functions programs can call, listed where each is declared.

A function joins every program's scope and the docs by being declared with `@listed` on its
definition; nothing else lists it::

    @listed("behaviour")
    @unary
    def braking(ctx: LogContext, uuids: list[str], ...) -> dict[str, list[int]]: ...

`FUNCTIONS` holds them in the order the docs show: by kind (`KINDS`, then other kinds as first
listed), then by `position` within the kind (RefAV's functions keep RefAV's own order), then as
declared. Higher layers list theirs through `list_functions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["EXTENSION_KINDS", "FUNCTIONS", "KINDS", "LISTED", "Listed", "list_functions", "listed", "unlist"]

F = TypeVar("F", bound=Callable[..., Any])

REFAV = "RefAV"
KINDS = (REFAV, "robust", "behaviour")
"""The kinds declared in this package, in the order the docs list them."""


@dataclass(frozen=True)
class Listed:
    """How one function is listed: its kind, its place in the docs, and what a worker prepares for it."""

    func: Callable[..., Any]
    kind: str
    position: int | None = None
    uses_map_masks: bool = False
    """Reads a log's default map masks (`avmine.atomic.functions.map.map_mask_keys`): workers warm them first."""


LISTED: dict[str, Listed] = {}
"""Every listed function by name, in the order listed."""

FUNCTIONS: dict[str, Callable[..., Any]] = {}
"""Every listed function by name, in the order the docs show them."""

EXTENSION_KINDS: dict[str, str] = {}
"""The kind of each function that is not RefAV's, as the docs label it."""


def _order() -> None:
    kinds = list(dict.fromkeys([*KINDS, *(entry.kind for entry in LISTED.values())]))
    arrival = {name: index for index, name in enumerate(LISTED)}

    def key(name: str) -> tuple[int, bool, int, int]:
        entry = LISTED[name]
        return kinds.index(entry.kind), entry.position is None, entry.position or 0, arrival[name]

    ordered = sorted(LISTED, key=key)
    FUNCTIONS.clear()
    FUNCTIONS.update((name, LISTED[name].func) for name in ordered)
    EXTENSION_KINDS.clear()
    EXTENSION_KINDS.update((name, LISTED[name].kind) for name in ordered if LISTED[name].kind != REFAV)


def _add(entry: Listed) -> None:
    name = getattr(entry.func, "__name__", "")
    known = LISTED.get(name)
    if known is not None and known.func is not entry.func:
        raise ValueError(f"cannot replace {known.kind} function {name}: names are unique")
    if known is None:
        LISTED[name] = entry
        _order()


def listed(kind: str, position: int | None = None, *, uses_map_masks: bool = False) -> Callable[[F], F]:
    """Decorator: list a function under `kind` (RefAV, robust, behaviour, ...) for programs and the docs.

    `position` places it within its kind (unplaced functions follow, in the order declared);
    `uses_map_masks` marks a function that reads the log's default map masks.

    Raises:
        ValueError: another function already has the name (each name is declared once).
    """

    def declare(func: F) -> F:
        _add(Listed(func, kind, position, uses_map_masks))
        return func

    return declare


def list_functions(functions: dict[str, Callable[..., Any]], kind: str) -> None:
    """List functions from a higher layer (the VLM functions) under `kind`, in the order given.

    Raises:
        ValueError: a name that another function already has (each name is declared once), or a key
            that is not its function's name.
    """
    misnamed = sorted(name for name, func in functions.items() if getattr(func, "__name__", name) != name)
    if misnamed:
        raise ValueError(f"register each function under its own name: {', '.join(misnamed)}")
    taken = sorted(name for name, func in functions.items() if name in LISTED and LISTED[name].func is not func)
    if taken:
        kinds = {name: LISTED[name].kind for name in taken}
        raise ValueError(f"cannot replace {', '.join(f'{kinds[n]} function {n}' for n in taken)}: names are unique")
    for func in functions.values():
        _add(Listed(func, kind))


def unlist(name: str) -> None:
    """Withdraw a listed function from programs and the docs (a declaration made for a while, as in tests)."""
    if LISTED.pop(name, None) is not None:
        _order()
