"""Vectorised kinematics equal a direct, per-track transcription of RefAV's refAV/utils.py: get_nth_pos_deriv."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter
from scipy.spatial.transform import Rotation

from avmine.atomic.context import LogContext
from avmine.atomic.kinematics import Groups, median_smooth


def _reference_derivative(xyz: np.ndarray, t_ns: np.ndarray, n: int) -> np.ndarray:
    out = xyz.astype(np.float64)
    count = len(out)
    for _ in range(n):
        if count == 1:
            out = np.zeros_like(out)
            continue
        diff = np.empty_like(out)
        for i in range(count):
            a, b = max(i - 1, 0), min(i + 1, count - 1)
            diff[i] = (out[b] - out[a]) / ((t_ns[b] - t_ns[a]) / 1e9)
        out = diff
    if count > 1:
        out = median_filter(out, size=min(7, count), mode="nearest", axes=0)
    return out


def test_median_smooth_matches_scipy_for_every_length() -> None:
    rng = np.random.default_rng(0)
    lengths = np.arange(1, 12)
    values = rng.normal(size=(int(lengths.sum()), 3))
    ours = median_smooth(values, Groups.from_lengths(lengths))
    start = 0
    for n in lengths:
        chunk = values[start : start + n]
        expected = chunk if n == 1 else median_filter(chunk, size=min(7, n), mode="nearest", axes=0)
        np.testing.assert_array_equal(ours[start : start + n], expected)
        start += n


def test_positions_and_derivatives_match_reference(ctx: LogContext) -> None:
    for track in range(0, len(ctx.track_uuids), 7):
        rows = ctx.rows_of(track)
        xyz, t = ctx.xyz_city[rows], ctx.row_timestamp_ns[rows]
        np.testing.assert_allclose(ctx.smoothed_xyz_city[rows], _reference_derivative(xyz, t, 0), atol=1e-9)
        np.testing.assert_allclose(ctx.velocity_city[rows], _reference_derivative(xyz, t, 1), atol=1e-9)
        np.testing.assert_allclose(ctx.acceleration_city[rows], _reference_derivative(xyz, t, 2), atol=1e-6)


def test_yaw_is_rotation_vector_z_and_rate_unwraps(ctx: LogContext) -> None:
    quat = np.asarray(ctx.arrays.quat_city)
    np.testing.assert_allclose(ctx.yaw_city, Rotation.from_quat(quat, scalar_first=True).as_rotvec()[:, 2])
    rate = ctx.yaw_rate
    assert np.all(np.abs(rate) < 2 * np.pi / 0.09)  # never a 2π jump divided by one sample gap


def test_timelines(ctx: LogContext) -> None:
    ego = ctx.timeline(ctx.ego_uuid)
    assert ego == sorted(ego) and len(ego) == len(ctx.timestamps_ns)
    assert ctx.timeline("no such uuid") == []
    t = int(ctx.timestamps_ns[5])
    present = ctx.uuids_at(t)
    assert ctx.ego_uuid in present
    assert all(t in ctx.timeline(u) for u in present)
    assert ctx.uuids_at(t + 1) == []
