"""Rules about two objects: crossing and relative heading; distance-based relations join them.

A relational rule takes the log context, the track uuids and the related uuids, and returns
``{track: {related: [timestamps]}}`` over full timelines; every track appears, with ``{}``
when nothing relates to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from avmine.atomic.algebra import register_function, reverse_relationship
from avmine.atomic.categories import FREE_WILL
from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import tracks_of
from avmine.atomic.lifting import relational
from avmine.atomic.listing import listed
from avmine.atomic.pairs import PairSeries, build_pairs
from avmine.atomic.scenario import Scenario
from avmine.atomic.validation import DIRECTIONS, choice, non_negative

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


@listed("RefAV", 17)
@relational
def being_crossed_by(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    direction: str = "forward",
    in_direction: str = "either",
    forward_thresh: float = 10,
    lateral_thresh: float = 5,
) -> Relations:
    """Tracks whose half-midplane is crossed by a related object's centre.

    Args:
        track_candidates: the objects being crossed.
        related_candidates: the crossing objects.
        log_dir: the log.
        direction: where the plane reaches from the track: "forward", "backward", "left", "right".
        in_direction: "clockwise", "counterclockwise" or "either" (seen from above).
        forward_thresh: metres the plane extends beyond the track's box.
        lateral_thresh: metres past the centre line until the crossing stops counting.

    Prompts say:
        crossing in front of, crossing the path, crosses in front, across the path, across its path, cuts
        across, crossing between, being crossed by, crossed by.

    Example:
        overtaken_on_left = being_crossed_by(cars, cars, log_dir, direction="left",
                                             in_direction="clockwise", forward_thresh=4)
    """
    # The plane starts at the track's box edge and reaches ``forward_thresh`` m beyond it, between
    # the lines of the track's half-width (first-row box). A crossing keeps counting until the object
    # is ``lateral_thresh`` m past the centre line or stops moving across. As RefAV does, once one
    # candidate of a track produced a crossing event, later candidates of that track are tested with
    # the plane ahead of the track whatever ``direction`` was given.
    choice("being_crossed_by", "direction", direction, DIRECTIONS)
    choice("being_crossed_by", "in_direction", in_direction, ("clockwise", "counterclockwise", "either"))
    non_negative("being_crossed_by", forward_thresh=forward_thresh, lateral_thresh=lateral_thresh)
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


def _relative_heading(series: PairSeries) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per row: the angle between T's and C's directions of travel (degrees), and rows too slow to judge."""
    ctx = series.ctx
    row_t, row_r = series.row_track, series.row_candidate
    a = ctx.velocity_city[row_t]
    b = ctx.velocity_city[row_r]
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
    return angle, skip


def _unit(vectors: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # RefAV adds 1e-8 to every component before taking the norm; kept so ties resolve alike.
    unit: npt.NDArray[np.float64] = vectors / np.linalg.norm(vectors + 1e-8, axis=1, keepdims=True)
    return unit


@listed("RefAV", 20)
@relational
def heading_in_relative_direction_to(
    ctx: LogContext, track_uuids: list[str], related_uuids: list[str], direction: str
) -> Relations:
    """Tracks travelling in a direction relative to related objects.

    direction is "same" (≤ 45°), "opposite" (≥ 135°) or "perpendicular" (in between). Both must
    move (over 1 m/s) unless the slow one moves on its own; its box heading is then used.

    Args:
        direction: "same", "opposite" or "perpendicular".

    Prompts say:
        oncoming, opposite direction, same direction, traveling in the same direction, perpendicular, cross
        traffic.

    Example:
        oncoming = heading_in_relative_direction_to(cars, ego, log_dir, direction="opposite")
    """
    # Compares city-frame velocities; a slow object (under 1 m/s) that moves on its own is given
    # its box heading instead, when the other one moves. Angle ≤ 45° is same, 45°–135°
    # perpendicular, 135° up to (not including) 180° opposite.
    choice("heading_in_relative_direction_to", "direction", direction, ("same", "opposite", "perpendicular"))
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    angle, skip = series.memo("relative_heading", lambda: _relative_heading(series))
    if direction == "same":
        hit = angle <= 45
    elif direction == "perpendicular":
        hit = (angle > 45) & (angle < 135)
    elif direction == "opposite":
        hit = (angle >= 135) & (angle < 180)
    else:
        hit = np.zeros(len(angle), dtype=bool)
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit & ~skip))


