"""Rules about where objects are on the map: lanes, intersections, crossings, drivable area, road sides.

Positions are RefAV's smoothed centres; lanes are RefAV's per-track lane assignment (each box
gets the lane that holds most of its track's timeline among the lanes containing it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from avmine.atomic import compat, derived
from avmine.atomic.context import LogContext, context_for
from avmine.atomic.functions._select import timestamps_where, tracks_of
from avmine.atomic.functions.objects import category_uuids
from avmine.atomic.functions.relations import Relations, _relations
from avmine.atomic.lifting import relational, unary
from avmine.atomic.listing import listed
from avmine.atomic.map.regions import lane_position
from avmine.atomic.pairs import build_pairs
from avmine.atomic.scenario import Scenario
from avmine.atomic.validation import choice, non_negative

LANE_TYPES = ("VEHICLE", "BIKE", "BUS")


def _lane_table(ctx: LogContext) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    """Per box: whether its lane is an intersection lane, and its lane type ('' without a lane)."""
    return ctx.derived(("lane_table",), lambda: _compute_lane_table(ctx))


def _compute_lane_table(ctx: LogContext) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    index = ctx.map_index
    lane = ctx.row_lane
    has = lane >= 0
    position = np.zeros(len(lane), dtype=np.int64)
    position[has] = [index.index_of[int(i)] for i in lane[has]]
    is_intersection = has & index.is_intersection[position]
    lane_type = np.where(has, index.lane_type[position], "")
    return is_intersection, lane_type


@listed("RefAV", 14)
@unary(track="track_uuid")
def on_lane_type(ctx: LogContext, uuids: list[str], lane_type: str) -> dict[str, list[int]]:
    """Timestamps where an object is in a lane of a type.

    Args:
        lane_type: "VEHICLE", "BIKE" or "BUS".

    Prompts say:
        bus lane, bike lane, bicycle lane, cycle lane, wrong lane, lane type.

    Example:
        in_bike_lane = on_lane_type(vehicles, log_dir, lane_type="BIKE")
    """
    choice("on_lane_type", "lane_type", lane_type, LANE_TYPES)
    return timestamps_where(ctx, uuids, _lane_table(ctx)[1] == lane_type)


@listed("RefAV", 16)
@unary
def on_intersection(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Timestamps where an object is inside an intersection (its lane is an intersection lane).

    Prompts say:
        in an intersection, in the intersection, on an intersection, at an intersection, junction.

    Example:
        in_intersection = on_intersection(vehicles, log_dir)
    """
    return timestamps_where(ctx, uuids, _lane_table(ctx)[0])


