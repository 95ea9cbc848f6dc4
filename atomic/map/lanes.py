"""Lane segments of one av2 map, indexed once for RefAV's lane primitives (in ``refAV/utils.py``).

:class:`MapIndex` is built once per map and answers, for arrays of city-frame points:
which lane polygons contain them (RefAV's ``get_lane_segments``), which lane a track is
assigned at each timestamp (``get_scenario_lanes``), and the lane-graph questions RefAV asks
(semantic lane, road side, stop-sign lane, boundary direction for lane changes).

Lanes are referred to by their map id (``int``); ``-1`` stands for RefAV's ``None``. Lists of
lanes are in map order (the order of ``avm.vector_lane_segments``), which is the order RefAV
sees them in and which its tie-breaks depend on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import shapely
from av2.geometry import interpolate as interp_utils
from av2.map.map_api import ArgoverseStaticMap

from avmine.atomic.map.geometry import PolygonSet
from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

logger = logging.getLogger(__name__)

NO_LANE: Final = -1
"""Lane id standing for RefAV's ``None`` (no lane)."""

LANE_SEARCH_RADIUS_M: Final = 5.0
"""Candidate lanes lie within this L∞ distance of the point (av2's ``get_nearby_lane_segments(p, 5)``)."""

STOP_SIGN_SEARCH_RADIUS_M: Final = 10.0
"""RefAV looks for a stop sign's lane within this L∞ distance of the sign."""

SEARCH_POINTS_PER_BOUNDARY: Final = 50
"""av2 resamples each lane boundary to this many points for its L∞ search."""

TIE_YAW_RATE: Final = 0.15
"""rad/s: mean yaw rate that makes an intersection lane's turn direction agree with a track."""

TURN_ANGLE: Final = np.pi / 6
"""rad: change of the cross-lane direction that makes an intersection lane a turn."""

ROAD_SIDE_GAP_M: Final = 0.1
"""Neighbours whose facing boundaries' endpoint gaps sum below this (m) run the same way."""

TurnDirection = Literal["left", "right", "straight"]
Side = Literal["left", "right"]


@dataclass(frozen=True)
class Ragged:
    """Rows of varying length: row i is ``values[offsets[i]:offsets[i + 1]]``."""

    offsets: NDArrayInt
    """Row starts, shape (N + 1,)."""
    values: NDArrayInt
    """All rows' entries one after the other, shape (M,)."""

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> NDArrayInt:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    @classmethod
    def from_pairs(cls, row: NDArrayInt, values: NDArrayInt, n_rows: int) -> Ragged:
        """Rows from (row, value) pairs already sorted by row."""
        offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_rows))]).astype(np.int64)
        return cls(offsets=offsets, values=np.asarray(values, dtype=np.int64))


def _turn_direction(left_xy: NDArrayFloat, right_xy: NDArrayFloat) -> TurnDirection:
    """Turn of an intersection lane from its left -> right cross vectors at start and end."""
    start = right_xy[0] - left_xy[0]
    end = right_xy[-1] - left_xy[-1]
    change = float(np.arctan2(end[0], end[1]) - np.arctan2(start[0], start[1]))
    if abs(change) > np.pi:
        change += -2 * np.pi if change > 0 else 2 * np.pi
    if change > TURN_ANGLE:
        return "right"
    if change < -TURN_ANGLE:
        return "left"
    return "straight"


def _search_points(boundary_xy: NDArrayFloat) -> NDArrayFloat:
    """av2's 50 resampled boundary points; a boundary whose resampling has NaN never matches.

    av2 compares ``min(dists) < r``; one NaN makes the minimum NaN and the test False, so such
    a boundary is replaced by points at infinity.
    """
    try:
        points: NDArrayFloat = interp_utils.interp_arc(t=SEARCH_POINTS_PER_BOUNDARY, points=boundary_xy)
    except Exception as exc:  # av2 falls back to the raw waypoints on any failure
        logger.debug("boundary of %d points not resampled (%s: %s); its waypoints are used", len(boundary_xy),
                     type(exc).__name__, exc)  # fmt: skip
        points = boundary_xy
    if np.isnan(points).any():
        return np.full_like(points, np.inf)
    return points


