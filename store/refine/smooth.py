"""Smoothing of box centres, all tracks of a log at once: the IMM smoother (``imm.py``, default) or this one.

This one (``smoother=cv``) is a constant-velocity Kalman filter and Rauch-Tung-Striebel smoother: each
track's x and y follow a constant-velocity model driven by white acceleration
(``acceleration_noise_mps2``), observed with ``position_noise_m``. The filter runs over the
source's frames from each track's first box to its last; interpolated boxes are not observations,
and take the smoothed position. All tracks of a log are one batch of 2x2 problems (NumPy over
tracks, a Python loop only over frames), so a log costs milliseconds. Heading, size and z are kept.
"""

from __future__ import annotations

import numpy as np

from avmine.store.refine import imm
from avmine.store.refine.params import RefineParams, motion_models
from avmine.store.refine.tracks import Tracks
from avmine.store.typing import NDArrayFloat, NDArrayInt


def rts_constant_velocity(
    z: NDArrayFloat, dt: NDArrayFloat, active: np.ndarray, position_noise_m: float, acceleration_noise_mps2: float
) -> NDArrayFloat:
    """Smoothed positions of a batch of 1-D tracks.

    Args:
        z: observations (B, T), NaN where there is none; column 0 must be observed where active.
        dt: seconds from column k-1 to k (B, T); column 0 unused.
        active: (B, T) whether the column is inside the track (a prefix of each row).
        position_noise_m: observation standard deviation.
        acceleration_noise_mps2: process noise (white acceleration) standard deviation.

    Returns:
        Smoothed positions (B, T); NaN outside ``active``.
    """
    batch, steps = z.shape
    r2, q2 = position_noise_m**2, acceleration_noise_mps2**2
    x = np.zeros((batch, steps, 2))
    p = np.zeros((batch, steps, 2, 2))
    x_pred = np.zeros((batch, steps, 2))
    p_pred = np.zeros((batch, steps, 2, 2))
    x[:, 0, 0] = np.nan_to_num(z[:, 0])
    p[:, 0] = np.diag([r2, 100.0])
    for k in range(1, steps):
        h = dt[:, k]
        f = np.zeros((batch, 2, 2))
        f[:, 0, 0] = f[:, 1, 1] = 1.0
        f[:, 0, 1] = h
        q = q2 * np.stack([np.stack([h**4 / 4, h**3 / 2], -1), np.stack([h**3 / 2, h**2], -1)], -2)
        xp = np.einsum("bij,bj->bi", f, x[:, k - 1])
        pp = f @ p[:, k - 1] @ f.transpose(0, 2, 1) + q
        x_pred[:, k], p_pred[:, k] = xp, pp
        seen = ~np.isnan(z[:, k]) & active[:, k]
        s = pp[:, 0, 0] + r2
        gain = pp[:, :, 0] / s[:, None]
        innovation = np.where(seen, np.nan_to_num(z[:, k]) - xp[:, 0], 0.0)
        x[:, k] = xp + gain * innovation[:, None]
        p[:, k] = np.where(seen[:, None, None], pp - gain[:, :, None] * pp[:, None, 0, :], pp)
    smoothed = x.copy()
    for k in range(steps - 2, -1, -1):
        h = dt[:, k + 1]
        f = np.zeros((batch, 2, 2))
        f[:, 0, 0] = f[:, 1, 1] = 1.0
        f[:, 0, 1] = h
        c = p[:, k] @ f.transpose(0, 2, 1) @ np.linalg.inv(p_pred[:, k + 1])
        step = np.einsum("bij,bj->bi", c, smoothed[:, k + 1] - x_pred[:, k + 1])
        smoothed[:, k] = np.where(active[:, k + 1, None], x[:, k] + step, x[:, k])
    return np.where(active, smoothed[:, :, 0], np.nan)


def positions(tracks: Tracks, params: RefineParams, frame_ns: NDArrayInt | None = None) -> Tracks:
    """The tracks with smoothed x and y (frames: the distinct times of the rows unless given).

    ``params.smoother`` chooses the IMM (``imm.py``, modes per category) or the constant-velocity smoother.
    """
    if not len(tracks.track):
        return tracks
    frames = np.unique(tracks.t_ns) if frame_ns is None else frame_ns
    column_of = np.searchsorted(frames, tracks.t_ns)
    labels, track = np.unique(tracks.track, return_inverse=True)
    first = np.full(len(labels), len(frames))
    np.minimum.at(first, track, column_of)
    last = np.zeros(len(labels), dtype=np.int64)
    np.maximum.at(last, track, column_of)
    steps = int((last - first).max()) + 1
    col = column_of - first[track]
    grid = np.clip(first[:, None] + np.arange(steps)[None, :], 0, len(frames) - 1)
    active = np.arange(steps)[None, :] <= (last - first)[:, None]
    dt = np.zeros((len(labels), steps))
    dt[:, 1:] = np.maximum((frames[grid[:, 1:]] - frames[grid[:, :-1]]) / 1e9, 1e-3)
    out = tracks.xyz.copy()
    observed = ~tracks.interpolated
    if params.smoother == "imm":
        out[:, :2] = _imm_positions(tracks, track, col, last - first + 1, dt, params)
        return tracks.replace(xyz=out)
    for axis in (0, 1):
        z = np.full((len(labels), steps), np.nan)
        z[track[observed], col[observed]] = tracks.xyz[observed, axis]
        smooth = rts_constant_velocity(z, dt, active, params.position_noise_m, params.acceleration_noise_mps2)
        out[:, axis] = smooth[track, col]
    return tracks.replace(xyz=out)


def _imm_positions(
    tracks: Tracks, track: NDArrayInt, col: NDArrayInt, lengths: NDArrayInt, dt: NDArrayFloat, params: RefineParams
) -> NDArrayFloat:
    """Smoothed x and y of every row (R, 2) by the IMM; ``track``, ``col`` place rows on the (track, frame) grid."""
    order = np.argsort(-lengths, kind="stable")  # longest first: each frame's step is a prefix of the batch
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    row_rank = rank[track]
    z = np.full((len(lengths), dt.shape[1], 2), np.nan)
    observed = ~tracks.interpolated
    z[row_rank[observed], col[observed]] = tracks.xyz[observed, :2]
    categories = np.empty(len(lengths), dtype=object)
    categories[track] = tracks.category  # one category per track after the vote; otherwise its last box's
    models = [motion_models(str(c)) for c in categories[order]]
    sigma = np.array([[m.stationary_drift_mps, m.cv_acceleration_mps2, m.ca_jerk_mps3] for m in models])
    rate = np.array([m.switch_rate_hz for m in models])
    initial = np.array([m.initial for m in models], dtype=np.float64)
    centres, _ = imm.smooth(z, dt[order], lengths[order], sigma, rate, initial, params.position_noise_m)
    return np.asarray(centres[row_rank, col])
