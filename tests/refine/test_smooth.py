"""The batched constant-velocity RTS smoother against FilterPy's KalmanFilter and rts_smoother."""

from __future__ import annotations

import numpy as np
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter

from avmine.store.refine.smooth import rts_constant_velocity


def filterpy_rts(z: np.ndarray, dt: np.ndarray, r: float, q: float) -> np.ndarray:
    kf = KalmanFilter(dim_x=2, dim_z=1)
    kf.x = np.array([z[0], 0.0])
    kf.P = np.diag([r * r, 100.0])
    kf.H = np.array([[1.0, 0.0]])
    kf.R = np.array([[r * r]])
    xs, ps, fs, qs = [kf.x.copy()], [kf.P.copy()], [np.eye(2)], [np.zeros((2, 2))]
    for k in range(1, len(z)):
        kf.F = np.array([[1.0, dt[k]], [0.0, 1.0]])
        kf.Q = Q_discrete_white_noise(dim=2, dt=dt[k], var=q * q)
        kf.predict()
        if not np.isnan(z[k]):
            kf.update(np.array([z[k]]))
        xs.append(kf.x.copy())
        ps.append(kf.P.copy())
        fs.append(kf.F.copy())
        qs.append(kf.Q.copy())
    # FilterPy's rts_smoother uses Fs[k + 1] and Qs[k + 1] from step k to k + 1, as recorded here
    smoothed, *_ = kf.rts_smoother(np.array(xs), np.array(ps), Fs=np.array(fs), Qs=np.array(qs))
    return np.asarray(smoothed[:, 0])


def test_the_batched_smoother_matches_filterpy_track_by_track() -> None:
    rng = np.random.default_rng(0)
    lengths = [40, 25, 7]
    steps = max(lengths)
    z = np.full((len(lengths), steps), np.nan)
    dt = np.zeros((len(lengths), steps))
    active = np.zeros((len(lengths), steps), dtype=bool)
    for b, n in enumerate(lengths):
        truth = np.cumsum(rng.normal(1.0, 0.3, n))
        z[b, :n] = truth + rng.normal(0, 0.2, n)
        z[b, rng.choice(np.arange(1, n - 1), size=n // 5, replace=False)] = np.nan  # missed boxes
        dt[b, 1:] = rng.choice([0.1, 0.1, 0.2], size=steps - 1)
        active[b, :n] = True
    batched = rts_constant_velocity(z, dt, active, 0.2, 2.0)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(batched[b, :n], filterpy_rts(z[b, :n], dt[b, :n], 0.2, 2.0), atol=1e-9)
        assert np.isnan(batched[b, n:]).all()
