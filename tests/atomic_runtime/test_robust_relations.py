"""Robust relations and denoised boxes on scripted trajectories with known answers, and on a real demo log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.context import LogContext, context_for
from avmine.atomic.denoise import centred_mean, denoised, oriented_heading
from avmine.atomic.functions import EXTENSION_KINDS, FUNCTIONS
from avmine.atomic.kinematics import Groups
from avmine.atomic.temporal import spells
from avmine.atomic.validation import ArgumentError
from avmine.store import Store

from .scripted_tracks import EGO, Track, along, build, times

F = FUNCTIONS
LOG = "adcf7d18-0510-35b0-a2fa-b4cea13a6d76"


def _stamps(found: dict[str, object], uuid: str, related: str | None = None) -> list[float]:
    """Seconds at which ``uuid`` (related to ``related``, if given) was found."""
    value = found.get(uuid, [])
    if related is not None:
        value = value.get(related, []) if isinstance(value, dict) else []
    elif isinstance(value, dict):
        value = sorted(set().union(*(set(v) for v in value.values()))) if value else []
    return [t / 1e9 for t in sorted(value)]  # type: ignore[union-attr]


def _runs(seconds: list[float], step: float = 0.1) -> int:
    """How many separate spells the times form."""
    return 0 if not seconds else 1 + int(np.sum(np.diff(seconds) > step * 1.5))


@pytest.fixture(scope="module")
def convoy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A leader 15 m ahead of a follower at 10 m/s, with tracker noise scripted in; a pedestrian crossing ahead.

    The leader jitters sideways by 0.3 m, loses its box at 3.0 s and turns its box around at 5.0 s;
    the follower's box is turned around at 2.0 s. The pedestrian walks across 8 m ahead of a
    parked van, with its centre jittering back and forth over the van's side line as it starts.
    """
    t = times(10.0)
    rng = np.random.default_rng(7)
    follower = along(t, 10.0, 0.0)
    follower.yaw[20] += np.pi
    leader = along(t, 10.0, 0.0, start=(15.0, 0.0))
    leader.y = leader.y + rng.normal(0.0, 0.3, len(t))
    leader.yaw[50] += np.pi
    keep = np.abs(t - 3.0) > 0.05
    leader = Track(leader.category, t[keep], leader.x[keep], leader.y[keep], leader.yaw[keep])
    van = Track("REGULAR_VEHICLE", t, np.full_like(t, 200.0), np.zeros_like(t), np.zeros_like(t))
    walk_y = np.clip(-4.0 + 1.2 * (t - 2.0), -4.0, 4.0)
    walk_y[(t > 4.3) & (t < 4.9)] += np.array([0.3, -0.3] * 3)[: int(np.sum((t > 4.3) & (t < 4.9)))]
    pedestrian = Track("PEDESTRIAN", t, np.full_like(t, 200.0 + 2.25 + 8.0), walk_y, np.full_like(t, np.pi / 2))
    log_dir = tmp_path_factory.mktemp("convoy") / "convoy"
    build({"follower": follower, "leader": leader, "van": van, "pedestrian": pedestrian}, log_dir)
    return log_dir