EGO_HALF_WIDTH_M = 1.0
EGO_FRONT_M = 4.877 / 2 + 1.422
EGO_BACK_M = 4.877 - EGO_FRONT_M
"""RefAV's ego extents for relative directions: the car's centre is 1.422 m ahead of the rear axle.

The back edge is +1.0165 m (RefAV's sign error): for the ego, "backward" means behind a line
just ahead of the rear axle. Kept, since RefAV's published numbers were made with it.
"""


def _group_rank(keys: list[npt.NDArray[np.int64]], order: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Position of each element within its group (groups by equal ``keys``) in the given order."""
    sorted_keys = [k[order] for k in keys]
    new_group = np.ones(len(order), dtype=bool)
    if len(order):
        new_group[1:] = np.any([k[1:] != k[:-1] for k in sorted_keys], axis=0)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - group_start
    return rank


@listed("RefAV", 1)
@relational
def has_objects_in_relative_direction(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    direction: str,
    min_number: int = 1,
    max_number: float = np.inf,
    within_distance: float = 50,
    lateral_thresh: float = np.inf,
) -> Relations:
    """Tracks with related objects in a direction from them; returns {track: {related: timestamps}}.

    Args:
        track_candidates: the objects to look from.
        related_candidates: the objects to look for.
        log_dir: the log.
        direction: "forward", "backward", "left" or "right", relative to the track's heading.
        min_number: how many related objects must be found at a timestamp.
        max_number: at most this many, nearest first, are related per timestamp.
        within_distance: metres between the boxes' footprints.
        lateral_thresh: metres the region may extend sideways beyond the track's box (forward and
            backward) or along it (left and right).

    Prompts say:
        to its left, to its right, left of, right of, on its left, on its right, in front of, ahead of,
        behind, beside, next to, between, lead vehicle.

    Example:
        cars_with_lead = has_objects_in_relative_direction(cars, cars, log_dir, direction="forward",
                                                           max_number=1, within_distance=25)
        # an object between two others: one on each side
        peds_between_cars = scenario_and([
            has_objects_in_relative_direction(peds, cars, log_dir, direction="left", within_distance=3),
            has_objects_in_relative_direction(peds, cars, log_dir, direction="right", within_distance=3),
        ])
    """
    # Per timestamp the candidates in the region are taken nearest first (footprint gap), up to
    # ``max_number`` within ``within_distance`` m; the timestamp counts if at least ``min_number``
    # (and at least one) were taken. ``lateral_thresh`` narrows the region to the box's extent plus
    # that margin. Unknown directions match nothing, as in RefAV.
    # RefAV matches nothing for an unknown direction (its example 9 uses 'front' and 'behind'); say so.
    choice("has_objects_in_relative_direction", "direction", direction, DIRECTIONS)
    non_negative(
        "has_objects_in_relative_direction",
        min_number=min_number,
        max_number=max_number,
        within_distance=within_distance,
        lateral_thresh=lateral_thresh,
    )
    tracks = tracks_of(ctx, track_uuids)
    series = build_pairs(ctx, tracks, tracks_of(ctx, related_uuids))
    # a row farther than within_distance is never taken, nor does it outrank a nearer one: skip it early
    near = np.flatnonzero(series.may_be_within(within_distance))
    first_row = ctx.track_start[series.track[series.pair[near]]]
    is_ego = np.array([u == ctx.ego_uuid for u in ctx.track_uuids])[series.track[series.pair[near]]]
    width = np.where(is_ego, EGO_HALF_WIDTH_M, ctx.size[first_row, 1] / 2)
    front = np.where(is_ego, EGO_FRONT_M, ctx.size[first_row, 0] / 2)
    back = np.where(is_ego, EGO_BACK_M, -ctx.size[first_row, 0] / 2)
    position = series.candidate_in_track_frame(rows=near)
    x, y = position[:, 0], position[:, 1]
    lateral = lateral_thresh
    regions = {
        "left": (y > width) & (back - lateral < x) & (x < front + lateral),
        "right": (y < -width) & (back - lateral < x) & (x < front + lateral),
        "forward": (x > front) & (-width - lateral < y) & (y < width + lateral),
        "backward": (x < back) & (-width - lateral < y) & (y < width + lateral),
    }
    in_region = regions.get(direction, np.zeros(len(x), dtype=bool))
    rows = near[in_region]
    track = series.track[series.pair[rows]]
    time = series.time[rows]
    if max_number == np.inf:  # every candidate within the distance is taken: no ranking, no exact distances
        taken = series.footprint_within(within_distance, rows)
    else:
        distance = series.footprint_distance_upto(within_distance, rows)
        # nearest first within each (track, timestamp); ties keep candidate order (a stable sort)
        order = np.lexsort((series.pair[rows], distance, time, track))
        rank = _group_rank([track, time], order)
        taken = (distance <= within_distance) & (rank < max_number)
    count = np.zeros((len(ctx.track_uuids), len(ctx.timestamps_ns)), dtype=np.int64)
    np.add.at(count, (track[taken], time[taken]), 1)
    keep = taken & (count[track, time] >= max(min_number, 1))
    mask = np.zeros(len(series.pair), dtype=bool)
    mask[rows[keep]] = True
    return _relations(ctx, track_uuids, series.per_pair_timestamps(mask))


@listed("RefAV", 9)
@relational
def facing_toward(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    within_angle: float = 22.5,
    max_distance: float = 50,
) -> Relations:
    """Tracks whose front points at a related object.

    The related object's centre is within within_angle degrees of the track's forward axis and
    within max_distance metres. Orientation only, not motion.

    Args:
        within_angle: half-angle of the cone ahead of the track, degrees.
        max_distance: metres between the boxes' footprints.

    Prompts say:
        facing, looking at, pointed at.

    Example:
        cars_facing_peds = facing_toward(cars, peds, log_dir, within_angle=15, max_distance=20)
    """
    non_negative("facing_toward", within_angle=within_angle, max_distance=max_distance)
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    near = np.flatnonzero(series.may_be_within(max_distance))
    position = series.candidate_in_track_frame(rows=near)
    bearing = np.degrees(np.arctan2(position[:, 1], position[:, 0]))
    ahead = near[np.abs(bearing) <= within_angle]
    hit = np.zeros(len(series.pair), dtype=bool)
    hit[ahead] = series.footprint_within(max_distance, ahead)
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit))


def _gradient_per_sample(values: npt.NDArray[np.float64], series: PairSeries) -> npt.NDArray[np.float64]:
    """``numpy.gradient`` with unit spacing along each group (0 for a single sample)."""
    index = np.arange(len(values))
    start, end = series.groups.start, series.groups.end
    nxt = np.minimum(index + 1, end)
    prv = np.maximum(index - 1, start)
    span = (nxt - prv).astype(np.float64)
    out = np.zeros_like(values)
    ok = span > 0
    out[ok] = (values[nxt[ok]] - values[prv[ok]]) / span[ok]
    return out


@listed("RefAV", 10)
@relational
def heading_toward(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    angle_threshold: float = 22.5,
    minimum_speed: float = 0.5,
    max_distance: float = np.inf,
) -> Relations:
    """Tracks moving toward a related object.

    At a timestamp the track's velocity points within angle_threshold degrees of the object, the
    distance between their centres shrinks by at least minimum_speed metres per annotation sample,
    and their boxes are within max_distance metres. Per sample is RefAV's unit: AV2 annotates at
    10 Hz, so the threshold is 10 x minimum_speed m/s (the default 0.5 needs 5 m/s; pass 0.2 for
    2 m/s). The closing speed is the pair's together and only the direction of the track's own
    velocity counts, not its size: a parked car or a cone (tracker noise of a few cm/s) is referred
    when the related object drives at it. Add has_velocity on the tracks to keep those that move.

    Args:
        angle_threshold: largest angle between the velocity and the direction to the object, degrees.
        minimum_speed: closing speed in metres per annotation sample (m/s divided by 10).
        max_distance: metres between the boxes' footprints.

    Prompts say:
        heading toward, heading towards, approaching, getting closer, closing in, moving toward, driving
        toward, coming at.

    Example:
        closing_in = heading_toward(cars, ego, log_dir, minimum_speed=0.2)  # closing at 2 m/s or more
        approaching_ego = heading_toward(has_velocity(cars, log_dir, min_velocity=1), ego, log_dir, minimum_speed=0.2)
    """
    # RefAV differentiates the distance with numpy.gradient over the sample index
    # (refAV/utils.py: get_nth_radial_deriv), so the unit stays per sample for parity.
    non_negative("heading_toward", angle_threshold=angle_threshold, max_distance=max_distance)
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    closing = series.memo("heading_toward", lambda: _closing(series))
    fast = np.flatnonzero(closing >= minimum_speed)  # few rows: the angle is computed on those only
    moving = fast[_heading_angle(series, fast) <= angle_threshold]
    hit = np.zeros(len(series.pair), dtype=bool)
    hit[moving] = series.footprint_within(max_distance, moving)
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit))


def _closing(series: PairSeries) -> npt.NDArray[np.float64]:
    """Per row: how fast T closes in on C (m per sample)."""
    # the track's distance from the candidate, seen from the candidate, differenced per sample
    radial = np.linalg.norm(series.swapped().candidate_in_track_frame(), axis=1)
    closing: npt.NDArray[np.float64] = -_gradient_per_sample(radial, series)
    return closing


def _heading_angle(series: PairSeries, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """At ``rows``: the angle from T's velocity to C (degrees)."""
    velocity = series.ctx.velocity_own_frame[series.row_track[rows]]
    position = series.candidate_in_track_frame(rows=rows)
    unit_velocity = velocity / (np.linalg.norm(velocity, axis=1, keepdims=True) + 1e-8)
    with np.errstate(invalid="ignore"):
        angle: npt.NDArray[np.float64] = np.degrees(np.arccos(np.sum(unit_velocity * _unit(position), axis=1)))
    return angle


