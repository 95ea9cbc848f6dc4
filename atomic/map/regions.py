"""Map regions of one av2 map: drivable area, pedestrian crossings, intersection surroundings.

Also the position of a point across its lane (``changing_lanes``). Everything is vectorised
over points or footprints, in the city frame, and reproduces RefAV's answers, including the
``at_pedestrian_crossing`` list-overwrite bug. RefAV: ``refAV/atomic_functions.py``: ``changing_lanes``,
``at_pedestrian_crossing``, ``near_intersection``, ``in_drivable_area``; ``refAV/utils.py: get_pos_within_lane``.
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import shapely
from av2.map.map_api import ArgoverseStaticMap

from avmine.atomic.map.geometry import (
    PolygonSet,
    dilate_polygon,
    points_in_polygon,
    polygons_overlap_matrix,
)
from avmine.atomic.map.lanes import MapIndex
from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

CROSSING_DISTANCE_M: Final = 1.0
"""Default dilation of crossings in ``at_pedestrian_crossing`` (m)."""

INTERSECTION_DISTANCE_M: Final = 5.0
"""Default dilation of intersection lanes in ``near_intersection`` (m)."""


class MapRegions:
    """Drivable areas, pedestrian crossings and intersection lanes of one map, indexed once."""

    def __init__(self, avm: ArgoverseStaticMap, lanes: MapIndex | None = None) -> None:
        """Index the regions of ``avm``; ``lanes`` is reused if given (for intersection lanes)."""
        self.lanes = lanes if lanes is not None else MapIndex(avm)
        self.drivable = PolygonSet.from_polygons(
            [np.asarray(da.xyz, np.float64)[:, :2] for da in avm.get_scenario_vector_drivable_areas()]
        )
        crossings = [np.asarray(pc.polygon, np.float64)[:, :2] for pc in avm.get_scenario_ped_crossings()]
        self.crossings_xy: NDArrayFloat = np.array(crossings).reshape(-1, 5, 2)
        """Closed crossing polygons in map order, shape (C, 5, 2), city frame, metres."""
        self._intersection_polygons = [
            p for p, inter in zip(self.lanes.polygons_xy, self.lanes.is_intersection, strict=True) if inter
        ]
        self._dilated_crossings: dict[float, NDArrayFloat] = {}
        self._near_intersection: dict[float, PolygonSet] = {}

    # ------------------------------------------------------------------ points

    @functools.cached_property
    def intersections(self) -> tuple[NDArrayInt, NDArrayFloat]:
        """Intersections: touching intersection lanes joined into one area.

        Returns:
            The intersection of each intersection lane (in ``near_intersection``'s lane order), shape (L,),
            and each intersection's centre (its area's centroid), shape (K, 2).
        """
        lanes = [shapely.Polygon(p) for p in self._intersection_polygons]
        if not lanes:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
        joined = shapely.unary_union([lane.buffer(0.5) for lane in lanes])  # lanes of one junction touch
        areas = list(getattr(joined, "geoms", [joined]))
        inside = shapely.points([[*lane.representative_point().coords[0]] for lane in lanes])
        lane_index, area_index = shapely.STRtree(areas).query(inside, predicate="within")
        of_lane = np.zeros(len(lanes), dtype=np.int64)
        of_lane[lane_index] = area_index
        centres = np.array([[area.centroid.x, area.centroid.y] for area in areas], dtype=np.float64)
        return of_lane, centres

    def intersection_near(self, points_xy: NDArrayFloat, threshold_m: float) -> NDArrayInt:
        """Per point: an intersection within ``threshold_m`` metres of it (as ``near_intersection``), else -1."""
        of_lane, _ = self.intersections
        points = np.asarray(points_xy, dtype=np.float64).reshape(len(points_xy), -1)[:, :2]
        found = np.full(len(points), -1, dtype=np.int64)
        point, lane = self._dilated_intersection_lanes(threshold_m).contains_pairs(points)
        found[point[::-1]] = of_lane[lane[::-1]]  # a point near two intersections: the first lane's
        return found

    def in_drivable_area(self, points_xy: NDArrayFloat) -> NDArrayBool:
        """Whether each point lies in some vector drivable-area polygon (RefAV's ray cast).

        Args:
            points_xy: smoothed centres, city frame, shape (N, 2) (or (N, 3)), metres.

        Returns:
            Shape (N,).
        """
        return self.drivable.contains_any(np.asarray(points_xy, np.float64).reshape(len(points_xy), -1)[:, :2])

    def near_intersection(self, points_xy: NDArrayFloat, threshold_m: float = INTERSECTION_DISTANCE_M) -> NDArrayBool:
        """Whether each point lies in some intersection lane polygon dilated by ``threshold_m``.

        The dilation is RefAV's mitred offset applied to possibly concave lane polygons; the
        dilated polygons are built once per threshold.

        Args:
            points_xy: smoothed centres, city frame, shape (N, 2) (or (N, 3)), metres.
            threshold_m: dilation, metres.

        Returns:
            Shape (N,).
        """
        return self._dilated_intersection_lanes(threshold_m).contains_any(
            np.asarray(points_xy, np.float64).reshape(len(points_xy), -1)[:, :2]
        )

    def _dilated_intersection_lanes(self, threshold_m: float) -> PolygonSet:
        key = float(threshold_m)
        if key not in self._near_intersection:
            self._near_intersection[key] = PolygonSet.from_polygons(
                [dilate_polygon(p, key) for p in self._intersection_polygons]
            )
        return self._near_intersection[key]

    # ------------------------------------------------------------------ crossings

    def dilated_crossings(self, within_distance_m: float) -> NDArrayFloat:
        """Crossings dilated by RefAV's mitred offset, shape (C, 5, 2), built once per distance."""
        key = float(within_distance_m)
        if key not in self._dilated_crossings:
            self._dilated_crossings[key] = np.array([dilate_polygon(p, key) for p in self.crossings_xy]).reshape(
                -1, 5, 2
            )
        return self._dilated_crossings[key]

    def at_pedestrian_crossing_fixed(
        self, footprints_xy: NDArrayFloat, within_distance_m: float = CROSSING_DISTANCE_M
    ) -> NDArrayBool:
        """:func:`at_pedestrian_crossing_fixed` against this map's crossings (dilations cached)."""
        return at_pedestrian_crossing_fixed(footprints_xy, self.dilated_crossings(within_distance_m))

    def at_pedestrian_crossing_refav(
        self,
        footprints_xy: NDArrayFloat,
        within_distance_m: float = CROSSING_DISTANCE_M,
        track_index: NDArrayInt | None = None,
    ) -> NDArrayBool:
        """:func:`at_pedestrian_crossing_refav` against this map's crossings (one track unless ``track_index``)."""
        return at_pedestrian_crossing_refav(
            footprints_xy, self.crossings_xy, self.dilated_crossings(within_distance_m), track_index
        )


# ---------------------------------------------------------------------- pedestrian crossings


def crossing_overlaps(footprints_xy: NDArrayFloat, crossings_xy: NDArrayFloat) -> NDArrayBool:
    """RefAV's SAT overlap of every footprint with every crossing polygon.

    Args:
        footprints_xy: closed footprints, city frame, shape (T, 5, 2), metres.
        crossings_xy: closed crossing polygons (dilated or not), shape (C, K, 2), metres.

    Returns:
        Shape (T, C).
    """
    footprints = np.asarray(footprints_xy, np.float64).reshape(-1, 5, 2)
    crossings = np.asarray(crossings_xy, np.float64)
    if len(crossings) == 0:
        return np.zeros((len(footprints), 0), dtype=np.bool_)
    return polygons_overlap_matrix(footprints, crossings)


def at_pedestrian_crossing_fixed(footprints_xy: NDArrayFloat, dilated_crossings_xy: NDArrayFloat) -> NDArrayBool:
    """The intended ``at_pedestrian_crossing``: the footprint overlaps some dilated crossing.

    Per footprint, independent of any other, so footprints of many tracks may be stacked.

    Args:
        footprints_xy: closed footprints, city frame, shape (T, 5, 2), metres.
        dilated_crossings_xy: crossings dilated by ``within_distance``, shape (C, K, 2), metres.

    Returns:
        Shape (T,).
    """
    return np.asarray(crossing_overlaps(footprints_xy, dilated_crossings_xy).any(axis=1))


def at_pedestrian_crossing_refav(
    footprints_xy: NDArrayFloat,
    crossings_xy: NDArrayFloat,
    dilated_crossings_xy: NDArrayFloat,
    track_index: NDArrayInt | None = None,
) -> NDArrayBool:
    """RefAV's ``at_pedestrian_crossing`` per track, list-overwrite bug included (``refAV/atomic_functions.py``).

    RefAV rebinds its list of crossings inside the loop: a track's first timestamp is tested
    against all crossings (dilated); timestamp k > 0 only against the crossings whose
    *undilated* polygon the footprint at k-1 overlapped; once that list is empty it stays empty.

    Args:
        footprints_xy: closed footprints, each track's rows contiguous and in time order, city
            frame, shape (T, 5, 2), metres.
        crossings_xy: the map's crossings as drawn, shape (C, K, 2), metres.
        dilated_crossings_xy: the same crossings dilated by ``within_distance``, shape (C, K, 2).
        track_index: track label of each row, shape (T,); ``None``: all rows are one track.

    Returns:
        Whether each row is reported, shape (T,).
    """
    footprints = np.asarray(footprints_xy, np.float64).reshape(-1, 5, 2)
    n = len(footprints)
    if n == 0 or len(crossings_xy) == 0:
        return np.zeros(n, dtype=np.bool_)
    first = np.zeros(n, dtype=np.bool_)
    first[0] = True
    if track_index is not None:
        labels = np.asarray(track_index).reshape(-1)
        first[1:] = labels[1:] != labels[:-1]
    near = crossing_overlaps(footprints, dilated_crossings_xy)  # (T, C): what is recorded
    touched = crossing_overlaps(footprints, crossings_xy)  # (T, C): the next list
    # list in force at row k: all crossings at a track's first row, else the crossings touched at k-1
    current = np.concatenate([np.ones_like(touched[:1]), touched[:-1]], axis=0)
    current[first] = True
    # the list stays non-empty while every earlier footprint of the track touched some crossing
    missed_before = np.concatenate([[0], np.cumsum(~touched.any(axis=1))[:-1]])  # misses in rows < k
    track_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    alive = missed_before == missed_before[track_start]
    return np.asarray(alive & (near & current).any(axis=1))


# ---------------------------------------------------------------------- position within a lane


def lane_position(lanes: MapIndex, points_xy: NDArrayFloat, lane_ids: NDArrayInt) -> tuple[NDArrayFloat, NDArrayFloat]:
    """RefAV's ``get_pos_within_lane``: where each point sits along and across its lane.

    Defined only for a point inside its lane's polygon (ray cast). Each point is projected on
    the nearest segment of each boundary, using RefAV's *unsigned* projection length (so the
    foot may fall behind a segment's start); ``w`` is the distance from the left foot along the
    left->right direction divided by the lane width: 0 at the left boundary, 1 at the right.

    ``changing_lanes`` treats an undefined ``w`` and ``w == 0.0`` alike as false; with NaN for
    undefined, its test ``w0 and w1 and w0 > w1`` is ``w0 > w1 and w0 != 0 and w1 != 0``.

    Args:
        lanes: the map's lane index.
        points_xy: smoothed centres, city frame, shape (N, 2) (or (N, 3)), metres.
        lane_ids: lane per point, ``-1`` for none, shape (N,).

    Returns:
        ``(along, w)``, each shape (N,), unitless fractions; NaN where undefined.
    """
    points_xy = np.asarray(points_xy, np.float64).reshape(len(lane_ids), -1)[:, :2]
    lane_ids = np.asarray(lane_ids, dtype=np.int64).reshape(-1)
    along = np.full(len(lane_ids), np.nan)
    across = np.full(len(lane_ids), np.nan)
    for lane_id in np.unique(lane_ids):
        if not lanes.contains(int(lane_id)):
            continue
        k = lanes.index_of[int(lane_id)]
        sel = np.flatnonzero(lane_ids == lane_id)
        sel = sel[points_in_polygon(points_xy[sel], lanes.polygons_xy[k])]
        if len(sel) == 0:
            continue
        pos = points_xy[sel]
        left_point, left_dist, left_total = _project_on_boundary(pos, lanes.left_xyz[k][:, :2])
        right_point, right_dist, right_total = _project_on_boundary(pos, lanes.right_xyz[k][:, :2])
        with np.errstate(invalid="ignore", divide="ignore"):
            along[sel] = ((left_dist + right_dist) / 2) / ((left_total + right_total) / 2)
            width = np.linalg.norm(left_point - right_point, axis=-1)
            lateral_dir = (left_point - right_point) / width[:, None]
            offset = pos - left_point
            lateral = (offset[:, 0] * lateral_dir[:, 0] + offset[:, 1] * lateral_dir[:, 1])[:, None] * lateral_dir
            across[sel] = np.linalg.norm(lateral, axis=-1) / width
    return along, across


def _project_on_boundary(pos: NDArrayFloat, line: NDArrayFloat) -> tuple[NDArrayFloat, NDArrayFloat, float]:
    """RefAV's projection of points (n, 2) on a polyline (K, 2).

    Returns:
        ``(foot (n, 2), distance along the line to the foot (n,), line length)``; NaN rows where
        no segment gave a finite distance (RefAV's "position not found").
    """
    start, end = line[:-1], line[1:]
    seg_len = np.linalg.norm(end - start, axis=-1)  # (S,)
    with np.errstate(invalid="ignore", divide="ignore"):
        seg_dir = (end - start) / seg_len[:, None]
        rel = pos[:, None, :] - start[None, :, :]  # (n, S, 2)
        dot = rel[..., 0] * seg_dir[None, :, 0] + rel[..., 1] * seg_dir[None, :, 1]
        proj = dot[..., None] * seg_dir[None, :, :]
        proj_len = np.linalg.norm(proj, axis=-1)  # unsigned, as RefAV
        on_segment = (proj_len >= 0) & (proj_len <= seg_len[None, :])
        foot = np.where(on_segment[..., None], start[None] + proj, end[None])
        dist = np.linalg.norm(pos[:, None, :] - foot, axis=-1)
    # RefAV keeps the first strictly smaller distance; NaN and inf never win
    dist = np.where(np.isnan(dist), np.inf, dist)
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(pos))
    found = dist[rows, best] < np.inf
    before = np.concatenate([[0.0], np.cumsum(seg_len)[:-1]])
    # RefAV records the unclamped foot start + projection even when the segment end was nearer
    point = np.where(found[:, None], start[best] + proj[rows, best], np.nan)
    along = np.where(found, before[best] + proj_len[rows, best], np.nan)
    total = float(np.cumsum(seg_len)[-1]) if len(seg_len) else 0.0  # sequential sum, as RefAV's loop
    return point, along, total
