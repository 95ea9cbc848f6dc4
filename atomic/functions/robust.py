"""Temporally robust motion functions: the RefAV motion rules decided on evidence over several frames.

Each has the faithful function's call style (scenario in, scenario out) under a ``robust_`` name.
Differences from the faithful rule: signals are averaged over a time window (jitter cancels), a
state turns on past a threshold and off only past a looser one (hysteresis: no flicker at the
boundary), gaps up to ``max_gap_s`` are closed (a dropped frame does not split an event), runs
shorter than ``min_duration_s`` are dropped (one noisy frame is no event), and headings ignore
front/back box flips. Units: metres, seconds, m/s, m/s², degrees.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import timestamps_where, whole_tracks
from avmine.atomic.lifting import unary
from avmine.atomic.listing import listed
from avmine.atomic.temporal import hysteresis, sustain, unwrapped_heading, window_mean
from avmine.atomic.validation import ArgumentError, choice, non_negative, number

SPEED_HYSTERESIS_MPS = 0.25
"""A speed state turns off only this far beyond its threshold."""
ACCEL_HYSTERESIS_MPS2 = 0.3
"""An acceleration state turns off only this far beyond its threshold."""
TURN_STAY_FRACTION = 0.67
"""A turn stays on while the heading change is above this fraction of ``min_angle_deg``."""
MOVING_MPS = 1.0
"""Speed above which an object's heading changes count as turning."""
STATIONARY_DIAGONAL_M = 3.0
"""RefAV's stationary threshold, applied to 2-second mean positions instead of single boxes."""
STILL_MPS = 0.5
"""Net speed (first to last mean position over the duration) below which a track can be stationary."""


def _durations(function: str, window_s: float, min_duration_s: float, max_gap_s: float, min_window_s: float) -> None:
    """Durations are seconds: windows longer than ``min_window_s``, spells and gaps not negative."""
    non_negative(function, min_duration_s=min_duration_s, max_gap_s=max_gap_s)
    _window(function, window_s, min_window_s)


def _window(function: str, window_s: float, min_window_s: float) -> None:
    number(function, "window_s", window_s)
    if not window_s > min_window_s:
        raise ArgumentError(f"{function}: window_s must be more than {min_window_s:g} seconds, got {window_s!r}.")


RowRule = Callable[..., npt.NDArray[np.bool_]]
"""``rule(ctx, uuids, **params)``: one flag per row of the log, where the state holds."""

SPELL_DOCS = (
    ("min_duration_s", "shortest spell kept, in seconds."),
    ("max_gap_s", "longest gap closed, in seconds."),
)
"""How every robust motion function documents the spell parameters it gets from ``in_spells``."""


def in_spells(*, min_duration_s: float, max_gap_s: float) -> Callable[[RowRule], Callable[..., dict[str, list[int]]]]:
    """Decorator: a robust unary rule from a per-row rule, its states kept in spells.

    The rule gets ``min_duration_s`` and ``max_gap_s`` (seconds, with these defaults) after its own
    parameters, and their entries at the end of its docstring's Args: gaps up to ``max_gap_s`` in a
    track's state are closed, then spells shorter than ``min_duration_s`` dropped.
    """

    def make(rows: RowRule) -> Callable[..., dict[str, list[int]]]:
        name = rows.__name__
        defaults = {"min_duration_s": min_duration_s, "max_gap_s": max_gap_s}

        def rule(ctx: LogContext, uuids: list[str], **params: Any) -> dict[str, list[int]]:
            spell = {key: params.pop(key, default) for key, default in defaults.items()}
            non_negative(name, **spell)
            mask = rows(ctx, uuids, **params)
            return timestamps_where(
                ctx, uuids, sustain(mask, ctx.row_timestamp_ns, ctx.groups, spell["max_gap_s"], spell["min_duration_s"])
            )

        declared = inspect.signature(rows)
        added = [
            inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value, annotation="float")
            for key, value in defaults.items()
        ]
        rule.__signature__ = declared.replace(  # type: ignore[attr-defined]
            parameters=[*declared.parameters.values(), *added], return_annotation="dict[str, list[int]]"
        )
        for attribute in ("__name__", "__qualname__", "__module__"):
            setattr(rule, attribute, getattr(rows, attribute))
        rule.__doc__ = _with_spell_docs(name, inspect.cleandoc(rows.__doc__ or ""))
        return rule

    return make


def _with_spell_docs(name: str, doc: str) -> str:
    """``doc`` with ``SPELL_DOCS`` at the end of its Args section."""
    lines = doc.splitlines()
    if "Args:" not in lines:
        raise TypeError(f"{name}: a robust rule documents its parameters under Args:")
    end = lines.index("Args:") + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    entries = [f"    {key}: {text}" for key, text in SPELL_DOCS]
    return "\n".join([*lines[:end], *entries, *lines[end:]])