@listed("RefAV", 24)
@unary
def on_road(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Timestamps where an object is on a road lane (any lane type, intersections included).

    Parking lots and driveways are drivable area but not road; see in_drivable_area.

    Prompts say:
        on the road, in the road, in the street, on the street, across the road, across the street, jaywalking,
        road.

    Example:
        peds_on_road = on_road(peds, log_dir)
    """
    return timestamps_where(ctx, uuids, ctx.row_lane >= 0)


@listed("RefAV", 23, uses_map_masks=True)
@unary
def in_drivable_area(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Timestamps where an object's centre is in the drivable area (roads, parking lots, driveways).

    Prompts say:
        drivable area, sidewalk, off the road, on the sidewalk.

    Example:
        peds_in_drivable_area = in_drivable_area(peds, log_dir)
    """

    def compute(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return ctx.map_regions.in_drivable_area(ctx.smoothed_xyz_city[rows, :2])

    return timestamps_where(ctx, uuids, ctx.per_row(("in_drivable_area",), tracks_of(ctx, uuids), compute))


@listed("RefAV", 15, uses_map_masks=True)
@unary(track="track_uuid")
def near_intersection(ctx: LogContext, uuids: list[str], threshold: float = 5) -> dict[str, list[int]]:
    """Timestamps where an object is within threshold metres of an intersection (or inside it).

    Args:
        threshold: metres from the intersection's lanes.

    Prompts say:
        approaching an intersection, near an intersection, about to enter an intersection.

    Example:
        approaching_intersection = near_intersection(vehicles, log_dir, threshold=10)
    """
    non_negative("near_intersection", threshold=threshold)

    def compute(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return ctx.map_regions.near_intersection(ctx.smoothed_xyz_city[rows, :2], threshold)

    near = ctx.per_row(("near_intersection", float(threshold)), tracks_of(ctx, uuids), compute)
    return timestamps_where(ctx, uuids, near)


@listed("RefAV", 13, uses_map_masks=True)
@unary
def at_pedestrian_crossing(
    ctx: LogContext, uuids: list[str], within_distance: float = 1, fix_refav_bug: bool = False
) -> dict[str, list[int]]:
    """Timestamps where an object's box touches a pedestrian crossing grown by within_distance metres.

    By default this reproduces RefAV exactly, including its bug: after its first timestamp an
    object counts only while it keeps overlapping a crossing it overlapped at the previous
    timestamp, so one that walks onto a crossing later is never found
    (refAV/atomic_functions.py: at_pedestrian_crossing). fix_refav_bug=True tests every
    timestamp against every crossing.

    Args:
        within_distance: metres around the crossing; 0 means on the crossing itself.
        fix_refav_bug: True: find an object at every timestamp it touches a crossing (not RefAV's answer).

    Prompts say:
        crosswalk, pedestrian crossing, zebra crossing, jaywalking, crossing outside a crosswalk.

    Example:
        peds_at_crossing = at_pedestrian_crossing(peds, log_dir)
        peds_on_crossing_any_time = at_pedestrian_crossing(peds, log_dir, fix_refav_bug=True)
    """
    non_negative("at_pedestrian_crossing", within_distance=within_distance)
    fixed = fix_refav_bug or compat.current().fix_pedestrian_crossing

    def compute(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        # whole tracks, in time order: RefAV's per-track scan sees each track's rows as it would alone
        footprints = ctx.footprints_city[rows]
        if fixed:
            return ctx.map_regions.at_pedestrian_crossing_fixed(footprints, within_distance)
        return ctx.map_regions.at_pedestrian_crossing_refav(footprints, within_distance, ctx.row_track[rows])

    hit = ctx.per_row(("at_pedestrian_crossing", fixed, float(within_distance)), tracks_of(ctx, uuids), compute)
    return timestamps_where(ctx, uuids, hit)


def map_mask_keys() -> tuple[tuple[object, ...], ...]:
    """The ``per_row`` keys of the map masks at the functions' defaults (the compatibility switches in force)."""
    return (
        ("in_drivable_area",),
        ("near_intersection", 5.0),
        ("at_pedestrian_crossing", compat.current().fix_pedestrian_crossing, 1.0),
    )


def warm_map_masks(ctx: LogContext) -> None:
    """Give ``ctx`` the map masks of every track at the functions' defaults, computed once per log.

    They are read from the log's derived cache (``avmine.atomic.derived``) where stored; otherwise computed
    and stored there (where the cache can be written), so that every process maps one copy. A
    worker calls this before it forks the sandboxed children of a call, so each child inherits them.
    """
    keys = map_mask_keys()
    if all([derived.attach_per_row(ctx, key) for key in keys]):
        return
    everyone = list(ctx.track_uuids)
    in_drivable_area.rule(ctx, everyone)
    near_intersection.rule(ctx, everyone, 5)
    at_pedestrian_crossing.rule(ctx, everyone, 1)
    for key in keys:
        derived.store_per_row(ctx, key)


def _lane_relation(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], lanes_of: dict[int, list[int]]
) -> Relations:
    """Related objects whose lane, at a timestamp, is among ``lanes_of[track's lane then]``."""
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    # lanes as their place in the map's index (every assigned lane is there), a pair of lanes as one code
    index = ctx.map_index
    n = len(index.index_of)
    place = ctx.derived(("row_lane_place",), lambda: _lane_places(ctx))
    allowed = [
        index.index_of[lane] * n + index.index_of[m] for lane, ms in lanes_of.items() for m in ms if m in index.index_of
    ]
    lane_t, lane_c = place[series.row_track], place[series.row_candidate]
    both = np.flatnonzero((lane_t >= 0) & (lane_c >= 0))
    hit = np.zeros(len(series.pair), dtype=bool)
    hit[both] = np.isin(lane_t[both] * n + lane_c[both], np.array(allowed, dtype=np.int64))
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit))


def _lane_places(ctx: LogContext) -> npt.NDArray[np.int64]:
    """Per row: the position of its lane in the map's lane index, -1 without a lane."""
    place = np.full(len(ctx.row_lane), -1, dtype=np.int64)
    has = ctx.row_lane >= 0
    place[has] = [ctx.map_index.index_of[int(i)] for i in ctx.row_lane[has]]
    return place


def _track_lanes(ctx: LogContext, track_uuids: list[str]) -> list[int]:
    tracks = tracks_of(ctx, track_uuids)
    rows = np.isin(ctx.row_track, tracks)
    return [int(lane) for lane in np.unique(ctx.row_lane[rows]) if lane >= 0]


@listed("RefAV", 25)
@relational
def in_same_lane(ctx: LogContext, track_uuids: list[str], related_uuids: list[str]) -> Relations:
    """Tracks sharing their lane with a related object (the whole lane as people mean it, across segments).

    Prompts say:
        same lane, their lane, its lane, sharing a lane.

    Example:
        cars_sharing_lane_with_bikes = in_same_lane(cars, bicycles, log_dir)
    """
    index = ctx.map_index
    lanes_of = {lane: index.semantic_lane(lane) for lane in _track_lanes(ctx, track_uuids)}
    return _lane_relation(ctx, track_uuids, related_uuids, lanes_of)


@listed("RefAV", 26)
@relational
def on_relative_side_of_road(ctx: LogContext, track_uuids: list[str], related_uuids: list[str], side: str) -> Relations:
    """Tracks with a related object on the same or the opposite side of the road.

    Args:
        side: "same" (lanes going the track's way) or "opposite" (lanes going the other way).

    Prompts say:
        opposite side of the road, other side of the road, same side of the road.

    Example:
        oncoming_side = on_relative_side_of_road(cars, cars, log_dir, side="opposite")
    """
    choice("on_relative_side_of_road", "side", side, ("same", "opposite"))
    index = ctx.map_index
    lanes_of = {lane: index.road_side(lane, side) for lane in _track_lanes(ctx, track_uuids)}
    return _lane_relation(ctx, track_uuids, related_uuids, lanes_of)


# -- lane changes ---------------------------------------------------------------------------------

SIDEWAYS_SPEED_MPS = 0.1
"""RefAV's minimum sideways speed at a lane crossing (it uses the city frame's y velocity)."""
LANE_ALIGNMENT_COS = 0.5
"""Minimum |cosine| between the motion and the crossed boundary at a lane change."""


def lane_crossings(ctx: LogContext, uuids: list[str], direction: str | None) -> dict[str, list[int]]:
    """Timestamps where an object moves into a neighbouring lane (RefAV's lane change, turns included)."""
    choice("changing_lanes", "direction", direction, ("left", "right", None))
    return timestamps_where(ctx, uuids, lane_crossing_rows(ctx, direction))


def lane_crossing_rows(ctx: LogContext, direction: str | None) -> npt.NDArray[np.bool_]:
    """Per row of the log: part of a lane change to the given side (None: either), computed once per log."""
    left, right = ctx.derived(("lane_crossing_rows",), lambda: _lane_crossing_rows(ctx))
    return left if direction == "left" else right if direction == "right" else left | right


def _lane_crossing_rows(ctx: LogContext) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    index = ctx.map_index
    lane = ctx.row_lane
    xy = ctx.smoothed_xyz_city[:, :2]
    velocity = ctx.velocity_city
    n_rows = len(lane)
    rows = np.arange(n_rows)
    prev = np.maximum(rows - 1, ctx.groups.start)
    has_prev = rows > ctx.groups.start
    both = has_prev & (lane >= 0) & (lane[prev] >= 0) & (np.abs(velocity[:, 1]) >= SIDEWAYS_SPEED_MPS)
    position = np.zeros(n_rows, dtype=np.int64)
    position[lane >= 0] = [index.index_of[int(i)] for i in lane[lane >= 0]]
    prev_position = position[prev]
    to_right = both & (index.right_neighbor_id[prev_position] == lane)
    to_left = both & ~to_right & (index.left_neighbor_id[prev_position] == lane)
    heading = velocity[:, :2] / np.linalg.norm(velocity[:, :2], axis=1, keepdims=True).clip(1e-12)
    events: dict[str, npt.NDArray[np.int64]] = {}
    for side, candidates in (("right", to_right), ("left", to_left)):
        at = np.flatnonzero(candidates)
        boundary = index.boundary_direction(lane[prev[at]], side, xy[at])  # type: ignore[arg-type]
        aligned = np.abs(np.sum(boundary * heading[at], axis=1)) >= LANE_ALIGNMENT_COS
        events[side] = at[aligned]
    # the crossing grows while the object keeps moving across its lane (w: 0 at the left boundary, 1 at the right)
    _, w = lane_position(index, xy, lane)
    usable = ~np.isnan(w) & (w != 0)  # RefAV tests `w0 and w1`: undefined and exactly 0.0 are both false
    mask = {"left": np.zeros(n_rows, dtype=bool), "right": np.zeros(n_rows, dtype=bool)}
    for side, at in events.items():
        # toward[k]: from row k to row k + 1 the object moved toward the side it is changing to
        step = np.append(w[1:] - w[:-1], np.nan)
        toward = usable & np.append(usable[1:], False) & ((step < 0) if side == "left" else (step > 0))
        for i in at.tolist():
            start, first = i - 1, int(ctx.groups.start[i])
            while start > first and (start == i - 1 or toward[start]):
                mask[side][start] = True
                start -= 1
            end, last = i, int(ctx.groups.end[i])
            while end <= last and (end == i or toward[end - 1]):
                mask[side][end] = True
                end += 1
    return mask["left"], mask["right"]


@listed("RefAV", 7)
@unary
def changing_lanes(ctx: LogContext, uuids: list[str], direction: str | None = None) -> dict[str, list[int]]:
    """Timestamps where an object changes lanes (moves into a neighbouring lane), not while turning.

    Args:
        direction: "left", "right", or None for either.

    Prompts say:
        lane change, changing lanes, switching lanes, moving over.

    Example:
        left_lane_changes = changing_lanes(vehicles, log_dir, direction="left")
    """
    from avmine.atomic.functions.motion import turning_rows  # late: motion does not depend on the map

    choice("changing_lanes", "direction", direction, ("left", "right", None))
    return timestamps_where(ctx, uuids, lane_crossing_rows(ctx, direction) & ~turning_rows(ctx, None))


# -- following --------------------------------------------------------------------------------------

FOLLOW_DISTANCE_M = 25.0
"""How far ahead of the follower's front a lead may be (RefAV)."""


@listed("RefAV", 19)
@relational
def following(ctx: LogContext, track_uuids: list[str], related_uuids: list[str]) -> Relations:
    """Tracks following a related object.

    The related object is ahead in the same lane (or the next one), within 25 m of the track's
    front, heading the same way. The follower need not move.

    Prompts say:
        following, behind in the same lane, trailing, tailgating.

    Example:
        cars_following_bus = following(cars, buses, log_dir)
    """
    index = ctx.map_index
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    lane_t = ctx.row_lane[series.row_track]
    lane_c = ctx.row_lane[series.row_candidate]
    first_t = ctx.track_start[series.track[series.pair]]
    half_length_t = ctx.size[first_t, 0] / 2
    position = series.candidate_in_track_frame()
    # every hit is in lanes and ahead: the rest is computed on those rows only
    x = position[:, 0]
    rows = np.flatnonzero((lane_t >= 0) & (lane_c >= 0) & (half_length_t < x) & (x < FOLLOW_DISTANCE_M + half_length_t))
    lane_t, lane_c, half_length_t = lane_t[rows], lane_c[rows], half_length_t[rows]
    half_width_t = ctx.size[first_t[rows], 1] / 2
    half_width_c = ctx.size[ctx.track_start[series.candidate[series.pair[rows]]], 1] / 2
    y = position[rows, 1]
    velocity_c = series.candidate_velocity_in_track_frame()[rows]
    yaw_c = series.candidate_yaw_in_track_frame(compat.current().fix_relative_yaw_alignment, rows)
    velocity_t = ctx.velocity_own_frame[series.row_track[rows]]

    def heading(vectors: npt.NDArray[np.float64], fallback: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        moving = np.linalg.norm(vectors, axis=1) > 0.5
        unit = vectors[:, :2] / np.linalg.norm(vectors[:, :2] + 1e-8, axis=1, keepdims=True)
        return np.where(moving[:, None], unit, fallback)

    heading_c = heading(velocity_c, np.stack([np.cos(yaw_c), np.sin(yaw_c)], axis=1))
    heading_t = heading(velocity_t, np.tile([1.0, 0.0], (len(rows), 1)))
    similar = np.sum(heading_c * heading_t, axis=1) > 0.5

    position_t = np.array([index.index_of[int(i)] for i in lane_t], dtype=np.int64)
    successor = np.array([int(c) in index.successors[p] for c, p in zip(lane_c, position_t, strict=True)], dtype=bool)
    same_lane = ((lane_t == lane_c) | successor) & (y > -5) & (y < 5) & similar
    neighbour = (index.left_neighbor_id[position_t] == lane_c) | (index.right_neighbor_id[position_t] == lane_c)
    overlapping = ((-half_width_t <= y + half_width_c) & (y + half_width_c <= half_width_t)) | (
        (-half_width_t <= y - half_width_c) & (y - half_width_c <= half_width_t)
    )
    beside_lane = neighbour & overlapping & similar
    hit = np.zeros(len(series.pair), dtype=bool)
    hit[rows[same_lane | beside_lane]] = True
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit))