def test_spells_keep_whole_loose_runs_that_held_the_strict_condition() -> None:
    groups = Groups.from_lengths(np.array([6, 4]))
    enter = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    stay = np.array([0, 1, 1, 1, 0, 1, 1, 1, 1, 1], dtype=bool)
    kept = spells(enter, stay, groups)
    # the run around the enter is kept before and after it; runs without one (and the next group) are not
    np.testing.assert_array_equal(kept, [0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_centred_means_do_not_stall_when_timestamps_jitter() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(60) * 0.1 + rng.uniform(-0.004, 0.004, 60)
    x = 10.0 * t
    smoothed = centred_mean(x, Groups.from_lengths(np.array([60])), 5)
    assert np.all(np.diff(smoothed) > 0.5)  # every box moves on by about a metre per step
    np.testing.assert_allclose(smoothed, x, atol=0.05)  # a straight path stays where it was


def test_oriented_headings_lose_flips_even_when_the_first_box_is_flipped() -> None:
    yaw = np.full(30, 0.3)
    yaw[[0, 11, 12, 25]] += np.pi
    heading = oriented_heading((yaw + np.pi) % (2 * np.pi) - np.pi, Groups.from_lengths(np.array([30])))
    np.testing.assert_allclose(np.cos(heading - 0.3), 1.0)


def test_denoised_boxes_steady_the_noisy_leader_and_keep_the_ego(convoy: Path) -> None:
    ctx = context_for(convoy)
    clean = denoised(ctx)
    leader = ctx.rows_of(ctx.track_index["leader"])
    assert np.std(clean.xyz_city[leader, 1]) < 0.5 * np.std(ctx.xyz_city[leader, 1])
    assert np.all(np.cos(clean.yaw_city[leader]) > 0.99)  # the turned-around box at 5.0 s is gone
    ego = ctx.rows_of(ctx.track_index[EGO])
    np.testing.assert_array_equal(clean.xyz_city[ego], ctx.xyz_city[ego])
    assert denoised(ctx) is clean  # built once per log


def test_a_lead_ahead_is_found_without_gaps_where_the_faithful_rule_flickers(convoy: Path) -> None:
    vehicles = F["get_objects_of_category"](convoy, "VEHICLE")
    follower, leader = {"follower": vehicles["follower"]}, {"leader": vehicles["leader"]}
    kwargs = {"direction": "forward", "within_distance": 20}
    faithful = _stamps(F["has_objects_in_relative_direction"](follower, leader, convoy, **kwargs), "follower")
    robust = _stamps(F["robust_has_objects_in_relative_direction"](follower, leader, convoy, **kwargs), "follower")
    every = set(np.round(np.arange(0.0, 10.05, 0.1), 1))
    assert every - set(np.round(faithful, 1)) == {2.0, 3.0}  # the follower's turned box, the lead's lost one
    # a relation needs both objects: like every relation, the robust one skips the lead's lost box
    assert every - set(np.round(robust, 1)) == {3.0}
    facing = _stamps(F["facing_toward"](follower, leader, convoy), "follower")
    robust_facing = _stamps(F["robust_facing_toward"](follower, leader, convoy), "follower")
    assert every - set(np.round(facing, 1)) == {2.0, 3.0}
    assert every - set(np.round(robust_facing, 1)) == {3.0}
    ahead = F["robust_get_objects_in_relative_direction"](follower, leader, convoy, **kwargs)
    assert _stamps(ahead, "leader", "follower") == robust  # the same relation, keyed by the lead
    same_way = _stamps(F["robust_heading_in_relative_direction_to"](leader, follower, convoy, "same"), "leader")
    assert every - set(np.round(same_way, 1)) == {3.0}


def test_a_jittery_crossing_is_one_crossing(convoy: Path) -> None:
    van = {"van": F["get_objects_of_category"](convoy, "VEHICLE")["van"]}
    pedestrian = F["get_objects_of_category"](convoy, "PEDESTRIAN")
    faithful = _stamps(F["being_crossed_by"](van, pedestrian, convoy), "van")
    robust = _stamps(F["robust_being_crossed_by"](van, pedestrian, convoy), "van")
    assert robust and _runs(robust) == 1
    assert set(faithful) <= set(robust)  # steadier, not a different answer
    near = _stamps(F["robust_near_objects"](van, pedestrian, convoy, distance_thresh=8.5), "van")
    assert _runs(near) == 1


def test_robust_relations_keep_the_faithful_meaning_on_clean_annotations(demo_store: Store) -> None:
    log_dir = demo_store.log_dir(LOG)
    vehicles = F["get_objects_of_category"](log_dir, "VEHICLE")
    ego = F["get_objects_of_category"](log_dir, "EGO_VEHICLE")
    pairs = [
        (F["changing_lanes"](vehicles, log_dir), F["robust_changing_lanes"](vehicles, log_dir)),
        (F["following"](vehicles, ego, log_dir), F["robust_following"](vehicles, ego, log_dir)),
        (F["on_relative_side_of_road"](vehicles, ego, log_dir, "opposite"),
         F["robust_on_relative_side_of_road"](vehicles, ego, log_dir, "opposite")),
        (F["heading_toward"](vehicles, ego, log_dir), F["robust_heading_toward"](vehicles, ego, log_dir)),
    ]  # fmt: skip
    for faithful, robust in pairs:
        before = {(u, t) for u in faithful for t in _stamps(faithful, u)}
        after = {(u, t) for u in robust for t in _stamps(robust, u)}
        assert before, "the demo log has these relations"
        assert len(before & after) >= 0.7 * len(before)
    ctx = context_for(log_dir)
    assert isinstance(ctx, LogContext) and len(denoised(ctx).row_lane) == len(ctx.row_lane)


def test_robust_relations_are_registered_and_reject_meaningless_spells(convoy: Path) -> None:
    names = [name for name, kind in EXTENSION_KINDS.items() if kind == "robust"]
    for name in ("robust_changing_lanes", "robust_following", "robust_being_crossed_by", "robust_heading_toward",
                 "robust_facing_toward", "robust_near_objects", "robust_on_relative_side_of_road",
                 "robust_has_objects_in_relative_direction", "robust_get_objects_in_relative_direction",
                 "robust_heading_in_relative_direction_to"):  # fmt: skip
        assert name in names
    cars = F["get_objects_of_category"](convoy, "VEHICLE")
    with pytest.raises(ArgumentError, match="robust_following: min_duration_s"):
        F["robust_following"](cars, cars, convoy, min_duration_s=-1)
    with pytest.raises(ArgumentError, match="robust_changing_lanes: max_gap_s"):
        F["robust_changing_lanes"](cars, convoy, max_gap_s=-0.5)
    # the faithful rule's own checks speak with the robust function's name
    with pytest.raises(ArgumentError, match=r"^robust_heading_in_relative_direction_to: direction"):
        F["robust_heading_in_relative_direction_to"](cars, cars, convoy, direction="sideways")