@listed("RefAV", 18)
@relational(track="track_uuid", related="candidate_uuids")
def near_objects(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    distance_thresh: float = 10,
    min_objects: int = 1,
    include_self: bool = False,
) -> Relations:
    """Tracks with at least min_objects related objects within distance_thresh metres (box gap).

    Args:
        distance_thresh: metres between the boxes' footprints.
        min_objects: how many related objects must be near at once; 0 means all of them.
        include_self: count a track as near itself when it is also a related candidate.

    Prompts say:
        near, close to, nearby, multiple, group of, crowd, surrounded by, at least two, at least three,
        walking with, accompanied by, together with.

    Example:
        cars_near_two_peds = near_objects(cars, peds, log_dir, distance_thresh=10, min_objects=2)
        # a group of N objects: each has N - 1 others of its kind near it (here a group of 3 or more)
        peds_in_groups = near_objects(peds, peds, log_dir, distance_thresh=3, min_objects=2)
    """
    non_negative("near_objects", distance_thresh=distance_thresh, min_objects=min_objects)
    needed = min_objects or len(related_uuids)
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids), include_self=include_self)
    near = np.flatnonzero(series.footprint_within(distance_thresh))
    track, time = series.track[series.pair[near]], series.time[near]
    count = np.zeros((len(ctx.track_uuids), len(ctx.timestamps_ns)), dtype=np.int64)
    np.add.at(count, (track, time), 1)
    hit = np.zeros(len(series.pair), dtype=bool)
    hit[near[count[track, time] >= needed]] = True
    return _relations(ctx, track_uuids, series.per_pair_timestamps(hit))