# -- stop signs -------------------------------------------------------------------------------------

STOP_SIGN_RIGHT_M = 7.0
"""How far to the sign's right (the road side it faces) a stopping object may be."""


@relational
def _at_stop_sign_relation(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], forward_thresh: float = 10
) -> Relations:
    """Tracks at one of the given stop signs (the relational core of at_stop_sign)."""
    non_negative("at_stop_sign", forward_thresh=forward_thresh)
    signs = tracks_of(ctx, related_uuids)
    # the track is measured in each sign's frame: pairs with the sign as frame, reported the other way round
    frame_series = build_pairs(ctx, signs, tracks_of(ctx, track_uuids))
    position = frame_series.candidate_in_track_frame()
    yaw = np.degrees(frame_series.candidate_yaw_in_track_frame(compat.current().fix_relative_yaw_alignment))
    sign_first_row = ctx.track_start[frame_series.track[frame_series.pair]]
    sign_lanes = {
        int(s): ctx.map_index.stop_sign_lane(ctx.smoothed_xyz_city[ctx.track_start[s]]) for s in np.unique(signs)
    }
    sign_lane = np.array([sign_lanes[int(ctx.row_track[r])] for r in sign_first_row], dtype=np.int64)
    lane_t = ctx.row_lane[frame_series.row_candidate]
    x, y = position[:, 0], position[:, 1]
    hit = (
        (x > -1) & (x < forward_thresh) & (y > -STOP_SIGN_RIGHT_M) & (y < 0)
        & (lane_t >= 0) & (sign_lane >= 0) & (lane_t == sign_lane) & ((yaw >= 90) | (yaw <= -90))
    )  # fmt: skip
    return _relations(ctx, track_uuids, frame_series.swapped().per_pair_timestamps(hit))


@listed("RefAV", 22)
def at_stop_sign(track_candidates: Scenario, log_dir: Path, forward_thresh: float = 10) -> Scenario:
    """Objects in the lane a stop sign controls, within forward_thresh metres of it, facing it.

    The result is relational: {object: {stop_sign: timestamps}} (the signs are related objects).
    A log without stop signs gives {}.

    Args:
        forward_thresh: metres from the sign along the lane.

    Prompts say:
        stop sign.

    Example:
        cars_at_stop_sign = at_stop_sign(cars, log_dir)
    """
    ctx = context_for(log_dir)
    signs: Scenario = {uuid: ctx.timeline(uuid) for uuid in category_uuids(ctx, "STOP_SIGN")}
    return _at_stop_sign_relation(track_candidates, signs, log_dir, forward_thresh=forward_thresh)
