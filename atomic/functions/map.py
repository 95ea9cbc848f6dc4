"""Rules about where objects are on the map: lanes, intersections, crossings, drivable area, road sides.

Positions are RefAV's smoothed centres; lanes are RefAV's per-track lane assignment (each box
gets the lane that holds most of its track's timeline among the lanes containing it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from atomic import compat
from atomic.context import LogContext
from atomic.functions._select import timestamps_where, tracks_of
from atomic.functions.relations import Relations, _relations
from atomic.lifting import relational, unary
from atomic.pairs import build_pairs
from atomic.scenario import Scenario
from atomic.validation import choice, non_negative

LANE_TYPES = ("VEHICLE", "BIKE", "BUS")


def _lane_table(ctx: LogContext) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.str_]]:
    """Per box: whether its lane is an intersection lane, and its lane type ('' without a lane)."""
    index = ctx.map_index
    lane = ctx.row_lane
    has = lane >= 0
    position = np.zeros(len(lane), dtype=np.int64)
    position[has] = [index.index_of[int(i)] for i in lane[has]]
    is_intersection = has & index.is_intersection[position]
    lane_type = np.where(has, index.lane_type[position], "")
    return is_intersection, lane_type


def _on_lane_type_rule(ctx: LogContext, uuids: list[str], lane_type: str) -> dict[str, list[int]]:
    choice("on_lane_type", "lane_type", lane_type, LANE_TYPES)
    return timestamps_where(ctx, uuids, _lane_table(ctx)[1] == lane_type)


@unary(_on_lane_type_rule)
def on_lane_type(track_uuid: Scenario, log_dir: Path, lane_type: str) -> Scenario:
    """Timestamps where an object is in a lane of a type.

    Args:
        lane_type: "VEHICLE", "BIKE" or "BUS".

    Example:
        in_bike_lane = on_lane_type(vehicles, log_dir, lane_type="BIKE")
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _on_intersection_rule(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    return timestamps_where(ctx, uuids, _lane_table(ctx)[0])


@unary(_on_intersection_rule)
def on_intersection(track_candidates: Scenario, log_dir: Path) -> Scenario:
    """Timestamps where an object is inside an intersection (its lane is an intersection lane).

    Example:
        in_intersection = on_intersection(vehicles, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _on_road_rule(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    return timestamps_where(ctx, uuids, ctx.row_lane >= 0)


@unary(_on_road_rule)
def on_road(track_candidates: Scenario, log_dir: Path) -> Scenario:
    """Timestamps where an object is on a road lane (any lane type, intersections included).

    Parking lots and driveways are drivable area but not road; see in_drivable_area.

    Example:
        peds_on_road = on_road(peds, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _in_drivable_area_rule(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    return timestamps_where(ctx, uuids, ctx.map_regions.in_drivable_area(ctx.smoothed_xyz_city[:, :2]))


@unary(_in_drivable_area_rule)
def in_drivable_area(track_candidates: Scenario, log_dir: Path) -> Scenario:
    """Timestamps where an object's centre is in the drivable area (roads, parking lots, driveways).

    Example:
        peds_in_drivable_area = in_drivable_area(peds, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _near_intersection_rule(ctx: LogContext, uuids: list[str], threshold: float) -> dict[str, list[int]]:
    non_negative("near_intersection", threshold=threshold)
    near = ctx.map_regions.near_intersection(ctx.smoothed_xyz_city[:, :2], threshold)
    return timestamps_where(ctx, uuids, near)


@unary(_near_intersection_rule)
def near_intersection(track_uuid: Scenario, log_dir: Path, threshold: float = 5) -> Scenario:
    """Timestamps where an object is within threshold metres of an intersection (or inside it).

    Args:
        threshold: metres from the intersection's lanes.

    Example:
        approaching_intersection = near_intersection(vehicles, log_dir, threshold=10)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _at_pedestrian_crossing_rule(ctx: LogContext, uuids: list[str], within_distance: float) -> dict[str, list[int]]:
    non_negative("at_pedestrian_crossing", within_distance=within_distance)
    footprints = ctx.footprints_city
    if compat.current().fix_pedestrian_crossing:
        hit = ctx.map_regions.at_pedestrian_crossing_fixed(footprints, within_distance)
    else:
        hit = ctx.map_regions.at_pedestrian_crossing_refav(footprints, within_distance, ctx.row_track)
    return timestamps_where(ctx, uuids, hit)


@unary(_at_pedestrian_crossing_rule)
def at_pedestrian_crossing(track_candidates: Scenario, log_dir: Path, within_distance: float = 1) -> Scenario:
    """Timestamps where an object's box touches a pedestrian crossing grown by within_distance metres.

    By default this reproduces RefAV exactly, including its bug: after its first timestamp an
    object counts only while it keeps overlapping a crossing it overlapped at the previous
    timestamp, so one that walks onto a crossing later is never found (avmine.atomic.compat has the
    fix switch, fix_pedestrian_crossing).

    Args:
        within_distance: metres around the crossing; 0 means on the crossing itself.

    Example:
        peds_at_crossing = at_pedestrian_crossing(peds, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _lane_relation(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], lanes_of: dict[int, list[int]]
) -> Relations:
    """Related objects whose lane, at a timestamp, is among ``lanes_of[track's lane then]``."""
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    lane_t = ctx.row_lane[series.row_track]
    lane_c = ctx.row_lane[series.row_candidate]
    hit = np.zeros(len(lane_t), dtype=bool)
    for lane, members in lanes_of.items():
        rows = lane_t == lane
        hit[rows] = np.isin(lane_c[rows], members)
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit & (lane_c >= 0)))


def _track_lanes(ctx: LogContext, track_uuids: list[str]) -> list[int]:
    tracks = tracks_of(ctx, track_uuids)
    rows = np.isin(ctx.row_track, tracks)
    return [int(lane) for lane in np.unique(ctx.row_lane[rows]) if lane >= 0]


def _in_same_lane_rule(ctx: LogContext, track_uuids: list[str], related_uuids: list[str]) -> Relations:
    index = ctx.map_index
    lanes_of = {lane: index.semantic_lane(lane) for lane in _track_lanes(ctx, track_uuids)}
    return _lane_relation(ctx, track_uuids, related_uuids, lanes_of)


@relational(_in_same_lane_rule)
def in_same_lane(track_candidates: Scenario, related_candidates: Scenario, log_dir: Path) -> Scenario:
    """Tracks sharing their lane with a related object (the whole lane as people mean it, across segments).

    Example:
        cars_sharing_lane_with_bikes = in_same_lane(cars, bicycles, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


def _on_relative_side_of_road_rule(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], side: str
) -> Relations:
    choice("on_relative_side_of_road", "side", side, ("same", "opposite"))
    index = ctx.map_index
    lanes_of = {lane: index.road_side(lane, side) for lane in _track_lanes(ctx, track_uuids)}
    return _lane_relation(ctx, track_uuids, related_uuids, lanes_of)


@relational(_on_relative_side_of_road_rule)
def on_relative_side_of_road(
    track_candidates: Scenario, related_candidates: Scenario, log_dir: Path, side: str
) -> Scenario:
    """Tracks with a related object on the same or the opposite side of the road.

    Args:
        side: "same" (lanes going the track's way) or "opposite" (lanes going the other way).

    Example:
        oncoming_side = on_relative_side_of_road(cars, cars, log_dir, side="opposite")
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule
