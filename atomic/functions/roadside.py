"""Places on the road that av2's maps do not mark, found from the lane graph and the drivable area.

Definitions (units: metres, seconds, degrees):

- turn-only lane: a vehicle lane outside intersections whose every continuation is an
  intersection lane turning the same way (left or right), while a lane beside it, going the same
  way, has a continuation that does not; lanes whose only successor is such a lane (the rest of a
  turn pocket) are turn-only too. A road that simply bends at a junction has no such neighbour.
- shoulder: inside the drivable area, in no lane (of any type) and not near an intersection, yet
  within ``max_distance`` (3 m) of a vehicle lane: the strip beside the travel lanes where cars stop
  or pass. av2 draws no lanes through parking lots either, so they count where they border a lane.
- parallel parking: a vehicle comes to rest for ``min_stop_s`` (3 s; or until its track ends, after
  at least 1 s) beside the travel lanes (on the shoulder, or in a lane's outer quarter),
  lined up with the road (within 20° of its lane), after moving sideways by ``min_shift_m``
  (1 m) over the ``window_s`` (10 s) before stopping; the manoeuvre's timestamps are that window
  (while it moved) and its first second at rest.

Positions are denoised (``avmine.atomic.denoise``), so a jittered box does not step on or off a shoulder.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from avmine.atomic.context import LogContext
from avmine.atomic.denoise import denoised
from avmine.atomic.functions._select import timestamps_where
from avmine.atomic.functions.robust import planar_speed
from avmine.atomic.lifting import unary
from avmine.atomic.listing import listed
from avmine.atomic.map.lanes import MapIndex
from avmine.atomic.map.regions import lane_position
from avmine.atomic.temporal import drop_short, sustain, true_runs
from avmine.atomic.validation import choice, non_negative

SHOULDER_NEAR_INTERSECTION_M = 5.0
"""Outside lanes but this close to an intersection is the junction's corner, not a shoulder."""
PARKED_ALIGNMENT_DEG = 20.0
"""A parallel-parked vehicle points within this angle of its lane (either way)."""
STOPPED_MPS = 0.5
"""1-second mean speed below which a vehicle is at rest."""
MOVING_MPS = 1.0
"""1-second mean speed above which a vehicle is manoeuvring."""
OUTER_QUARTER = 0.25
"""A vehicle at rest within this fraction of its lane's width from an outer edge is at the kerb."""


def turn_only_lanes(index: MapIndex) -> dict[int, str]:
    """Turn-only lanes of a map: lane id -> "left" or "right" (see the module's definition)."""

    def turns(k: int) -> set[str]:
        """How the continuations of lane k go: "left", "right", "straight", or "" for a plain lane."""
        out = set()
        for successor in index.successors[k]:
            if not index.contains(successor):
                continue
            j = index.index_of[int(successor)]
            out.add(str(index.turn_direction[j]) if index.is_intersection[j] else "")
        return out

    def same_way(k: int, neighbour: int) -> bool:
        if not index.contains(neighbour):
            return False
        return float(np.dot(index.lane_orientation(int(index.lane_ids[k]))[:2],
                            index.lane_orientation(neighbour)[:2])) > 0  # fmt: skip

    found: dict[int, str] = {}
    for k, lane_id in enumerate(index.lane_ids.tolist()):
        if index.is_intersection[k] or index.lane_type[k] != "VEHICLE":
            continue
        ahead = turns(k)
        if len(ahead) != 1 or ahead & {"straight", ""}:
            continue
        (direction,) = ahead
        neighbours = [int(n) for n in (index.left_neighbor_id[k], index.right_neighbor_id[k]) if same_way(k, int(n))]
        if any(turns(index.index_of[n]) - {direction} for n in neighbours):
            found[int(lane_id)] = direction
    # the rest of a pocket: lanes leading only into a turn-only lane
    frontier = list(found)
    while frontier:
        lane_id = frontier.pop()
        for predecessor in index.predecessors[index.index_of[lane_id]]:
            if not index.contains(predecessor) or int(predecessor) in found:
                continue
            k = index.index_of[int(predecessor)]
            if not index.is_intersection[k] and [int(s) for s in index.successors[k]] == [lane_id]:
                found[int(predecessor)] = found[lane_id]
                frontier.append(int(predecessor))
    return found


