"""The robust and behaviour functions: scripted manoeuvres with known answers, the demo logs, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.atomic.context import LogContext
from avmine.atomic.docs import registry
from avmine.atomic.functions import EXTENSION_KINDS, FUNCTIONS
from avmine.atomic.kinematics import Groups
from avmine.atomic.temporal import close_gaps, drop_short, hysteresis, window_mean
from avmine.atomic.validation import ArgumentError

from .scripted_tracks import Track, along, build, seconds, times

T = times(25)


def ramp(start_s: float, end_s: float, change: float) -> np.ndarray:
    return np.clip((T - start_s) / (end_s - start_s), 0, 1) * change


def k_turn_speed() -> np.ndarray:
    return np.where((T >= 8) & (T < 10), -2.0, 3.0)


def walker(start_s: float, end_s: float, origin: tuple[float, float], goal: tuple[float, float]) -> Track:
    t = T[np.abs(T - (start_s + end_s) / 2) <= (end_s - start_s) / 2 + 1e-9]
    share = (t - start_s) / (end_s - start_s)
    x, y = origin[0] + share * (goal[0] - origin[0]), origin[1] + share * (goal[1] - origin[1])
    return Track("PEDESTRIAN", t, x, y, np.full_like(t, np.arctan2(goal[1] - origin[1], goal[0] - origin[0])), 0.6)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    """Manoeuvres at 10 Hz over 25 s, far apart from each other."""
    tracks = {
        "u_turn": along(T, 5.0, ramp(8, 14, np.pi)),
        "left_turn": along(T, 5.0, ramp(8, 13, np.pi / 2), start=(0, 100)),
        "k_turn": along(
            T, k_turn_speed(), ramp(5, 8, np.pi / 2) + ramp(8, 10, np.pi / 4) + ramp(10, 13, np.pi / 4), start=(0, 200)
        ),
        "hard_brake": along(T, np.where(T < 5, 12.0, np.maximum(12 - 5 * (T - 5), 0)), 0.0, start=(0, 300)),
        "gentle_slowing": along(T, np.where(T < 5, 12.0, np.maximum(12 - (T - 5), 4)), 0.0, start=(0, 400)),
        "fast": along(T, 15.0, 0.0, start=(0, 600)),
        "slow": along(T, 10.0, 0.0, start=(20, 603.5)),
        "parked": along(T, 0.0, 0.0, start=(150, 603.5)),
        "follower": along(T, 10.0, 0.0, start=(0, 800)),
        "cutter": along(T, 11.0, np.where((T >= 5) & (T < 8), -np.arctan2(3.5 / 3, 11.0), 0.0), start=(8, 803.5)),
        "leaver": along(T, 11.0, np.where((T >= 5) & (T < 8), -np.arctan2(3.5 / 3, 11.0), 0.0), start=(8, 800)),
        "car_at_kerb": along(T, 0.0, 0.0, start=(0, 900)),
        "walker_in": walker(0.0, 6.0, (-8.0, 902.0), (0.0, 901.5)),
        "walker_out": walker(12.0, 20.0, (1.0, 898.5), (10.0, 895.0)),
        "walker_by": walker(0.0, 25.0, (-20.0, 905.0), (20.0, 905.0)),
        # a car slows to wait 8 m before a crossing pedestrian, then goes; another drives on regardless
        "waiting_car": along(T, np.interp(T, [0, 4, 6, 14, 16, 25], [8, 8, 0, 0, 8, 8]), 0.0, start=(-60, 1000)),
        "crossing_walker": walker(6.0, 16.0, (-5.0, 994.0), (-5.0, 1006.0)),
        "driving_car": along(T, 12.0, 0.0, start=(-60, 1100)),
        "late_walker": walker(15.0, 25.0, (300.0, 1094.0), (300.0, 1106.0)),
    }
    log_dir = tmp_path_factory.mktemp("scripted") / "scripted-log"
    ctx = build(tracks, log_dir)
    return log_dir, {u: ctx.timeline(u) for u in tracks}


def found(name: str, scripted: tuple[Path, dict[str, list[int]]], **kwargs: Any) -> dict[str, tuple[float, float]]:
    log_dir, everything = scripted
    out = FUNCTIONS[name](everything, log_dir, **kwargs)
    return {u: span for u in everything if (span := seconds(out, u))}


def related(name: str, scripted: tuple[Path, dict[str, list[int]]]) -> set[tuple[str, str]]:
    log_dir, everything = scripted
    out = FUNCTIONS[name](everything, everything, log_dir)
    return {(u, r) for u, relations in out.items() for r, stamps in relations.items() if stamps}


def test_a_clean_u_turn_is_a_u_turn_and_a_left_turn_is_not(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    u_turns = found("u_turn", scripted)
    assert set(u_turns) == {"u_turn"}
    start, end = u_turns["u_turn"]
    assert start < 11 < end  # the middle of the 8-14 s reversal
    assert "left_turn" in found("robust_turning", scripted, direction="left")


def test_a_three_point_turn_reverses_and_a_u_turn_does_not(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    assert set(found("three_point_turn", scripted)) == {"k_turn"}
    backing = found("reversing", scripted)
    assert set(backing) == {"k_turn"} and 7.5 <= backing["k_turn"][0] <= 8.5 and 9.5 <= backing["k_turn"][1] <= 10.5


def test_hard_braking_is_braking_and_gentle_slowing_is_not(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    braking = found("braking", scripted)
    assert "hard_brake" in braking and "gentle_slowing" not in braking
    start, end = braking["hard_brake"]
    assert 4.5 <= start <= 5.5 and 6.5 <= end <= 7.6  # 12 m/s to 0 at 5 m/s² from 5 s
    slowing = found("robust_accelerating", scripted, min_accel=-np.inf, max_accel=-0.5)
    assert {"hard_brake", "gentle_slowing"} <= set(slowing)


def test_an_overtake_is_not_a_pass_and_a_pass_is_not_an_overtake(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    assert related("overtaking", scripted) == {("fast", "slow")}
    assert related("being_overtaken", scripted) == {("slow", "fast")}
    assert related("passing", scripted) == {("fast", "parked"), ("slow", "parked")}


def test_a_cut_in_needs_someone_behind_and_getting_in_or_out_needs_a_door(
    scripted: tuple[Path, dict[str, list[int]]],
) -> None:
    cut_ins = related("cutting_in", scripted)
    assert ("cutter", "follower") in cut_ins and not any(track == "leaver" for track, _ in cut_ins)
    log_dir, everything = scripted
    spans = FUNCTIONS["cutting_in"](everything, everything, log_dir)["cutter"]["follower"]
    assert 4 <= spans[0] / 1e9 <= 7 and 7 <= spans[-1] / 1e9 <= 10
    assert related("getting_in", scripted) == {("walker_in", "car_at_kerb")}
    assert related("getting_out", scripted) == {("walker_out", "car_at_kerb")}


def test_waiting_for_a_crossing_pedestrian_is_yielding(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    assert related("yielding", scripted) == {("waiting_car", "crossing_walker")}
    log_dir, everything = scripted
    spans = FUNCTIONS["yielding"](everything, everything, log_dir)["waiting_car"]["crossing_walker"]
    assert 5.5 <= spans[0] / 1e9 <= 8 and 12 <= spans[-1] / 1e9 <= 15.5


def test_robust_turning_spans_the_turn(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    turns = found("robust_turning", scripted, direction="left")
    assert set(turns) == {"u_turn", "left_turn", "k_turn"}
    start, end = turns["left_turn"]
    assert 7 <= start <= 9 and 12.5 <= end <= 14.5  # the 8-13 s turn, give or take the window
    assert found("robust_turning", scripted, direction="right") == {}


def test_sustained_closes_gaps_and_drops_blips(scripted: tuple[Path, dict[str, list[int]]]) -> None:
    log_dir, everything = scripted
    line = everything["fast"]
    flickering = {"fast": line[10:40] + line[42:80] + line[150:152]}  # a 0.2 s gap, and a 0.1 s blip
    steady = FUNCTIONS["sustained"](flickering, log_dir, min_duration_s=0.5, max_gap_s=0.3)
    assert steady["fast"] == line[10:80]
    relational = {"fast": {"slow": line[10:40] + line[150:152]}}
    assert FUNCTIONS["sustained"](relational, log_dir) == {"fast": {"slow": line[10:40]}}


def test_temporal_primitives_respect_groups() -> None:
    groups = Groups.from_lengths(np.array([4, 3]))
    t = np.array([0, 1, 2, 3, 0, 1, 2]) * 10**9
    assert window_mean(np.arange(7.0), t, groups, 1.0, 1.0).tolist() == [0.5, 1.0, 2.0, 2.5, 4.5, 5.0, 5.5]
    assert window_mean(np.arange(7.0), t, groups, 0.0, 0.0, shift_s=5.0).tolist()[0] != 0.0  # NaN past the end
    enter = np.array([0, 1, 0, 0, 0, 0, 1], bool)
    stay = np.array([1, 1, 1, 0, 1, 1, 1], bool)
    assert hysteresis(enter, stay, groups).tolist() == [False, True, True, False, False, False, True]
    mask = np.array([1, 0, 1, 1, 1, 0, 1], bool)
    assert close_gaps(mask, t, groups, 2.0).tolist() == [True] * 4 + [True, True, True]
    assert drop_short(mask, t, groups, 1.0).tolist() == [False, False, True, True, False, False, False]


def test_on_the_demo_logs_the_robust_functions_are_plausible(ctx: LogContext) -> None:
    log_dir = ctx.log_dir
    vehicles = FUNCTIONS["get_objects_of_category"](log_dir, category="VEHICLE")
    for name in ("robust_turning", "robust_has_velocity", "robust_accelerating", "robust_stationary", "u_turn",
                 "three_point_turn", "braking", "sustained"):  # fmt: skip
        out = FUNCTIONS[name](vehicles, log_dir)
        assert set(out) == set(vehicles)
        for uuid, stamps in out.items():
            assert set(stamps) <= set(ctx.timeline(uuid))  # type: ignore[arg-type]
    for name in ("overtaking", "being_overtaken", "passing"):
        out = FUNCTIONS[name](vehicles, vehicles, log_dir)
        assert all(set(rel) <= set(vehicles) for rel in out.values())
    # the faithful and robust speed rules mostly agree on clean annotations
    fast = FUNCTIONS["has_velocity"](vehicles, log_dir, min_velocity=5)
    robust_fast = FUNCTIONS["robust_has_velocity"](vehicles, log_dir, min_velocity=5)
    a = {(u, t) for u, s in fast.items() for t in s}  # type: ignore[union-attr]
    b = {(u, t) for u, s in robust_fast.items() for t in s}  # type: ignore[union-attr]
    assert len(a & b) >= 0.8 * len(a | b)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("robust_turning", {"min_angle_deg": 200}, "in \\(0, 180\\]"),
        ("u_turn", {"min_angle_deg": -10}, "in \\(0, 180\\]"),
        ("robust_has_velocity", {"min_duration_s": -1}, "min_duration_s=-[0-9]+ must be at least 0"),
        ("robust_accelerating", {"max_gap_s": -0.5}, "max_gap_s=-0.5 must be at least 0"),
        ("robust_turning", {"window_s": 1}, "window_s must be more than 2 seconds"),
        ("braking", {"min_decel": -3}, "min_decel=-3 must be at least 0"),
        ("sustained", {"min_duration_s": -2}, "min_duration_s=-[0-9]+ must be at least 0"),
    ],
)
def test_physically_meaningless_thresholds_are_clear_errors(
    scripted: tuple[Path, dict[str, list[int]]], name: str, kwargs: dict[str, float], message: str
) -> None:
    log_dir, everything = scripted
    with pytest.raises(ArgumentError, match=f"{name}: .*{message}"):
        FUNCTIONS[name](everything, log_dir, **kwargs)


def test_every_new_function_is_documented_with_an_example() -> None:
    new = [name for name, kind in EXTENSION_KINDS.items() if kind in ("robust", "behaviour", "temporal")]
    assert len(new) == 48  # 37 robust and behaviour functions, 3 relations (closer, farther, across), 8 in time
    for name in new:
        doc = registry()[name]
        assert doc.example and name in doc.example, name
        assert doc.kind.startswith(EXTENSION_KINDS[name]), doc.kind
