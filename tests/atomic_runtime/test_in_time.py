"""Behaviours in time on scripted tracks: which objects each operator finds and which timestamps it refers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.functions import FUNCTIONS
from avmine.atomic.scenario import timestamps
from avmine.atomic.validation import ArgumentError

from .scripted_tracks import along, build, seconds, times

T = times(25)
F = FUNCTIONS


def ramp(start_s: float, end_s: float, change: float) -> np.ndarray:
    return np.clip((T - start_s) / (end_s - start_s), 0, 1) * change


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A car that stops for 4 s and then turns left, one that turns without stopping, one that only stops."""
    stop_go = np.interp(T, [0, 3, 4, 8, 9, 25], [6, 6, 0, 0, 5, 5])
    tracks = {
        "stop_then_turn": along(T, stop_go, ramp(10, 14, np.pi / 2)),
        "rolling_turn": along(T, 6.0, ramp(10, 14, np.pi / 2), start=(0, 200)),
        "stop_only": along(T, np.interp(T, [0, 3, 4, 25], [6, 6, 0, 0]), 0.0, start=(0, 400)),
        "brief_stops": along(
            T, np.interp(T, [0, 3, 4, 5, 6, 15, 16, 22, 23, 25], [6, 6, 0, 0, 6, 6, 0, 0, 6, 6]), 0.0, start=(0, 600)
        ),
    }
    log_dir = tmp_path_factory.mktemp("in_time") / "scripted-in-time"
    build(tracks, log_dir)
    return log_dir


def _parts(log_dir: Path) -> tuple[dict, dict, dict]:
    cars = F["get_objects_of_category"](log_dir, category="REGULAR_VEHICLE")
    stopped = F["has_velocity"](cars, log_dir, min_velocity=0, max_velocity=0.5)
    turned = F["turning"](cars, log_dir, direction="left")
    return cars, stopped, turned


def _span(found: dict, uuid: str) -> tuple[float, float] | None:
    return seconds(found, uuid)


def test_then_finds_the_stop_followed_by_a_turn_and_not_its_look_alikes(log: Path) -> None:
    _, stopped, turned = _parts(log)
    found = F["then"](stopped, turned, log, within_s=3)
    assert _span(found, "stop_then_turn") is not None
    assert _span(found, "rolling_turn") is None  # turns without a stop
    assert _span(found, "stop_only") is None  # stops without a turn
    assert set(found) >= {"stop_then_turn", "rolling_turn", "stop_only"}  # RefAV: every candidate stays a key


def test_then_refers_the_whole_sequence_or_one_part(log: Path) -> None:
    _, stopped, turned = _parts(log)
    stop, turn = _span(stopped, "stop_then_turn"), _span(turned, "stop_then_turn")
    assert stop is not None and turn is not None
    both = _span(F["then"](stopped, turned, log, within_s=3), "stop_then_turn")
    first = _span(F["then"](stopped, turned, log, within_s=3, refer="first"), "stop_then_turn")
    second = _span(F["then"](stopped, turned, log, within_s=3, refer="second"), "stop_then_turn")
    assert both == (stop[0], turn[1])  # from the start of the stop to the end of the turn, gap included
    assert first == stop and second == turn
    whole = timestamps(F["then"](stopped, turned, log, within_s=3)["stop_then_turn"])
    assert len(whole) == round((turn[1] - stop[0]) * 10) + 1  # every frame between: the gap is referred


def test_then_respects_its_window(log: Path) -> None:
    _, stopped, turned = _parts(log)
    stop, turn = _span(stopped, "stop_then_turn"), _span(turned, "stop_then_turn")
    assert stop is not None and turn is not None
    gap = turn[0] - stop[1]
    assert gap > 0.5
    assert _span(F["then"](stopped, turned, log, within_s=gap - 0.2), "stop_then_turn") is None
    assert _span(F["then"](stopped, turned, log, within_s=gap + 0.2), "stop_then_turn") is not None
    assert _span(F["then"](turned, stopped, log, within_s=30), "stop_then_turn") is None  # order matters


def test_without_and_overlapping_split_turns_by_a_stop_before_them(log: Path) -> None:
    _, stopped, turned = _parts(log)
    rolling = F["without"](turned, stopped, log, before_s=3)
    after_stop = F["overlapping"](turned, stopped, log, before_s=3)
    assert _span(rolling, "rolling_turn") == _span(turned, "rolling_turn") is not None  # the whole spell
    assert _span(rolling, "stop_then_turn") is None
    assert _span(after_stop, "stop_then_turn") == _span(turned, "stop_then_turn")
    assert _span(after_stop, "rolling_turn") is None


def test_after_and_before_another_objects_event(log: Path) -> None:
    cars, stopped, turned = _parts(log)
    only = {"stop_only": stopped["stop_only"]}  # the event: stop_only's stop, which begins at about 4 s
    start = _span(only, "stop_only")
    assert start is not None
    found = F["after"](turned, only, log, within_s=8)
    rolling = _span(turned, "rolling_turn")
    assert rolling is not None and rolling[0] > start[0]
    span = _span(found, "rolling_turn")
    assert span is not None and span[0] == rolling[0] and span[1] <= start[0] + 8 + 1e-9
    assert _span(F["after"](turned, only, log, within_s=1), "rolling_turn") is None
    moving = F["has_velocity"](cars, log, min_velocity=3)
    early = _span(F["before"](moving, only, log, within_s=2), "rolling_turn")
    assert early is not None and early[1] <= start[0] and early[0] >= start[0] - 2 - 1e-9


