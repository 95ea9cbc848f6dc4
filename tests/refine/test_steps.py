"""Scripted tracks with known repairs, run through the refinement pipeline (no database)."""

from __future__ import annotations

import numpy as np

from avmine.store.refine import STEPS, RefineParams
from avmine.store.refine.pipeline import run
from avmine.store.refine.tracks import Tracks, wrap

FRAME_NS = 100_000_000
FRAMES = np.arange(80, dtype=np.int64) * FRAME_NS + 1_000_000_000_000
PARAMS = RefineParams()


def make(*parts: tuple[str, str, np.ndarray, np.ndarray, np.ndarray, float]) -> Tracks:
    """Tracks from (uuid, category, frame indices, xy (n, 2), yaw (n,), score) parts."""
    uuids = sorted({p[0] for p in parts})
    rows = [
        (uuids.index(uuid), FRAMES[f], np.c_[xy, np.zeros(len(f))], yaw, category, score)
        for uuid, category, f, xy, yaw, score in parts
    ]
    n = sum(len(r[1]) for r in rows)
    return Tracks(
        uuids=np.asarray(uuids, dtype=str),
        track=np.concatenate([np.full(len(r[1]), r[0]) for r in rows]).astype(np.int64),
        t_ns=np.concatenate([r[1] for r in rows]),
        xyz=np.concatenate([r[2] for r in rows]),
        yaw=np.concatenate([r[3] for r in rows]).astype(np.float64),
        size=np.tile([4.5, 1.9, 1.6], (n, 1)),
        category=np.concatenate([np.full(len(r[1]), r[4]) for r in rows]).astype(str),
        score=np.concatenate([np.full(len(r[1]), r[5]) for r in rows]).astype(np.float64),
        raw_row=np.arange(n, dtype=np.int64),
        yaw_flipped=np.zeros(n, dtype=bool),
    ).sorted()


def straight(frames: np.ndarray, start: tuple[float, float], velocity: tuple[float, float]) -> np.ndarray:
    t = (frames - frames[0]) * 0.1
    return np.c_[start[0] + velocity[0] * t, start[1] + velocity[1] * t]


def uuids_of(tracks: Tracks) -> list[str]:
    return [str(u) for u in tracks.uuids[np.unique(tracks.track)]]


def test_a_track_cut_in_two_is_joined_and_its_gap_interpolated() -> None:
    frames = np.arange(60)
    xy = straight(frames, (0.0, 0.0), (10.0, 0.0))
    tracks = make(
        ("a", "REGULAR_VEHICLE", frames[:30], xy[:30], np.zeros(30), 0.8),
        ("b", "REGULAR_VEHICLE", frames[32:], xy[32:], np.zeros(28), 0.8),
    )
    refined, counts = run(tracks, FRAMES, STEPS, PARAMS)
    assert uuids_of(refined) == ["a"] and counts.forward_joins == 1
    assert len(refined.track) == 60 and counts.interpolated == 2
    made = refined.interpolated
    assert np.array_equal(refined.t_ns[made], FRAMES[[30, 31]])
    np.testing.assert_allclose(refined.xyz[made, 0], [30.0, 31.0], atol=0.05)
    # without reconnection both fragments stay
    alone, _ = run(tracks, FRAMES, tuple(s for s in STEPS if s not in ("reconnect", "backward")), PARAMS)
    assert uuids_of(alone) == ["a", "b"]


def test_two_tracks_swapping_identities_while_crossing_are_cut_and_rejoined() -> None:
    rng = np.random.default_rng(1)
    frames = np.arange(60)
    east = straight(frames, (-24.0, 0.0), (8.0, 0.0)) + rng.normal(0, 0.1, (60, 2))
    north = straight(frames, (0.0, -25.2), (0.0, 8.0)) + rng.normal(0, 0.1, (60, 2))
    swap = 30  # the tracker's ids change objects here (1.2 m apart)
    tracks = make(
        ("1", "REGULAR_VEHICLE", frames[:swap], east[:swap], np.zeros(swap), 0.9),
        ("1", "REGULAR_VEHICLE", frames[swap:], north[swap:], np.full(30, np.pi / 2), 0.9),
        ("2", "REGULAR_VEHICLE", frames[:swap], north[:swap], np.full(swap, np.pi / 2), 0.9),
        ("2", "REGULAR_VEHICLE", frames[swap:], east[swap:], np.zeros(30), 0.9),
    )
    refined, counts = run(tracks, FRAMES, STEPS, PARAMS)
    assert counts.splits == 2 and counts.forward_joins == 2
    for label in np.unique(refined.track):
        rows = refined.track == label
        headings = refined.yaw[rows]
        assert np.all(headings == headings[0]), "a refined track follows one object"
        assert rows.sum() == 60
    east_track = refined.track[np.argmin(refined.t_ns + (refined.yaw != 0) * 10**15)]
    assert refined.uuids[east_track] == "1"  # the identity it had before the swap