# -- composed from the rules -------------------------------------------------------------------------


@listed("RefAV", 2)
@register_function
def get_objects_in_relative_direction(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    direction: str,
    min_number: int = 0,
    max_number: float = np.inf,
    within_distance: float = 50,
    lateral_thresh: float = np.inf,
) -> Scenario:
    """The related objects found in a direction from the tracks, keyed by the related objects.

    The result is {related: {track: timestamps}}: the objects found, each related to the tracks it
    was found from.

    Args:
        direction: "forward", "backward", "left" or "right", relative to each track's heading.
        min_number: how many objects must be found at a timestamp (0 behaves like 1).
        max_number: at most this many, nearest first, per track and timestamp.
        within_distance: metres between the boxes' footprints.
        lateral_thresh: metres the region may extend beyond the track's box sideways (forward,
            backward) or along it (left, right).

    Prompts say:
        left of, right of, to its left, to its right, in front of, ahead of, behind, first, nearest, second, third,
        n-th, closest.

    Example:
        peds_ahead_of_ego = get_objects_in_relative_direction(ego, peds, log_dir, direction="forward")
        # the n-th object in a direction: the nearest one beyond the (n-1)-th (here the second ahead of the
        # ego); the first must go the ego's way, or the ego is "ahead" of an oncoming car
        others = scenario_not(is_category)(vehicles, log_dir, category="EGO_VEHICLE")
        first_ahead = get_objects_in_relative_direction(ego, others, log_dir, direction="forward", max_number=1)
        same_way = heading_in_relative_direction_to(first_ahead, ego, log_dir, direction="same")
        second_ahead = get_objects_in_relative_direction(same_way, others, log_dir, direction="forward",
                                                         max_number=1)
    """
    lifted = reverse_relationship(has_objects_in_relative_direction)
    return lifted(
        track_candidates,
        related_candidates,
        log_dir,
        direction,
        min_number,
        max_number,
        within_distance,
        lateral_thresh,
    )