def test_lasting_first_and_last_time(log: Path) -> None:
    _, stopped, _ = _parts(log)
    spells = _span(stopped, "brief_stops")
    assert spells is not None
    brief = F["lasting"](stopped, log, max_duration_s=3)
    long = F["lasting"](stopped, log, min_duration_s=5)
    assert _span(brief, "brief_stops") is not None and _span(brief, "stop_only") is None
    assert _span(long, "stop_only") is not None and _span(long, "brief_stops") is not None  # the 6 s stop
    first, last = (
        _span(F["first_time"](stopped, log), "brief_stops"),
        _span(F["last_time"](stopped, log), "brief_stops"),
    )
    assert first is not None and last is not None and first[1] < 8 < last[0]
    assert first[0] == spells[0] and last[1] == spells[1]


def test_short_gaps_do_not_split_a_spell(log: Path) -> None:
    _, stopped, _ = _parts(log)
    whole = sorted(timestamps(stopped["stop_only"]))
    holed = {"stop_only": [t for i, t in enumerate(whole) if i % 4]}  # a flicker every 4th frame
    kept = holed["stop_only"]
    assert (
        timestamps(F["first_time"](holed, log)["stop_only"]) == whole[whole.index(kept[0]) : whole.index(kept[-1]) + 1]
    )
    assert timestamps(F["first_time"](holed, log, max_gap_s=0.0)["stop_only"]) == whole[1:4]


def test_bad_arguments_are_named(log: Path) -> None:
    _, stopped, turned = _parts(log)
    with pytest.raises(ArgumentError, match="within_s"):
        F["then"](stopped, turned, log, within_s=-1)
    with pytest.raises(ValueError, match="refer"):
        F["then"](stopped, turned, log, refer="middle")


@pytest.fixture(scope="module")
def walkers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ego drives along +x at 5 m/s; one pedestrian waits ahead of it, one walks away from it, faster."""
    ego = along(T, 5.0, 0.0)
    ego.category = "EGO_VEHICLE"
    tracks = {
        "waits_ahead": along(T, 0.0, 0.0, start=(100.0, 3.0)),  # still: the ego closes in at 5 m/s
        "walks_away": along(T, 6.5, 0.0, start=(20.0, 3.0)),  # faster than the ego, same way
        "walks_across": along(T, 1.2, np.pi / 2, start=(300.0, -10.0)),  # far away: beyond max_distance
    }
    for track in tracks.values():
        track.category = "PEDESTRIAN"
    log_dir = tmp_path_factory.mktemp("closing") / "scripted-closing"
    build(tracks, log_dir, ego=ego)
    return log_dir


def test_getting_closer_and_farther_whoever_moves(walkers: Path) -> None:
    peds = F["get_objects_of_category"](walkers, category="PEDESTRIAN")
    ego = F["get_objects_of_category"](walkers, category="EGO_VEHICLE")
    closer = F["getting_closer"](peds, ego, walkers, min_rate=1.0)
    farther = F["getting_farther"](peds, ego, walkers, min_rate=1.0)
    assert _span(closer, "waits_ahead") is not None  # the pedestrian stands still: the ego approaches it
    assert _span(closer, "walks_away") is None and _span(farther, "walks_away") is not None
    assert _span(closer, "walks_across") is None and _span(farther, "walks_across") is None
    near = _span(closer, "waits_ahead")
    assert near is not None and near[1] <= 20.0 + 1e-9  # the ego passes it at 20 s
    # heading_toward asks where the pedestrian's own velocity points: a standing one heads nowhere
    assert _span(F["heading_toward"](peds, ego, walkers), "waits_ahead") is None


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ego drives along +x at 8 m/s behind three vehicles in a line, 10, 20 and 30 m ahead of it."""
    ego = along(T, 8.0, 0.0)
    ego.category = "EGO_VEHICLE"
    tracks = {f"ahead_{k}": along(T, 8.0, 0.0, start=(10.0 * k, 0.0)) for k in (1, 2, 3)}
    tracks["walks_toward"] = along(T, -1.5, 0.0, start=(200.0, 2.0))  # a pedestrian walking toward the ego
    tracks["walks_toward"].category = "PEDESTRIAN"
    log_dir = tmp_path_factory.mktemp("queue") / "scripted-queue"
    build(tracks, log_dir, ego=ego)
    return log_dir


def test_the_nth_vehicle_ahead_recipe_finds_the_second_in_the_line(queue: Path) -> None:
    vehicles = F["get_objects_of_category"](queue, category="REGULAR_VEHICLE")
    ego = F["get_objects_of_category"](queue, category="EGO_VEHICLE")
    first = F["get_objects_in_relative_direction"](ego, vehicles, queue, direction="forward", max_number=1)
    second = F["get_objects_in_relative_direction"](first, vehicles, queue, direction="forward", max_number=1)
    assert [uuid for uuid, value in first.items() if timestamps(value)] == ["ahead_1"]
    assert [uuid for uuid, value in second.items() if timestamps(value)] == ["ahead_2"]


def test_a_pedestrian_walking_toward_the_moving_ego_gets_closer(queue: Path) -> None:
    peds = F["get_objects_of_category"](queue, category="PEDESTRIAN")
    ego = F["get_objects_of_category"](queue, category="EGO_VEHICLE")
    closer = _span(F["getting_closer"](peds, ego, queue, min_rate=5.0, max_distance=300), "walks_toward")
    farther = _span(F["getting_farther"](peds, ego, queue, min_rate=5.0, max_distance=300), "walks_toward")
    # closing at 9.5 m/s until the ego passes it at about 21 s, then the gap grows
    assert closer is not None and closer[0] == 0.0 and 20.0 < closer[1] < 21.5
    assert farther is not None and 21.0 < farther[0] < 22.5 and farther[1] == 25.0
