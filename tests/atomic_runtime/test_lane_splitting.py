"""Lane splitting on scripted trajectories: between two queues, versus passing a single car."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.functions import FUNCTIONS
from avmine.atomic.validation import ArgumentError

from .scripted_tracks import Track, along, build, times


def test_riding_between_two_queues_is_lane_splitting_and_passing_one_car_is_not(tmp_path: Path) -> None:
    t = times(12)

    def car(x0: float, y: float) -> Track:
        return along(t, 1.0, 0.0, start=(x0, y))

    rider = along(t, 5.0, 0.0, start=(0.0, 0.0))
    rider.category = "MOTORCYCLE"
    loner = along(t, 5.0, 0.0, start=(0.0, 40.0))
    loner.category = "MOTORCYCLE"
    tracks = {"rider": rider, "loner": loner, "left": car(25.0, 2.3), "right": car(25.0, -2.3),
              "single": car(25.0, 42.3)}  # fmt: skip
    log_dir = tmp_path / "splitting"
    build(tracks, log_dir)
    motorcycles = FUNCTIONS["get_objects_of_category"](log_dir, "MOTORCYCLE")
    vehicles = FUNCTIONS["get_objects_of_category"](log_dir, "VEHICLE")
    found = FUNCTIONS["lane_splitting"](motorcycles, vehicles, log_dir)
    assert found["loner"] == {}
    assert set(found["rider"]) == {"left", "right"}
    # alongside while the rider's 4.5 m box overlaps the cars': it closes at 4 m/s from 25 m behind
    seconds = np.array(sorted(found["rider"]["left"])) / 1e9
    assert seconds[0] == pytest.approx((25.0 - 4.5) / 4.0, abs=0.25)
    assert seconds[-1] == pytest.approx((25.0 + 4.5) / 4.0, abs=0.25)
    with pytest.raises(ArgumentError, match="lane_splitting: max_gap_m"):
        FUNCTIONS["lane_splitting"](motorcycles, vehicles, log_dir, max_gap_m=-1)
