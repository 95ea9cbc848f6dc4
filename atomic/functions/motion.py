"""Rules about how one object moves: speed, acceleration, turning, standing still.

Each function is declared as its rule: it takes the log context and the uuids to evaluate and
returns, per uuid, the timestamps (over the track's full timeline) where the rule holds;
``avmine.atomic.lifting.unary`` makes it the function programs call, scenario in, scenario out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import timestamps_where, whole_tracks
from avmine.atomic.lifting import unary
from avmine.atomic.listing import listed
from avmine.atomic.validation import choice, number

TURN_DEGREES = 45.0
"""Heading change over one constant-sign yaw-rate run that counts as a turn (RefAV)."""


@listed("RefAV", 21)
@unary
def stationary(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Objects that barely move over their whole observation: parked or standing (path box diagonal < 3 m).

    A whole-track property: a stationary object is returned at all its input timestamps; a car that
    stops at a light for a while and then drives is not stationary (use has_velocity for "stopped").

    Prompts say:
        parked, stationary, never moves.

    Example:
        parked_cars = stationary(cars, log_dir)
    """
    return whole_tracks(ctx, uuids, ctx.is_stationary)


def _moving_rows(ctx: LogContext) -> np.ndarray:
    return ~ctx.is_stationary[ctx.row_track]


@listed("RefAV", 12)
@unary
def has_velocity(
    ctx: LogContext, uuids: list[str], min_velocity: float = 0.5, max_velocity: float = np.inf
) -> dict[str, list[int]]:
    """Timestamps where an object's speed is between min_velocity and max_velocity (m/s).

    Stationary objects (see stationary) never match, so has_velocity(x, log_dir, min_velocity=0, max_velocity=0.5)
    finds moving objects that are momentarily stopped, not parked ones. For "stopped", lower min_velocity
    too (with its default 0.5, max_velocity=0.5 leaves a range that matches nothing) and add the parked
    ones: RefAV's examples count them as stopped (scenario_or with stationary).

    Args:
        min_velocity: lowest speed in m/s (3-D, city frame); 0.5 filters out annotation jitter.
        max_velocity: highest speed in m/s.

    Prompts say:
        stopped, stopping, not moving, standing still, waiting, moving, speed, speeding, fast, slow, high
        speed, running, walking, idle.

    Example:
        fast_cars = has_velocity(cars, log_dir, min_velocity=10)
    """
    number("has_velocity", "min_velocity", min_velocity)
    number("has_velocity", "max_velocity", max_velocity)
    speed = np.linalg.norm(ctx.velocity_city, axis=1)
    return timestamps_where(ctx, uuids, (speed >= min_velocity) & (speed <= max_velocity) & _moving_rows(ctx))


@listed("RefAV", 11)
@unary
def accelerating(
    ctx: LogContext, uuids: list[str], min_accel: float = 0.65, max_accel: float = np.inf
) -> dict[str, list[int]]:
    """Timestamps where forward acceleration is between min_accel and max_accel (m/s²).

    Above 1 is clear acceleration; below -1 is braking (use max_accel=-1). Stationary objects never match.

    Args:
        min_accel: lowest forward acceleration in m/s² (negative values are deceleration).
        max_accel: highest forward acceleration in m/s².

    Prompts say:
        accelerating, speeding up, slowing down, decelerating, braking.

    Example:
        braking = accelerating(cars, log_dir, min_accel=-np.inf, max_accel=-1)
    """
    number("accelerating", "min_accel", min_accel)
    number("accelerating", "max_accel", max_accel)
    forward = ctx.in_own_frame(ctx.acceleration_city)[:, 0]
    return timestamps_where(ctx, uuids, (forward >= min_accel) & (forward <= max_accel) & _moving_rows(ctx))


