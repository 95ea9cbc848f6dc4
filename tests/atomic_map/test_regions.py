"""MapRegions and lane_position against the per-point reference loops, plus RefAV's
at_pedestrian_crossing list-overwrite bug on mock geometry.
"""

from __future__ import annotations

import numpy as np
import pytest

from avmine.atomic.map import (
    NO_LANE,
    at_pedestrian_crossing_fixed,
    at_pedestrian_crossing_refav,
    box_footprints,
    box_footprints_3d,
    dilate_polygon,
    lane_position,
)
from tests.atomic_map import reference as ref
from tests.atomic_map.conftest import DemoLog, sample_rows


def test_in_drivable_area_matches_reference(demo_logs: list[DemoLog]) -> None:
    inside = 0
    for log in demo_logs:
        rows = sample_rows(len(log.center_city), 200, seed=8)
        points = log.center_city[rows]
        got = log.regions.in_drivable_area(points)
        areas = [da.xyz[:, :2] for da in log.avm.get_scenario_vector_drivable_areas()]
        expected = [any(ref.ray_cast(p, a) for a in areas) for p in points]
        assert got.tolist() == expected
        inside += sum(expected)
    assert 100 < inside < 790


@pytest.mark.parametrize("threshold", [5.0, 0.0])
def test_near_intersection_matches_reference(demo_logs: list[DemoLog], threshold: float) -> None:
    near = 0
    for log in demo_logs[:2]:
        rows = sample_rows(len(log.center_city), 150, seed=9)
        points = log.center_city[rows]
        got = log.regions.near_intersection(points, threshold)
        polys = [
            ref.dilate(ls.polygon_boundary[:, :2], threshold)
            for ls in log.avm.get_scenario_lane_segments()
            if ls.is_intersection
        ]
        expected = [any(ref.ray_cast(p, poly) for poly in polys) for p in points]
        assert got.tolist() == expected
        near += sum(expected)
    assert near > 20


# ----------------------------------------------------------------------------- crossings

A = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]])
B = A + np.array([10.0, 0.0])
WHERE = {"off": (30.0, 1.0), "A": (1.0, 1.0), "B": (11.0, 1.0)}


def walk(labels: str) -> np.ndarray:
    xy = np.array([WHERE[w] for w in labels.split()])
    return box_footprints(xy, np.full(len(xy), 0.5), np.full(len(xy), 0.5), np.zeros(len(xy)))


@pytest.mark.parametrize(
    "labels, expected",
    [
        ("off off A A A B B A A off", []),
        ("A A A A A B B A A off", [0, 1, 2, 3, 4, 6, 8]),
        ("off", []),
        ("A off A", [0]),
    ],
)
def test_crossing_list_overwrite_bug(labels: str, expected: list[int]) -> None:
    crossings = np.stack([A, B])
    dilated = np.stack([dilate_polygon(c, 1.0) for c in crossings])
    fps = walk(labels)
    got = at_pedestrian_crossing_refav(fps, crossings, dilated)
    assert np.flatnonzero(got).tolist() == expected
    assert ref.crossing_loop(fps, list(crossings), 1.0) == expected
    # the intended behaviour: every timestamp on (or within 1 m of) a crossing
    fixed = at_pedestrian_crossing_fixed(fps, dilated)
    assert np.flatnonzero(fixed).tolist() == [i for i, w in enumerate(labels.split()) if w != "off"]


def test_crossing_within_distance_reaches_first_timestamp_only() -> None:
    crossings = np.stack([A])
    # 0.5 m squares centred at x = 2.5: a 0.25 m gap to A, inside the 1 m dilation, not touching A
    fps = box_footprints(np.array([[2.5, 1.0]] * 3), np.full(3, 0.5), np.full(3, 0.5), np.zeros(3))
    refav = at_pedestrian_crossing_refav(fps, crossings, np.stack([dilate_polygon(A, 1.0)]))
    assert refav.tolist() == [True, False, False]
    assert at_pedestrian_crossing_fixed(fps, np.stack([dilate_polygon(A, 1.0)])).tolist() == [True] * 3
    assert at_pedestrian_crossing_fixed(fps, np.stack([dilate_polygon(A, 0.0)])).tolist() == [False] * 3


