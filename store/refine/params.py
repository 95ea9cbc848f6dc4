"""The refinement's steps and parameters, in SI units (metres, seconds, radians, m/s)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from avmine.store.errors import StoreError

STEPS = ("yaw", "split", "vote", "reconnect", "backward", "ghosts", "interpolate", "smooth")
"""Every step, in the order they run."""

SMOOTHERS = ("imm", "cv")
"""The smoothers ``RefineParams.smoother`` can name."""


class RefineError(StoreError):
    """A refinement that cannot run as asked; nothing was written."""


@dataclass(frozen=True)
class RefineParams:
    """Parameters of the refinement steps; every value is in SI units and must be positive."""

    moving_speed_mps: float = 1.5
    """yaw: an object faster than this is moving, and its heading must agree with its motion."""
    motion_window_s: float = 1.0
    """yaw, split: the time span over which a velocity is fitted (least squares on the positions)."""
    split_speed_change_mps: float = 5.0
    """split: a change of fitted velocity larger than this between the half second before and after cuts."""
    max_gap_s: float = 3.0
    """reconnect, backward: the longest time between a track's end and another's start that can be joined."""
    gate_base_m: float = 1.5
    """reconnect, backward: the distance gate at a gap of zero."""
    gate_growth_mps: float = 1.5
    """reconnect, backward: how fast the distance gate grows with the gap (an unknown change of velocity)."""
    max_heading_change_rad: float = math.radians(45.0)
    """reconnect, backward: the largest heading difference between joined moving tracks."""
    size_tolerance: float = 0.3
    """reconnect, backward: the largest relative difference of length or width between joined tracks."""
    min_velocity_rows: int = 3
    """reconnect, backward: boxes a track needs at the predicted end to give a velocity (fewer: at rest)."""
    ghost_max_duration_s: float = 1.0
    """ghosts: a track shorter than this ..."""
    ghost_max_score: float = 0.5
    """ghosts: ... whose mean score is below this is a ghost (a source without scores has none)."""
    max_interpolation_gap_s: float = 1.0
    """interpolate: the longest gap inside a track filled with interpolated boxes."""
    position_noise_m: float = 0.25
    """smooth: the standard deviation of a box centre's error."""
    acceleration_noise_mps2: float = 2.0
    """smooth (``cv``): the standard deviation of the (white) acceleration of the constant-velocity model."""
    smoother: str = "imm"
    """smooth: ``imm`` (stationary, constant-velocity and constant-acceleration modes per category, see
    ``MOTION_MODELS``) or ``cv`` (one constant-velocity model for every track)."""

    def validate(self) -> None:
        """Raise ``RefineError`` naming every parameter out of range."""
        bad = [f.name for f in dataclasses.fields(self)
               if isinstance(getattr(self, f.name), int | float) and not getattr(self, f.name) > 0]  # fmt: skip
        if not self.max_heading_change_rad <= math.pi:
            bad.append("max_heading_change_rad")
        if self.smoother not in SMOOTHERS:
            bad.append("smoother")
        if bad:
            raise RefineError(
                f"refinement parameter(s) out of range: {', '.join(f'{n}={getattr(self, n)}' for n in bad)}. "
                "Every parameter must be positive (SI units: m, s, rad, m/s), max_heading_change_rad at most pi, "
                f"smoother one of: {', '.join(SMOOTHERS)}."
            )

    @classmethod
    def from_assignments(cls, assignments: list[str]) -> RefineParams:
        """Parameters from ``NAME=VALUE`` strings (the CLI's ``--set``); unknown names or values raise."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, float | int] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            if not sep or name.strip() not in names:
                raise RefineError(
                    f"'{item}' is not a refinement parameter assignment. Write NAME=VALUE with NAME one of: "
                    f"{', '.join(names)}."
                )
            declared = names[name.strip()].type
            kind: type = int if declared in (int, "int") else str if declared in (str, "str") else float
            try:
                values[name.strip()] = kind(text)
            except ValueError:
                raise RefineError(f"'{item}': {text!r} is not a number ({kind.__name__}).") from None
        params = cls(**values)  # type: ignore[arg-type]
        params.validate()
        return params


def check_steps(steps: list[str]) -> tuple[str, ...]:
    """The steps in running order; an unknown name raises ``RefineError``."""
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise RefineError(f"unknown refinement step(s): {', '.join(unknown)}. The steps are: {', '.join(STEPS)}.")
    return tuple(s for s in STEPS if s in steps)


MODES = ("stationary", "constant velocity", "constant acceleration")
"""The IMM smoother's motion modes, in the order of ``MotionModels.initial``."""