@listed("behaviour", 19)
@unary
def on_turn_only_lane(ctx: LogContext, uuids: list[str], direction: str | None = None) -> dict[str, list[int]]:
    """Timestamps where an object is in a turn-only lane: every way on from it turns left (or right).

    av2's maps do not mark turn lanes; a lane counts when all its continuations through the next
    intersection turn one way while a lane beside it, going the same way, also goes elsewhere
    (a left-turn pocket, a right-turn-only lane), together with the lanes leading only into it.

    Args:
        direction: "left", "right", or None for either.

    Prompts say:
        turn lane, left turn lane, right turn lane, turn-only lane, turning lane.

    Example:
        in_left_turn_lane = on_turn_only_lane(vehicles, log_dir, direction="left")
    """
    choice("on_turn_only_lane", "direction", direction, ("left", "right", None))
    pockets = ctx.derived(("turn_only_lanes",), lambda: turn_only_lanes(ctx.map_index))
    wanted = [lane for lane, way in pockets.items() if direction in (None, way)]
    return timestamps_where(ctx, uuids, np.isin(ctx.row_lane, wanted))


def shoulder_mask(ctx: LogContext, max_distance: float) -> npt.NDArray[np.bool_]:
    """Per row: the denoised centre is on the shoulder (see the module's definition)."""

    def compute() -> npt.NDArray[np.bool_]:
        xy = denoised(ctx).xyz_city[:, :2]
        index, regions = ctx.map_index, ctx.map_regions
        outside_lanes = regions.in_drivable_area(xy) & ~index.polygons.contains_any(xy)
        outside_lanes &= ~regions.near_intersection(xy, SHOULDER_NEAR_INTERSECTION_M)
        rows = np.flatnonzero(outside_lanes)
        nearby = index.nearby_lanes(xy[rows], max_distance)
        vehicle_lanes = index.lane_ids[index.lane_type == "VEHICLE"]
        hits = np.isin(nearby.values, vehicle_lanes).astype(np.float64)
        owner = np.repeat(np.arange(len(rows)), np.diff(nearby.offsets))
        shoulder = np.zeros(len(xy), dtype=bool)
        shoulder[rows] = np.bincount(owner, weights=hits, minlength=len(rows)) > 0
        return shoulder

    return ctx.derived(("shoulder", max_distance), compute)


@listed("behaviour", 20)
@unary
def on_shoulder(
    ctx: LogContext, uuids: list[str], max_distance: float = 3.0, min_duration_s: float = 1.0
) -> dict[str, list[int]]:
    """Timestamps where an object is on the road's shoulder: drivable, in no lane, beside a vehicle lane.

    av2's maps do not mark shoulders: this is the drivable area outside every lane polygon, not
    within 5 m of an intersection, within max_distance of a vehicle lane (so a parking strip
    beside the road counts too). Decided on denoised positions.

    Args:
        max_distance: metres from the nearest vehicle lane.
        min_duration_s: shortest spell kept, in seconds.

    Prompts say:
        shoulder, on the shoulder, road shoulder.

    Example:
        stopped_on_shoulder = scenario_and([on_shoulder(vehicles, log_dir), robust_stationary(vehicles, log_dir)])
    """
    non_negative("on_shoulder", max_distance=max_distance, min_duration_s=min_duration_s)
    mask = sustain(shoulder_mask(ctx, max_distance), ctx.row_timestamp_ns, ctx.groups, 0.3, min_duration_s)
    return timestamps_where(ctx, uuids, mask)


def _at_kerb(ctx: LogContext) -> npt.NDArray[np.bool_]:
    """Per row: on the shoulder, or in a lane's outer quarter with no lane beyond that edge."""
    index = ctx.map_index
    xy = denoised(ctx).xyz_city[:, :2]
    lanes = ctx.row_lane
    _, w = lane_position(index, xy, lanes)
    known = lanes >= 0
    position = np.zeros(len(lanes), dtype=np.int64)
    position[known] = [index.index_of[int(i)] for i in lanes[known]]
    no_left = known & ~np.isin(index.left_neighbor_id[position], index.lane_ids)
    no_right = known & ~np.isin(index.right_neighbor_id[position], index.lane_ids)
    outer = (no_left & (w < OUTER_QUARTER)) | (no_right & (w > 1 - OUTER_QUARTER))
    return np.asarray(shoulder_mask(ctx, 3.0) | np.nan_to_num(outer).astype(bool))


