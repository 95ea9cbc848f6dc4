"""RefAV's kinematic primitives, vectorised over groups of rows.

RefAV: ``refAV/utils.py``: ``get_nth_pos_deriv``, ``get_nth_yaw_deriv``, ``get_nth_radial_deriv``.

A *group* is one time series: a track's full timeline, or the timestamps two tracks share.
Rows of a group are contiguous and sorted by time; ``Groups`` says where each row's group
starts and ends, so every operation below runs on all groups at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avmine.store.geometry import central_velocity
from avmine.store.typing import NDArrayFloat, NDArrayInt

MEDIAN_WINDOW = 7
"""RefAV smooths positions and derivatives with a median filter over min(7, N) samples."""


@dataclass(frozen=True)
class Groups:
    """Contiguous groups of rows: ``start[i]`` and ``end[i]`` (inclusive) bound row i's group."""

    start: NDArrayInt
    end: NDArrayInt

    @classmethod
    def from_lengths(cls, lengths: NDArrayInt) -> Groups:
        """Groups of the given lengths, laid out one after the other."""
        lengths = np.asarray(lengths, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return cls(start=np.repeat(starts, lengths), end=np.repeat(starts + lengths - 1, lengths))

    @classmethod
    def from_ids(cls, ids: NDArrayInt) -> Groups:
        """Groups of equal consecutive ids (ids must already be contiguous)."""
        ids = np.asarray(ids)
        if len(ids) == 0:
            return cls(start=np.zeros(0, np.int64), end=np.zeros(0, np.int64))
        boundaries = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        lengths = np.diff(np.concatenate([[0], boundaries, [len(ids)]]))
        return cls.from_lengths(lengths)

    @property
    def length(self) -> NDArrayInt:
        """Length of each row's group, shape (R,)."""
        return self.end - self.start + 1


def median_smooth(values: NDArrayFloat, groups: Groups) -> NDArrayFloat:
    """Scipy's ``median_filter(size=min(7, N), mode='nearest')`` along each group, per column.

    For even window sizes scipy takes the upper median of offsets ``-s//2 .. s//2 - 1``; the
    same rule (rank ``s // 2`` of the sorted window) covers odd sizes, so one formula serves all.

    Args:
        values: samples, shape (R,) or (R, D).
        groups: the groups of the rows.

    Returns:
        Smoothed samples, same shape.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:  # no rows (e.g. no pairs): nothing to smooth, and reshape(0, -1) is ambiguous
        return values.copy()
    flat = values.reshape(len(values), -1)
    size = np.minimum(groups.length, MEDIAN_WINDOW)
    offsets = np.arange(MEDIAN_WINDOW)[None, :] - (size // 2)[:, None]
    index = np.clip(np.arange(len(values))[:, None] + offsets, groups.start[:, None], groups.end[:, None])
    window = flat[index]  # (R, 7, D)
    unused = np.arange(MEDIAN_WINDOW)[None, :] >= size[:, None]
    window[unused] = np.inf  # beyond the window: sorts last, never picked
    window.sort(axis=1)
    picked = np.take_along_axis(window, (size // 2)[:, None, None], axis=1)[:, 0, :]
    return picked.reshape(values.shape)


def derivative(values: NDArrayFloat, timestamps_ns: NDArrayInt, groups: Groups, n: int) -> NDArrayFloat:
    """The n-th time derivative by RefAV's two-sided differences, then one median filter.

    Args:
        values: raw positions, shape (R, D).
        timestamps_ns: row timestamps, shape (R,).
        groups: the groups of the rows.
        n: 0 (smoothed positions), 1 (velocity, m/s) or 2 (acceleration, m/s²).

    Returns:
        Shape (R, D). A single-sample group has derivative zero.
    """
    out = np.asarray(values, dtype=np.float64)
    for _ in range(n):
        out = central_velocity(out, timestamps_ns, groups.start, groups.end)
    return median_smooth(out, groups)


def derivative_at(
    values: NDArrayFloat,
    timestamps_ns: NDArrayInt,
    groups: Groups,
    n: int,
    rows: NDArrayInt,
    take: NDArrayInt | None = None,
) -> NDArrayFloat:
    """``derivative(...)[rows]``, computing only what those rows need (bit for bit the same values).

    Args:
        values: raw positions of the grouped rows, shape (R, D); or, with ``take``, rows of a larger
            array: grouped row i then reads ``values[take[i]]``.
        timestamps_ns: timestamps of the grouped rows, shape (R,).
        groups: the groups of the rows.
        n: 0, 1 or 2, as for ``derivative``.
        rows: the grouped rows wanted, shape (K,).
        take: optional map from grouped rows to rows of ``values``, shape (R,).

    Returns:
        Shape (K, D).
    """
    rows = np.asarray(rows, dtype=np.int64)
    size = np.minimum(groups.length[rows], MEDIAN_WINDOW)
    offsets = np.arange(MEDIAN_WINDOW)[None, :] - (size // 2)[:, None]
    start, end = groups.start[rows][:, None], groups.end[rows][:, None]
    index = np.clip(rows[:, None] + offsets, start, end)  # (K, 7)
    window = _raw_derivative(values, timestamps_ns, groups, n, index, take)  # (K, 7, D)
    unused = np.arange(MEDIAN_WINDOW)[None, :] >= size[:, None]
    window[unused] = np.inf
    window.sort(axis=1)
    picked: NDArrayFloat = np.take_along_axis(window, (size // 2)[:, None, None], axis=1)[:, 0, :]
    return picked


def _raw_derivative(
    values: NDArrayFloat, timestamps_ns: NDArrayInt, groups: Groups, n: int, index: NDArrayInt, take: NDArrayInt | None
) -> NDArrayFloat:
    """The n-th two-sided difference (before smoothing) at the grouped rows ``index`` (any shape)."""
    if n == 0:
        out: NDArrayFloat = np.asarray(values[index if take is None else take[index]], dtype=np.float64)
        return out.reshape(*index.shape, -1)
    nxt = np.minimum(index + 1, groups.end[index])
    prv = np.maximum(index - 1, groups.start[index])
    dt_s = (timestamps_ns[nxt] - timestamps_ns[prv]).astype(np.float64) / 1e9
    after = _raw_derivative(values, timestamps_ns, groups, n - 1, nxt, take)
    before = _raw_derivative(values, timestamps_ns, groups, n - 1, prv, take)
    velocity = np.zeros_like(after)
    moving = dt_s > 0
    velocity[moving] = (after[moving] - before[moving]) / dt_s[moving, None]
    return velocity


def yaw_rate(yaw: NDArrayFloat, timestamps_ns: NDArrayInt, groups: Groups) -> NDArrayFloat:
    """Yaw rate in rad/s: two-sided differences with jumps over ±π unwrapped, no smoothing.

    Args:
        yaw: headings in radians, shape (R,).
        timestamps_ns: row timestamps, shape (R,).
        groups: the groups of the rows.
    """
    index = np.arange(len(yaw))
    nxt = np.minimum(index + 1, groups.end)
    prv = np.maximum(index - 1, groups.start)
    delta = yaw[nxt] - yaw[prv]
    delta = np.where(delta > np.pi, delta - 2 * np.pi, np.where(delta < -np.pi, delta + 2 * np.pi, delta))
    dt_s = (timestamps_ns[nxt] - timestamps_ns[prv]).astype(np.float64) / 1e9
    rate = np.zeros_like(delta)
    moving = dt_s > 0
    rate[moving] = delta[moving] / dt_s[moving]
    return rate
