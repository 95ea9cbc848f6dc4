"""The fast paths of the pair functions give exactly what the plain computation gives.

Three shortcuts are checked against brute force: smoothing on a pair's shared timeline reuses the
track's own smoothed series where the filter reads the same samples; footprint distances are
skipped where disc bounds already decide a limit; per-row map masks are filled track by track.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import tracks_of
from avmine.atomic.functions.objects import category_uuids
from avmine.atomic.functions.relations import (
    facing_toward,
    has_objects_in_relative_direction,
    heading_toward,
    near_objects,
)
from avmine.atomic.kinematics import Groups, derivative, derivative_at
from avmine.atomic.map import box_footprints, footprint_distance
from avmine.atomic.map.geometry import footprint_discs
from avmine.atomic.pairs import PairSeries, _same_windows, build_pairs, pairs_of


def _brute_pairs(ctx: LogContext, tracks: np.ndarray, candidates: np.ndarray) -> PairSeries:
    pair_t = np.repeat(tracks, len(candidates))
    pair_c = np.tile(candidates, len(tracks))
    keep = pair_t != pair_c
    return pairs_of(ctx, pair_t[keep], pair_c[keep])


def _sets(ctx: LogContext) -> tuple[np.ndarray, np.ndarray]:
    vehicles = tracks_of(ctx, category_uuids(ctx, "VEHICLE"))
    others = tracks_of(ctx, category_uuids(ctx, "PEDESTRIAN") + category_uuids(ctx, "BICYCLE"))
    return vehicles, np.concatenate([others, vehicles[::5]])


# ----------------------------------------------------------------------------- smoothing on shared timelines


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 30), st.integers(0, 2**32 - 1)), min_size=1, max_size=6),
    st.integers(0, 1),
)
def test_reused_windows_equal_the_filter_on_the_shared_samples(tracks: list[tuple[int, int]], n: int) -> None:
    """Where ``_same_windows`` allows reuse, the track's own series equals the filter on the subset, bit for bit."""
    for length, seed in tracks:
        rng = np.random.default_rng(seed)
        values = rng.normal(size=(length, 3)).round(1)  # rounded: ties in the median are common
        stamps = np.cumsum(rng.integers(1, 3, size=length)) * 100_000_000
        shared = np.flatnonzero(rng.random(length) < rng.choice([0.5, 0.9, 1.0]))
        if len(shared) == 0:
            continue
        own = derivative(values, stamps, Groups.from_lengths(np.array([length])), n)[shared]
        groups = Groups.from_lengths(np.array([len(shared)]))
        on_subset = derivative(values[shared], stamps[shared], groups, n)
        reuse = _same_windows(shared, np.zeros(len(shared), np.int64), np.full(len(shared), length - 1), groups, 3 + n)
        np.testing.assert_array_equal(own[reuse], on_subset[reuse])
        if len(shared) == length:
            assert reuse.all()  # the whole timeline is always reused