def _aligned_with_lane(ctx: LogContext) -> npt.NDArray[np.bool_]:
    """Per row: the denoised heading is within 20° of its lane's direction, either way."""
    index = ctx.map_index
    lanes = ctx.row_lane
    heading = denoised(ctx).yaw_city
    aligned = np.zeros(len(lanes), dtype=bool)
    for lane in np.unique(lanes[lanes >= 0]):
        if not index.contains(int(lane)):
            continue
        rows = lanes == lane
        direction = index.lane_orientation(int(lane))[:2]
        cosine = np.cos(heading[rows]) * direction[0] + np.sin(heading[rows]) * direction[1]
        aligned[rows] = np.abs(cosine) >= np.cos(np.radians(PARKED_ALIGNMENT_DEG))
    return aligned


@listed("behaviour", 18)
@unary
def parallel_parking(
    ctx: LogContext, uuids: list[str], min_stop_s: float = 3.0, window_s: float = 10.0, min_shift_m: float = 1.0
) -> dict[str, list[int]]:
    """Timestamps where a vehicle parks at the side of the road (parallel parking), forwards or in reverse.

    It comes to rest for min_stop_s at the kerb (on the shoulder, or in the outer quarter of an
    edge lane), within 20° of its lane's direction, having moved at least min_shift_m sideways in
    the window_s before stopping. The timestamps are the manoeuvre (from when it last moved in
    that window) and its first second at rest.

    Args:
        min_stop_s: seconds at rest afterwards (or until its track ends, after at least 1 s).
        window_s: seconds before stopping that the manoeuvre may take.
        min_shift_m: metres moved sideways, across the parked heading.

    Prompts say:
        parallel parking, side parking, pulling into a parking spot.

    Example:
        parking = parallel_parking(vehicles, log_dir)
    """
    non_negative("parallel_parking", min_stop_s=min_stop_s, window_s=window_s, min_shift_m=min_shift_m)
    times, groups = ctx.row_timestamp_ns, ctx.groups
    speed = planar_speed(ctx, 1.0)
    at_rest = speed < STOPPED_MPS
    starts, ends = true_runs(at_rest, groups)
    lasting = (times[ends] - times[starts]) / 1e9 >= min_stop_s - 1e-9
    to_the_end = (ends == groups.end[ends]) & ((times[ends] - times[starts]) / 1e9 >= 1.0)
    # a vehicle at rest from its first box did not park in view
    chosen = (lasting | to_the_end) & (starts > groups.start[starts])
    starts, ends = starts[chosen], ends[chosen]
    xy = denoised(ctx).xyz_city[:, :2]
    heading = denoised(ctx).yaw_city
    kerb = _at_kerb(ctx)
    aligned = _aligned_with_lane(ctx)
    moving = speed > MOVING_MPS
    mask = np.zeros(len(times), dtype=bool)
    for start in starts.tolist():
        if not (kerb[start] and aligned[start]):
            continue
        first = int(np.searchsorted(times[groups.start[start] : start], times[start] - window_s * 1e9)) + int(
            groups.start[start]
        )
        window = np.arange(first, start)
        if not np.any(moving[window]):
            continue
        # sideways: across the parked heading, between where the window began and where it stopped
        side = np.array([-np.sin(heading[start]), np.cos(heading[start])])
        shift = np.abs((xy[window] - xy[start]) @ side)
        if shift.max() < min_shift_m:
            continue
        manoeuvre = window[np.argmax(moving[window]) :]
        mask[manoeuvre] = True
        settled = start + np.flatnonzero(times[start : groups.end[start] + 1] <= times[start] + 1e9)
        mask[settled] = True
    return timestamps_where(ctx, uuids, drop_short(mask, times, groups, 1.0))
