"""Objects moved by people: a stroller pushed, a bicycle walked, a wheelchair pushed, a box carried.

Definition (units: metres, seconds, m/s): the object moves (1-second mean speed at least
``min_speed``, 0.3 m/s) with a person (a pedestrian or official signaler) within ``max_distance``
(1 m, gap between the boxes) whose velocity differs from the object's by less than 0.5 m/s, for
at least ``min_duration_s`` (1 s); decided on denoised boxes. A person walking past a parked
bicycle does not move it.
"""

from __future__ import annotations

import numpy as np

from avmine.atomic.context import LogContext
from avmine.atomic.denoise import denoised
from avmine.atomic.functions._select import tracks_of
from avmine.atomic.functions.relations import Relations
from avmine.atomic.lifting import relational
from avmine.atomic.listing import listed
from avmine.atomic.pairs import build_pairs
from avmine.atomic.temporal import sustain, window_mean
from avmine.atomic.validation import non_negative

MOVERS = ("PEDESTRIAN", "OFFICIAL_SIGNALER")
"""Who can push or carry."""
SAME_VELOCITY_MPS = 0.5
"""Largest difference of the 1-second mean velocities of an object and the person moving it."""


@listed("behaviour", 21)
@relational
def moved_by_person(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    max_distance: float = 1.0,
    min_speed: float = 0.3,
    min_duration_s: float = 1.0,
) -> Relations:
    """Objects pushed, pulled or carried by a person, related to that person.

    The object moves at min_speed or more with a pedestrian (or official signaler) among the
    related candidates within max_distance metres, their velocities within 0.5 m/s of each other,
    for min_duration_s. Reverse the relationship to find the people doing it.

    Args:
        max_distance: metres between the boxes' footprints.
        min_speed: the object's 1-second mean speed, m/s.
        min_duration_s: shortest spell kept, in seconds.

    Prompts say:
        pushing, pulling, carrying, walking their bike, walking a bike, pushing a stroller, pushing a cart,
        wheeling.

    Example:
        pushed_strollers = moved_by_person(strollers, peds, log_dir)
        people_pushing = reverse_relationship(moved_by_person)(strollers, peds, log_dir)
    """
    non_negative("moved_by_person", max_distance=max_distance, min_speed=min_speed, min_duration_s=min_duration_s)
    clean = denoised(ctx)
    people = [u for u in related_uuids if u in ctx.track_index and ctx.track_category[ctx.track_index[u]] in MOVERS]
    movers = set(people)
    objects = [u for u in track_uuids if u not in movers]
    out: Relations = {u: {} for u in track_uuids}
    if not objects or not people:
        return out
    series = build_pairs(clean, tracks_of(clean, objects), tracks_of(clean, people))
    if not len(series.pair):
        return out
    velocity = window_mean(clean.velocity_city[:, :2], clean.row_timestamp_ns, clean.groups, 0.5, 0.5)
    v_object, v_person = velocity[series.row_track], velocity[series.row_candidate]
    together = (
        (np.linalg.norm(v_object, axis=1) >= min_speed)
        & (np.linalg.norm(v_object - v_person, axis=1) < SAME_VELOCITY_MPS)
        & (series.footprint_distance <= max_distance)
    )
    kept = sustain(together, series.timestamps_ns, series.groups, 0.3, min_duration_s)
    for (track, person), stamps in series.per_pair_timestamps(kept).items():
        out[ctx.track_uuids[track]][ctx.track_uuids[person]] = stamps
    return out