def rows_at(ctx: LogContext, stamps: Mapping[str, Iterable[int]]) -> npt.NDArray[np.bool_]:
    """The row mask of the given timestamps of each track (uuids unknown to the log are ignored)."""
    mask = np.zeros(len(ctx.row_track), dtype=bool)
    for uuid, times in stamps.items():
        if uuid in ctx.track_index:
            rows = ctx.rows_of(ctx.track_index[uuid])
            mask[rows] = np.isin(ctx.row_timestamp_ns[rows], list(times))
    return mask


def mean_velocity(ctx: LogContext, window_s: float) -> np.ndarray:
    """Horizontal velocity of each row averaged over a centred window (m/s), shape (R, 2)."""
    half = window_s / 2
    return ctx.derived(
        ("mean_velocity", window_s),
        lambda: window_mean(ctx.velocity_city[:, :2], ctx.row_timestamp_ns, ctx.groups, half, half),
    )


def planar_speed(ctx: LogContext, window_s: float) -> np.ndarray:
    """Horizontal speed of each row from its window-mean velocity (m/s)."""
    return ctx.derived(("planar_speed", window_s), lambda: np.linalg.norm(mean_velocity(ctx, window_s), axis=1))


def forward_speed(ctx: LogContext) -> np.ndarray:
    """Speed along each row's own heading (m/s; negative when reversing)."""
    return ctx.derived(("forward_speed",), lambda: ctx.in_own_frame(ctx.velocity_city)[:, 0])


def angle_deg(function: str, name: str, value: float) -> None:
    """An angle in degrees must be in (0, 180]."""
    number(function, name, value)
    if not 0 < value <= 180:
        raise ArgumentError(f"{function}: {name} is an angle in degrees and must be in (0, 180], got {value!r}.")


def robust_stationary_mask(ctx: LogContext) -> np.ndarray:
    """Per track: 2-second mean positions within a 3 m diagonal, and under 0.5 m/s from first to last.

    The net-speed condition keeps a piece of a slowly moving track (a fragment) from looking parked;
    it uses net displacement, not mean speed, because jitter inflates every instantaneous speed.
    """

    def compute() -> np.ndarray:
        mean_xy = window_mean(ctx.xyz_city[:, :2], ctx.row_timestamp_ns, ctx.groups, 1.0, 1.0)
        starts, ends = ctx.track_start[:-1], ctx.track_start[1:] - 1
        lo = np.minimum.reduceat(mean_xy, starts, axis=0)
        hi = np.maximum.reduceat(mean_xy, starts, axis=0)
        duration_s = np.maximum((ctx.row_timestamp_ns[ends] - ctx.row_timestamp_ns[starts]) / 1e9, 1.0)
        net_speed = np.linalg.norm(mean_xy[ends] - mean_xy[starts], axis=1) / duration_s
        return np.asarray((np.linalg.norm(hi - lo, axis=1) < STATIONARY_DIAGONAL_M) & (net_speed < STILL_MPS))

    return ctx.derived(("robust_stationary",), compute)


@listed("robust", 5)
@unary
def robust_stationary(ctx: LogContext, uuids: list[str]) -> dict[str, list[int]]:
    """Parked or standing objects, robust to box jitter: 2-second mean positions stay within a 3 m diagonal.

    Like stationary (a whole-track property), but single jittery boxes cannot make a parked car move.

    Example:
        parked = robust_stationary(cars, log_dir)
    """
    return whole_tracks(ctx, uuids, robust_stationary_mask(ctx))


def _in_band(ctx: LogContext, signal: np.ndarray, band: tuple[float, float, float]) -> npt.NDArray[np.bool_]:
    """Rows where ``signal`` enters [low, high] and stays within ``margin`` of it; never parked tracks."""
    low, high, margin = band
    enter = (signal >= low) & (signal <= high)
    stay = (signal >= low - margin) & (signal <= high + margin)
    return np.asarray(hysteresis(enter, stay, ctx.groups) & ~robust_stationary_mask(ctx)[ctx.row_track])


