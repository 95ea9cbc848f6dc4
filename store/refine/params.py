"""The refinement's steps and parameters, in SI units (metres, seconds, radians, m/s)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from store.errors import StoreError

STEPS = ("yaw", "split", "vote", "reconnect", "backward", "ghosts", "interpolate", "smooth")
"""Every step, in the order they run."""


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
    """smooth: the standard deviation of the (white) acceleration of the constant-velocity model."""

    def validate(self) -> None:
        """Raise ``RefineError`` naming every parameter out of range."""
        bad = [f.name for f in dataclasses.fields(self) if not getattr(self, f.name) > 0]
        if not self.max_heading_change_rad <= math.pi:
            bad.append("max_heading_change_rad")
        if bad:
            raise RefineError(
                f"refinement parameter(s) out of range: {', '.join(f'{n}={getattr(self, n)}' for n in bad)}. "
                "Every parameter must be positive (SI units: m, s, rad, m/s), max_heading_change_rad at most pi."
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
            kind = int if names[name.strip()].type in (int, "int") else float
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
