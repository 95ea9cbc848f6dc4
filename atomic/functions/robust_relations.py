"""Temporally robust relations: RefAV's relation rules asked of denoised boxes, decided over spells.

Each ``robust_`` function has its faithful counterpart's call style and thresholds, and differs in
three ways:

1. Geometry comes from denoised boxes (``avmine.atomic.denoise``): centres and headings averaged over a
   second, front/back box flips removed, the ego's pose as it is.
2. Hysteresis: a relation that meets the thresholds stays on for as long as it meets looser ones
   (angles ``ANGLE_STAY_DEG`` wider, distances ``DISTANCE_STAY_FRACTION`` and ``DISTANCE_STAY_M``
   longer, speeds ``SPEED_STAY_FRACTION`` of the threshold), both before and after.
3. Spells: gaps up to ``max_gap_s`` on the track's own timeline are closed (a dropped box of either
   object does not split a relation) and spells shorter than ``min_duration_s`` are dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from avmine.atomic.algebra import register_function, reverse_relationship
from avmine.atomic.context import LogContext
from avmine.atomic.denoise import denoised
from avmine.atomic.functions.map import following, lane_crossings, on_relative_side_of_road
from avmine.atomic.functions.relations import (
    Relations,
    being_crossed_by,
    facing_toward,
    get_objects_in_relative_direction,
    has_objects_in_relative_direction,
    heading_in_relative_direction_to,
    heading_toward,
    near_objects,
)
from avmine.atomic.functions.robust import in_spells, robust_turning, rows_at
from avmine.atomic.kinematics import Groups
from avmine.atomic.lifting import Relational, relational, unary
from avmine.atomic.listing import listed
from avmine.atomic.scenario import Scenario
from avmine.atomic.temporal import spells, sustain
from avmine.atomic.validation import ArgumentError, non_negative

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


SPELL_ARGS = """\
        min_duration_s: shortest spell kept, in seconds.
        max_gap_s: longest gap closed on the track's timeline, in seconds.
"""
"""How every robust relation documents the parameters it adds to its faithful function's."""


def robust_relation(
    faithful: Relational[...],
    doc: str,
    loosen: Loosen | None = None,
    *,
    position: int | None = None,
    min_duration_s: float = 0.5,
    max_gap_s: float = 0.5,
) -> Relational[...]:
    """The robust variant of a faithful relation, ``robust_<name>``: denoised boxes, hysteresis, spells.

    Its parameters are the faithful function's plus ``min_duration_s`` and ``max_gap_s`` (with these
    defaults); its docstring is ``doc`` with an Args section made of the faithful function's entries
    and ``SPELL_ARGS``, before ``doc``'s example. ``loosen`` maps the parameters to the looser ones a
    relation stays on with (none: no hysteresis). It is listed as robust at ``position`` (see
    ``avmine.atomic.listing``).
    """
    name = f"robust_{faithful.__name__}"
    faithful_name = faithful.__name__
    faithful_rule: Rule = faithful.rule

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
            enter = faithful_rule(clean, track_uuids, related_uuids, **params)
            stay = enter
            if loosen is not None:
                # only pairs that entered can stay on: ask the looser question of those alone
                tracks = [t for t in track_uuids if enter.get(t)]
                found = set().union(*(enter[t].keys() for t in tracks)) if tracks else set()
                related = [r for r in related_uuids if r in found]
                stay = faithful_rule(clean, tracks, related, **loosen(params)) if tracks else {}
        keys = [(t, r) for t in track_uuids for r in enter.get(t, {})]
        out: Relations = {t: {} for t in track_uuids}
        for (track, other), kept in zip(keys, _kept(ctx, keys, enter, stay, max_gap_s, min_duration_s), strict=True):
            if kept:
                out[track][other] = kept
        return out

    declared = inspect.signature(faithful_rule)
    spell = [
        inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value, annotation="float")
        for key, value in (("min_duration_s", min_duration_s), ("max_gap_s", max_gap_s))
    ]
    rule.__signature__ = declared.replace(parameters=[*declared.parameters.values(), *spell])  # type: ignore[attr-defined]
    rule.__name__ = rule.__qualname__ = name
    rule.__doc__ = _robust_doc(doc, faithful, list(declared.parameters)[3:])
    track, related = list(inspect.signature(faithful).parameters)[:2]  # the names the docs show, RefAV's
    return listed("robust", position)(relational(track=track, related=related)(rule))


