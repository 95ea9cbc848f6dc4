"""Temporally robust relations: RefAV's relation rules asked of denoised boxes, decided over spells.

Each ``robust_`` function has its faithful counterpart's call style and thresholds, and differs in
three ways:

1. Geometry comes from denoised boxes (``atomic.denoise``): centres and headings averaged over a
   second, front/back box flips removed, the ego's pose as it is.
2. Hysteresis: a relation that meets the thresholds stays on for as long as it meets looser ones
   (angles ``ANGLE_STAY_DEG`` wider, distances ``DISTANCE_STAY_FRACTION`` and ``DISTANCE_STAY_M``
   longer, speeds ``SPEED_STAY_FRACTION`` of the threshold), both before and after.
3. Spells: gaps up to ``max_gap_s`` on the track's own timeline are closed (a dropped box of either
   object does not split a relation) and spells shorter than ``min_duration_s`` are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from atomic.algebra import register_function, reverse_relationship
from atomic.context import LogContext
from atomic.denoise import denoised
from atomic.functions.map import following_rule, lane_crossings, on_relative_side_of_road_rule
from atomic.functions.relations import (
    Relations,
    being_crossed_by_rule,
    facing_toward_rule,
    has_objects_in_relative_direction_rule,
    heading_in_relative_direction_to_rule,
    heading_toward_rule,
    near_objects_rule,
)
from atomic.functions.robust import robust_turning_rule
from atomic.kinematics import Groups
from atomic.lifting import relational, unary
from atomic.scenario import Scenario
from atomic.temporal import spells, sustain
from atomic.validation import ArgumentError, non_negative

ANGLE_STAY_DEG = 10.0
"""An angle condition stays on up to this many degrees beyond its threshold."""
DISTANCE_STAY_FRACTION = 0.0
"""A distance condition stays on up to this fraction beyond its threshold..."""
DISTANCE_STAY_M = 0.5
"""...plus this many metres."""
SPEED_STAY_FRACTION = 0.6
"""A minimum-speed condition stays on down to this fraction of its threshold."""

Rule = Callable[..., Any]
Loosen = Callable[[dict[str, Any]], dict[str, Any]]


def _wider(angle: float) -> float:
    return min(angle + ANGLE_STAY_DEG, 180.0)


def _longer(distance: float) -> float:
    return distance * (1 + DISTANCE_STAY_FRACTION) + DISTANCE_STAY_M


@contextmanager
def _named(faithful: str, robust: str) -> Iterator[None]:
    """Report the faithful rule's argument errors under the robust function's name."""
    try:
        yield
    except ArgumentError as error:
        raise ArgumentError(str(error).replace(f"{faithful}:", f"{robust}:", 1)) from None


def _kept(
    ctx: LogContext,
    keys: list[tuple[str, str]],
    enter: Mapping[str, Mapping[str, list[int]] | list[int]],
    stay: Mapping[str, Mapping[str, list[int]] | list[int]],
    max_gap_s: float,
    min_duration_s: float,
) -> list[list[int]]:
    """Timestamps kept for each (track, related) key: spells of ``stay`` holding an ``enter``, sustained.

    A key's related part is "" for unary answers. Everything runs on the track's own timeline.
    """
    if not keys:
        return []

    def stamps(answer: Mapping[str, Any], track: str, related: str) -> list[int]:
        value = answer.get(track, {})
        return list(value.get(related, ()) if isinstance(value, Mapping) else value)

    rows = [np.arange(*ctx.rows_of(ctx.track_index[track]).indices(len(ctx.row_track))) for track, _ in keys]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    flat = np.concatenate(rows)
    times = ctx.row_timestamp_ns[flat]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    on_enter = np.zeros(len(flat), dtype=bool)
    on_stay = np.zeros(len(flat), dtype=bool)
    for i, (track, related) in enumerate(keys):
        segment = slice(int(bounds[i]), int(bounds[i + 1]))
        on_enter[segment] = np.isin(times[segment], stamps(enter, track, related))
        on_stay[segment] = np.isin(times[segment], stamps(stay, track, related))
    groups = Groups.from_lengths(lengths)
    kept = sustain(spells(on_enter, on_stay, groups), times, groups, max_gap_s, min_duration_s)
    return [times[int(bounds[i]) : int(bounds[i + 1])][kept[int(bounds[i]) : int(bounds[i + 1])]].tolist()
            for i in range(len(keys))]  # fmt: skip


def _durations(name: str, min_duration_s: float, max_gap_s: float) -> None:
    non_negative(name, min_duration_s=min_duration_s, max_gap_s=max_gap_s)


def robust_relation(faithful: Rule, name: str, loosen: Loosen | None = None) -> Rule:
    """The robust rule of a faithful relation rule: denoised boxes, hysteresis, spells.

    The returned rule takes the faithful rule's parameters plus ``min_duration_s`` and ``max_gap_s``;
    ``loosen`` maps the parameters to the looser ones a relation stays on with (none: no hysteresis).
    """
    faithful_name = name.removeprefix("robust_")

    def rule(
        ctx: LogContext,
        track_uuids: list[str],
        related_uuids: list[str],
        min_duration_s: float,
        max_gap_s: float,
        **params: Any,
    ) -> Relations:
        _durations(name, min_duration_s, max_gap_s)
        clean = denoised(ctx)
        with _named(faithful_name, name):
            enter = faithful(clean, track_uuids, related_uuids, **params)
            stay = enter
            if loosen is not None:
                # only pairs that entered can stay on: ask the looser question of those alone
                tracks = [t for t in track_uuids if enter.get(t)]
                found = set().union(*(enter[t].keys() for t in tracks)) if tracks else set()
                related = [r for r in related_uuids if r in found]
                stay = faithful(clean, tracks, related, **loosen(params)) if tracks else {}
        keys = [(t, r) for t in track_uuids for r in enter.get(t, {})]
        out: Relations = {t: {} for t in track_uuids}
        for (track, other), kept in zip(keys, _kept(ctx, keys, enter, stay, max_gap_s, min_duration_s), strict=True):
            if kept:
                out[track][other] = kept
        return out

    rule.__name__ = f"{name}_rule"
    rule.__doc__ = f"{faithful_name} on denoised boxes, held on while looser thresholds hold, in spells."
    return rule


def _looser(**how: Callable[[float], float]) -> Loosen:
    """Loosen the named parameters with the given functions, keeping the others."""
    return lambda params: params | {key: widen(params[key]) for key, widen in how.items()}


# -- rules ----------------------------------------------------------------------------------------------

robust_heading_toward_rule = robust_relation(
    heading_toward_rule, "robust_heading_toward",
    _looser(angle_threshold=_wider, minimum_speed=lambda v: v * SPEED_STAY_FRACTION, max_distance=_longer),
)  # fmt: skip
robust_facing_toward_rule = robust_relation(
    facing_toward_rule, "robust_facing_toward", _looser(within_angle=_wider, max_distance=_longer)
)
robust_heading_in_relative_direction_to_rule = robust_relation(
    heading_in_relative_direction_to_rule, "robust_heading_in_relative_direction_to"
)
robust_has_objects_in_relative_direction_rule = robust_relation(
    has_objects_in_relative_direction_rule, "robust_has_objects_in_relative_direction",
    _looser(within_distance=_longer, lateral_thresh=_longer),
)  # fmt: skip
robust_being_crossed_by_rule = robust_relation(
    being_crossed_by_rule, "robust_being_crossed_by", _looser(forward_thresh=_longer, lateral_thresh=_longer)
)
robust_near_objects_rule = robust_relation(near_objects_rule, "robust_near_objects", _looser(distance_thresh=_longer))
robust_following_rule = robust_relation(following_rule, "robust_following")
robust_on_relative_side_of_road_rule = robust_relation(on_relative_side_of_road_rule, "robust_on_relative_side_of_road")


def robust_changing_lanes_rule(
    ctx: LogContext,
    uuids: list[str],
    direction: str | None = None,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> dict[str, list[int]]:
    """Lane crossings of denoised boxes, except during robust turns, in spells."""
    _durations("robust_changing_lanes", min_duration_s, max_gap_s)
    with _named("changing_lanes", "robust_changing_lanes"):
        crossings = lane_crossings(denoised(ctx), uuids, direction)
    # RefAV's turning sums the yaw rate over runs of one sign: smooth boxes on a curved road add up to a turn
    turns = robust_turning_rule(ctx, uuids)
    found = {u: sorted(set(crossings[u]) - set(turns[u])) for u in uuids}
    keys = [(u, "") for u in uuids if found.get(u)]
    out: dict[str, list[int]] = {u: [] for u in uuids}
    for (uuid, _), kept in zip(keys, _kept(ctx, keys, found, found, max_gap_s, min_duration_s), strict=True):
        out[uuid] = kept
    return out


# -- the functions programs call --------------------------------------------------------------------


@relational(robust_heading_toward_rule)
def robust_heading_toward(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    angle_threshold: float = 22.5,
    minimum_speed: float = 0.5,
    max_distance: float = np.inf,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks moving toward a related object, robust to tracker noise (heading_toward's thresholds).

    Decided on denoised boxes; stays on within 10° more, at 60% of minimum_speed, and 10% + 1 m
    farther; gaps up to max_gap_s closed, spells under min_duration_s dropped.

    Args:
        angle_threshold: largest angle between the velocity and the direction to the object, degrees.
        minimum_speed: closing speed in metres per annotation sample (0.5 is 5 m/s at 10 Hz).
        max_distance: metres between the boxes' footprints.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        approaching_ego = robust_heading_toward(cars, ego, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@relational(robust_facing_toward_rule)
def robust_facing_toward(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    within_angle: float = 22.5,
    max_distance: float = 50,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks whose front points at a related object, robust to box jitter and flips (facing_toward's thresholds).

    Decided on denoised, flip-free headings; stays on within 10° more and 10% + 1 m farther.

    Args:
        within_angle: half-angle of the cone ahead of the track, degrees.
        max_distance: metres between the boxes' footprints.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        cars_facing_peds = robust_facing_toward(cars, peds, log_dir, within_angle=15, max_distance=20)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@relational(robust_heading_in_relative_direction_to_rule)
def robust_heading_in_relative_direction_to(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    direction: str,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks travelling in a direction relative to related objects, decided on denoised boxes, in spells.

    Args:
        direction: "same" (≤ 45°), "opposite" (≥ 135°) or "perpendicular".
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        oncoming = robust_heading_in_relative_direction_to(cars, ego, log_dir, direction="opposite")
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@relational(robust_has_objects_in_relative_direction_rule)
def robust_has_objects_in_relative_direction(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    direction: str,
    min_number: float = 1,
    max_number: float = np.inf,
    within_distance: float = 50,
    lateral_thresh: float = np.inf,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks with related objects ahead, behind, left or right, robust to tracker noise.

    has_objects_in_relative_direction's rule on denoised boxes; an object found stays found
    while within 10% + 1 m more of within_distance and lateral_thresh; in spells.

    Args:
        direction: "forward", "backward", "left" or "right", relative to each track's heading.
        min_number: how many objects must be found at a timestamp.
        max_number: at most this many, nearest first, per track and timestamp.
        within_distance: metres between the boxes' footprints.
        lateral_thresh: metres the region may extend beyond the track's box.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        ego_with_lead = robust_has_objects_in_relative_direction(ego, cars, log_dir, direction="forward",
                                                                 max_number=1, within_distance=25)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@register_function
def robust_get_objects_in_relative_direction(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    direction: str,
    min_number: int = 0,
    max_number: float = np.inf,
    within_distance: float = 50,
    lateral_thresh: float = np.inf,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """The related objects found in a direction from the tracks, keyed by them, robust to tracker noise.

    robust_has_objects_in_relative_direction with the relationship reversed.

    Args:
        direction: "forward", "backward", "left" or "right", relative to each track's heading.
        min_number: how many objects must be found at a timestamp (0 behaves like 1).
        max_number: at most this many, nearest first, per track and timestamp.
        within_distance: metres between the boxes' footprints.
        lateral_thresh: metres the region may extend beyond the track's box.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        peds_ahead_of_ego = robust_get_objects_in_relative_direction(ego, peds, log_dir, direction="forward")
    """
    lifted = reverse_relationship(robust_has_objects_in_relative_direction)
    return lifted(track_candidates, related_candidates, log_dir, direction, min_number, max_number,
                  within_distance, lateral_thresh, min_duration_s, max_gap_s)  # fmt: skip


@relational(robust_being_crossed_by_rule)
def robust_being_crossed_by(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    direction: str = "forward",
    in_direction: str = "either",
    forward_thresh: float = 10,
    lateral_thresh: float = 5,
    min_duration_s: float = 0.3,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks whose half-midplane is crossed by a related object, robust to tracker noise.

    being_crossed_by's rule on denoised boxes (a jittered centre does not cross the plane back and
    forth); a crossing stays on with 10% + 1 m longer reaches; in spells.

    Args:
        direction: where the plane reaches from the track: "forward", "backward", "left", "right".
        in_direction: "clockwise", "counterclockwise" or "either" (seen from above).
        forward_thresh: metres the plane extends beyond the track's box.
        lateral_thresh: metres past the centre line until the crossing stops counting.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        crossed_by_peds = robust_being_crossed_by(ego, peds, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@relational(robust_near_objects_rule)
def robust_near_objects(
    track_uuid: Scenario,
    candidate_uuids: Scenario,
    log_dir: Path,
    distance_thresh: float = 10,
    min_objects: int = 1,
    include_self: bool = False,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks with at least min_objects related objects within distance_thresh metres, robust to noise.

    Decided on denoised boxes; a near object stays near within 10% + 1 m more; in spells.

    Args:
        distance_thresh: metres between the boxes' footprints.
        min_objects: how many related objects must be near at once; 0 means all of them.
        include_self: count a track as near itself when it is also a related candidate.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        cars_near_peds = robust_near_objects(cars, peds, log_dir, distance_thresh=5)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@relational(robust_following_rule)
def robust_following(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    min_duration_s: float = 1.0,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks following a related object (following's rule) on denoised boxes, for at least min_duration_s.

    Args:
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        cars_following_bus = robust_following(cars, buses, log_dir)
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@relational(robust_on_relative_side_of_road_rule)
def robust_on_relative_side_of_road(
    track_candidates: Scenario,
    related_candidates: Scenario,
    log_dir: Path,
    side: str,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Tracks with a related object on the same or opposite side of the road, in spells.

    Args:
        side: "same" (lanes going the track's way) or "opposite".
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.

    Example:
        oncoming_side = robust_on_relative_side_of_road(cars, cars, log_dir, side="opposite")
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule


@unary(robust_changing_lanes_rule)
def robust_changing_lanes(
    track_candidates: Scenario,
    log_dir: Path,
    direction: str | None = None,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Timestamps where an object changes lanes (changing_lanes' rule), decided on denoised boxes, in spells.

    A jittered centre near a lane line no longer hops lanes; a lane change shorter than
    min_duration_s is dropped.

    Args:
        direction: "left", "right", or None for either.
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed, in seconds.

    Example:
        left_lane_changes = robust_changing_lanes(vehicles, log_dir, direction="left")
    """
    raise NotImplementedError  # declaration only: the decorator runs the rule
