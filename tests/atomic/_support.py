"""Shared test helpers: a hand-made log with geometry flags, rules over it, and scenario strategies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from avmine.atomic.lifting import relational, unary

LOG_DIR = Path("/logs/fake-log")


@dataclass
class FakeLog:
    """Timelines plus hand-made geometry: which pairs are near when, which tracks are parked."""

    tracks: dict[str, list[int]]
    near: dict[frozenset[str], set[int]] = field(default_factory=dict)
    parked: set[str] = field(default_factory=set)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def uuids(self) -> list[str]:
        return list(self.tracks)

    def timeline(self, uuid: str) -> list[int]:
        return sorted(set(self.tracks.get(uuid, [])))

    def uuids_at(self, timestamp_ns: int) -> list[str]:
        return [uuid for uuid, ts in self.tracks.items() if timestamp_ns in ts]

    def near_times(self, a: str, b: str) -> set[int]:
        both = set(self.timeline(a)) & set(self.timeline(b))
        return self.near.get(frozenset((a, b)), set()) & both


@relational(track="track_uuid", related="candidate_uuids")
def near_objects(
    ctx: FakeLog,
    track_uuids: list[str],
    related_uuids: list[str],
    distance_thresh: float = 10,
    min_objects: int = 1,
    include_self: bool = False,
) -> dict[str, dict[str, list[int]]]:
    """Tracks near at least `min_objects` candidates (test double)."""
    ctx.calls.append(("near_objects", (list(track_uuids), list(related_uuids)), {"distance_thresh": distance_thresh}))
    out: dict[str, dict[str, list[int]]] = {}
    for track in track_uuids:
        by_time: dict[int, list[str]] = {}
        for other in related_uuids:
            if other == track and not include_self:
                continue
            for t in ctx.near_times(track, other):
                by_time.setdefault(t, []).append(other)
        needed = min_objects if min_objects else len(related_uuids)
        rel: dict[str, list[int]] = {}
        for t in sorted(by_time):
            if len(by_time[t]) >= needed:
                for other in by_time[t]:
                    rel.setdefault(other, []).append(t)
        if rel:
            out[track] = rel
    return out


@unary
def stationary(ctx: FakeLog, uuids: list[str]) -> dict[str, list[int]]:
    """Parked tracks, at every timestamp (test double)."""
    ctx.calls.append(("stationary", (list(uuids),), {}))
    return {uuid: ctx.timeline(uuid) for uuid in uuids if uuid in ctx.parked}


def worked_example_log() -> FakeLog:
    """Worked example of lifting (refAV/utils.py: composable_relational).

    v1 moves and is within 10 m of p1 exactly at 3 and 4; v2 is parked.
    """
    return FakeLog(
        tracks={"v1": [1, 2, 3, 4, 5], "v2": [1, 2], "p1": [3, 4, 5, 6, 7]},
        near={frozenset(("v1", "p1")): {3, 4}},
        parked={"v2"},
    )


UUIDS = ["a", "b", "c", "d"]
_times = st.lists(st.integers(0, 9), max_size=6)
leaves = st.one_of(_times, _times.map(set))
values = st.recursive(
    leaves, lambda children: st.dictionaries(st.sampled_from(UUIDS), children, max_size=3), max_leaves=8
)
scenarios = st.dictionaries(st.sampled_from(UUIDS), values, max_size=4)
time_sets = st.sets(st.integers(0, 9), max_size=10)


def as_sets(mapping: Mapping[str, Any]) -> dict[str, set[int]]:
    return {key: set(value) for key, value in mapping.items()}
