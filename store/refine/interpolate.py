"""Interpolated boxes in short gaps inside a track, at the source's own frame times, marked as made.

Centre and size are interpolated linearly, the heading along the shorter arc; the score is the lower
of the two neighbours'. A gap longer than ``max_interpolation_gap_s`` stays a gap.
"""

from __future__ import annotations

import numpy as np

from avmine.store.refine.params import RefineParams
from avmine.store.refine.tracks import Tracks, wrap
from avmine.store.typing import NDArrayInt


def fill_gaps(tracks: Tracks, frame_ns: NDArrayInt, params: RefineParams) -> tuple[Tracks, int]:
    """The tracks with interpolated boxes in their short gaps, and the number of boxes added."""
    if len(tracks.track) < 2:
        return tracks, 0
    frame = np.searchsorted(frame_ns, tracks.t_ns)
    same = tracks.track[1:] == tracks.track[:-1]
    missing = np.where(same, frame[1:] - frame[:-1] - 1, 0)
    short = (tracks.t_ns[1:] - tracks.t_ns[:-1]) <= params.max_interpolation_gap_s * 1e9
    missing = np.where(short, np.maximum(missing, 0), 0)
    total = int(missing.sum())
    if not total:
        return tracks, 0
    left = np.repeat(np.arange(len(missing)), missing)
    right = left + 1
    step = np.arange(total) - np.repeat(np.cumsum(missing) - missing, missing) + 1
    t_new = frame_ns[frame[left] + step]
    w = (t_new - tracks.t_ns[left]) / (tracks.t_ns[right] - tracks.t_ns[left])
    yaw_l = tracks.yaw[left]
    added = Tracks(
        uuids=tracks.uuids,
        track=tracks.track[left],
        t_ns=t_new.astype(np.int64),
        xyz=tracks.xyz[left] + w[:, None] * (tracks.xyz[right] - tracks.xyz[left]),
        yaw=wrap(yaw_l + w * wrap(tracks.yaw[right] - yaw_l)),
        size=tracks.size[left] + w[:, None] * (tracks.size[right] - tracks.size[left]),
        category=tracks.category[left],
        score=np.fmin(tracks.score[left], tracks.score[right]),
        raw_row=np.full(total, -1, dtype=np.int64),
        yaw_flipped=np.zeros(total, dtype=bool),
    )
    return concat(tracks, added).sorted(), total


def concat(a: Tracks, b: Tracks) -> Tracks:
    """The rows of both (same uuids), unsorted."""
    return Tracks(
        uuids=a.uuids,
        track=np.concatenate([a.track, b.track]),
        t_ns=np.concatenate([a.t_ns, b.t_ns]),
        xyz=np.concatenate([a.xyz, b.xyz]),
        yaw=np.concatenate([a.yaw, b.yaw]),
        size=np.concatenate([a.size, b.size]),
        category=np.concatenate([a.category, b.category]),
        score=np.concatenate([a.score, b.score]),
        raw_row=np.concatenate([a.raw_row, b.raw_row]),
        yaw_flipped=np.concatenate([a.yaw_flipped, b.yaw_flipped]),
    )