@dataclass(frozen=True)
class MotionModels:
    """The IMM smoother's modes for one kind of road user, in SI units.

    The state per axis is position, velocity and acceleration; every mode sees the same box centres.
    """

    stationary_drift_mps: float
    """stationary (at rest or creeping): velocity and acceleration are zero and the position wanders as a
    random walk of this speed (m/s per step of 1 s: standard deviation ``drift * dt`` per step); velocity and
    acceleration have this standard deviation (m/s, m/s²) so that mixing with the moving modes stays well
    conditioned."""
    cv_acceleration_mps2: float
    """constant velocity: standard deviation of the white acceleration (FilterPy's
    ``Q_discrete_white_noise(dim=2)``); the acceleration state has this standard deviation too."""
    ca_jerk_mps3: float
    """constant acceleration: the acceleration changes by white jerk; per step of ``dt`` s its increment has
    standard deviation ``ca_jerk_mps3 * dt`` (FilterPy's ``Q_discrete_white_noise(dim=3)``)."""
    switch_rate_hz: float
    """expected mode changes per second: over a step of ``dt`` s a mode is left with probability
    ``1 - exp(-switch_rate_hz * dt)``, evenly to the other two."""
    initial: tuple[float, float, float]
    """mode probabilities at a track's first box (stationary, constant velocity, constant acceleration)."""


MOTION_MODELS: dict[str, MotionModels] = {
    # parked and queued cars are common: the stationary mode holds them, yet lets a queue creep at walking
    # pace (0.3 m/s), which one frame's box cannot tell from noise; braking and turning need acceleration
    "vehicle": MotionModels(0.3, 2.0, 4.0, 0.2, (0.4, 0.4, 0.2)),
    "two-wheeler": MotionModels(0.3, 2.0, 4.0, 0.3, (0.3, 0.5, 0.2)),
    # people walk at 1-2 m/s and start, stop and turn within a second
    "pedestrian": MotionModels(0.3, 1.0, 2.0, 0.5, (0.4, 0.5, 0.1)),
    # cones, signs, bollards: almost never move (they may be carried)
    "static": MotionModels(0.02, 0.5, 1.0, 0.01, (0.98, 0.01, 0.01)),
}
"""The IMM smoother's modes per kind of road user (``CATEGORY_MOTION`` maps AV2 categories to them)."""

CATEGORY_MOTION: dict[str, str] = {
    **dict.fromkeys(("BICYCLE", "BICYCLIST", "MOTORCYCLE", "MOTORCYCLIST", "WHEELED_DEVICE", "WHEELED_RIDER"),
                    "two-wheeler"),
    **dict.fromkeys(("PEDESTRIAN", "STROLLER", "WHEELCHAIR", "DOG", "ANIMAL", "OFFICIAL_SIGNALER"), "pedestrian"),
    **dict.fromkeys(("BOLLARD", "CONSTRUCTION_BARREL", "CONSTRUCTION_CONE", "MOBILE_PEDESTRIAN_CROSSING_SIGN",
                     "SIGN", "STOP_SIGN", "MESSAGE_BOARD_TRAILER"), "static"),
}  # fmt: skip
"""AV2 category -> key of ``MOTION_MODELS``; every other category (cars, trucks, buses, trailers) is a vehicle."""


def motion_models(category: str) -> MotionModels:
    """The IMM modes of an AV2 category."""
    return MOTION_MODELS[CATEGORY_MOTION.get(category, "vehicle")]
