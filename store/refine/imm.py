"""An interacting multiple model (IMM) filter and smoother over box centres, batched over all tracks of a log.

Modes (``params.MODES``): stationary (at rest or creeping), constant velocity and constant acceleration,
with process noises and mode switching per kind of road user (``params.MOTION_MODELS``). The state per
axis is position, velocity and acceleration (``x, vx, ax, y, vy, ay``: one state for every mode, as
FilterPy's ``IMMEstimator`` requires); the box centre is observed with ``position_noise_m`` on x and y.
Turn-rate modes (CTRV, CTRA) are left out: they need heading and turn rate in the state and an extended
filter, and a turn is a lateral acceleration, which the constant-acceleration mode follows.

Forward: the IMM of Blom and Bar-Shalom, step for step as FilterPy 2.0's ``IMMEstimator`` (mixing,
per-mode Kalman predict and update, mode probabilities from the innovation likelihoods); a frame
without a box is a predict only, and the mode probabilities become the predicted ones.

Backward, the fixed-interval smoother of Kim (1994) for Markov-switching linear models, consistent with
it: Rauch-Tung-Striebel steps from each mode's filtered estimate under each mode's dynamics, collapsed
with the smoothed mode probabilities of Kim's backward recursion
``mu_s(k)_i ∝ mu(k)_i * sum_j M_ij * mu_s(k+1)_j / cbar(k+1)_j``; the smoothed centre is the mode
estimates weighted by the smoothed mode probabilities. The smoother's gains use each axis's own
covariance block (``_pair_gains``), so they are closed-form 3x3 problems.

Tracks are rows of a batch sorted by length (longest first), so each frame's step is NumPy over the
tracks still running: the cost is per box, not per track times frames.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from avmine.store.typing import NDArrayFloat, NDArrayInt

N_MODES = 3
_POSITION = [0, 3]  # indices of x and y in the state
_INITIAL_SPEED_SD_MPS = 10.0
_INITIAL_ACCELERATION_SD_MPS2 = 3.0
_MODE_FLOOR = 1e-300  # no mode is ever ruled out exactly, so mixing and Kim's recursion never divide by zero


def _block_diagonal(per_axis: NDArrayFloat) -> NDArrayFloat:
    """(..., 3, 3) per-axis matrices as (..., 6, 6) with the same block for x and for y."""
    out = np.zeros((*per_axis.shape[:-2], 6, 6))
    out[..., :3, :3] = per_axis
    out[..., 3:, 3:] = per_axis
    return out


def transitions(dt: NDArrayFloat) -> NDArrayFloat:
    """State transition of each mode over steps of ``dt`` seconds.

    Args:
        dt: (n,) seconds.

    Returns:
        (n, 3, 6, 6): stationary, constant velocity, constant acceleration.
    """
    n = len(dt)
    f = np.zeros((n, N_MODES, 3, 3))
    f[:, 0, 0, 0] = 1.0
    f[:, 1, 0, 0] = f[:, 1, 1, 1] = 1.0
    f[:, 1, 0, 1] = dt
    f[:, 2, 0, 0] = f[:, 2, 1, 1] = f[:, 2, 2, 2] = 1.0
    f[:, 2, 0, 1] = f[:, 2, 1, 2] = dt
    f[:, 2, 0, 2] = dt * dt / 2
    return _block_diagonal(f)


def process_noises(dt: NDArrayFloat, sigma: NDArrayFloat) -> NDArrayFloat:
    """Process noise covariance of each mode (see ``params.MotionModels``).

    Args:
        dt: (n,) seconds.
        sigma: (n, 3) stationary drift (m/s), constant-velocity acceleration (m/s²), constant-acceleration
            jerk (m/s³) of each row.

    Returns:
        (n, 3, 6, 6).
    """
    n = len(dt)
    q = np.zeros((n, N_MODES, 3, 3))
    drift = sigma[:, 0]
    q[:, 0, 0, 0] = (drift * dt) ** 2
    q[:, 0, 1, 1] = q[:, 0, 2, 2] = drift**2
    a2 = sigma[:, 1] ** 2
    q[:, 1, 0, 0] = a2 * dt**4 / 4
    q[:, 1, 0, 1] = q[:, 1, 1, 0] = a2 * dt**3 / 2
    q[:, 1, 1, 1] = a2 * dt**2
    q[:, 1, 2, 2] = a2
    gamma = np.stack([dt * dt / 2, dt, np.ones(n)], axis=-1)
    q[:, 2] = ((sigma[:, 2] * dt) ** 2)[:, None, None] * gamma[:, :, None] * gamma[:, None, :]
    return _block_diagonal(q)


def switching(rate_hz: NDArrayFloat, dt: NDArrayFloat) -> NDArrayFloat:
    """Mode transition probabilities ``M[i, j]`` (from i to j) over steps of ``dt`` seconds: (n, 3, 3)."""
    leave = 1.0 - np.exp(-rate_hz * dt)
    m = np.repeat((leave / (N_MODES - 1))[:, None, None], N_MODES, axis=1).repeat(N_MODES, axis=2)
    m[:, np.arange(N_MODES), np.arange(N_MODES)] = (1.0 - leave)[:, None]
    return m


@dataclass
class ImmPass:
    """The forward pass, per frame ``k`` (a list entry) for the tracks still running then (a prefix)."""

    x: list[NDArrayFloat]  # (n_k, 3, 6) each mode's filtered state
    p: list[NDArrayFloat]  # (n_k, 3, 6, 6) each mode's filtered covariance
    mu: list[NDArrayFloat]  # (n_k, 3) mode probabilities after frame k
    cbar: list[NDArrayFloat]  # (n_k, 3) predicted mode probabilities at frame k (k >= 1)
    f: list[NDArrayFloat]  # (n_k, 3, 6, 6) transitions from k - 1 to k (k >= 1)
    q: list[NDArrayFloat]  # (n_k, 3, 6, 6)
    m: list[NDArrayFloat]  # (n_k, 3, 3)


def _check_sorted(lengths: NDArrayInt) -> None:
    if np.any(np.diff(lengths) > 0) or (len(lengths) and lengths[-1] < 1):
        raise ValueError("tracks must be sorted by length, longest first, and have at least one frame each")


def forward(
    z: NDArrayFloat,
    dt: NDArrayFloat,
    lengths: NDArrayInt,
    sigma: NDArrayFloat,
    rate_hz: NDArrayFloat,
    initial: NDArrayFloat,
    position_noise_m: float,
) -> ImmPass:
    """The IMM filter over a batch of tracks (FilterPy's ``IMMEstimator``, vectorised).

    Args:
        z: (B, T, 2) box centres, NaN where a frame has none; frame 0 of every track is observed.
        dt: (B, T) seconds from frame k-1 to k; column 0 unused.
        lengths: (B,) frames of each track, sorted longest first.
        sigma: (B, 3) each track's mode noises (see ``process_noises``).
        rate_hz: (B,) each track's mode switch rate.
        initial: (B, 3) each track's mode probabilities at its first frame.
        position_noise_m: standard deviation of a box centre on x and y.

    Returns:
        The filtered estimates of every frame.
    """
    _check_sorted(lengths)
    batch = len(lengths)
    r2 = position_noise_m**2
    x0 = np.zeros((batch, N_MODES, 6))
    x0[:, :, 0] = z[:, 0, 0, None]
    x0[:, :, 3] = z[:, 0, 1, None]
    p_axis = np.diag([r2, _INITIAL_SPEED_SD_MPS**2, _INITIAL_ACCELERATION_SD_MPS2**2])
    p0 = np.broadcast_to(_block_diagonal(p_axis), (batch, N_MODES, 6, 6)).copy()
    mu0 = initial / initial.sum(axis=1, keepdims=True)
    empty = np.zeros((batch, N_MODES))
    unused = np.zeros_like(p0)  # frame 0 has no step before it
    out = ImmPass([x0], [p0], [mu0], [empty], [unused], [unused], [np.zeros((batch, N_MODES, N_MODES))])
    steps = int(lengths.max()) if batch else 0
    running = [int(np.count_nonzero(lengths > k)) for k in range(steps)]
    # every step's transitions, noises and switching at once: per frame only the filter itself runs
    h_all = np.concatenate([dt[:n, k] for k, n in enumerate(running)][1:] or [np.zeros(0)])
    rows = np.concatenate([np.arange(n) for n in running[1:]] or [np.zeros(0, dtype=np.int64)])
    bounds = np.cumsum([0, *running[1:]])
    f_all = transitions(h_all)
    q_all = process_noises(h_all, sigma[rows])
    m_all = switching(rate_hz[rows], h_all)
    for k in range(1, steps):
        n = running[k]
        x, p, mu = out.x[-1][:n], out.p[-1][:n], out.mu[-1][:n]
        f, q, m = (a[bounds[k - 1] : bounds[k]] for a in (f_all, q_all, m_all))
        cbar = np.einsum("ni,nij->nj", mu, m)
        omega = m * mu[:, :, None] / cbar[:, None, :]  # omega[i, j]: P(mode i before | mode j now)
        weights = np.ascontiguousarray(omega.swapaxes(1, 2))  # (n, j, i)
        # spreads about mode 0's state, so city coordinates do not cost precision
        offset = x - x[:, :1]
        x_mixed = x[:, :1] + weights @ offset
        spread = (offset[:, :, :, None] * offset[:, :, None, :]).reshape(n, N_MODES, 36)
        centre = x_mixed - x[:, :1]
        p_mixed = (weights @ (p.reshape(n, N_MODES, 36) + spread)).reshape(n, N_MODES, 6, 6) - (
            centre[:, :, :, None] * centre[:, :, None, :]
        )
        x_pred = (f @ x_mixed[..., None])[..., 0]
        p_pred = f @ p_mixed @ np.ascontiguousarray(f.swapaxes(-1, -2)) + q
        seen = ~np.isnan(z[:n, k, 0])
        innovation = np.nan_to_num(z[:n, k])[:, None, :] - x_pred[:, :, _POSITION]  # (n, 3, 2)
        s = p_pred[:, :, _POSITION][:, :, :, _POSITION] + r2 * np.eye(2)
        det = s[..., 0, 0] * s[..., 1, 1] - s[..., 0, 1] * s[..., 1, 0]
        s_inv = np.empty_like(s)
        s_inv[..., 0, 0], s_inv[..., 1, 1] = s[..., 1, 1] / det, s[..., 0, 0] / det
        s_inv[..., 0, 1], s_inv[..., 1, 0] = -s[..., 0, 1] / det, -s[..., 1, 0] / det
        gain = p_pred[:, :, :, _POSITION] @ s_inv  # (n, 3, 6, 2)
        x_new = x_pred + (gain @ innovation[..., None])[..., 0]
        p_new = p_pred - gain @ p_pred[:, :, _POSITION, :]
        log_likelihood = -0.5 * np.einsum("nja,njab,njb->nj", innovation, s_inv, innovation) - np.log(
            2 * np.pi * np.sqrt(det)
        )
        log_mu = np.log(cbar) + log_likelihood
        mu_new = np.exp(log_mu - log_mu.max(axis=1, keepdims=True))
        mu_new = np.maximum(mu_new / mu_new.sum(axis=1, keepdims=True), _MODE_FLOOR)
        out.x.append(np.where(seen[:, None, None], x_new, x_pred))
        out.p.append(np.where(seen[:, None, None, None], p_new, p_pred))
        out.mu.append(np.where(seen[:, None], mu_new, cbar))
        out.cbar.append(cbar)
        out.f.append(f)
        out.q.append(q)
        out.m.append(m)
    return out


Matrix = list[list[NDArrayFloat]]  # a 3x3 matrix of arrays (one entry per row of a batch, broadcastable)


def _product(a: Matrix, b: Matrix) -> Matrix:
    return [[a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c] for c in range(3)] for r in range(3)]


def _transpose(a: Matrix) -> Matrix:
    return [[a[c][r] for c in range(3)] for r in range(3)]


def _inverse(a: Matrix) -> Matrix:
    """By the adjugate."""

    def cofactor(r: int, k: int) -> NDArrayFloat:
        r1, r2, k1, k2 = (r + 1) % 3, (r + 2) % 3, (k + 1) % 3, (k + 2) % 3
        return a[r1][k1] * a[r2][k2] - a[r1][k2] * a[r2][k1]

    c = [[cofactor(r, k) for k in range(3)] for r in range(3)]
    det = a[0][0] * c[0][0] + a[0][1] * c[0][1] + a[0][2] * c[0][2]
    return [[c[k][r] / det for k in range(3)] for r in range(3)]


def _entries(a: NDArrayFloat) -> Matrix:
    return [[np.ascontiguousarray(a[..., r, k]) for k in range(3)] for r in range(3)]


def _pair_gains(filtered: ImmPass) -> list[NDArrayFloat]:
    """RTS gains ``C(k | i, j) = P_i F_j' (F_j P_i F_j' + Q_j)^-1`` of every frame k < last: (n_{k+1}, 3, 3, 2, 3, 3).

    Per axis (x, then y): the transitions and noises are the same on both, and the gains use each axis's own
    covariance block (the x-y cross terms that mixing adds are kept by the filter, dropped here), so they
    are 3x3 problems in closed form: a scalar for the stationary mode (its transition keeps position only),
    2x2 for constant velocity, 3x3 for constant acceleration. They depend on the forward pass only: all frames
    at once, each matrix entry one array over every (frame, track, mode, axis), since NumPy's solvers pay
    per matrix.
    """
    p = np.concatenate([filtered.p[k][: len(filtered.p[k + 1])] for k in range(len(filtered.p) - 1)])
    p_axes = np.stack([p[:, :, :3, :3], p[:, :, 3:, 3:]], axis=2)  # (rows, i, axis, 3, 3)
    e = _entries(p_axes)  # each (rows, i, axis)
    f_all = np.concatenate(filtered.f[1:])  # (rows, j, 6, 6)
    q_all = np.concatenate(filtered.q[1:])[:, :, None, None]  # (rows, j, 1, 1, 6, 6)
    h = f_all[:, 1, 0, 1][:, None, None]  # the step's seconds, from the constant-velocity transition
    gains = np.zeros((len(p), N_MODES, N_MODES, 2, 3, 3))
    # stationary: F P F' keeps the position variance only, so C has one column
    d = e[0][0] + q_all[:, 0, ..., 0, 0]
    for r in range(3):
        gains[:, :, 0, :, r, 0] = e[r][0] / d
    # constant velocity: F P F' + Q has a 2x2 position-velocity block and the acceleration noise apart
    q = q_all[:, 1]
    top = [e[0][c] + h * e[1][c] for c in range(3)]  # row 0 of F P; row 1 is P's row 1, row 2 is zero
    s00, s01, s11 = top[0] + h * top[1] + q[..., 0, 0], top[1] + q[..., 0, 1], e[1][1] + q[..., 1, 1]
    det = s00 * s11 - s01 * s01
    for r in range(3):
        gains[:, :, 1, :, r, 0] = (top[r] * s11 - e[1][r] * s01) / det
        gains[:, :, 1, :, r, 1] = (e[1][r] * s00 - top[r] * s01) / det
    # constant acceleration: the full 3x3
    f = _entries(f_all[:, None, 2, None, :3, :3])  # (rows, 1, 1)
    fp = _product(f, e)
    p_pred = _product(fp, _transpose(f))
    p_pred = [[p_pred[r][c] + q_all[:, 2, ..., r, c] for c in range(3)] for r in range(3)]
    gain = _product(_transpose(fp), _inverse(p_pred))  # P F' = (F P)' (P is symmetric)
    for r in range(3):
        for c in range(3):
            gains[:, :, 2, :, r, c] = gain[r][c]
    bounds = np.cumsum([0, *(len(x) for x in filtered.x[1:])])
    return [gains[a:b] for a, b in itertools.pairwise(bounds)]


def backward(filtered: ImmPass) -> tuple[list[NDArrayFloat], list[NDArrayFloat]]:
    """Kim's fixed-interval smoother over a forward pass: RTS steps for every pair of modes, collapsed.

    For modes i at frame k and j at k + 1, an RTS step with mode j's transition and noise from mode i's
    filtered estimate gives ``x_s(k | i, j)``; the joint smoothed probability of (i, j) is
    ``mu(k)_i * M_ij * mu_s(k+1)_j / cbar(k+1)_j``. Summed over j it is ``mu_s(k)_i``; normalised over j it
    weights ``x_s(k | i, j)`` into mode i's smoothed state. Without mode switches (M the identity) every
    mode's pass is FilterPy's ``rts_smoother`` (the covariances then have no x-y cross terms).

    Returns:
        For every frame k: each mode's smoothed state (n_k, 3, 6) and the smoothed mode probabilities (n_k, 3).
    """
    steps = len(filtered.x)
    if steps < 2:
        return list(filtered.x), list(filtered.mu)
    gains = _pair_gains(filtered)
    axes = [x.reshape(len(x), N_MODES, 2, 3) for x in filtered.x]  # (n, mode, axis, component)
    states, probabilities = [axes[-1]], [filtered.mu[-1]]
    for k in range(steps - 2, -1, -1):
        x, mu = axes[k], filtered.mu[k]
        later_x, later_mu = states[-1], probabilities[-1]
        n = len(later_x)  # tracks that go on to frame k + 1
        f = filtered.f[k + 1][:, None, :, None, :3, :3]  # (n, 1, j, 1, 3, 3)
        x_pred = (f @ x[:n, :, None, :, :, None])[..., 0]  # (n, i, j, axis, 3)
        x_pair = x[:n, :, None] + (gains[k] @ (later_x[:, None] - x_pred)[..., None])[..., 0]
        joint = mu[:n, :, None] * filtered.m[k + 1] * (later_mu / filtered.cbar[k + 1])[:, None, :]
        marginal = joint.sum(axis=2)
        smoothed, weights = x.copy(), mu.copy()
        smoothed[:n] = np.einsum("nij,nijac->niac", joint / marginal[:, :, None], x_pair)
        weights[:n] = marginal / marginal.sum(axis=1, keepdims=True)
        states.append(smoothed)
        probabilities.append(weights)
    return [x.reshape(len(x), N_MODES, 6) for x in states[::-1]], probabilities[::-1]


def smooth(
    z: NDArrayFloat,
    dt: NDArrayFloat,
    lengths: NDArrayInt,
    sigma: NDArrayFloat,
    rate_hz: NDArrayFloat,
    initial: NDArrayFloat,
    position_noise_m: float,
) -> tuple[NDArrayFloat, NDArrayFloat]:
    """Smoothed box centres and mode probabilities of a batch of tracks (arguments as ``forward``).

    Returns:
        Centres (B, T, 2) and mode probabilities (B, T, 3), NaN after each track's last frame.
    """
    states, probabilities = backward(forward(z, dt, lengths, sigma, rate_hz, initial, position_noise_m))
    batch, steps = z.shape[:2]
    centres = np.full((batch, steps, 2), np.nan)
    modes = np.full((batch, steps, N_MODES), np.nan)
    for k, (x, mu) in enumerate(zip(states, probabilities, strict=True)):
        n = len(x)
        centres[:n, k] = np.einsum("nj,njd->nd", mu, x[:, :, _POSITION])
        modes[:n, k] = mu
    return centres, modes
