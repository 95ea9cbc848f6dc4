"""One log's non-ego boxes held in memory while they are refined, with each box's provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from avmine.store.typing import NDArrayFloat, NDArrayInt


def wrap(angle: NDArrayFloat) -> NDArrayFloat:
    """Angles wrapped into [-pi, pi)."""
    return np.asarray((angle + np.pi) % (2 * np.pi) - np.pi, dtype=np.float64)


@dataclass(frozen=True)
class Tracks:
    """Rows are boxes sorted by track then time; ``track`` indexes ``uuids``.

    ``raw_row`` is the box's row in the source it was read from (-1: interpolated), so every
    refined box names the raw box it came from.
    """

    uuids: npt.NDArray[np.str_]  # (U,) a track label's uuid
    track: NDArrayInt  # (R,)
    t_ns: NDArrayInt  # (R,)
    xyz: NDArrayFloat  # (R, 3) city frame
    yaw: NDArrayFloat  # (R,) city frame
    size: NDArrayFloat  # (R, 3) length, width, height
    category: npt.NDArray[np.str_]  # (R,)
    score: NDArrayFloat  # (R,) NaN where the source has none
    raw_row: NDArrayInt  # (R,)
    yaw_flipped: npt.NDArray[np.bool_]  # (R,)

    @property
    def interpolated(self) -> npt.NDArray[np.bool_]:
        """Rows the refinement made (no raw box)."""
        return np.asarray(self.raw_row < 0)

    @property
    def t_s(self) -> NDArrayFloat:
        """Row times in seconds (from an arbitrary origin, for fitting)."""
        return np.asarray((self.t_ns - (self.t_ns.min() if len(self.t_ns) else 0)) / 1e9, dtype=np.float64)

    def replace(self, **changes: object) -> Tracks:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def select(self, rows: NDArrayInt | npt.NDArray[np.bool_]) -> Tracks:
        """The given rows (order kept)."""
        fields = {f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self) if f.name != "uuids"}
        return dataclasses.replace(self, **fields)

    def sorted(self) -> Tracks:
        """Rows sorted by track then time."""
        return self.select(np.lexsort((self.t_ns, self.track)))

    def relabel(self, new_label: NDArrayInt) -> Tracks:
        """Tracks merged by ``new_label[old label]`` (a label keeps its uuid), rows re-sorted."""
        return self.replace(track=new_label[self.track]).sorted()

    def bounds(self) -> tuple[NDArrayInt, NDArrayInt, NDArrayInt]:
        """``(labels, first rows, last rows)`` of the tracks that have rows."""
        if not len(self.track):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        starts = np.flatnonzero(np.r_[True, self.track[1:] != self.track[:-1]])
        ends = np.r_[starts[1:] - 1, len(self.track) - 1]
        return self.track[starts], starts.astype(np.int64), ends.astype(np.int64)

    def row_bounds(self) -> tuple[NDArrayInt, NDArrayInt]:
        """For every row, the first and last row of its track."""
        _, starts, ends = self.bounds()
        lengths = ends - starts + 1
        return np.repeat(starts, lengths), np.repeat(ends, lengths)


def window_rows(tracks: Tracks, before_s: float, after_s: float) -> tuple[NDArrayInt, NDArrayInt]:
    """For every row, the first and last row of its track within ``[t - before_s, t + after_s]``."""
    key = tracks.track.astype(np.float64) * 1e7 + tracks.t_s  # tracks never overlap in key (logs < 1e7 s)
    lo = np.searchsorted(key, key - before_s - 1e-6, side="left")
    hi = np.searchsorted(key, key + after_s + 1e-6, side="right") - 1
    first, last = tracks.row_bounds()
    return np.maximum(lo, first).astype(np.int64), np.minimum(hi, last).astype(np.int64)


def fitted_velocity(
    t_s: NDArrayFloat, xy: NDArrayFloat, lo: NDArrayInt, hi: NDArrayInt
) -> tuple[NDArrayFloat, NDArrayInt]:
    """Least-squares velocity (m/s) of the rows ``lo..hi`` (inclusive) for each window, and their count.

    Windows of fewer than two distinct times have velocity zero. Vectorised with cumulative sums.
    """
    velocity, count, _ = fitted_line(t_s, xy, lo, hi)
    return velocity, count


def fitted_line(
    t_s: NDArrayFloat, xy: NDArrayFloat, lo: NDArrayInt, hi: NDArrayInt
) -> tuple[NDArrayFloat, NDArrayInt, NDArrayFloat]:
    """``fitted_velocity`` and the residual sum of squares (m²) of each window's straight-line fit."""
    n_rows = len(t_s)
    if not n_rows:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros(0)
    # centre times and positions on each window's first row, for precision with city coordinates
    t0, p0 = t_s[lo], xy[lo]

    def csum(values: NDArrayFloat) -> NDArrayFloat:
        return np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])

    c_t, c_tt = csum(t_s), csum(t_s * t_s)
    c_x, c_tx = csum(xy), csum(xy * t_s[:, None])
    c_xx = csum(xy * xy)
    count = np.maximum(hi - lo + 1, 0).astype(np.int64)  # an empty window (hi < lo) sums to zero
    n = np.maximum(count, 1).astype(np.float64)
    s_t = c_t[hi + 1] - c_t[lo]
    s_tt = c_tt[hi + 1] - c_tt[lo]
    s_x = c_x[hi + 1] - c_x[lo]
    s_tx = c_tx[hi + 1] - c_tx[lo]
    s_xx = c_xx[hi + 1] - c_xx[lo]
    # shift to the window's origin: sums of (t - t0) and (x - p0)
    st = s_t - n * t0
    stt = s_tt - 2 * t0 * s_t + n * t0 * t0
    sx = s_x - n[:, None] * p0
    stx = s_tx - t0[:, None] * s_x - p0 * s_t[:, None] + (n * t0)[:, None] * p0
    var = stt - st * st / n
    cov = stx - st[:, None] * sx / n[:, None]
    sxx = s_xx - 2 * p0 * s_x + n[:, None] * p0 * p0
    spread = sxx - sx * sx / n[:, None]
    ok = var > 1e-9
    velocity = np.zeros((len(lo), 2))
    velocity[ok] = cov[ok] / var[ok, None]
    rss = spread.sum(axis=1) - np.where(ok, (cov * cov).sum(axis=1) / np.where(ok, var, 1.0), 0.0)
    return velocity, count, np.maximum(rss, 0.0)