def _robust_doc(doc: str, faithful: Callable[..., Any], shared: list[str]) -> str:
    """``doc`` with an Args section: the faithful function's entries for ``shared``, then ``SPELL_ARGS``."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_args = False
    for line in (faithful.__doc__ or "").splitlines():
        if line.strip().endswith(":") and line.startswith("    ") and not line.startswith("     "):
            in_args = line.strip() == "Args:"
            current = None
        elif in_args and line.startswith(" " * 8) and not line.startswith(" " * 9):
            current = entries.setdefault(line.split(":")[0].strip(), [])
            current.append(line)
        elif in_args and current is not None and line.strip():
            current.append(line)
    args = "".join(line + "\n" for key in shared for line in entries[key]) + SPELL_ARGS
    head, example, tail = doc.partition("    Example:")
    return f"{head}    Args:\n{args}\n{example}{tail}"


def _looser(**how: Callable[[float], float]) -> Loosen:
    """Loosen the named parameters with the given functions, keeping the others."""
    return lambda params: params | {key: widen(params[key]) for key, widen in how.items()}


# -- the functions programs call: each the robust variant of a faithful relation ----------------------

robust_heading_toward = robust_relation(
    heading_toward,
    """Tracks moving toward a related object, robust to tracker noise (heading_toward's thresholds).

    Decided on denoised boxes; stays on within 10° more, at 60% of minimum_speed, and 10% + 1 m
    farther; gaps up to max_gap_s closed, spells under min_duration_s dropped.

    Example:
        approaching_ego = robust_heading_toward(cars, ego, log_dir)
    """,
    _looser(angle_threshold=_wider, minimum_speed=lambda v: v * SPEED_STAY_FRACTION, max_distance=_longer),
    position=9,
)
robust_facing_toward = robust_relation(
    facing_toward,
    """Tracks whose front points at a related object, robust to box jitter and flips (facing_toward's thresholds).

    Decided on denoised, flip-free headings; stays on within 10° more and 10% + 1 m farther.

    Example:
        cars_facing_peds = robust_facing_toward(cars, peds, log_dir, within_angle=15, max_distance=20)
    """,
    _looser(within_angle=_wider, max_distance=_longer),
    position=10,
)
robust_heading_in_relative_direction_to = robust_relation(
    heading_in_relative_direction_to,
    """Tracks travelling in a direction relative to related objects, decided on denoised boxes, in spells.

    Example:
        oncoming = robust_heading_in_relative_direction_to(cars, ego, log_dir, direction="opposite")
    """,
    position=8,
)
robust_has_objects_in_relative_direction = robust_relation(
    has_objects_in_relative_direction,
    """Tracks with related objects ahead, behind, left or right, robust to tracker noise.

    has_objects_in_relative_direction's rule on denoised boxes; an object found stays found
    while within 10% + 1 m more of within_distance and lateral_thresh; in spells.

    Example:
        ego_with_lead = robust_has_objects_in_relative_direction(ego, cars, log_dir, direction="forward",
                                                                 max_number=1, within_distance=25)
    """,
    _looser(within_distance=_longer, lateral_thresh=_longer),
    position=6,
)
robust_being_crossed_by = robust_relation(
    being_crossed_by,
    """Tracks whose half-midplane is crossed by a related object, robust to tracker noise.

    being_crossed_by's rule on denoised boxes (a jittered centre does not cross the plane back and
    forth); a crossing stays on with 10% + 1 m longer reaches; in spells.

    Example:
        crossed_by_peds = robust_being_crossed_by(ego, peds, log_dir)
    """,
    _looser(forward_thresh=_longer, lateral_thresh=_longer),
    min_duration_s=0.3,
    position=11,
)
robust_near_objects = robust_relation(
    near_objects,
    """Tracks with at least min_objects related objects within distance_thresh metres, robust to noise.

    Decided on denoised boxes; a near object stays near within 10% + 1 m more; in spells.

    Example:
        cars_near_peds = robust_near_objects(cars, peds, log_dir, distance_thresh=5)
    """,
    _looser(distance_thresh=_longer),
    position=12,
)
robust_following = robust_relation(
    following,
    """Tracks following a related object (following's rule) on denoised boxes, for at least min_duration_s.

    Example:
        cars_following_bus = robust_following(cars, buses, log_dir)
    """,
    min_duration_s=1.0,
    position=13,
)
robust_on_relative_side_of_road = robust_relation(
    on_relative_side_of_road,
    """Tracks with a related object on the same or opposite side of the road, in spells.

    Example:
        oncoming_side = robust_on_relative_side_of_road(cars, cars, log_dir, side="opposite")
    """,
    position=14,
)


@listed("robust", 2)
@unary
@in_spells(min_duration_s=0.5, max_gap_s=0.5)
def robust_changing_lanes(ctx: LogContext, uuids: list[str], direction: str | None = None) -> npt.NDArray[np.bool_]:
    """Timestamps where an object changes lanes (changing_lanes' rule), decided on denoised boxes, in spells.

    A jittered centre near a lane line no longer hops lanes; a lane change shorter than
    min_duration_s is dropped.

    Args:
        direction: "left", "right", or None for either.

    Example:
        left_lane_changes = robust_changing_lanes(vehicles, log_dir, direction="left")
    """
    with _named("changing_lanes", "robust_changing_lanes"):
        crossings = lane_crossings(denoised(ctx), uuids, direction)
    # RefAV's turning sums the yaw rate over runs of one sign: smooth boxes on a curved road add up to a turn
    turns = robust_turning.rule(ctx, uuids)
    return rows_at(ctx, {u: set(crossings[u]) - set(turns[u]) for u in uuids})


def robust_reversal(
    faithful: Callable[..., Scenario], tester: Relational[...], doc: str, *, position: int | None = None
) -> Callable[..., Scenario]:
    """The robust variant of a faithful reversed relation: ``tester`` (a robust relation) reversed.

    Its parameters are ``faithful``'s (their defaults too) plus the tester's ``min_duration_s`` and
    ``max_gap_s``; its docstring is ``doc`` with Args made as ``robust_relation`` makes them. It is
    listed as robust at ``position``.
    """
    declared = inspect.signature(faithful)
    spell = [p for name, p in inspect.signature(tester).parameters.items() if name in ("min_duration_s", "max_gap_s")]
    signature = declared.replace(parameters=[*declared.parameters.values(), *spell])
    lifted = reverse_relationship(tester)

    def reversal(*args: Any, **kwargs: Any) -> Scenario:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return lifted(*bound.args, **bound.kwargs)

    reversal.__name__ = reversal.__qualname__ = f"robust_{faithful.__name__}"
    reversal.__signature__ = signature  # type: ignore[attr-defined]
    reversal.__doc__ = _robust_doc(doc, faithful, list(declared.parameters)[3:])
    return listed("robust", position)(register_function(reversal))


robust_get_objects_in_relative_direction = robust_reversal(
    get_objects_in_relative_direction,
    robust_has_objects_in_relative_direction,
    """The related objects found in a direction from the tracks, keyed by them, robust to tracker noise.

    robust_has_objects_in_relative_direction with the relationship reversed.

    Example:
        peds_ahead_of_ego = robust_get_objects_in_relative_direction(ego, peds, log_dir, direction="forward")
    """,
    position=7,
)
