"""The refinement steps run in order over one log's boxes, with counts of what each changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from avmine.store.refine import associate, ghosts, interpolate, smooth, split, vote, yaw
from avmine.store.refine.params import RefineParams
from avmine.store.refine.tracks import Tracks
from avmine.store.typing import NDArrayInt


@dataclass
class StepCounts:
    """What the steps changed in one log."""

    tracks_before: int = 0
    tracks_after: int = 0
    yaw_flips: int = 0
    splits: int = 0
    category_changes: int = 0
    forward_joins: int = 0
    backward_joins: int = 0
    ghosts_removed: int = 0
    interpolated: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def run(
    tracks: Tracks, frame_ns: NDArrayInt, steps: tuple[str, ...], params: RefineParams
) -> tuple[Tracks, StepCounts]:
    """Run ``steps`` (names of ``params.STEPS``, in running order) on one log's non-ego tracks."""
    counts = StepCounts(tracks_before=len(np.unique(tracks.track)))
    clock = time.perf_counter()

    def timed(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        counts.seconds[name] = now - clock
        clock = now

    if "yaw" in steps:
        tracks = yaw.repair(tracks, params)
        counts.yaw_flips = int(tracks.yaw_flipped.sum())
        timed("yaw")
    if "split" in steps:
        tracks, counts.splits = split.at_motion_breaks(tracks, params)
        timed("split")
    if "vote" in steps:
        tracks, counts.category_changes = vote.categories(tracks)
        timed("vote")
    if "reconnect" in steps:
        # ghosts are set aside from the forward pass; the backward pass may still join them
        solid = ~ghosts.flag(tracks, params) if "ghosts" in steps else None
        tracks, counts.forward_joins = associate.join(tracks, params, backward=False, eligible=solid)
        timed("reconnect")
    if "backward" in steps:
        tracks, counts.backward_joins = associate.join(tracks, params, backward=True)
        timed("backward")
    if "ghosts" in steps:
        tracks, counts.ghosts_removed = ghosts.remove(tracks, params)
        timed("ghosts")
    if "interpolate" in steps:
        tracks, counts.interpolated = interpolate.fill_gaps(tracks, frame_ns, params)
        timed("interpolate")
    if "smooth" in steps:
        tracks = smooth.positions(tracks, params, frame_ns)
        timed("smooth")
    counts.tracks_after = len(np.unique(tracks.track))
    return tracks, counts
