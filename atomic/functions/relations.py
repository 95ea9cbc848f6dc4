"""Rules about two objects: crossing and relative heading; distance-based relations join them.

A relational rule takes the log context, the track uuids and the related uuids, and returns
``{track: {related: [timestamps]}}`` over full timelines; every track appears, with ``{}``
when nothing relates to it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from atomic.categories import FREE_WILL
from atomic.context import LogContext
from atomic.functions._select import tracks_of
from atomic.pairs import PairSeries, build_pairs

CROSSING_SPEED_MPS = 0.2
"""Sideways speed a crossing object must exceed (RefAV)."""

Relations = dict[str, dict[str, list[int]]]


def _relations(ctx: LogContext, track_uuids: list[str], found: dict[tuple[int, int], list[int]]) -> Relations:
    out: Relations = {u: {} for u in track_uuids}
    for (track, candidate), stamps in found.items():
        out[ctx.track_uuids[track]][ctx.track_uuids[candidate]] = stamps
    return out


def _previous(series: PairSeries) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    index = np.arange(len(series.pair))
    has_previous = index > series.groups.start
    return np.maximum(index - 1, series.groups.start), has_previous


def _crossings(
    series: PairSeries,
    direction: str | None,
    in_direction: str,
    forward_thresh: float,
    lateral_thresh: float,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per pair: whether any crossing event happened; per row: whether the row is part of a crossing."""
    ctx = series.ctx
    first_row = ctx.track_start[series.track[series.pair]]
    half_length = ctx.size[first_row, 0] / 2
    half_width = ctx.size[first_row, 1] / 2
    position = series.candidate_in_track_frame(direction)
    velocity = series.candidate_velocity_in_track_frame(direction)
    x, y, vy = position[:, 0], position[:, 1], velocity[:, 1]
    prev, has_prev = _previous(series)
    y0, y1 = y[prev], y
    lo, hi = -half_width, half_width
    over_a_line = ((y0 < lo) & (lo < y1)) | ((y1 < hi) & (hi < y0)) | ((y0 < hi) & (hi < y1)) | ((y1 < lo) & (lo < y0))
    event = (
        has_prev
        & over_a_line
        & (np.abs(vy) > CROSSING_SPEED_MPS)
        & (half_length <= x)
        & (x <= half_length + forward_thresh)
    )
    sign = np.sign(y1 - y0)
    accepted = event.copy()
    if in_direction == "clockwise":
        accepted &= sign != 1
    elif in_direction == "counterclockwise":
        accepted &= sign != -1
    # RefAV grows each event backwards from i-1 and forwards from i while the object stays on its
    # approach side (s*y < lateral_thresh) and keeps moving across (s*vy > 0.2): that is exactly the
    # union of the runs of that condition which contain i-1 and i.
    marked = np.zeros(len(y), dtype=bool)
    for s in (1.0, -1.0):
        cond = (s * y < lateral_thresh) & (s * vy > CROSSING_SPEED_MPS)
        run_start = cond & ~(cond[prev] & has_prev)
        run_id = np.cumsum(run_start)
        at = np.flatnonzero(accepted & (sign == s))
        ids = np.concatenate([run_id[at][cond[at]], run_id[prev[at]][cond[prev[at]] & has_prev[at]]])
        marked |= cond & np.isin(run_id, ids)
    pair_has_event = np.zeros(len(series.track), dtype=bool)
    pair_has_event[series.pair[event]] = True
    return pair_has_event, marked


def being_crossed_by_rule(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    direction: str = "forward",
    in_direction: str = "either",
    forward_thresh: float = 10,
    lateral_thresh: float = 5,
) -> Relations:
    """Related objects whose centre crosses the half-midplane ahead of (or beside, behind) the track.

    The plane starts at the track's box edge and reaches ``forward_thresh`` m beyond it, between
    the lines of the track's half-width (first-row box). A crossing keeps counting until the object
    is ``lateral_thresh`` m past the centre line or stops moving across. As RefAV does, once one
    candidate of a track produced a crossing event, later candidates of that track are tested with
    the plane ahead of the track whatever ``direction`` was given.
    """
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    has_event, marked = _crossings(series, direction, in_direction, forward_thresh, lateral_thresh)
    if direction in ("left", "right", "backward"):
        _, marked_forward = _crossings(series, None, in_direction, forward_thresh, lateral_thresh)
        # the first pair of each track with an event keeps the rotation; the pairs after it do not
        pair_index = np.arange(len(series.track))
        first_event = np.full(len(ctx.track_uuids), np.iinfo(np.int64).max)
        np.minimum.at(first_event, series.track[has_event], pair_index[has_event])
        switched = pair_index > first_event[series.track]
        marked = np.where(switched[series.pair], marked_forward, marked)
    return _relations(ctx, track_uuids, series.per_pair_timestamps(marked))


def _unit(vectors: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # RefAV adds 1e-8 to every component before taking the norm; kept so ties resolve alike.
    unit: npt.NDArray[np.float64] = vectors / np.linalg.norm(vectors + 1e-8, axis=1, keepdims=True)
    return unit


def heading_in_relative_direction_to_rule(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], direction: str
) -> Relations:
    """Related objects travelling in the given direction relative to the track: same, opposite, perpendicular.

    Compares city-frame velocities; a slow object (under 1 m/s) that moves on its own is given
    its box heading instead, when the other one moves. Angle ≤ 45° is same, 45°–135°
    perpendicular, 135° up to (not including) 180° opposite.
    """
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    row_t, row_r = series.row_track, series.row_candidate
    a = ctx.velocity_city[row_t].copy()
    b = ctx.velocity_city[row_r].copy()
    free = np.array([c in FREE_WILL for c in ctx.track_category])
    heading = ctx.rotation_city[:, :, 0] + ctx.xyz_city - ctx.smoothed_xyz_city  # tip of the unit x-axis
    speed_a = np.linalg.norm(a, axis=1)
    speed_b = np.linalg.norm(b, axis=1)
    use_track_heading = (speed_a < 1) & free[series.track[series.pair]] & (speed_b > 1)
    use_related_heading = ~use_track_heading & (speed_b < 1) & free[series.candidate[series.pair]] & (speed_a > 0.5)
    skip = ~use_track_heading & ~use_related_heading & ((speed_a < 1) | (speed_b < 1))
    a[use_track_heading] = heading[row_t[use_track_heading]]
    b[use_related_heading] = heading[row_r[use_related_heading]]
    with np.errstate(invalid="ignore"):
        angle = np.degrees(np.arccos(np.sum(_unit(a) * _unit(b), axis=1)))
    if direction == "same":
        hit = angle <= 45
    elif direction == "perpendicular":
        hit = (angle > 45) & (angle < 135)
    elif direction == "opposite":
        hit = (angle >= 135) & (angle < 180)
    else:
        hit = np.zeros(len(angle), dtype=bool)
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit & ~skip))