class MapIndex:
    """Lane segments of one map as arrays, with indexes for point queries and memoised lane-graph answers."""

    def __init__(self, avm: ArgoverseStaticMap) -> None:
        """Index every lane segment of ``avm`` (a few hundred lanes: tens of milliseconds)."""
        self._avm = avm
        lanes = list(avm.vector_lane_segments.values())
        self.lane_ids: NDArrayInt = np.array([ls.id for ls in lanes], dtype=np.int64)
        """Map ids in map order, shape (L,)."""
        self.index_of: dict[int, int] = {int(i): k for k, i in enumerate(self.lane_ids)}
        self.is_intersection: NDArrayBool = np.array([bool(ls.is_intersection) for ls in lanes], dtype=np.bool_)
        self.lane_type: npt.NDArray[np.str_] = np.array([str(ls.lane_type.value) for ls in lanes], dtype="<U8")
        """'VEHICLE', 'BIKE' or 'BUS' per lane, shape (L,)."""
        self.left_neighbor_id: NDArrayInt = np.array([_id_or_none(ls.left_neighbor_id) for ls in lanes], dtype=np.int64)
        """Raw neighbour ids (possibly absent from the map), -1 for none, shape (L,)."""
        self.right_neighbor_id: NDArrayInt = np.array(
            [_id_or_none(ls.right_neighbor_id) for ls in lanes], dtype=np.int64
        )
        self.predecessors: list[list[int]] = [list(ls.predecessors) for ls in lanes]
        self.successors: list[list[int]] = [list(ls.successors) for ls in lanes]
        self.left_xyz: list[NDArrayFloat] = [np.asarray(ls.left_lane_boundary.xyz, np.float64) for ls in lanes]
        """Left boundary waypoints per lane, each (K, 3), city frame, metres."""
        self.right_xyz: list[NDArrayFloat] = [np.asarray(ls.right_lane_boundary.xyz, np.float64) for ls in lanes]
        self.polygons_xy: list[NDArrayFloat] = [np.asarray(ls.polygon_boundary, np.float64)[:, :2] for ls in lanes]
        """Closed lane polygons (right boundary + reversed left), each (K, 2), city frame."""
        self.turn_direction: list[TurnDirection | None] = [
            _turn_direction(left[:, :2], right[:, :2]) if inter else None
            for left, right, inter in zip(self.left_xyz, self.right_xyz, self.is_intersection, strict=True)
        ]
        self.polygons = PolygonSet.from_polygons(self.polygons_xy)

        # L∞ candidate search: both boundaries' resampled points, padded with +inf to one length.
        search = [
            np.concatenate([_search_points(r[:, :2]), _search_points(left[:, :2])])
            for r, left in zip(self.right_xyz, self.left_xyz, strict=True)
        ]
        width = max((len(s) for s in search), default=0)
        self.search_xy: NDArrayFloat = np.full((len(lanes), width, 2), np.inf)
        """Resampled boundary points per lane, shape (L, P, 2), +inf padding."""
        for k, s in enumerate(search):
            self.search_xy[k, : len(s)] = s
        # bounding boxes of the usable points; a lane with none gets an empty (inverted) box
        usable = np.isfinite(self.search_xy)
        lo = np.min(np.where(usable, self.search_xy, np.inf), axis=1, initial=np.inf)
        hi = np.max(np.where(usable, self.search_xy, -np.inf), axis=1, initial=-np.inf)
        self._search_tree = shapely.STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]))

        self._orientation: dict[int, NDArrayFloat] = {}
        self._semantic: dict[int, tuple[int, ...]] = {}
        self._road_side: dict[tuple[int, str], tuple[int, ...]] = {}

    @classmethod
    def from_map(cls, avm: ArgoverseStaticMap) -> MapIndex:
        """Same as ``MapIndex(avm)``."""
        return cls(avm)

    # ------------------------------------------------------------------ point queries

    def _within_linf(self, points_xy: NDArrayFloat, lane_idx: NDArrayInt, radius_m: float) -> NDArrayBool:
        """av2's test ``min over resampled points of ‖p - q‖∞ < r`` for each (point, lane) pair, shape (M,)."""
        inside = np.zeros(len(lane_idx), dtype=np.bool_)
        step = max(1, (1 << 21) // max(1, self.search_xy.shape[1]))
        for begin in range(0, len(lane_idx), step):
            sl = slice(begin, begin + step)
            diff = np.abs(self.search_xy[lane_idx[sl]] - points_xy[sl, None, :])
            inside[sl] = (np.maximum(diff[..., 0], diff[..., 1]) < radius_m).any(axis=1)
        return inside

    def nearby_lanes(self, points_xy: NDArrayFloat, radius_m: float = LANE_SEARCH_RADIUS_M) -> Ragged:
        """av2's ``get_nearby_lane_segments`` for many points at once.

        Args:
            points_xy: query points, city frame, shape (N, 2) (extra columns are ignored), metres.
            radius_m: L∞ search radius, metres.

        Returns:
            Lane ids per point, in map order.
        """
        points_xy = _as_xy(points_xy)
        query = shapely.box(
            points_xy[:, 0] - radius_m,
            points_xy[:, 1] - radius_m,
            points_xy[:, 0] + radius_m,
            points_xy[:, 1] + radius_m,
        )
        point_idx, lane_idx = self._search_tree.query(query)
        order = np.lexsort((lane_idx, point_idx))
        point_idx, lane_idx = point_idx[order].astype(np.int64), lane_idx[order].astype(np.int64)
        keep = self._within_linf(points_xy[point_idx], lane_idx, radius_m)
        return Ragged.from_pairs(point_idx[keep], self.lane_ids[lane_idx[keep]], len(points_xy))

    def _containing_pairs(self, points_xy: NDArrayFloat) -> tuple[NDArrayInt, NDArrayInt]:
        """(point, lane index) pairs of RefAV's get_lane_segments, sorted by point then map order."""
        point_idx, lane_idx = self.polygons.contains_pairs(points_xy)
        # a containing lane is a candidate only if av2's L∞ search also finds it
        keep = self._within_linf(points_xy[point_idx], lane_idx, LANE_SEARCH_RADIUS_M)
        return point_idx[keep], lane_idx[keep]

    def lanes_containing(self, points_xy: NDArrayFloat) -> Ragged:
        """RefAV's ``get_lane_segments`` for many points: lanes near the point whose polygon contains it.

        Args:
            points_xy: query points, city frame, shape (N, 2) (extra columns are ignored), metres.

        Returns:
            Lane ids per point, in map order.
        """
        points_xy = _as_xy(points_xy)
        point_idx, lane_idx = self._containing_pairs(points_xy)
        return Ragged.from_pairs(point_idx, self.lane_ids[lane_idx], len(points_xy))

    def assign_lanes(self, timestamps_ns: NDArrayInt, points_xy: NDArrayFloat, yaw_rate: NDArrayFloat) -> NDArrayInt:
        """RefAV's ``get_scenario_lanes`` for one track: the lane of each timestamp by bucket voting.

        Each containing lane is a bucket of timestamps. Repeatedly the largest bucket wins its
        timestamps (removed from every other bucket); among equally large buckets, in order of
        first appearance, a later one takes over only if it is an intersection lane whose turn
        agrees with the track's mean yaw rate over that bucket (±0.15 rad/s).

        Args:
            timestamps_ns: the track's timestamps in order, shape (T,) (only the count is used;
                buckets are kept as positions).
            points_xy: the track's smoothed centres, city frame, shape (T, 2) (or (T, 3)), metres.
            yaw_rate: the track's yaw rate (RefAV's ``get_nth_yaw_deriv(..., 1, coordinate_frame='self')``),
                shape (T,), rad/s.

        Returns:
            Lane id per timestamp, ``-1`` where none, shape (T,).
        """
        points_xy = _as_xy(points_xy)
        n = len(np.asarray(timestamps_ns))
        if len(points_xy) != n or len(np.asarray(yaw_rate)) != n:
            raise ValueError(
                f"timestamps ({n}), points ({len(points_xy)}) and yaw_rate ({len(yaw_rate)}) differ in length"
            )
        point_idx, lane_idx = self._containing_pairs(points_xy)
        return self._vote(n, point_idx, lane_idx, np.asarray(yaw_rate, dtype=np.float64))

    def assign_lanes_per_track(
        self, points_xy: NDArrayFloat, yaw_rate: NDArrayFloat, track_start: NDArrayInt
    ) -> NDArrayInt:
        """``assign_lanes`` of every track at once (track i: rows ``track_start[i]:track_start[i + 1]``).

        The containment queries run once over all rows; only the vote runs track by track.

        Returns:
            Lane id per row, ``-1`` where none, shape (R,).
        """
        points_xy = _as_xy(points_xy)
        yaw_rate = np.asarray(yaw_rate, dtype=np.float64)
        track_start = np.asarray(track_start, dtype=np.int64)
        assigned = np.full(len(points_xy), NO_LANE, dtype=np.int64)
        point_idx, lane_idx = self._containing_pairs(points_xy)  # sorted by row
        bounds = np.searchsorted(point_idx, track_start).tolist()
        starts = track_start.tolist()
        for track in np.flatnonzero(np.diff(bounds)).tolist():  # tracks with a containing lane
            lo, hi, first, end = bounds[track], bounds[track + 1], starts[track], starts[track + 1]
            assigned[first:end] = self._vote(
                end - first, point_idx[lo:hi] - first, lane_idx[lo:hi], yaw_rate[first:end]
            )
        return assigned

    def _vote(self, n: int, point_idx: NDArrayInt, lane_idx: NDArrayInt, yaw_rate: NDArrayFloat) -> NDArrayInt:
        """The bucket vote of one track of ``n`` timestamps, given its (position, containing lane) pairs."""
        assigned = np.full(n, NO_LANE, dtype=np.int64)
        if len(point_idx) == 0:
            return assigned
        # buckets in order of first appearance (RefAV fills a dict timestamp by timestamp)
        lanes, first = np.unique(lane_idx, return_index=True)
        bucket_lane = lanes[np.argsort(first, kind="stable")]
        rank = np.empty(len(self.lane_ids), dtype=np.int64)
        rank[bucket_lane] = np.arange(len(bucket_lane))
        member = np.zeros((len(bucket_lane), n), dtype=np.bool_)
        member[rank[lane_idx], point_idx] = True
        counts = member.sum(axis=1)
        while counts.max() > 0:
            tied = np.flatnonzero(counts == counts.max())
            best = tied[0]
            for b in tied[1:]:
                if self._turn_agrees(int(bucket_lane[b]), float(np.mean(yaw_rate[member[b]]))):
                    best = b
            won = member[best].copy()
            assigned[won] = self.lane_ids[bucket_lane[best]]
            member[:, won] = False
            counts = member.sum(axis=1)
        return assigned

    def _turn_agrees(self, lane_idx: int, mean_yaw_rate: float) -> bool:
        turn = self.turn_direction[lane_idx]
        return (
            (turn == "left" and mean_yaw_rate > TIE_YAW_RATE)
            or (turn == "right" and mean_yaw_rate < -TIE_YAW_RATE)
            or (turn == "straight" and -TIE_YAW_RATE < mean_yaw_rate < TIE_YAW_RATE)
        )

    def stop_sign_lane(self, position_city: NDArrayFloat) -> int:
        """RefAV's ``stop_sign_lane`` with its bug: not the closest lane, the *last* one in map order.

        Among lanes within 10 m (L∞) of the sign's position, RefAV never updates its best
        distance, so it keeps the last non-intersection lane, else the last lane of any kind.

        Args:
            position_city: the sign's first smoothed centre, city frame, shape (2,) or (3,), metres.

        Returns:
            Lane id, or ``-1`` when no lane is that near.
        """
        near = self.nearby_lanes(np.asarray(position_city, np.float64)[:2].reshape(1, 2), STOP_SIGN_SEARCH_RADIUS_M)[0]
        if len(near) == 0:
            return NO_LANE
        plain = near[~self.is_intersection[[self.index_of[int(i)] for i in near]]]
        return int(plain[-1]) if len(plain) else int(near[-1])

    # ------------------------------------------------------------------ lane attributes

    def _idx(self, lane_id: int) -> int:
        return self.index_of[int(lane_id)]

    def contains(self, lane_id: int) -> bool:
        """Whether ``lane_id`` is a lane of this map."""
        return int(lane_id) in self.index_of

    def turn_direction_of(self, lane_id: int) -> TurnDirection | None:
        """RefAV's ``get_turn_direction``: 'left'/'right'/'straight' for intersection lanes, else None."""
        if not self.contains(lane_id):
            return None
        return self.turn_direction[self._idx(lane_id)]

    def boundary_direction(self, lane_ids: NDArrayInt, side: Side, points_xy: NDArrayFloat) -> NDArrayFloat:
        """Direction of a lane's left or right boundary near points, as ``changing_lanes`` measures it.

        Around the boundary waypoint k nearest to the point, the direction is waypoint
        ``min(K-1, k+1)`` minus waypoint ``max(0, k-1)``, divided by ``‖d + 1e-8‖``. For the left
        boundary RefAV's start is ``min(0, k-1)`` instead (a bug): waypoint 0, or the *last*
        waypoint when k = 0; reproduced.

        Args:
            lane_ids: lane per point (the lane being left), shape (N,); must be map lanes.
            side: ``'left'`` or ``'right'`` boundary.
            points_xy: smoothed centres, city frame, shape (N, 2) (or (N, 3)), metres.

        Returns:
            Directions (not exactly unit), shape (N, 2).
        """
        points_xy = _as_xy(points_xy)
        lane_ids = np.asarray(lane_ids, dtype=np.int64).reshape(-1)
        out = np.full((len(lane_ids), 2), np.nan)
        for lane_id in np.unique(lane_ids):
            sel = np.flatnonzero(lane_ids == lane_id)
            k = self._idx(int(lane_id))
            boundary = (self.left_xyz if side == "left" else self.right_xyz)[k][:, :2]
            nearest = np.argmin(np.linalg.norm(boundary[None, :, :] - points_xy[sel, None, :], axis=-1), axis=1)
            start = np.minimum(0, nearest - 1) if side == "left" else np.maximum(0, nearest - 1)
            end = np.minimum(len(boundary) - 1, nearest + 1)
            direction = boundary[end] - boundary[start]
            out[sel] = direction / np.linalg.norm(direction + 1e-8, axis=-1, keepdims=True)
        return out

    def lane_orientation(self, lane_id: int) -> NDArrayFloat:
        """Unit (3-D) start -> end direction of a map lane's centerline (the lane's direction of travel)."""
        return self._lane_orientation(self._idx(lane_id))

    def _lane_orientation(self, lane_idx: int) -> NDArrayFloat:
        """Unit (3-D) start -> end direction of av2's inferred centerline, as RefAV's get_lane_orientation."""
        if lane_idx not in self._orientation:
            centerline = self._avm.get_lane_segment_centerline(int(self.lane_ids[lane_idx]))
            orientation = centerline[-1] - centerline[0]
            self._orientation[lane_idx] = orientation / np.linalg.norm(orientation + 1e-8)
        return self._orientation[lane_idx]

    def _is_straight_or_plain(self, lane_idx: int) -> bool:
        return not self.is_intersection[lane_idx] or self.turn_direction[lane_idx] == "straight"

    def _best_link(self, lane_idx: int, links: list[int], floor: float) -> int | None:
        """The linked straight/plain lane most aligned with ``lane_idx`` (cosine strictly above ``floor``)."""
        here = self._lane_orientation(lane_idx)
        best, best_similarity = None, floor
        for link_id in links:
            if link_id not in self.index_of:
                continue
            link = self.index_of[link_id]
            there = self._lane_orientation(link)
            similarity = np.dot(there, here) / (np.linalg.norm(there) * np.linalg.norm(here))
            if self._is_straight_or_plain(link) and similarity > best_similarity:
                best, best_similarity = link, similarity
        return best

    def semantic_lane(self, lane_id: int) -> list[int]:
        """RefAV's ``get_semantic_lane``: the colloquial lane through ``lane_id``, memoised.

        A turning intersection lane is its own lane. Otherwise walk back through predecessors
        (best-aligned straight/plain predecessor with positive cosine) and forward through
        successors (best-aligned straight/plain successor, any cosine) while new lanes appear.

        Args:
            lane_id: map lane id, or -1 for none.

        Returns:
            Lane ids: ``lane_id`` first, then the backward walk, then the forward walk; ``[]`` for
            -1 or an id not in this map.
        """
        lane_id = int(lane_id)
        if lane_id not in self.index_of:
            return []
        if lane_id not in self._semantic:
            start = self.index_of[lane_id]
            lane = [start]
            if self._is_straight_or_plain(start):
                for links, floor in ((self.predecessors, 0.0), (self.successors, -np.inf)):
                    stack = [start]
                    while stack:
                        current = stack.pop()
                        best = self._best_link(current, links[current], floor)
                        if best is not None and best not in lane:
                            lane.append(best)
                            stack.append(best)
            self._semantic[lane_id] = tuple(int(self.lane_ids[k]) for k in lane)
        return list(self._semantic[lane_id])

    def road_side(self, lane_id: int, side: str) -> list[int]:
        """RefAV's ``get_road_side``: lanes of the same or the opposite carriageway, memoised.

        Breadth-first from the semantic lane over left/right neighbours: a neighbour whose facing
        boundary coincides with the shared one (endpoint gaps summing below 0.1 m) runs the same
        way and is visited; otherwise it is recorded as opposite. ``'opposite'`` is the ``'same'``
        side of the first opposite lane found. Lanes may repeat, as in RefAV.

        Args:
            lane_id: map lane id, or -1 for none.
            side: ``'same'`` or ``'opposite'``.

        Returns:
            Lane ids; ``[]`` for -1 or an id not in this map.

        Raises:
            ValueError: ``side`` is neither (RefAV raises UnboundLocalError).
        """
        lane_id = int(lane_id)
        if lane_id not in self.index_of:
            return []
        if side not in ("same", "opposite"):
            raise ValueError(f"side must be 'same' or 'opposite', got {side!r}")
        key = (lane_id, side)
        if key not in self._road_side:
            same, opposite = self._walk_road(lane_id)
            if side == "same":
                self._road_side[key] = tuple(same)
            else:
                self._road_side[key] = tuple(self.road_side(opposite[0], "same")) if opposite else ()
        return list(self._road_side[key])

    def _walk_road(self, lane_id: int) -> tuple[list[int], list[int]]:
        """RefAV's breadth-first walk: (same-side lane ids in visit order, opposite lane ids)."""
        frontier = self.semantic_lane(lane_id)
        same: list[int] = []
        opposite: list[int] = []
        while frontier:
            current = frontier.pop(0)
            same.append(current)
            k = self.index_of[current]
            for neighbor_id, own, theirs in (
                (self.left_neighbor_id[k], self.left_xyz, self.right_xyz),
                (self.right_neighbor_id[k], self.right_xyz, self.left_xyz),
            ):
                neighbor = int(neighbor_id)
                # RefAV tests the id's truthiness, so a (hypothetical) lane 0 never counts
                if neighbor in (NO_LANE, 0) or neighbor not in self.index_of:
                    continue
                if neighbor in opposite or neighbor in same:
                    continue
                edge = own[k][:, :2]
                other = theirs[self.index_of[neighbor]][:, :2]
                gap = np.linalg.norm(edge[0] - other[0]) + np.linalg.norm(edge[-1] - other[-1])
                if gap < ROAD_SIDE_GAP_M:
                    frontier.append(neighbor)
                else:
                    opposite.append(neighbor)
        return same, opposite


def _id_or_none(lane_id: int | None) -> int:
    return NO_LANE if lane_id is None else int(lane_id)


def _as_xy(points: NDArrayFloat) -> NDArrayFloat:
    """First two columns of points (N, >=2) as float64 (N, 2)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 1:
        points = points.reshape(1, -1)
    return np.ascontiguousarray(points[:, :2])
