"""Ghost tracks: short and of low score, what a tracker emits for clutter.

A source without scores has no ghosts (a short track alone is not evidence enough).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from avmine.store.refine.params import RefineParams
from avmine.store.refine.tracks import Tracks


def flag(tracks: Tracks, params: RefineParams) -> npt.NDArray[np.bool_]:
    """Per row, whether its track is a ghost."""
    if not len(tracks.track):
        return np.zeros(0, dtype=bool)
    labels, starts, ends = tracks.bounds()
    duration_s = (tracks.t_ns[ends] - tracks.t_ns[starts]) / 1e9
    _, track = np.unique(tracks.track, return_inverse=True)
    real = ~tracks.interpolated
    score = np.bincount(track, np.where(real, tracks.score, 0.0), len(labels)) / np.maximum(
        np.bincount(track, real, len(labels)), 1
    )
    ghost = (duration_s < params.ghost_max_duration_s) & (score < params.ghost_max_score)  # NaN scores: never
    return np.asarray(ghost[track], dtype=bool)


def remove(tracks: Tracks, params: RefineParams) -> tuple[Tracks, int]:
    """The tracks without ghosts, and the number of ghost tracks removed."""
    ghost = flag(tracks, params)
    removed = len(np.unique(tracks.track[ghost]))
    return tracks.select(~ghost), removed
