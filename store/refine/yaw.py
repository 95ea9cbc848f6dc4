"""Yaw repair: no 180° flips.

A track's headings are cut into runs wherever the heading jumps by more than 90° from one box to the
next (nothing real turns that fast in one frame). Each run is then kept or turned by 180° so that,
over the track, the fewest moving boxes point against their direction of motion and the fewest
jumps remain (a jump costs as much as ``JUMP_COST`` moving boxes against their motion); among equal
choices, the fewest boxes turn. So a moving object's heading follows its motion, a stopped one's its
own history (the runs before and after it), and a vehicle reversing smoothly keeps its heading
(no jump: the run agrees with the track's forward motion before it).
"""

from __future__ import annotations

import numpy as np

from avmine.store.refine.params import RefineParams
from avmine.store.refine.tracks import Tracks, fitted_velocity, window_rows, wrap

JUMP_COST = 3.0
"""A heading jump left in a track costs as much as this many moving boxes pointing against their motion."""
TURN_COST = 0.01
"""Turning a box costs this much, so that ties keep the most boxes as they were."""


def repair(tracks: Tracks, params: RefineParams) -> Tracks:
    """Turn by 180° the runs of headings that point against the motion or the track's history."""
    n = len(tracks.track)
    if not n:
        return tracks
    half = params.motion_window_s / 2
    lo, hi = window_rows(tracks, half, half)
    velocity, _ = fitted_velocity(tracks.t_s, tracks.xyz[:, :2], lo, hi)
    moving = np.hypot(velocity[:, 0], velocity[:, 1]) > params.moving_speed_mps
    against = moving & (np.abs(wrap(tracks.yaw - np.arctan2(velocity[:, 1], velocity[:, 0]))) > np.pi / 2)
    first, _ = tracks.row_bounds()
    rows = np.arange(n)
    jump = np.r_[False, np.abs(wrap(np.diff(tracks.yaw))) > np.pi / 2]
    new_track = rows == first
    run = np.cumsum(new_track | jump) - 1
    runs = int(run[-1]) + 1
    cost_keep = np.bincount(run, against, runs)
    cost_turn = np.bincount(run, moving & ~against, runs) + TURN_COST * np.bincount(run, minlength=runs)
    starts_track = np.bincount(run, new_track, runs) > 0
    # two-state dynamic programme along each track's runs: state 1 = turned
    best = np.zeros((runs, 2))
    came_from = np.zeros((runs, 2), dtype=np.int64)
    keep_l, turn_l, start_l = cost_keep.tolist(), cost_turn.tolist(), starts_track.tolist()
    for k in range(runs):
        own = (keep_l[k], turn_l[k])
        for s in (0, 1):
            if start_l[k]:
                best[k, s] = own[s]
                continue
            # the same state as the previous run leaves the jump between them
            stay, change = best[k - 1, s] + JUMP_COST, best[k - 1, 1 - s]
            came_from[k, s] = s if stay <= change else 1 - s
            best[k, s] = own[s] + min(stay, change)
    turned = np.zeros(runs, dtype=bool)
    ends = np.r_[np.flatnonzero(starts_track)[1:] - 1, runs - 1]
    for end, start in zip(ends.tolist(), np.flatnonzero(starts_track).tolist(), strict=True):
        state = int(np.argmin(best[end]))
        for k in range(end, start - 1, -1):
            turned[k] = bool(state)
            state = int(came_from[k, state])
    flipped = turned[run]
    return tracks.replace(
        yaw=np.where(flipped, wrap(tracks.yaw + np.pi), tracks.yaw), yaw_flipped=tracks.yaw_flipped ^ flipped
    )
