"""Reconnection: joining a track that ends to one that starts later, by one global assignment.

Forward (``reconnect``): the earlier track's end is predicted forward (constant velocity fitted over
its last ``motion_window_s``) to the later track's start. Backward (``backward``): the later track's
start is predicted back in time to the earlier track's end, so a fragment too short to give a
velocity of its own (a missed start, a set-aside ghost) still joins the track it belongs to.

A pair is a candidate when the gap is positive and at most ``max_gap_s``, the categories are equal,
length and width agree within ``size_tolerance``, a moving prediction's heading agrees within
``max_heading_change_rad``, and the predicted position is within ``gate_base_m + gate_growth_mps *
gap``. Among candidates, scipy's ``linear_sum_assignment`` picks the pairs of least total
normalised distance (not a greedy choice); chains of pairs become one track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from avmine.store.refine.params import RefineParams
from avmine.store.refine.tracks import Tracks, fitted_velocity, wrap
from avmine.store.typing import NDArrayFloat, NDArrayInt

_NO = 1e6


@dataclass(frozen=True)
class _Ends:
    """Each track's first and last box, and its velocity there."""

    label: NDArrayInt
    t_start: NDArrayFloat
    t_end: NDArrayFloat
    p_start: NDArrayFloat
    p_end: NDArrayFloat
    v_start: NDArrayFloat
    v_end: NDArrayFloat
    yaw_start: NDArrayFloat
    yaw_end: NDArrayFloat
    length: NDArrayFloat
    width: NDArrayFloat
    category: npt.NDArray[np.str_]


def _ends(tracks: Tracks, params: RefineParams) -> _Ends:
    labels, starts, ends = tracks.bounds()
    t = tracks.t_s
    xy = tracks.xyz[:, :2]
    first_hi = (
        np.searchsorted(
            tracks.track.astype(np.float64) * 1e7 + t, labels * 1e7 + t[starts] + params.motion_window_s, side="right"
        )
        - 1
    )
    first_hi = np.minimum(first_hi, ends)
    last_lo = np.searchsorted(
        tracks.track.astype(np.float64) * 1e7 + t, labels * 1e7 + t[ends] - params.motion_window_s, side="left"
    )
    last_lo = np.maximum(last_lo, starts)
    v_start, n_start = fitted_velocity(t, xy, starts, first_hi)
    v_end, n_end = fitted_velocity(t, xy, last_lo, ends)
    v_start[n_start < params.min_velocity_rows] = 0.0
    v_end[n_end < params.min_velocity_rows] = 0.0
    _, track = np.unique(tracks.track, return_inverse=True)
    count = np.maximum(np.bincount(track, minlength=len(labels)), 1)
    return _Ends(
        label=labels,
        t_start=t[starts],
        t_end=t[ends],
        p_start=xy[starts],
        p_end=xy[ends],
        v_start=v_start,
        v_end=v_end,
        yaw_start=tracks.yaw[starts],
        yaw_end=tracks.yaw[ends],
        length=np.bincount(track, tracks.size[:, 0], len(labels)) / count,
        width=np.bincount(track, tracks.size[:, 1], len(labels)) / count,
        category=tracks.category[starts],
    )


def _costs(e: _Ends, early: NDArrayInt, late: NDArrayInt, backward: bool, params: RefineParams) -> NDArrayFloat:
    """Normalised gated distance of each (early, late) pair; ``_NO`` where the pair is not a candidate."""
    gap = e.t_start[late][None, :] - e.t_end[early][:, None]
    if backward:
        velocity = e.v_start[late][None, :, :]
        predicted = e.p_start[late][None, :, :] - velocity * gap[..., None]
        observed = np.broadcast_to(e.p_end[early][:, None, :], predicted.shape)
    else:
        velocity = e.v_end[early][:, None, :]
        predicted = e.p_end[early][:, None, :] + velocity * gap[..., None]
        observed = np.broadcast_to(e.p_start[late][None, :, :], predicted.shape)
    distance = np.linalg.norm(observed - predicted, axis=-1)
    gate = params.gate_base_m + params.gate_growth_mps * np.maximum(gap, 0.0)
    speed = np.linalg.norm(velocity, axis=-1)
    heading = np.abs(wrap(e.yaw_start[late][None, :] - e.yaw_end[early][:, None]))

    def similar(a: NDArrayFloat, b: NDArrayFloat) -> npt.NDArray[np.bool_]:
        return np.asarray(np.abs(a[:, None] - b[None, :]) <= params.size_tolerance * np.maximum(a[:, None], b[None, :]))

    ok = (
        (gap > 0)
        & (gap <= params.max_gap_s)
        & (e.category[early][:, None] == e.category[late][None, :])
        & similar(e.length[early], e.length[late])
        & similar(e.width[early], e.width[late])
        & ((speed <= params.moving_speed_mps) | (heading <= params.max_heading_change_rad))
        & (distance <= gate)
    )
    return np.where(ok, distance / gate + 0.1 * gap / params.max_gap_s, _NO)


def join(
    tracks: Tracks, params: RefineParams, backward: bool, eligible: npt.NDArray[np.bool_] | None = None
) -> tuple[Tracks, int]:
    """Tracks joined by one assignment of ends to later starts, and the number of joins.

    ``eligible`` (per row) limits the tracks that take part; the others are left as they are.
    """
    if not len(tracks.track):
        return tracks, 0
    e = _ends(tracks, params)
    rows_ok = np.ones(len(tracks.track), dtype=bool) if eligible is None else eligible
    _, starts, _ = tracks.bounds()
    candidates = np.flatnonzero(rows_ok[starts])
    if len(candidates) < 2:
        return tracks, 0
    costs = _costs(e, candidates, candidates, backward, params)
    has = (costs < _NO).any(axis=1)
    if not has.any():
        return tracks, 0
    early = candidates[has]
    cols = (costs[has] < _NO).any(axis=0)
    late = candidates[cols]
    sub = costs[np.ix_(has, cols)]
    rows, columns = linear_sum_assignment(sub)
    keep = sub[rows, columns] < _NO
    pairs = list(zip(early[rows[keep]], late[columns[keep]], strict=True))
    # follow chains: every late track takes the label of the earliest track of its chain
    successor = {int(a): int(b) for a, b in pairs}
    joined_into = {int(b) for b in successor.values()}
    new_label = np.arange(len(tracks.uuids), dtype=np.int64)
    for head in sorted(set(successor) - joined_into):
        node = head
        while node in successor:
            node = successor[node]
            new_label[e.label[node]] = e.label[head]
    return tracks.relabel(new_label), len(pairs)