@listed("robust", 3)
@unary
@in_spells(min_duration_s=0.5, max_gap_s=0.5)
def robust_has_velocity(
    ctx: LogContext, uuids: list[str], min_velocity: float = 0.5, max_velocity: float = np.inf, window_s: float = 1.0
) -> npt.NDArray[np.bool_]:
    """Timestamps where the speed, averaged over window_s, is between min_velocity and max_velocity (m/s).

    Turns off only 0.25 m/s beyond a threshold; gaps up to max_gap_s are closed and spells shorter
    than min_duration_s dropped. Parked objects (robust_stationary) never match, as in has_velocity.

    Args:
        min_velocity: lowest horizontal speed in m/s.
        max_velocity: highest horizontal speed in m/s.
        window_s: averaging window in seconds, centred.

    Example:
        stopped = robust_has_velocity(cars, log_dir, min_velocity=0, max_velocity=0.5, min_duration_s=1.0)
    """
    name = "robust_has_velocity"
    number(name, "min_velocity", min_velocity)
    number(name, "max_velocity", max_velocity)
    _window(name, window_s, 0.0)
    return _in_band(ctx, planar_speed(ctx, window_s), (min_velocity, max_velocity, SPEED_HYSTERESIS_MPS))


def forward_acceleration(ctx: LogContext, window_s: float) -> np.ndarray:
    """Change of window-mean forward speed across each row (m/s²): later half minus earlier half."""

    def compute() -> np.ndarray:
        forward = forward_speed(ctx)
        half = window_s / 2
        after = window_mean(forward, ctx.row_timestamp_ns, ctx.groups, 0.0, half)
        before = window_mean(forward, ctx.row_timestamp_ns, ctx.groups, half, 0.0)
        return np.asarray((after - before) / half)

    return ctx.derived(("forward_acceleration", window_s), compute)


@listed("robust", 4)
@unary
@in_spells(min_duration_s=0.5, max_gap_s=0.3)
def robust_accelerating(
    ctx: LogContext, uuids: list[str], min_accel: float = 0.65, max_accel: float = np.inf, window_s: float = 1.0
) -> npt.NDArray[np.bool_]:
    """Timestamps where forward acceleration over window_s is between min_accel and max_accel (m/s²).

    Acceleration is the change of mean forward speed between the window's halves; it turns off only
    0.3 m/s² beyond a threshold; spells shorter than min_duration_s are dropped. Negative values
    decelerate (see braking for hard stops).

    Args:
        min_accel: lowest forward acceleration in m/s².
        max_accel: highest forward acceleration in m/s².
        window_s: window in seconds, centred.

    Example:
        speeding_up = robust_accelerating(cars, log_dir, min_accel=1.0)
    """
    name = "robust_accelerating"
    number(name, "min_accel", min_accel)
    number(name, "max_accel", max_accel)
    _window(name, window_s, 0.0)
    return _in_band(ctx, forward_acceleration(ctx, window_s), (min_accel, max_accel, ACCEL_HYSTERESIS_MPS2))


def heading_change_deg(ctx: LogContext, window_s: float) -> np.ndarray:
    """Heading change across each row (degrees, + is left).

    The mean heading over the window's last second minus over its first, on flip-free unwrapped headings.
    """

    def compute() -> np.ndarray:
        heading = ctx.derived(("heading",), lambda: unwrapped_heading(ctx.yaw_city, ctx.groups))
        half = window_s / 2
        times = ctx.row_timestamp_ns
        later = window_mean(heading, times, ctx.groups, 1.0, 0.0, shift_s=half)
        earlier = window_mean(heading, times, ctx.groups, 0.0, 1.0, shift_s=-half)
        return np.asarray(np.degrees(later - earlier))

    return ctx.derived(("heading_change", window_s), compute)


@listed("robust", 1)
@unary
@in_spells(min_duration_s=1.0, max_gap_s=0.5)
def robust_turning(
    ctx: LogContext, uuids: list[str], direction: str | None = None, min_angle_deg: float = 45.0, window_s: float = 6.0
) -> npt.NDArray[np.bool_]:
    """Timestamps where a moving object turns: its heading changes by min_angle_deg or more across window_s.

    Headings are 1-second means, unwrapped, with front/back box flips removed; the turn stays on
    down to two thirds of min_angle_deg; objects slower than 1 m/s do not turn.

    Args:
        direction: "left", "right", or None for either.
        min_angle_deg: heading change in degrees, in (0, 180].
        window_s: seconds over which the change is measured (> 2).

    Example:
        left_turns = robust_turning(vehicles, log_dir, direction="left")
    """
    name = "robust_turning"
    choice(name, "direction", direction, ("left", "right", None))
    angle_deg(name, "min_angle_deg", min_angle_deg)
    _window(name, window_s, 2.0)  # two 1-second heading means must fit
    change = heading_change_deg(ctx, window_s)
    sign = {"left": 1.0, "right": -1.0}
    signed = change if direction is None else change * sign[direction]
    magnitude = np.abs(signed) if direction is None else signed
    moving = planar_speed(ctx, 1.0) > MOVING_MPS
    enter = (magnitude >= min_angle_deg) & moving
    stay = (magnitude >= TURN_STAY_FRACTION * min_angle_deg) & moving
    return np.asarray(hysteresis(enter, stay, ctx.groups))
