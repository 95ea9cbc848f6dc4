"""How the scenario layer reaches a log's object timelines.

The scenario algebra and the lifting decorators only need three facts about a log: which objects exist,
at which timestamps each one is annotated, and which objects are present at a given timestamp. They get
them through the `Timelines` protocol; the real implementation sits on the per-log arrays, and a
context resolver (registered once with `set_context_resolver`) maps a `log_dir` to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "ContextResolver",
    "StaticTimelines",
    "Timelines",
    "resolve_context",
    "set_context_resolver",
]


@runtime_checkable
class Timelines(Protocol):
    """Object timelines of one log (timestamps in nanoseconds, the annotation rate)."""

    def uuids(self) -> list[str]:
        """Every track uuid of the log, in order of first appearance."""
        ...

    def timeline(self, uuid: str) -> list[int]:
        """Sorted full timeline of `uuid`: every timestamp it is annotated at; `[]` if unknown."""
        ...

    def uuids_at(self, timestamp_ns: int) -> list[str]:
        """Uuids present at `timestamp_ns`, in order of first appearance; `[]` if none."""
        ...


ContextResolver = Callable[[Path], Timelines]

_resolver: ContextResolver | None = None


def set_context_resolver(fn: ContextResolver | None) -> ContextResolver | None:
    """Register the function that maps a `log_dir` to its log context; returns the previous one.

    The context it returns is handed to every per-track rule as `ctx`, so it is usually a richer object
    (per-log arrays) that also satisfies `Timelines`. It is called once per lifted call: cache per log.
    """
    global _resolver
    previous = _resolver
    _resolver = fn
    return previous


def resolve_context(log_dir: Path | str) -> Timelines:
    """The context of `log_dir` (a `str` is converted to `Path`)."""
    if _resolver is None:
        raise RuntimeError("no log context resolver registered: call atomic.timelines.set_context_resolver first")
    return _resolver(Path(log_dir) if isinstance(log_dir, str) else log_dir)


@dataclass(frozen=True)
class StaticTimelines:
    """`Timelines` over an in-memory mapping `{uuid: timestamps}` (tests, small tools).

    Args:
        tracks: Timestamps per uuid; insertion order stands for order of first appearance.
    """

    tracks: Mapping[str, Sequence[int]]
    _sorted: dict[str, list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sorted", {uuid: sorted(set(ts)) for uuid, ts in self.tracks.items()})

    def uuids(self) -> list[str]:
        """Every uuid, in insertion order."""
        return list(self._sorted)

    def timeline(self, uuid: str) -> list[int]:
        """Sorted timeline of `uuid`, `[]` if unknown."""
        return list(self._sorted.get(uuid, []))

    def uuids_at(self, timestamp_ns: int) -> list[str]:
        """Uuids annotated at `timestamp_ns`, in insertion order."""
        return [uuid for uuid, ts in self._sorted.items() if timestamp_ns in ts]
