"""The batched IMM filter and smoother against FilterPy's IMMEstimator and rts_smoother, track by track."""

from __future__ import annotations

import numpy as np
from filterpy.kalman import IMMEstimator, KalmanFilter

from avmine.store.refine import RefineParams, imm
from avmine.store.refine.params import motion_models
from avmine.store.refine.smooth import positions
from avmine.store.refine.tracks import Tracks

R = 0.2


def _tracks(rng: np.random.Generator, lengths: list[int], missing: bool) -> tuple[np.ndarray, ...]:
    """Manoeuvring 2-D tracks (stop, go, brake, turn) observed with noise, 10 Hz with some 0.2 s steps."""
    steps = max(lengths)
    z = np.full((len(lengths), steps, 2), np.nan)
    dt = np.zeros((len(lengths), steps))
    for b, n in enumerate(lengths):
        dt[b, 1:] = rng.choice([0.1, 0.1, 0.1, 0.2], size=steps - 1)
        speed = np.clip(np.cumsum(rng.normal(0.0, 0.6, n)), 0.0, None)
        heading = np.cumsum(rng.normal(0.0, 0.05, n))
        step = (speed * dt[b, :n])[:, None] * np.c_[np.cos(heading), np.sin(heading)]
        z[b, :n] = np.cumsum(step, axis=0) + rng.normal(0.0, R, (n, 2)) + [1000.0, -500.0]
        if missing:
            z[b, rng.choice(np.arange(1, n - 1), size=n // 6, replace=False)] = np.nan
    return z, dt


def _filterpy(
    z: np.ndarray, dt: np.ndarray, sigma: np.ndarray, rate: float, initial: np.ndarray
) -> dict[str, list[np.ndarray]]:
    """FilterPy's IMMEstimator over one track, with the same modes; a frame without a box is a predict only."""
    first = imm.forward(z[None, :1], dt[None, :1], np.array([1]), sigma[None], np.array([rate]), initial[None], R)
    filters = []
    for mode in range(imm.N_MODES):
        kf = KalmanFilter(dim_x=6, dim_z=2)
        kf.x = first.x[0][0, mode].copy()
        kf.P = first.p[0][0, mode].copy()
        kf.H = np.zeros((2, 6))
        kf.H[0, 0] = kf.H[1, 3] = 1.0
        kf.R = np.eye(2) * R * R
        filters.append(kf)
    estimator = IMMEstimator(filters, initial.copy(), imm.switching(np.array([rate]), dt[1:2])[0])
    record: dict[str, list[np.ndarray]] = {"x": [], "p": [], "mu": [], "f": [], "q": []}
    for k in range(1, len(z)):
        estimator.M = imm.switching(np.array([rate]), dt[k : k + 1])[0]
        estimator._compute_mixing_probabilities()  # M changes with the step; FilterPy mixes with the current M
        f = imm.transitions(dt[k : k + 1])[0]
        q = imm.process_noises(dt[k : k + 1], sigma[None])[0]
        for mode, kf in enumerate(filters):
            kf.F, kf.Q = f[mode], q[mode]
        estimator.predict()
        if np.isnan(z[k, 0]):
            # FilterPy's update(None) would reuse the last likelihoods: without a box the modes keep their prediction
            estimator.mu = estimator.cbar.copy()
            estimator._compute_mixing_probabilities()
        else:
            estimator.update(z[k])
        record["x"].append(np.array([kf.x for kf in filters]))
        record["p"].append(np.array([kf.P for kf in filters]))
        record["mu"].append(estimator.mu.copy())
        record["f"].append(f)
        record["q"].append(q)
    return record


def test_the_batched_imm_filter_matches_filterpy_track_by_track() -> None:
    rng = np.random.default_rng(1)
    lengths = [60, 45, 45, 12, 2]
    z, dt = _tracks(rng, lengths, missing=True)
    sigma = np.array([[0.05, 2.0, 4.0], [0.05, 1.0, 2.0], [0.02, 0.5, 1.0], [0.1, 3.0, 6.0], [0.05, 2.0, 4.0]])
    rate = np.array([0.2, 0.5, 0.01, 1.0, 0.2])
    initial = np.array([[0.4, 0.4, 0.2], [0.3, 0.5, 0.2], [0.98, 0.01, 0.01], [0.2, 0.2, 0.6], [1.0, 1.0, 1.0]])
    ours = imm.forward(z, dt, np.array(lengths), sigma, rate, initial, R)
    for b, n in enumerate(lengths):
        ref = _filterpy(z[b, :n], dt[b, :n], sigma[b], rate[b], initial[b] / initial[b].sum())
        for k in range(1, n):
            np.testing.assert_allclose(ours.x[k][b], ref["x"][k - 1], atol=1e-9, rtol=0)
            np.testing.assert_allclose(ours.p[k][b], ref["p"][k - 1], atol=1e-9, rtol=0)
            np.testing.assert_allclose(ours.mu[k][b], ref["mu"][k - 1], atol=1e-9, rtol=0)


def test_without_mode_switches_each_modes_smoothing_pass_is_filterpys_rts_smoother() -> None:
    rng = np.random.default_rng(2)
    lengths = [50, 30, 30, 3]
    z, dt = _tracks(rng, lengths, missing=True)
    sigma = np.tile([0.05, 2.0, 4.0], (len(lengths), 1))
    rate, initial = np.zeros(len(lengths)), np.tile([0.4, 0.4, 0.2], (len(lengths), 1))
    filtered = imm.forward(z, dt, np.array(lengths), sigma, rate, initial, R)
    states, _ = imm.backward(filtered)
    assert all(np.isfinite(x).all() for x in states)
    kf = KalmanFilter(dim_x=6, dim_z=2)
    for b, n in enumerate(lengths):
        for mode in range(imm.N_MODES):
            xs = np.array([filtered.x[k][b, mode] for k in range(n)])
            ps = np.array([filtered.p[k][b, mode] for k in range(n)])
            fs = np.array([np.eye(6)] + [filtered.f[k][b, mode] for k in range(1, n)])
            qs = np.array([np.zeros((6, 6))] + [filtered.q[k][b, mode] for k in range(1, n)])
            reference, *_ = kf.rts_smoother(xs, ps, Fs=fs, Qs=qs)
            np.testing.assert_allclose(np.array([states[k][b, mode] for k in range(n)]), reference, atol=1e-9, rtol=0)


def test_smoothed_mode_probabilities_follow_kims_recursion() -> None:
    rng = np.random.default_rng(4)
    lengths = [40, 20]
    z, dt = _tracks(rng, lengths, missing=True)
    sigma = np.tile([0.05, 2.0, 4.0], (len(lengths), 1))
    rate, initial = np.full(len(lengths), 0.5), np.tile([0.4, 0.4, 0.2], (len(lengths), 1))
    filtered = imm.forward(z, dt, np.array(lengths), sigma, rate, initial, R)
    _, probabilities = imm.backward(filtered)
    for b, n in enumerate(lengths):
        mu = [filtered.mu[k][b] for k in range(n)]
        expected = [mu[-1]]
        for k in range(n - 2, -1, -1):
            m, cbar = filtered.m[k + 1][b], filtered.cbar[k + 1][b]
            w = np.array([mu[k][i] * sum(m[i, j] * expected[-1][j] / cbar[j] for j in range(3)) for i in range(3)])
            expected.append(w / w.sum())
        np.testing.assert_allclose(np.array([probabilities[k][b] for k in range(n)]), expected[::-1], atol=1e-12)


def test_the_smoother_finds_the_stop_and_beats_the_filter() -> None:
    """A car that waits 3 s, then accelerates at 2 m/s² for 3 s, then cruises: modes follow, errors shrink."""
    rng = np.random.default_rng(3)
    t = np.arange(0, 9.0, 0.1)
    speed = np.clip(2.0 * (t - 3.0), 0.0, 6.0)
    truth = np.c_[np.cumsum(speed * 0.1) - speed[0] * 0.1, np.zeros(len(t))]
    runs = 40
    z = truth[None] + rng.normal(0.0, R, (runs, len(t), 2))
    dt = np.full((runs, len(t)), 0.1)
    lengths = np.full(runs, len(t))
    sigma, rate = np.tile([0.05, 2.0, 4.0], (runs, 1)), np.full(runs, 0.2)
    initial = np.tile([0.4, 0.4, 0.2], (runs, 1))
    filtered = imm.forward(z, dt, lengths, sigma, rate, initial, R)
    centres, modes = imm.smooth(z, dt, lengths, sigma, rate, initial, R)
    filtered_xy = np.array(
        [np.einsum("nj,njd->nd", mu, x[:, :, [0, 3]]) for mu, x in zip(filtered.mu, filtered.x, strict=True)]
    )
    raw_error = np.sqrt(np.mean((z - truth) ** 2))
    filter_error = np.sqrt(np.mean((filtered_xy.swapaxes(0, 1) - truth) ** 2))
    smooth_error = np.sqrt(np.mean((centres - truth) ** 2))
    assert smooth_error < filter_error < raw_error
    assert smooth_error < 0.4 * raw_error, (raw_error, smooth_error)
    waiting, cruising = t < 2.5, t > 7.0
    assert modes[:, waiting, 0].mean() > 0.8
    assert modes[:, cruising, 0].mean() < 0.05


def test_tracks_must_come_longest_first() -> None:
    z = np.zeros((2, 3, 2))
    try:
        imm.forward(z, np.full((2, 3), 0.1), np.array([2, 3]), np.ones((2, 3)), np.ones(2), np.ones((2, 3)), R)
    except ValueError as error:
        assert "longest first" in str(error)
    else:
        raise AssertionError("unsorted tracks were accepted")


def test_positions_smooth_every_track_as_if_alone_with_its_categorys_modes() -> None:
    """The log-wide batch (reordered longest first; interpolated rows not observed) equals one track at a time."""
    rng = np.random.default_rng(5)
    frame_ns = np.arange(40, dtype=np.int64) * 100_000_000
    spans = {0: (0, 40, "REGULAR_VEHICLE"), 1: (5, 17, "PEDESTRIAN"), 2: (10, 38, "CONSTRUCTION_CONE")}
    rows = []
    for label, (first, last, category) in spans.items():
        for k in range(first, last):
            rows.append((label, frame_ns[k], category, 1.5 * k * (label == 0) + rng.normal(0, R), rng.normal(0, R)))
    track = np.array([r[0] for r in rows])
    n = len(rows)
    raw_row = np.arange(n)
    raw_row[[3, 50]] = -1  # interpolated boxes: not observations
    tracks = Tracks(
        uuids=np.array(["a", "b", "c"]), track=track, t_ns=np.array([r[1] for r in rows]),
        xyz=np.c_[[r[3] for r in rows], [r[4] for r in rows], np.full(n, 2.0)], yaw=np.zeros(n),
        size=np.ones((n, 3)), category=np.array([r[2] for r in rows]), score=np.ones(n), raw_row=raw_row,
        yaw_flipped=np.zeros(n, dtype=bool),
    )  # fmt: skip
    smoothed = positions(tracks, RefineParams(smoother="imm", position_noise_m=R), frame_ns)
    assert np.array_equal(smoothed.xyz[:, 2], tracks.xyz[:, 2])
    for label, (_, _, category) in spans.items():
        mine = track == label
        z = np.where(raw_row[mine, None] >= 0, tracks.xyz[mine, :2], np.nan)[None]
        dt = np.r_[0.0, np.full(mine.sum() - 1, 0.1)][None]
        m = motion_models(category)
        alone, _ = imm.smooth(z, dt, np.array([mine.sum()]),
                              np.array([[m.stationary_drift_mps, m.cv_acceleration_mps2, m.ca_jerk_mps3]]),
                              np.array([m.switch_rate_hz]), np.array([m.initial]), R)  # fmt: skip
        np.testing.assert_allclose(smoothed.xyz[mine, :2], alone[0], atol=1e-9)