def test_a_180_degree_yaw_flip_is_turned_back_and_a_reversing_vehicle_is_left_alone() -> None:
    frames = np.arange(40)
    moving_yaw = np.full(40, 0.3)
    moving_yaw[[10, 11, 12]] += np.pi
    stopped_yaw = np.full(40, -1.0)
    stopped_yaw[25] += np.pi
    # drives east, then backs up west facing east throughout (a track that only ever reverses is turned:
    # nothing tells it from a flipped one)
    reversing = np.r_[straight(frames[:25], (0.0, 20.0), (5.0, 0.0)), straight(frames[25:], (12.0, 20.0), (-2.5, 0.0))]
    tracks = make(
        ("moving", "REGULAR_VEHICLE", frames, straight(frames, (0.0, 0.0), (10 * np.cos(0.3), 10 * np.sin(0.3))),
         wrap(moving_yaw), 0.9),
        ("stopped", "REGULAR_VEHICLE", frames, np.tile([50.0, 50.0], (40, 1)), wrap(stopped_yaw), 0.9),
        ("reversing", "REGULAR_VEHICLE", frames, reversing, np.zeros(40), 0.9),
    )  # fmt: skip
    refined, counts = run(tracks, FRAMES, ("yaw",), PARAMS)
    by_uuid = {str(refined.uuids[t]): refined.track == t for t in np.unique(refined.track)}
    np.testing.assert_allclose(refined.yaw[by_uuid["moving"]], 0.3, atol=1e-9)
    np.testing.assert_allclose(refined.yaw[by_uuid["stopped"]], -1.0, atol=1e-9)
    np.testing.assert_allclose(refined.yaw[by_uuid["reversing"]], 0.0, atol=1e-9)
    assert counts.yaw_flips == 4
    assert set(np.flatnonzero(refined.yaw_flipped[by_uuid["moving"]])) == {10, 11, 12}


def test_a_missed_start_is_recovered_by_the_backward_pass() -> None:
    frames = np.arange(60)
    xy = straight(frames, (0.0, 0.0), (10.0, 0.0))
    tracks = make(
        ("early", "REGULAR_VEHICLE", frames[:3], xy[:3], np.zeros(3), 0.2),  # short, low score: a ghost alone
        ("main", "REGULAR_VEHICLE", frames[5:], xy[5:], np.zeros(55), 0.9),
    )
    forward_only, counts = run(tracks, FRAMES, tuple(s for s in STEPS if s != "backward"), PARAMS)
    assert counts.ghosts_removed == 1 and len(forward_only.track) == 55
    refined, counts = run(tracks, FRAMES, STEPS, PARAMS)
    assert counts.backward_joins == 1 and counts.ghosts_removed == 0
    assert len(np.unique(refined.track)) == 1 and len(refined.track) == 60
    assert refined.t_ns.min() == FRAMES[0]


def test_a_ghost_track_is_removed_and_a_confident_or_long_one_kept() -> None:
    frames = np.arange(40)
    tracks = make(
        ("ghost", "PEDESTRIAN", frames[10:14], np.tile([80.0, 0.0], (4, 1)), np.zeros(4), 0.1),
        ("short-confident", "PEDESTRIAN", frames[10:14], np.tile([-80.0, 0.0], (4, 1)), np.zeros(4), 0.9),
        ("long-faint", "PEDESTRIAN", frames, np.tile([0.0, 80.0], (40, 1)), np.zeros(40), 0.1),
    )
    refined, counts = run(tracks, FRAMES, STEPS, PARAMS)
    assert counts.ghosts_removed == 1
    assert uuids_of(refined) == ["long-faint", "short-confident"]


def test_the_category_vote_is_weighted_by_score() -> None:
    frames = np.arange(10)
    tracks = make(
        ("t", "REGULAR_VEHICLE", frames[:6], np.zeros((6, 2)), np.zeros(6), 0.1),
        ("t", "LARGE_VEHICLE", frames[6:], np.zeros((4, 2)), np.zeros(4), 0.9),
    )
    refined, counts = run(tracks, FRAMES, ("vote",), PARAMS)
    assert set(refined.category) == {"LARGE_VEHICLE"} and counts.category_changes == 6


def test_refining_twice_changes_nothing_more() -> None:
    rng = np.random.default_rng(3)
    frames = np.arange(60)
    xy = straight(frames, (0.0, 0.0), (10.0, 0.0)) + rng.normal(0, 0.2, (60, 2))
    tracks = make(
        ("a", "REGULAR_VEHICLE", frames[:25], xy[:25], np.zeros(25), 0.8),
        ("b", "REGULAR_VEHICLE", frames[27:], xy[27:], np.zeros(33), 0.8),
    )
    once, _ = run(tracks, FRAMES, STEPS, PARAMS)
    again = once.replace(raw_row=np.arange(len(once.track)), yaw_flipped=np.zeros(len(once.track), dtype=bool))
    twice, counts = run(again, FRAMES, STEPS, PARAMS)
    assert (counts.splits, counts.forward_joins, counts.backward_joins, counts.yaw_flips) == (0, 0, 0, 0)
    assert (counts.ghosts_removed, counts.interpolated) == (0, 0) and len(twice.track) == len(once.track)
    assert np.abs(twice.xyz - once.xyz).max() < 0.05
