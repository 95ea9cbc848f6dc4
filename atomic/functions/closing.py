"""Getting closer and moving apart: the distance between two objects changing over time, in m/s.

``heading_toward`` asks where a track's velocity points; these ask whether the gap between two objects
actually shrinks (or grows), whoever moves: a pedestrian the ego drives toward is getting closer to the ego
although the pedestrian walks sideways. The rate is the change of the distance between the boxes' smoothed
centres, averaged over ``window_s`` seconds, so one jittery frame does not make or break it.
"""

from __future__ import annotations

import numpy as np

from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import tracks_of
from avmine.atomic.lifting import relational
from avmine.atomic.listing import listed
from avmine.atomic.pairs import PairSeries, build_pairs
from avmine.atomic.temporal import window_mean
from avmine.atomic.validation import non_negative
from avmine.store.typing import NDArrayFloat

Relations = dict[str, dict[str, list[int]]]


def distance_rate(series: PairSeries, window_s: float) -> NDArrayFloat:
    """Per row: how fast the centres' distance grows (m/s; negative: closing in), averaged over ``window_s``."""
    distance = np.linalg.norm(series.candidate_in_track_frame()[:, :2], axis=1)
    times = series.timestamps_ns
    index = np.arange(len(distance))
    nxt, prv = np.minimum(index + 1, series.groups.end), np.maximum(index - 1, series.groups.start)
    span_s = (times[nxt] - times[prv]) / 1e9
    rate = np.full(len(distance), np.nan)
    ok = span_s > 0
    rate[ok] = (distance[nxt[ok]] - distance[prv[ok]]) / span_s[ok]
    mean: NDArrayFloat = window_mean(rate, times, series.groups, window_s / 2, window_s / 2)
    return np.column_stack([distance, mean])


def _changing(
    ctx: LogContext,
    function: str,
    track_uuids: list[str],
    related_uuids: list[str],
    min_rate: float,
    max_distance: float,
    window_s: float,
    sign: float,
) -> Relations:
    non_negative(function, min_rate=min_rate, max_distance=max_distance, window_s=window_s)
    series = build_pairs(ctx, tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids))
    measured = series.memo(f"distance_rate:{window_s}", lambda: distance_rate(series, window_s))
    with np.errstate(invalid="ignore"):
        hit = (measured[:, 0] <= max_distance) & (sign * measured[:, 1] >= min_rate)
    out: Relations = {uuid: {} for uuid in track_uuids}
    for (track, candidate), stamps in series.per_pair_timestamps(hit).items():
        out[ctx.track_uuids[track]][ctx.track_uuids[candidate]] = stamps
    return out


@listed("behaviour", 23)
@relational
def getting_closer(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    min_rate: float = 0.5,
    max_distance: float = 50.0,
    window_s: float = 1.0,
) -> Relations:
    """Tracks whose distance to a related object shrinks by at least min_rate m/s, whoever is moving.

    "Getting closer to", "approaching", "closing in on", "the gap to the car ahead shrinking". Unlike
    heading_toward it does not ask which way the track moves: only that the distance between the two
    centres falls.

    Args:
        min_rate: slowest closing speed, in m/s (the distance's fall, averaged over window_s).
        max_distance: largest distance between the centres, in metres.
        window_s: seconds the rate is averaged over.

    Prompts say:
        getting closer, approaching, closing in, nearing, coming closer, the gap shrinking.

    Example:
        peds_nearing_ego = getting_closer(peds, ego, log_dir, min_rate=1.0, max_distance=30)
    """
    return _changing(ctx, "getting_closer", track_uuids, related_uuids, min_rate, max_distance, window_s, -1.0)


@listed("behaviour", 24)
@relational
def getting_farther(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    min_rate: float = 0.5,
    max_distance: float = 50.0,
    window_s: float = 1.0,
) -> Relations:
    """Tracks whose distance to a related object grows by at least min_rate m/s, whoever is moving.

    "Moving away from", "pulling away from", "falling behind", "the gap widening".

    Args:
        min_rate: slowest separating speed, in m/s (the distance's growth, averaged over window_s).
        max_distance: largest distance between the centres, in metres.
        window_s: seconds the rate is averaged over.

    Prompts say:
        getting farther, moving away, pulling away, getting further away, falling behind, the gap widening.

    Example:
        peds_leaving_ego = getting_farther(peds, ego, log_dir, min_rate=1.0, max_distance=30)
    """
    return _changing(ctx, "getting_farther", track_uuids, related_uuids, min_rate, max_distance, window_s, 1.0)
