"""Map-aware behaviours: driving against the lane, stopping where traffic does not stop, crossing the road edge.

Definitions (units: metres, seconds, m/s, degrees):

- wrong_way: moving above 2 m/s on a lane (outside intersections) with its direction of travel more
  than ``min_angle_deg`` (135°) from the lane's direction, for ``min_duration_s`` (1 s).
- special_stopping: slower than 0.5 m/s (1-second mean) for ``min_duration_s`` (2 s) inside an
  intersection or on a pedestrian crossing (``where`` picks one; default either).
- double_parked: a vehicle standing in a traffic lane (outside intersections; 1-second mean speed under
  0.5 m/s for ``min_duration_s``, 5 s) with a parked vehicle alongside on its right (1.5-4 m to the
  right of its centre, overlapping it lengthwise).
- merging: the object's lane changes to the lane its own lane flows into, where another lane flows
  in too (two lanes become one: a merge or an on-ramp), outside intersections; the timestamps
  within ``window_s`` (2 s) of the change. Moving across a lane boundary is changing_lanes.
- entering_drivable_area / leaving_drivable_area: the centre crosses the drivable area's edge, in or
  out, and stays on the new side at least 1 s; the timestamps within 1 s of the crossing.
"""

from __future__ import annotations

import numpy as np

from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import timestamps_where, tracks_of
from avmine.atomic.functions.behaviours import MOVING_MPS
from avmine.atomic.functions.map import _lane_table
from avmine.atomic.functions.robust import angle_deg, mean_velocity, planar_speed, robust_stationary_mask
from avmine.atomic.lifting import unary
from avmine.atomic.listing import listed
from avmine.atomic.pairs import build_pairs
from avmine.atomic.temporal import drop_short, sustain, window_mean
from avmine.atomic.validation import choice, non_negative

VEHICLE_CATEGORIES = frozenset({"REGULAR_VEHICLE", "LARGE_VEHICLE", "BUS", "BOX_TRUCK", "TRUCK", "TRUCK_CAB",
                                "SCHOOL_BUS", "ARTICULATED_BUS", "VEHICULAR_TRAILER"})  # fmt: skip
"""Vehicles that park (the ego and two-wheelers are left out)."""
STOPPED_MPS = 0.5
"""1-second mean speed below which an object is stopped."""
EDGE_HOLD_S = 1.0
"""How long an object must stay on each side of the drivable area's edge for a crossing to count."""


def _lane_directions(ctx: LogContext) -> np.ndarray:
    """Unit direction (x, y) of each row's lane, start to end of its centerline; NaN without a lane."""

    def compute() -> np.ndarray:
        lanes = ctx.row_lane
        out = np.full((len(lanes), 2), np.nan)
        index = ctx.map_index
        for lane_id in np.unique(lanes[lanes >= 0]):  # one lookup per lane of the map, not per box
            if index.contains(int(lane_id)):
                out[lanes == lane_id] = index.lane_orientation(int(lane_id))[:2]
        return out

    return ctx.derived(("lane_directions",), compute)