def test_crossings_on_real_tracks_match_reference(demo_logs: list[DemoLog]) -> None:
    reported = differs = 0
    for log in demo_logs:
        crossings = list(log.regions.crossings_xy)
        centroids = np.array([c[:4].mean(axis=0) for c in crossings])
        starts = np.flatnonzero(np.r_[True, log.track[1:] != log.track[:-1]])
        ends = np.r_[starts[1:], len(log.track)]
        # tracks that come within 10 m of a crossing centre, short enough for the slow loop
        chosen = []
        for s, e in zip(starts, ends, strict=True):
            d = np.linalg.norm(log.center_city[s:e, None, :2] - centroids[None], axis=-1).min()
            if d < 10 and e - s <= 80:
                chosen.append((s, e))
        for s, e in chosen[:4]:
            fps = box_footprints_3d(log.center_city[s:e], log.size_lwh[s:e], log.city_R_object[s:e])
            got = log.regions.at_pedestrian_crossing_refav(fps, 1.0)
            expected = ref.crossing_loop(fps, crossings, 1.0)
            assert np.flatnonzero(got).tolist() == expected
            fixed = log.regions.at_pedestrian_crossing_fixed(fps, 1.0)
            dilated = [ref.dilate(c, 1.0) for c in crossings]
            assert fixed.tolist() == [any(ref.sat_overlap(fp, c) for c in dilated) for fp in fps]
            reported += len(expected)
            differs += int(fixed.sum()) != len(expected)
    assert reported > 0 and differs > 0  # the bug is exercised, not only the easy cases


def test_crossings_all_tracks_at_once_equal_track_by_track(demo_logs: list[DemoLog]) -> None:
    for log in demo_logs:
        fps = box_footprints_3d(log.center_city, log.size_lwh, log.city_R_object)
        together = log.regions.at_pedestrian_crossing_refav(fps, 1.0, track_index=log.track)
        starts = np.flatnonzero(np.r_[True, log.track[1:] != log.track[:-1]])
        ends = np.r_[starts[1:], len(log.track)]
        one_by_one = np.concatenate(
            [log.regions.at_pedestrian_crossing_refav(fps[s:e], 1.0) for s, e in zip(starts, ends, strict=True)]
        )
        np.testing.assert_array_equal(together, one_by_one)
        assert together.any()


# ----------------------------------------------------------------------------- lane position


def test_lane_position_matches_reference(demo_logs: list[DemoLog]) -> None:
    defined = 0
    for log in demo_logs[:3]:
        rows = sample_rows(len(log.center_city), 150, seed=10)
        points = log.center_city[rows]
        lanes = log.index.lanes_containing(points)
        lane_ids = np.array([lanes[i][0] if len(lanes[i]) else NO_LANE for i in range(len(points))])
        # also a lane that does not contain the point: undefined
        lane_ids[:5] = log.index.lane_ids[0]
        along, w = lane_position(log.index, points, lane_ids)
        for i, p in enumerate(points):
            expected = log.reference.lane_w(p, None if lane_ids[i] == NO_LANE else int(lane_ids[i]))
            if expected is None:
                assert np.isnan(w[i])
            else:
                assert w[i] == pytest.approx(expected, rel=1e-9, abs=1e-12)
                defined += 1
        assert np.isnan(along[lane_ids == NO_LANE]).all()
    assert defined > 100


def test_empty_map_answers_nothing() -> None:
    from av2.map.map_api import ArgoverseStaticMap

    from avmine.atomic.map import MapIndex, MapRegions

    avm = ArgoverseStaticMap(
        log_id="empty", vector_drivable_areas={}, vector_lane_segments={}, vector_pedestrian_crossings={},
        raster_drivable_area_layer=None, raster_roi_layer=None, raster_ground_height_layer=None,
    )  # fmt: skip
    index = MapIndex(avm)
    regions = MapRegions(avm, index)
    points = np.zeros((3, 2))
    assert len(index.lanes_containing(points).values) == 0
    assert index.assign_lanes(np.arange(3), points, np.zeros(3)).tolist() == [NO_LANE] * 3
    assert index.stop_sign_lane(np.zeros(3)) == NO_LANE
    assert not regions.in_drivable_area(points).any() and not regions.near_intersection(points).any()
    fps = box_footprints(points, np.ones(3), np.ones(3), np.zeros(3))
    assert not regions.at_pedestrian_crossing_refav(fps).any() and not regions.at_pedestrian_crossing_fixed(fps).any()