@listed("RefAV", 8)
@unary
def has_lateral_acceleration(
    ctx: LogContext, uuids: list[str], min_accel: float = -np.inf, max_accel: float = np.inf
) -> dict[str, list[int]]:
    """Timestamps where sideways acceleration is between min_accel and max_accel (m/s², + is leftward).

    Stationary objects never match.

    Args:
        min_accel: lowest leftward acceleration in m/s² (negative values push to the right).
        max_accel: highest leftward acceleration in m/s².

    Prompts say:
        swerving, swerve, jerking sideways, lateral acceleration, sharp steering.

    Example:
        swerving = scenario_not(has_lateral_acceleration)(cars, log_dir, min_accel=-2, max_accel=2)
    """
    number("has_lateral_acceleration", "min_accel", min_accel)
    number("has_lateral_acceleration", "max_accel", max_accel)
    lateral = ctx.in_own_frame(ctx.acceleration_city)[:, 1]
    return timestamps_where(ctx, uuids, (lateral >= min_accel) & (lateral <= max_accel) & _moving_rows(ctx))


@listed("RefAV", 6)
@unary
def turning(ctx: LogContext, uuids: list[str], direction: str | None = None) -> dict[str, list[int]]:
    """Timestamps where an object turns left or right (heading changes by more than 45° in one turn).

    Args:
        track_candidates: the objects.
        log_dir: the log.
        direction: "left", "right", or None for either.

    Prompts say:
        turning left, turning right, left turn, right turn, turns, making a turn.

    Example:
        left_turns = turning(vehicles, log_dir, direction="left")
    """
    # RefAV scans each track for windows that start where the yaw rate's sign run starts and
    # end at the first sample of the next run (inclusive, so windows overlap by one sample);
    # inside a run of exact zeros every sample starts a two-sample window. A window whose
    # summed rate times the track's *first* sample gap exceeds 45° is a left turn (below -45°
    # a right turn). This reproduces that scan for all tracks at once.
    choice("turning", "direction", direction, ("left", "right", None))
    return timestamps_where(ctx, uuids, turning_rows(ctx, direction))


def turning_rows(ctx: LogContext, direction: str | None) -> npt.NDArray[np.bool_]:
    """Per row of the log: inside a left (or right, or either: None) turn window; computed once per log."""
    left, right = ctx.derived(("turning_rows",), lambda: _turning_rows(ctx))
    return left if direction == "left" else right if direction == "right" else left | right


def _turning_rows(ctx: LogContext) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    rate_deg = np.degrees(ctx.yaw_rate)
    groups = ctx.groups
    n_rows = len(rate_deg)
    index = np.arange(n_rows)
    sign = np.sign(rate_deg)
    new_run = (index == groups.start) | (sign != np.roll(sign, 1))
    # a window starts at every sign-run start and at every zero-rate sample, never at a track's last row
    starts = np.flatnonzero((new_run | (sign == 0)) & (index < groups.end))
    run_id = np.cumsum(new_run) - 1
    run_starts = np.flatnonzero(new_run)
    next_run_start = np.append(run_starts[1:], n_rows)[run_id]
    ends = np.where(sign[starts] == 0, starts + 1, np.minimum(next_run_start[starts], groups.end[starts]))
    first_gap_s = np.zeros(n_rows)
    has_two = groups.length >= 2
    second = np.minimum(groups.start + 1, groups.end)
    first_gap_s[has_two] = (ctx.row_timestamp_ns[second] - ctx.row_timestamp_ns[groups.start])[has_two] / 1e9
    cumulative = np.concatenate([[0.0], np.cumsum(rate_deg)])
    change_deg = (cumulative[ends + 1] - cumulative[starts]) * first_gap_s[starts]
    masks = []
    for hit in (change_deg > TURN_DEGREES, change_deg < -TURN_DEGREES):
        cover = np.zeros(n_rows + 1, dtype=np.int64)
        np.add.at(cover, starts[hit], 1)
        np.add.at(cover, ends[hit] + 1, -1)
        masks.append((np.cumsum(cover[:-1]) > 0) & has_two)
    return masks[0], masks[1]