@listed("behaviour", 7)
@unary
def wrong_way(
    ctx: LogContext, uuids: list[str], min_angle_deg: float = 135.0, min_duration_s: float = 1.0
) -> dict[str, list[int]]:
    """Timestamps where an object drives against its lane: travel more than min_angle_deg from the lane's direction.

    Only above 2 m/s and outside intersections (whose lanes cross each other); the direction of
    travel is the 1-second mean velocity, so a flipped box does not count.

    Args:
        min_angle_deg: angle between travel and lane direction, degrees in (0, 180].
        min_duration_s: shortest spell kept, in seconds.

    Prompts say:
        wrong way, against traffic, wrong side of the road, going the wrong direction.

    Example:
        wrong_way_drivers = wrong_way(vehicles, log_dir)
    """
    angle_deg("wrong_way", "min_angle_deg", min_angle_deg)
    non_negative("wrong_way", min_duration_s=min_duration_s)
    velocity = mean_velocity(ctx, 1.0)
    lane = _lane_directions(ctx)
    speed = planar_speed(ctx, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.einsum("ij,ij->i", velocity, lane) / speed
    against = np.nan_to_num(cosine, nan=1.0) < np.cos(np.radians(min_angle_deg))
    mask = against & (speed > MOVING_MPS) & ~_lane_table(ctx)[0]
    return timestamps_where(ctx, uuids, sustain(mask, ctx.row_timestamp_ns, ctx.groups, 0.3, min_duration_s))


@listed("behaviour", 8)
@unary
def special_stopping(
    ctx: LogContext, uuids: list[str], where: str | None = None, min_duration_s: float = 2.0
) -> dict[str, list[int]]:
    """Timestamps where an object stands still where traffic does not stop: in an intersection or on a crosswalk.

    Stopped means a 1-second mean speed under 0.5 m/s, for at least min_duration_s.

    Args:
        where: "intersection", "crosswalk", or None for either.
        min_duration_s: shortest stop kept, in seconds.

    Prompts say:
        blocking the intersection, blocking the crosswalk, stopped in the intersection, stopped on the
        crosswalk, blocking.

    Example:
        blocking_the_box = special_stopping(vehicles, log_dir, where="intersection")
    """
    choice("special_stopping", "where", where, ("intersection", "crosswalk", None))
    non_negative("special_stopping", min_duration_s=min_duration_s)
    place = np.zeros(len(ctx.row_track), dtype=bool)
    if where in ("intersection", None):
        place |= _lane_table(ctx)[0]
    if where in ("crosswalk", None):
        place |= ctx.map_regions.at_pedestrian_crossing_fixed(ctx.footprints_city, 0.0)
    stopped = planar_speed(ctx, 1.0) < STOPPED_MPS
    return timestamps_where(ctx, uuids, drop_short(stopped & place, ctx.row_timestamp_ns, ctx.groups, min_duration_s))


PARKED_BESIDE_M = (1.5, 4.0)
"""How far to the right of a double-parked vehicle's centre the parked one stands."""


@listed("behaviour", 17)
@unary
def double_parked(ctx: LogContext, uuids: list[str], min_duration_s: float = 5.0) -> dict[str, list[int]]:
    """Timestamps where a vehicle stands in a traffic lane beside a parked vehicle on its right (double parking).

    Standing: a 1-second mean speed under 0.5 m/s for at least min_duration_s, in a lane outside
    intersections; parked: a robust_stationary vehicle 1.5-4 m to the right, overlapping it lengthwise.

    Args:
        min_duration_s: shortest stand kept, in seconds.

    Prompts say:
        double parked, double-parked.

    Example:
        double_parked_trucks = double_parked(trucks, log_dir)
    """
    non_negative("double_parked", min_duration_s=min_duration_s)
    vehicles = [u for u, c in zip(ctx.track_uuids, ctx.track_category, strict=True) if c in VEHICLE_CATEGORIES]
    candidates = tracks_of(ctx, uuids)
    parked = tracks_of(ctx, vehicles)
    parked = parked[robust_stationary_mask(ctx)[parked]]
    if len(candidates) == 0 or len(parked) == 0:
        return {u: [] for u in uuids}
    series = build_pairs(ctx, candidates, parked)
    local = series.candidate_in_track_frame()
    overlap = np.abs(local[:, 0]) <= (ctx.size[series.row_track, 0] + ctx.size[series.row_candidate, 0]) / 2
    right = (-local[:, 1] >= PARKED_BESIDE_M[0]) & (-local[:, 1] <= PARKED_BESIDE_M[1])
    beside = np.zeros(len(ctx.row_track), dtype=bool)
    np.logical_or.at(beside, series.row_track, overlap & right)
    in_lane = (ctx.row_lane >= 0) & ~_lane_table(ctx)[0]
    standing = planar_speed(ctx, 1.0) < STOPPED_MPS
    mask = drop_short(beside & in_lane & standing, ctx.row_timestamp_ns, ctx.groups, min_duration_s)
    return timestamps_where(ctx, uuids, mask)


def _merge_lanes(ctx: LogContext) -> dict[int, set[int]]:
    """Merge lanes of the map -> the lanes that flow into them.

    Feeders are outside intersections: lanes joining after an intersection are turns, not merges.
    """
    index = ctx.map_index
    merges: dict[int, set[int]] = {}
    for k, lane_id in enumerate(index.lane_ids.tolist()):
        feeders = {int(p) for p in index.predecessors[k]
                   if index.contains(int(p)) and not index.is_intersection[index.index_of[int(p)]]}  # fmt: skip
        if len(feeders) >= 2 and not index.is_intersection[k]:
            merges[int(lane_id)] = feeders
    return merges


@listed("behaviour", 14)
@unary
def merging(ctx: LogContext, uuids: list[str], window_s: float = 2.0) -> dict[str, list[int]]:
    """Timestamps where an object merges: its lane flows into a lane that another lane also flows into.

    Two lanes becoming one (a lane drop, an on-ramp), outside intersections; the timestamps within
    window_s seconds of entering the merged lane. Crossing into a neighbouring lane is changing_lanes.

    Args:
        window_s: seconds before and after entering the merged lane.

    Prompts say:
        merging, merges, merging into traffic, joining traffic.

    Example:
        merging_vehicles = merging(vehicles, log_dir)
    """
    non_negative("merging", window_s=window_s)
    lanes = ctx.row_lane
    index = np.arange(len(lanes))
    previous = np.maximum(index - 1, ctx.groups.start)
    changed = (lanes != lanes[previous]) & (lanes >= 0) & (lanes[previous] >= 0)
    merges = _merge_lanes(ctx)
    rows = np.flatnonzero(changed)
    into_merge = np.array([int(lanes[r]) in merges and int(lanes[previous[r]]) in merges[int(lanes[r])]
                           for r in rows], dtype=bool)  # fmt: skip
    event = np.zeros(len(lanes))
    event[rows[into_merge]] = 1.0
    near = window_mean(event, ctx.row_timestamp_ns, ctx.groups, window_s, window_s)
    return timestamps_where(ctx, uuids, np.nan_to_num(near) > 0)


def _edge_crossings(ctx: LogContext, entering: bool) -> np.ndarray:
    inside = ctx.map_regions.in_drivable_area(ctx.smoothed_xyz_city[:, :2])
    times, groups = ctx.row_timestamp_ns, ctx.groups
    steady_in = drop_short(inside, times, groups, EDGE_HOLD_S)
    steady_out = drop_short(~inside, times, groups, EDGE_HOLD_S)
    index = np.arange(len(inside))
    previous = np.maximum(index - 1, groups.start)
    after, before = (steady_in, steady_out) if entering else (steady_out, steady_in)
    # a crossing: the last steady row on the old side, then (perhaps after flicker) the first on the new side
    last_before = np.where(before, index, -1)
    last_before = np.maximum.accumulate(last_before)
    crossing = after & ~after[previous] & (index > groups.start) & (last_before >= groups.start)
    near = window_mean(crossing.astype(np.float64), times, groups, EDGE_HOLD_S, EDGE_HOLD_S)
    return np.asarray(np.nan_to_num(near) > 0)


@listed("behaviour", 9)
@unary
def entering_drivable_area(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Timestamps within 1 s of an object entering the drivable area after at least 1 s outside it.

    Prompts say:
        stepping onto the road, entering the road, pulling out, pulling onto the road, stepping off the curb.

    Example:
        peds_stepping_onto_road = entering_drivable_area(peds, log_dir)
    """
    return timestamps_where(ctx, uuids, _edge_crossings(ctx, entering=True))


@listed("behaviour", 10)
@unary
def leaving_drivable_area(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Timestamps within 1 s of an object leaving the drivable area after at least 1 s inside it.

    Prompts say:
        pulling off the road, leaving the road, pulling over, stepping onto the sidewalk, exiting the road.

    Example:
        pulling_off_road = leaving_drivable_area(vehicles, log_dir)
    """
    return timestamps_where(ctx, uuids, _edge_crossings(ctx, entering=False))
