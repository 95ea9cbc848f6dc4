"""Pairs of tracks over the timestamps they share: RefAV's relative-frame series, vectorised.

RefAV: ``refAV/utils.py``: ``get_nth_pos_deriv`` and ``get_nth_yaw_deriv`` with another track as ``coordinate_frame``.

For a pair (T, C), RefAV expresses C in T's frame on the timestamps both have: C's raw
city centres on that shared timeline are differenced and median-filtered, then mapped into
T's *raw* box frame at each timestamp (rotation only for derivatives). All pairs of a call
are laid out one after another so every step runs once over all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from avmine.atomic.context import LogContext
from avmine.atomic.kinematics import MEDIAN_WINDOW, Groups, derivative_at
from avmine.atomic.map.geometry import footprint_distance
from avmine.store.typing import NDArrayFloat, NDArrayInt

MemoT = TypeVar("MemoT")

PRUNE_MARGIN_M = 1e-6
"""Slack added to a distance limit before a bound may skip a pair (metres per metre of limit, plus 1e-6 m)."""

_ROTATIONS = {
    "left": np.array([[0.0, 1.0], [-1.0, 0.0]]),  # new +x points to T's left
    "right": np.array([[0.0, -1.0], [1.0, 0.0]]),
    "backward": np.array([[-1.0, 0.0], [0.0, -1.0]]),
}


@dataclass(frozen=True)
class PairSeries:
    """Rows of pairs at their shared timestamps, grouped by pair, sorted by time within a pair."""

    ctx: LogContext
    track: NDArrayInt  # (P,) track index of T of each pair
    candidate: NDArrayInt  # (P,) track index of C of each pair
    pair: NDArrayInt  # (M,) pair of each row
    time: NDArrayInt  # (M,) time index of each row
    row_track: NDArrayInt  # (M,) T's row in the log arrays
    row_candidate: NDArrayInt  # (M,) C's row in the log arrays
    groups: Groups  # over the M rows
    memos: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What calls computed on these rows, for later calls on the same pairs (see ``memo``)."""

    def memo(self, key: str, compute: Callable[[], MemoT]) -> MemoT:
        """A per-row series of these pairs that does not depend on a call's parameters, computed once."""
        if key not in self.memos:
            self.memos[key] = compute()
        value: MemoT = self.memos[key]
        return value

    @cached_property
    def timestamps_ns(self) -> NDArrayInt:
        """Timestamp of each row, shape (M,)."""
        return self.ctx.timestamps_ns[self.time]

    @cached_property
    def candidate_city(self) -> NDArrayFloat:
        """C's smoothed centre in the city frame on the shared timeline, shape (M, 3)."""
        return self._on_shared_timeline(self.row_candidate, self.candidate[self.pair], 0)

    @cached_property
    def candidate_velocity_city(self) -> NDArrayFloat:
        """C's velocity in the city frame on the shared timeline (m/s), shape (M, 3)."""
        return self._on_shared_timeline(self.row_candidate, self.candidate[self.pair], 1)

    def _on_shared_timeline(
        self, rows: NDArrayInt, owner: NDArrayInt, n: int, at: NDArrayInt | None = None
    ) -> NDArrayFloat:
        """The n-th smoothed derivative of a track's centres on the shared timeline, shape (M, 3).

        Equal, bit for bit, to RefAV's filter run on the shared samples. Where the samples a row's
        window reads (3 + n either side) are the same as on the track's own full timeline, the
        track's cached series already holds the value; only the other rows (near a cut end of the
        shared timeline, or where the other track's gaps skip samples) are filtered here.

        Args:
            rows: the owner's row in the log arrays at each shared row, shape (M,).
            owner: the owner's track index at each shared row, shape (M,).
            n: 0 (position) or 1 (velocity).
            at: only these shared rows (shape (K,) then); the values are those of all rows, at them.
        """
        ctx = self.ctx
        full = ctx.smoothed_xyz_city if n == 0 else ctx.velocity_city
        out: NDArrayFloat = full[rows if at is None else rows[at]]
        first, last = ctx.track_start[owner], ctx.track_start[owner + 1] - 1
        same = _same_windows(rows, first, last, self.groups, MEDIAN_WINDOW // 2 + n)
        redo = np.flatnonzero(~(same if at is None else same[at]))
        if len(redo):
            wanted = redo if at is None else at[redo]
            out[redo] = derivative_at(ctx.xyz_city, self.timestamps_ns, self.groups, n, wanted, take=rows)
        return out

    def _to_track_frame(self, vectors_city: NDArrayFloat, is_point: bool, at: NDArrayInt | None = None) -> NDArrayFloat:
        ctx = self.ctx
        row_track = self.row_track if at is None else self.row_track[at]
        if is_point:
            vectors_city = vectors_city - ctx.xyz_city[row_track]
        rotated: NDArrayFloat = np.einsum("mji,mj->mi", ctx.rotation_city[row_track], vectors_city)
        return rotated

    @cached_property
    def _position_in_track_frame(self) -> NDArrayFloat:
        return self._to_track_frame(self.candidate_city, is_point=True)

    @cached_property
    def _velocity_in_track_frame(self) -> NDArrayFloat:
        return self._to_track_frame(self.candidate_velocity_city, is_point=False)

    def candidate_in_track_frame(self, direction: str | None = None, rows: NDArrayInt | None = None) -> NDArrayFloat:
        """C's smoothed centre in T's box frame (+x ahead of T's centre, +y to T's left), shape (M, 3).

        ``direction`` rotates the x-y axes as RefAV's ``being_crossed_by`` does ('left', 'right',
        'backward'; anything else leaves them). ``rows`` computes only those rows (shape (K, 3) then).
        """
        if rows is not None and "_position_in_track_frame" not in self.__dict__:
            # only these rows: row by row the same operations as for all of them, so the same values
            return _rotate(self._at_rows("position", np.asarray(rows, dtype=np.int64), 3, self._position_of), direction)
        frame = self._position_in_track_frame
        return _rotate(frame.copy() if rows is None else frame[rows], direction)

    def _position_of(self, at: NDArrayInt) -> NDArrayFloat:
        city = (
            self.candidate_city[at]
            if "candidate_city" in self.__dict__
            else self._on_shared_timeline(self.row_candidate, self.candidate[self.pair], 0, at)
        )
        return self._to_track_frame(city, True, at)

    def _at_rows(
        self, key: str, rows: NDArrayInt, width: int, compute: Callable[[NDArrayInt], NDArrayFloat]
    ) -> NDArrayFloat:
        """A per-row series (M, width) at ``rows``, computing only rows no earlier call computed."""
        known, values = self.memo(
            f"rows:{key}", lambda: (np.zeros(len(self.pair), bool), np.empty((len(self.pair), width)))
        )
        todo = rows[~known[rows]]
        if len(todo):
            values[todo] = compute(todo).reshape(len(todo), width)
            known[todo] = True
        out: NDArrayFloat = values[rows]
        return out

    def candidate_velocity_in_track_frame(
        self, direction: str | None = None, rows: NDArrayInt | None = None
    ) -> NDArrayFloat:
        """C's velocity in T's box frame (m/s), shape (M, 3); see ``candidate_in_track_frame``."""
        frame = self._velocity_in_track_frame
        return _rotate(frame.copy() if rows is None else frame[rows], direction)

    def swapped(self) -> PairSeries:
        """The same pairs and rows with the roles exchanged: C becomes the frame, T the object."""
        return self.memo("swapped", self._swap)

    def _swap(self) -> PairSeries:
        return PairSeries(
            ctx=self.ctx,
            track=self.candidate,
            candidate=self.track,
            pair=self.pair,
            time=self.time,
            row_track=self.row_candidate,
            row_candidate=self.row_track,
            groups=self.groups,
        )

    def candidate_yaw_in_track_frame(self, aligned: bool, rows: NDArrayInt | None = None) -> NDArrayFloat:
        """C's heading relative to T's box (z of the relative rotation vector), radians, shape (M,).

        RefAV composes the ego pose at the shared timestamp with T's box of the same *position*
        in T's full row list (``aligned=False``, its behaviour); ``aligned=True`` uses T's box at
        that timestamp. ``rows`` computes only those rows (shape (K,) then).
        """
        ctx = self.ctx
        at = np.arange(len(self.pair)) if rows is None else np.asarray(rows, dtype=np.int64)
        if aligned:
            frame_rows = self.row_track[at]
        else:
            position = at - self.groups.start[at]
            frame_rows = ctx.track_start[self.track[self.pair[at]]] + position
        city_R_ego = Rotation.from_quat(np.asarray(ctx.arrays.ego_quat_city)[self.time[at]], scalar_first=True)
        ego_R_frame = Rotation.from_quat(np.asarray(ctx.arrays.quat_ego)[frame_rows], scalar_first=True)
        city_R_object = Rotation.from_quat(np.asarray(ctx.arrays.quat_city)[self.row_candidate[at]], scalar_first=True)
        relative = (city_R_ego * ego_R_frame).inv() * city_R_object
        yaw: NDArrayFloat = relative.as_rotvec()[:, 2]
        return yaw

    @cached_property
    def footprint_distance(self) -> NDArrayFloat:
        """RefAV's cuboid distance between T's and C's raw footprints at each row (m), shape (M,)."""
        footprints = self.ctx.footprints_ego
        return footprint_distance(footprints[self.row_track], footprints[self.row_candidate])

    def footprint_distance_upto(self, limit: float, rows: NDArrayInt | None = None) -> NDArrayFloat:
        """``footprint_distance`` (at ``rows``) where it may be at most ``limit``, +inf where it surely exceeds it.

        Each footprint lies in the disc of its corners' radius about their mean, so the gap is at
        least the centres' distance less both radii; rows beyond ``limit`` by that bound (with a
        margin far above rounding) skip the exact computation.
        """
        at = np.arange(len(self.pair)) if rows is None else np.asarray(rows, dtype=np.int64)
        if "footprint_distance" in self.__dict__ or not np.isfinite(limit):
            exact = self.footprint_distance[at] if "footprint_distance" in self.__dict__ else self._exact_distance(at)
            return np.where(exact <= limit, exact, np.inf)
        out = np.full(len(at), np.inf)
        todo = np.flatnonzero(self.may_be_within(limit, at))
        out[todo] = self._exact_distance(at[todo])
        return out

    def _exact_distance(self, rows: NDArrayInt) -> NDArrayFloat:
        """``footprint_distance[rows]``, computing only rows no earlier call computed."""
        known, distance = self.memo(
            "exact_distance", lambda: (np.zeros(len(self.pair), bool), np.zeros(len(self.pair)))
        )
        todo = rows[~known[rows]]
        if len(todo):
            footprints = self.ctx.footprints_ego
            distance[todo] = footprint_distance(footprints[self.row_track[todo]], footprints[self.row_candidate[todo]])
            known[todo] = True
        out: NDArrayFloat = distance[rows]
        return out

    def footprint_within(self, limit: float, rows: NDArrayInt | None = None) -> npt.NDArray[np.bool_]:
        """``footprint_distance <= limit`` per row (or at ``rows`` only), computing few exact distances.

        The gap lies between the centres' distance less both disc radii and that distance plus both
        (a corner of one footprint is that close to a corner of the other); only rows whose bounds
        straddle ``limit`` (with a margin far above rounding) and rows with a degenerate footprint
        (non-finite, or a zero-length edge, where distances are not numbers) are computed exactly.
        """
        at = np.arange(len(self.pair)) if rows is None else np.asarray(rows, dtype=np.int64)
        if "footprint_distance" in self.__dict__:
            return np.asarray(self.footprint_distance[at] <= limit)
        margin = PRUNE_MARGIN_M * (1.0 + abs(limit)) if np.isfinite(limit) else 0.0
        if rows is None and "_discs" not in self.__dict__ and np.isfinite(limit):
            out = np.zeros(len(self.pair), dtype=bool)  # rows of pairs that never come near: surely beyond
            near = self._rows_of_near_pairs(limit)
            out[near] = self.footprint_within(limit, near)
            return out
        distance, reach = self._discs_at(rows)
        within = distance + reach < limit - margin
        unsure = ~within & ~(distance - reach > limit + margin)  # NaN (unsure) rows stay unsure
        todo = np.flatnonzero(unsure)
        within[todo] = self._exact_distance(at[todo]) <= limit
        return np.asarray(within)

    def may_be_within(self, limit: float, rows: NDArrayInt | None = None) -> npt.NDArray[np.bool_]:
        """Per row (or at ``rows``): False only where the footprints are surely more than ``limit`` apart."""
        if rows is None and "_discs" not in self.__dict__ and np.isfinite(limit):
            out = np.zeros(len(self.pair), dtype=bool)  # rows of pairs that never come near: surely beyond
            near = self._rows_of_near_pairs(limit)
            out[near] = self.may_be_within(limit, near)
            return out
        distance, reach = self._discs_at(rows)
        return np.asarray(~(distance - reach > limit + PRUNE_MARGIN_M * (1.0 + abs(limit))))  # NaN bounds are kept

    def _rows_of_near_pairs(self, limit: float) -> NDArrayInt:
        """The rows of every pair whose tracks' discs may come within ``limit`` of each other at some time.

        A pair is left out only where the boxes holding each track's disc centres over its whole
        timeline (ego frames) are farther apart than ``limit`` plus both tracks' largest radii, by
        twice the margin the row bounds use: each of its rows is then surely beyond ``limit`` by
        those bounds too, so leaving them out changes no answer. Tracks with a degenerate
        footprint are never left out.
        """
        low, high, radius = self.ctx.derived(("disc_track_bounds",), lambda: _disc_track_bounds(self.ctx))
        t, c = self.track, self.candidate
        gap = np.maximum(np.maximum(low[c] - high[t], low[t] - high[c]), 0.0)  # NaN for unbounded tracks
        far = np.hypot(gap[:, 0], gap[:, 1]) - (radius[t] + radius[c]) > limit + 2 * PRUNE_MARGIN_M * (1.0 + abs(limit))
        return np.flatnonzero(~far[self.pair])

    @cached_property
    def _discs(self) -> tuple[NDArrayFloat, NDArrayFloat]:
        """Per row: the distance between the footprints' disc centres, and the sum of the disc radii.

        The distance is NaN where a footprint is degenerate, so that no bound decides the row.
        """
        return self._discs_of(self.row_track, self.row_candidate)

    def _discs_at(self, rows: NDArrayInt | None) -> tuple[NDArrayFloat, NDArrayFloat]:
        """``_discs`` at ``rows`` (all when None), computing only those rows unless all are known."""
        if rows is None or "_discs" in self.__dict__:
            distance, reach = self._discs
            return (distance, reach) if rows is None else (distance[rows], reach[rows])
        both = self._at_rows(
            "discs",
            np.asarray(rows, dtype=np.int64),
            2,
            lambda at: np.stack(self._discs_of(self.row_track[at], self.row_candidate[at]), axis=1),
        )
        return both[:, 0], both[:, 1]

    def _discs_of(self, row_track: NDArrayInt, row_candidate: NDArrayInt) -> tuple[NDArrayFloat, NDArrayFloat]:
        ctx = self.ctx
        centre, radius = ctx.footprint_discs
        gap = centre[row_track] - centre[row_candidate]
        distance = np.hypot(gap[:, 0], gap[:, 1])
        distance[ctx.footprint_degenerate[row_track] | ctx.footprint_degenerate[row_candidate]] = np.nan
        return distance, radius[row_track] + radius[row_candidate]

    def per_pair_timestamps(self, mask: npt.NDArray[np.bool_]) -> dict[tuple[int, int], list[int]]:
        """``{(T, C): sorted timestamps}`` of the rows where ``mask`` holds (pairs with none are left out)."""
        rows = np.flatnonzero(mask)
        out: dict[tuple[int, int], list[int]] = {}
        if len(rows) == 0:
            return out
        pairs = self.pair[rows]
        stamps: list[int] = self.timestamps_ns[rows].tolist()
        firsts = np.flatnonzero(np.diff(pairs, prepend=-1))
        lasts = [*firsts[1:].tolist(), len(rows)]
        first_pairs = pairs[firsts]
        tracks, candidates = self.track[first_pairs].tolist(), self.candidate[first_pairs].tolist()
        for track, candidate, lo, hi in zip(tracks, candidates, firsts.tolist(), lasts, strict=True):
            out[(track, candidate)] = stamps[lo:hi]
        return out


def _disc_track_bounds(ctx: LogContext) -> tuple[NDArrayFloat, NDArrayFloat, NDArrayFloat]:
    """Per track: the least and greatest x, y of its footprint discs' centres (U, 2) each, and its largest radius.

    NaN for a track with a degenerate footprint (no bound may decide its pairs).
    """
    centre, radius = ctx.footprint_discs
    starts = ctx.track_start[:-1]
    if len(starts) == 0:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
    low = np.minimum.reduceat(centre, starts, axis=0)
    high = np.maximum.reduceat(centre, starts, axis=0)
    largest = np.maximum.reduceat(radius, starts).astype(np.float64)
    bad = np.logical_or.reduceat(ctx.footprint_degenerate | ~np.isfinite(radius), starts)
    low[bad], high[bad], largest[bad] = np.nan, np.nan, np.nan
    return low, high, largest


def _same_windows(
    rows: NDArrayInt, owner_first: NDArrayInt, owner_last: NDArrayInt, groups: Groups, margin: int
) -> npt.NDArray[np.bool_]:
    """Per shared row: whether the filter reads the same samples as on the owner's full timeline.

    True where the shared rows within ``margin`` either side are consecutive rows of the owner,
    or run consecutively to a shared end that is also the owner's end, and the window has the
    same size (7, or the owner's whole, equally short, timeline).
    """
    m = len(rows)
    index = np.arange(m)
    if m == 0:
        return np.zeros(0, dtype=bool)
    step = np.ones(m, dtype=bool)  # row i continues row i - 1 on the owner's timeline
    step[1:] = rows[1:] == rows[:-1] + 1
    starts = (index == groups.start) | ~step
    run_start = np.maximum.accumulate(np.where(starts, index, 0))
    ends = np.ones(m, dtype=bool)
    ends[:-1] = starts[1:]
    run_end = np.minimum.accumulate(np.where(ends, index, m - 1)[::-1])[::-1]
    low = (index - run_start >= margin) | ((run_start == groups.start) & (rows[groups.start] == owner_first))
    high = (run_end - index >= margin) | ((run_end == groups.end) & (rows[groups.end] == owner_last))
    size = (groups.length >= MEDIAN_WINDOW) | (groups.length == owner_last - owner_first + 1)
    return np.asarray(low & high & size)


def _rotate(xyz: NDArrayFloat, direction: str | None) -> NDArrayFloat:
    matrix = _ROTATIONS.get(direction) if isinstance(direction, str) else None
    if matrix is None:
        return xyz
    out = xyz.copy()
    out[:, :2] = xyz[:, :2] @ matrix.T
    return out


def build_pairs(ctx: LogContext, tracks: NDArrayInt, candidates: NDArrayInt, include_self: bool = False) -> PairSeries:
    """Every (T, C) pair of the given track indices, on the timestamps both have.

    Pairs are ordered by T, then by C in the order given (RefAV's candidate order).
    """
    tracks = np.asarray(tracks, dtype=np.int64)
    candidates = np.asarray(candidates, dtype=np.int64)
    pair_t = np.repeat(tracks, len(candidates))
    pair_c = np.tile(candidates, len(tracks))
    if not include_self:
        keep = pair_t != pair_c
        pair_t, pair_c = pair_t[keep], pair_c[keep]
    # calls of one program often relate the same sets: their series, with what it has computed, is kept
    key = ("pairs", tracks.tobytes(), candidates.tobytes(), include_self)
    return ctx.recent(key, lambda: pairs_of(ctx, pair_t, pair_c), size=lambda series: len(series.pair))


def pairs_of(ctx: LogContext, pair_t: NDArrayInt, pair_c: NDArrayInt) -> PairSeries:
    """The given (T, C) pairs of track indices, on the timestamps both have."""
    pair_t = np.asarray(pair_t, dtype=np.int64)
    pair_c = np.asarray(pair_c, dtype=np.int64)
    present_t = ctx.row_at[pair_t] >= 0  # (P, T)
    present_c = ctx.row_at[pair_c] >= 0
    pair, time = np.nonzero(present_t & present_c)
    return PairSeries(
        ctx=ctx,
        track=pair_t,
        candidate=pair_c,
        pair=pair.astype(np.int64),
        time=time.astype(np.int64),
        row_track=ctx.row_at[pair_t[pair], time],
        row_candidate=ctx.row_at[pair_c[pair], time],
        groups=Groups.from_ids(pair),
    )
