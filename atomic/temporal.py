"""Temporal evidence over grouped time series: windowed means, hysteresis, gap closing, minimum durations.

The robust functions decide on evidence from several frames instead of one: a signal is averaged
over a time window, a state turns on past one threshold and off only past a looser one, short
gaps (a dropped frame, a flicker) are closed and short runs dropped. Everything works on all
groups (tracks, or pairs of tracks) at once: rows are contiguous per group and sorted by time
within it, as ``avmine.atomic.kinematics.Groups`` describes.
"""

from __future__ import annotations

import numpy as np

from avmine.atomic.kinematics import Groups
from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt


def _keys(times_ns: NDArrayInt, groups: Groups, pad_ns: int) -> tuple[NDArrayInt, int]:
    """A sort key that keeps groups apart by more than any window: group start x span + time."""
    times = np.asarray(times_ns, dtype=np.int64)
    if len(times) == 0:
        return times, 1
    span = int(times.max() - times.min()) + 2 * pad_ns + 1
    return groups.start * span + (times - times.min()), span


def window_mean(
    values: NDArrayFloat,
    times_ns: NDArrayInt,
    groups: Groups,
    before_s: float | NDArrayFloat,
    after_s: float | NDArrayFloat,
    shift_s: float = 0.0,
) -> NDArrayFloat:
    """Mean of ``values`` over each row's window [t + shift_s - before_s, t + shift_s + after_s] in its group.

    ``before_s`` and ``after_s`` are seconds, one for all rows or one per row. NaN values are left
    out of the means; a window with no values (past a group's end) is NaN.
    """
    before_ns = np.rint(np.asarray(before_s, dtype=np.float64) * 1e9).astype(np.int64)
    after_ns = np.rint(np.asarray(after_s, dtype=np.float64) * 1e9).astype(np.int64)
    pad = round(abs(shift_s) * 1e9) + max(int(np.max(before_ns, initial=0)), int(np.max(after_ns, initial=0)))
    key, _ = _keys(times_ns, groups, pad)
    centre = key + round(shift_s * 1e9)
    lo = np.searchsorted(key, centre - before_ns, side="left")
    hi = np.searchsorted(key, centre + after_ns, side="right")
    hi = np.maximum(hi, lo)
    data = np.asarray(values, dtype=np.float64)
    valid = ~np.isnan(data)
    zeros = np.zeros((1, *data.shape[1:]))
    sums = np.concatenate([zeros, np.cumsum(np.where(valid, data, 0.0), axis=0)])
    counts = np.concatenate([zeros, np.cumsum(valid, axis=0)])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: NDArrayFloat = (sums[hi] - sums[lo]) / (counts[hi] - counts[lo])
    return mean


def hysteresis(enter: NDArrayBool, stay: NDArrayBool, groups: Groups) -> NDArrayBool:
    """On from a row where ``enter`` holds, as long as ``stay`` keeps holding (``enter`` implies ``stay``)."""
    stay = np.asarray(stay, dtype=bool) | np.asarray(enter, dtype=bool)
    index = np.arange(len(stay))
    run_start = stay & ((index == groups.start) | ~np.roll(stay, 1))
    seen = np.cumsum(enter)
    # how many enters happened before the start of each row's stay-run
    before_run = np.maximum.accumulate(np.where(run_start, seen - enter, 0)) if len(stay) else seen
    return np.asarray(stay & (seen - before_run > 0))


def true_runs(mask: NDArrayBool, groups: Groups) -> tuple[NDArrayInt, NDArrayInt]:
    """Start and end rows (inclusive) of each run of True that stays within one group."""
    mask = np.asarray(mask, dtype=bool)
    index = np.arange(len(mask))
    starts = np.flatnonzero(mask & ((index == groups.start) | ~np.roll(mask, 1)))
    ends = np.flatnonzero(mask & ((index == groups.end) | ~np.roll(mask, -1)))
    return starts, ends


def _paint(length: int, starts: NDArrayInt, ends: NDArrayInt) -> NDArrayBool:
    cover = np.zeros(length + 1, dtype=np.int64)
    np.add.at(cover, starts, 1)
    np.add.at(cover, ends + 1, -1)
    return np.asarray(np.cumsum(cover[:-1]) > 0)


def close_gaps(mask: NDArrayBool, times_ns: NDArrayInt, groups: Groups, max_gap_s: float) -> NDArrayBool:
    """Fill runs of False inside a group whose neighbouring True rows are at most ``max_gap_s`` apart."""
    mask = np.asarray(mask, dtype=bool)
    starts, ends = true_runs(mask, groups)
    if len(starts) < 2:
        return mask.copy()
    same_group = groups.start[ends[:-1]] == groups.start[starts[1:]]
    gap_s = (times_ns[starts[1:]] - times_ns[ends[:-1]]) / 1e9
    fill = same_group & (gap_s <= max_gap_s + 1e-9)
    return mask | _paint(len(mask), ends[:-1][fill], starts[1:][fill])


def drop_short(mask: NDArrayBool, times_ns: NDArrayInt, groups: Groups, min_duration_s: float) -> NDArrayBool:
    """Keep only runs of True lasting at least ``min_duration_s`` (first to last timestamp)."""
    starts, ends = true_runs(mask, groups)
    keep = (times_ns[ends] - times_ns[starts]) / 1e9 >= min_duration_s - 1e-9
    return _paint(len(mask), starts[keep], ends[keep])


def sustain(
    mask: NDArrayBool, times_ns: NDArrayInt, groups: Groups, max_gap_s: float, min_duration_s: float
) -> NDArrayBool:
    """Close gaps up to ``max_gap_s``, then drop runs shorter than ``min_duration_s``."""
    return drop_short(close_gaps(mask, times_ns, groups, max_gap_s), times_ns, groups, min_duration_s)


def unwrapped_heading(yaw: NDArrayFloat, groups: Groups, flips: bool = True) -> NDArrayFloat:
    """Continuous heading per group (radians).

    With ``flips``, a step beyond 90° is taken as a box flip (a tracker's front/back confusion)
    and removed, since nothing turns 90° between two frames.
    """
    step = np.diff(np.asarray(yaw, dtype=np.float64), prepend=0.0)
    period = np.pi if flips else 2 * np.pi
    step = (step + period / 2) % period - period / 2
    index = np.arange(len(step))
    step[index == groups.start] = 0.0
    total = np.cumsum(step)
    first = np.asarray(yaw, dtype=np.float64)[groups.start]
    return np.asarray(total - total[groups.start] + first)


def spells(enter: NDArrayBool, stay: NDArrayBool, groups: Groups) -> NDArrayBool:
    """Whole runs of ``stay`` that contain an ``enter`` row somewhere (``enter`` implies ``stay``).

    The two-sided form of ``hysteresis``: when a whole log is known, a spell is on from the
    moment the looser condition first held, not only from the moment the strict one did.
    """
    stay = np.asarray(stay, dtype=bool) | np.asarray(enter, dtype=bool)
    starts, ends = true_runs(stay, groups)
    seen = np.concatenate([[0], np.cumsum(enter)])
    keep = seen[ends + 1] - seen[starts] > 0
    return _paint(len(stay), starts[keep], ends[keep])