def test_derivative_at_equals_derivative_rows() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 15, size=40)
    groups = Groups.from_lengths(lengths)
    values = rng.normal(size=(50, 3))
    take = rng.integers(0, 50, size=int(lengths.sum()))
    stamps = np.cumsum(rng.integers(0, 3, size=len(take))) * 50_000_000  # repeated stamps: zero dt
    rows = rng.choice(len(take), size=len(take) // 2, replace=False)
    for n in (0, 1, 2):
        full = derivative(values[take], stamps, groups, n)
        np.testing.assert_array_equal(derivative_at(values, stamps, groups, n, rows, take=take), full[rows])


def test_pair_series_smoothing_equals_filtering_each_pair(ctx: LogContext) -> None:
    tracks, candidates = _sets(ctx)
    series = _brute_pairs(ctx, tracks, candidates)
    raw_c, raw_t = ctx.xyz_city[series.row_candidate], ctx.xyz_city[series.row_track]
    stamps, groups = series.timestamps_ns, series.groups
    np.testing.assert_array_equal(series.candidate_city, derivative(raw_c, stamps, groups, 0))
    np.testing.assert_array_equal(series.candidate_velocity_city, derivative(raw_c, stamps, groups, 1))
    np.testing.assert_array_equal(series.swapped().candidate_city, derivative(raw_t, stamps, groups, 0))


# ----------------------------------------------------------------------------- footprint bounds

coordinate = st.floats(-60, 60, allow_nan=False)
size = st.floats(0.01, 20, allow_nan=False)
angle = st.floats(-np.pi, np.pi, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(st.tuples(coordinate, coordinate, size, size, angle), st.tuples(coordinate, coordinate, size, size, angle))
def test_disc_bounds_enclose_the_footprint_distance(
    box_a: tuple[float, float, float, float, float], box_b: tuple[float, float, float, float, float]
) -> None:
    x, y, length, width, yaw = (np.array(column) for column in zip(box_a, box_b, strict=True))
    footprints = box_footprints(np.stack([x, y], axis=1), length, width, yaw)
    centre, radius = footprint_discs(footprints)
    gap = float(np.hypot(*(centre[0] - centre[1])))
    distance = float(footprint_distance(footprints[0], footprints[1]))
    # the pruning margin is 1e-6 m: the bounds must hold far more tightly than that
    assert gap - radius.sum() - 1e-9 <= distance <= gap + radius.sum() + 1e-9


def _limits(exact: np.ndarray) -> list[float]:
    rng = np.random.default_rng(5)
    picked = rng.choice(exact[np.isfinite(exact) & (exact < 30)], size=3)
    at_a_distance = [float(v) for d in picked for v in (d, np.nextafter(d, -np.inf), np.nextafter(d, np.inf))]
    return [0.0, 0.3, 10.0, 50.0, np.inf, *at_a_distance]


def test_pruned_distances_equal_brute_force(ctx: LogContext) -> None:
    tracks, candidates = _sets(ctx)
    brute = _brute_pairs(ctx, tracks, candidates)
    exact = footprint_distance(ctx.footprints_ego[brute.row_track], ctx.footprints_ego[brute.row_candidate])
    rng = np.random.default_rng(7)
    some = np.sort(rng.choice(len(exact), size=len(exact) // 10, replace=False))
    for limit in _limits(exact):
        series = _brute_pairs(ctx, tracks, candidates)  # fresh: nothing computed yet
        np.testing.assert_array_equal(series.footprint_within(limit), exact <= limit)
        np.testing.assert_array_equal(series.footprint_within(limit, some), exact[some] <= limit)
        upto = series.footprint_distance_upto(limit, some)
        np.testing.assert_array_equal(upto <= limit, exact[some] <= limit)
        np.testing.assert_array_equal(upto[upto <= limit], exact[some][upto <= limit])
        assert series.may_be_within(limit)[exact <= limit].all()


@pytest.mark.parametrize(
    ("rule", "calls"),
    [
        (near_objects.rule, [{"distance_thresh": d, "min_objects": m} for d in (0, 1.5, 10, 30) for m in (0, 2)]),
        (
            has_objects_in_relative_direction.rule,
            [
                {"direction": direction, "within_distance": w, "max_number": k, "min_number": 1}
                for direction in ("forward", "left")
                for w in (4, 25, np.inf)
                for k in (1, np.inf)
            ],
        ),
        (facing_toward.rule, [{"max_distance": d, "within_angle": a} for d in (5, 50, np.inf) for a in (10, 45)]),
        (heading_toward.rule, [{"max_distance": d, "minimum_speed": s} for d in (5, np.inf) for s in (0.1, 0.5)]),
    ],
)
def test_pruned_relations_equal_exact_distances(ctx: LogContext, rule: object, calls: list[dict[str, float]]) -> None:
    """Each rule answers the same with pruned distances as with every distance computed exactly."""
    assert callable(rule)
    tracks, candidates = _sets(ctx)
    track_uuids = [ctx.track_uuids[t] for t in tracks]
    related_uuids = [ctx.track_uuids[c] for c in candidates]
    ctx.forget_recent()
    pruned = [rule(ctx, track_uuids, related_uuids, **params) for params in calls]
    ctx.forget_recent()
    _ = build_pairs(ctx, tracks, candidates).footprint_distance  # every distance, exactly: no pruning
    for params, answer in zip(calls, pruned, strict=True):
        assert rule(ctx, track_uuids, related_uuids, **params) == answer, params
    ctx.forget_recent()


# ----------------------------------------------------------------------------- series computed at some rows only


def test_series_at_some_rows_equal_the_series_of_all_rows_there(ctx: LogContext) -> None:
    """Positions, disc bounds and heading angles computed only at some rows are those of all rows, bit for bit."""
    from avmine.atomic.functions.relations import _heading_angle, _unit

    tracks, candidates = _sets(ctx)
    everything = pairs_of(ctx, *_pair_arrays(tracks, candidates))
    velocity = ctx.velocity_own_frame[everything.row_track]
    unit_velocity = velocity / (np.linalg.norm(velocity, axis=1, keepdims=True) + 1e-8)
    with np.errstate(invalid="ignore"):
        angle = np.degrees(np.arccos(np.sum(unit_velocity * _unit(everything.candidate_in_track_frame()), axis=1)))
    distance, reach = everything._discs
    rng = np.random.default_rng(0)
    m = len(everything.pair)
    for rows in (np.arange(m), np.sort(rng.choice(m, m // 7, replace=False)), np.array([m - 1]), np.zeros(0, int)):
        for direction in (None, "left", "backward"):
            fresh = pairs_of(ctx, everything.track, everything.candidate)  # nothing computed yet
            np.testing.assert_array_equal(
                fresh.candidate_in_track_frame(direction, rows), everything.candidate_in_track_frame(direction)[rows]
            )
            assert "_position_in_track_frame" not in fresh.__dict__ and "candidate_city" not in fresh.__dict__
        # rows computed once are kept: a later call on some of them (and others) reads them back
        again = np.union1d(rows[::2], np.arange(0, m, 11))
        np.testing.assert_array_equal(
            fresh.candidate_in_track_frame(None, again), everything.candidate_in_track_frame()[again]
        )
        fresh = pairs_of(ctx, everything.track, everything.candidate)
        np.testing.assert_array_equal(_heading_angle(fresh, rows), angle[rows])
        np.testing.assert_array_equal(fresh._discs_at(rows)[0], distance[rows])
        np.testing.assert_array_equal(fresh._discs_at(rows)[1], reach[rows])
        assert "_discs" not in fresh.__dict__
    assert np.isfinite(angle).sum() > 1000


def test_pairs_that_never_come_near_are_left_out_as_their_rows_would_be(ctx: LogContext) -> None:
    """Leaving out the rows of pairs whose tracks never come near gives the row bounds' answers exactly."""
    from avmine.atomic.pairs import PRUNE_MARGIN_M

    tracks, candidates = _sets(ctx)
    everything = pairs_of(ctx, *_pair_arrays(tracks, candidates))
    distance, reach = everything._discs
    exact = everything.footprint_distance
    left_out = 0
    for limit in (0.0, 1.0, 5.0, 20.0, 60.0):
        fresh = pairs_of(ctx, everything.track, everything.candidate)
        expected = ~(distance - reach > limit + PRUNE_MARGIN_M * (1.0 + limit))
        np.testing.assert_array_equal(fresh.may_be_within(limit), expected)
        np.testing.assert_array_equal(fresh.footprint_within(limit), exact <= limit)
        assert "_discs" not in fresh.__dict__ and "footprint_distance" not in fresh.__dict__
        left_out += len(fresh.pair) - len(fresh._rows_of_near_pairs(limit))
    assert left_out > 0  # the shortcut is taken


def _pair_arrays(tracks: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pair_t, pair_c = np.repeat(tracks, len(candidates)), np.tile(candidates, len(tracks))
    keep = pair_t != pair_c
    return pair_t[keep], pair_c[keep]


# ----------------------------------------------------------------------------- per-row map masks


def test_map_masks_filled_track_by_track_equal_one_pass(ctx: LogContext) -> None:
    from avmine.atomic.functions.map import in_drivable_area, near_intersection

    peds = category_uuids(ctx, "PEDESTRIAN")
    everyone = ctx.uuids()
    in_drivable_area.rule(ctx, peds)  # fills the pedestrians' rows first
    near_intersection.rule(ctx, peds, threshold=3.0)
    xy = ctx.smoothed_xyz_city[:, :2]
    in_area = ctx.map_regions.in_drivable_area(xy)
    near = ctx.map_regions.near_intersection(xy, 3.0)
    stamps = ctx.row_timestamp_ns
    expected_area = {
        u: stamps[ctx.rows_of(ctx.track_index[u])][in_area[ctx.rows_of(ctx.track_index[u])]].tolist() for u in everyone
    }
    expected_near = {
        u: stamps[ctx.rows_of(ctx.track_index[u])][near[ctx.rows_of(ctx.track_index[u])]].tolist() for u in everyone
    }
    assert in_drivable_area.rule(ctx, everyone) == expected_area
    assert near_intersection.rule(ctx, everyone, threshold=3.0) == expected_near


def test_recent_work_is_kept_within_its_budget(ctx: LogContext) -> None:
    from avmine.atomic.context import RECENT_SIZE

    ctx.forget_recent()
    calls: list[str] = []

    def work(name: str) -> str:
        calls.append(name)
        return name

    half = RECENT_SIZE // 2
    assert ctx.recent(("a",), lambda: work("a"), size=lambda _: half) == "a"
    assert ctx.recent(("b",), lambda: work("b"), size=lambda _: half) == "b"
    assert ctx.recent(("a",), lambda: work("a again")) == "a"  # kept, and now the most recent
    ctx.recent(("c",), lambda: work("c"), size=lambda _: half)  # over budget: the oldest, b, goes
    ctx.recent(("b",), lambda: work("b again"), size=lambda _: half)
    ctx.recent(("huge",), lambda: work("huge"), size=lambda _: RECENT_SIZE + 1)  # never kept
    ctx.recent(("huge",), lambda: work("huge again"), size=lambda _: RECENT_SIZE + 1)
    assert calls == ["a", "b", "c", "b again", "huge", "huge again"]
    ctx.forget_recent()
