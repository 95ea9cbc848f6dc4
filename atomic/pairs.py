"""Pairs of tracks over the timestamps they share: RefAV's relative-frame series (§1.6), vectorised.

For a pair (T, C), RefAV expresses C in T's frame on the timestamps both have: C's raw
city centres on that shared timeline are differenced and median-filtered, then mapped into
T's *raw* box frame at each timestamp (rotation only for derivatives). All pairs of a call
are laid out one after another so every step runs once over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from atomic.context import LogContext
from atomic.kinematics import Groups, derivative
from atomic.map.geometry import footprint_distance

NDArrayFloat = npt.NDArray[np.float64]
NDArrayInt = npt.NDArray[np.int64]

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

    @property
    def timestamps_ns(self) -> NDArrayInt:
        """Timestamp of each row, shape (M,)."""
        return self.ctx.timestamps_ns[self.time]

    @cached_property
    def candidate_city(self) -> NDArrayFloat:
        """C's smoothed centre in the city frame on the shared timeline, shape (M, 3)."""
        return derivative(self.ctx.xyz_city[self.row_candidate], self.timestamps_ns, self.groups, 0)

    @cached_property
    def candidate_velocity_city(self) -> NDArrayFloat:
        """C's velocity in the city frame on the shared timeline (m/s), shape (M, 3)."""
        return derivative(self.ctx.xyz_city[self.row_candidate], self.timestamps_ns, self.groups, 1)

    def _to_track_frame(self, vectors_city: NDArrayFloat, is_point: bool) -> NDArrayFloat:
        ctx = self.ctx
        if is_point:
            vectors_city = vectors_city - ctx.xyz_city[self.row_track]
        rotated: NDArrayFloat = np.einsum("mji,mj->mi", ctx.rotation_city[self.row_track], vectors_city)
        return rotated

    def candidate_in_track_frame(self, direction: str | None = None) -> NDArrayFloat:
        """C's smoothed centre in T's box frame (+x ahead of T's centre, +y to T's left), shape (M, 3).

        ``direction`` rotates the x-y axes as RefAV's ``being_crossed_by`` does ('left', 'right',
        'backward'; anything else leaves them).
        """
        return _rotate(self._to_track_frame(self.candidate_city, is_point=True), direction)

    def candidate_velocity_in_track_frame(self, direction: str | None = None) -> NDArrayFloat:
        """C's velocity in T's box frame (m/s), shape (M, 3); see ``candidate_in_track_frame``."""
        return _rotate(self._to_track_frame(self.candidate_velocity_city, is_point=False), direction)

    def swapped(self) -> PairSeries:
        """The same pairs and rows with the roles exchanged: C becomes the frame, T the object."""
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

    def candidate_yaw_in_track_frame(self, aligned: bool) -> NDArrayFloat:
        """C's heading relative to T's box (z of the relative rotation vector), radians, shape (M,).

        RefAV composes the ego pose at the shared timestamp with T's box of the same *position*
        in T's full row list (``aligned=False``, its behaviour); ``aligned=True`` uses T's box at
        that timestamp.
        """
        ctx = self.ctx
        if aligned:
            frame_rows = self.row_track
        else:
            position = np.arange(len(self.pair)) - self.groups.start
            frame_rows = ctx.track_start[self.track[self.pair]] + position
        city_R_ego = Rotation.from_quat(np.array(ctx.arrays.ego_quat_city)[self.time], scalar_first=True)
        ego_R_frame = Rotation.from_quat(np.array(ctx.arrays.quat_ego)[frame_rows], scalar_first=True)
        city_R_object = Rotation.from_quat(np.array(ctx.arrays.quat_city)[self.row_candidate], scalar_first=True)
        relative = (city_R_ego * ego_R_frame).inv() * city_R_object
        yaw: NDArrayFloat = relative.as_rotvec()[:, 2]
        return yaw

    @cached_property
    def footprint_distance(self) -> NDArrayFloat:
        """RefAV's cuboid distance between T's and C's raw footprints at each row (m), shape (M,)."""
        footprints = self.ctx.footprints_ego
        return footprint_distance(footprints[self.row_track], footprints[self.row_candidate])

    def per_pair_timestamps(self, mask: npt.NDArray[np.bool_]) -> dict[tuple[int, int], list[int]]:
        """``{(T, C): sorted timestamps}`` of the rows where ``mask`` holds (pairs with none are left out)."""
        rows = np.flatnonzero(mask)
        out: dict[tuple[int, int], list[int]] = {}
        if len(rows) == 0:
            return out
        pairs = self.pair[rows]
        stamps = self.timestamps_ns[rows]
        bounds = np.flatnonzero(np.diff(pairs)) + 1
        for chunk_pairs, chunk_stamps in zip(np.split(pairs, bounds), np.split(stamps, bounds), strict=True):
            p = int(chunk_pairs[0])
            out[(int(self.track[p]), int(self.candidate[p]))] = chunk_stamps.tolist()
        return out


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
    return pairs_of(ctx, pair_t, pair_c)


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
