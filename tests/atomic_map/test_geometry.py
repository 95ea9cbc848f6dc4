"""Footprints, SAT overlap, footprint distance, ray casting and dilation against the loops of reference.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avmine.atomic.map import (
    PolygonSet,
    box_footprints,
    box_footprints_3d,
    dilate_polygon,
    footprint_distance,
    points_in_polygon,
    polygons_overlap,
    polygons_overlap_matrix,
)
from tests.atomic_map import reference as ref
from tests.atomic_map.conftest import DemoLog, sample_rows

UNIT_SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])


def rect(cx: float, cy: float, length: float, width: float, yaw: float) -> np.ndarray:
    return box_footprints(np.array([[cx, cy]]), np.array([length]), np.array([width]), np.array([yaw]))[0]


# ----------------------------------------------------------------------------- footprints


def test_footprint_corner_order_matches_av2_cuboid() -> None:
    from av2.geometry.se3 import SE3
    from av2.structures.cuboid import Cuboid

    yaw = 0.7
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    cuboid = Cuboid(
        dst_SE3_object=SE3(rotation=rot, translation=np.array([3.0, -2.0, 1.0])),
        length_m=4.0, width_m=2.0, height_m=1.5, category="REGULAR_VEHICLE", timestamp_ns=0,
    )  # fmt: skip
    v = cuboid.vertices_m
    expected = np.array([v[2], v[6], v[7], v[3], v[2]])[:, :2]
    np.testing.assert_allclose(rect(3.0, -2.0, 4.0, 2.0, yaw), expected, atol=1e-12)
    got_3d = box_footprints_3d(np.array([[3.0, -2.0, 1.0]]), np.array([[4.0, 2.0, 1.5]]), rot[None])[0]
    np.testing.assert_allclose(got_3d, expected, atol=1e-12)


# ----------------------------------------------------------------------------- SAT and distance


def test_touching_rectangles_overlap_with_zero_distance() -> None:
    a = rect(0.0, 0.0, 2.0, 2.0, 0.0)
    b = rect(2.0, 0.0, 2.0, 2.0, 0.0)  # shares the edge x = 1
    corner = rect(2.0, 2.0, 2.0, 2.0, 0.0)  # shares the corner (1, 1)
    assert polygons_overlap(a, b) and polygons_overlap(a, corner)
    assert footprint_distance(a, b) == 0.0 and footprint_distance(a, corner) == 0.0


def test_separated_rectangles_distance() -> None:
    a = rect(0.0, 0.0, 2.0, 2.0, 0.0)
    assert footprint_distance(a, rect(4.0, 0.0, 2.0, 2.0, 0.0)) == pytest.approx(2.0)
    assert footprint_distance(a, rect(4.0, 5.0, 2.0, 2.0, 0.0)) == pytest.approx(np.hypot(2.0, 3.0))
    # a diamond whose corner points at a's edge
    assert footprint_distance(a, rect(3.0, 0.0, np.sqrt(2), np.sqrt(2), np.pi / 4)) == pytest.approx(1.0)
    assert not polygons_overlap(a, rect(3.0, 0.0, np.sqrt(2), np.sqrt(2), np.pi / 4))


def test_zero_length_edge_never_overlaps_as_in_refav() -> None:
    degenerate = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    assert not polygons_overlap(degenerate, UNIT_SQUARE)
    assert not ref.sat_overlap(degenerate, UNIT_SQUARE)


def test_broadcast_shapes() -> None:
    a = np.stack([rect(i, 0.0, 1.0, 1.0, 0.0) for i in range(3)])  # (3, 5, 2)
    b = np.stack([rect(0.0, j * 0.6, 1.0, 1.0, 0.0) for j in range(4)])  # (4, 5, 2)
    assert polygons_overlap(a[:, None], b[None]).shape == (3, 4)
    assert footprint_distance(a[:, None], b[None]).shape == (3, 4)


finite = st.floats(-20, 20, allow_nan=False)
sizes = st.floats(0.2, 8, allow_nan=False)
angles = st.floats(-np.pi, np.pi, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.tuples(finite, finite, sizes, sizes, angles), st.tuples(finite, finite, sizes, sizes, angles))
def test_random_rectangles_match_reference(
    box_a: tuple[float, float, float, float, float], box_b: tuple[float, float, float, float, float]
) -> None:
    a = rect(*box_a)
    b = rect(*box_b)
    assert bool(polygons_overlap(a, b)) == ref.sat_overlap(a, b)
    assert footprint_distance(a, b) == pytest.approx(ref.rect_distance(a, b), abs=1e-9)


def test_real_footprint_pairs_match_reference(demo_logs: list[DemoLog]) -> None:
    log = demo_logs[0]
    fps = box_footprints_3d(log.center_city, log.size_lwh, log.city_R_object)
    rng = np.random.default_rng(1)
    # pairs at the same timestamp: the situation of every relational function
    same_time = np.flatnonzero(log.timestamps_ns == log.timestamps_ns[len(log.timestamps_ns) // 2])
    pairs = [(i, j) for i in same_time for j in same_time if i < j]
    pairs += [tuple(rng.choice(len(fps), 2, replace=False)) for _ in range(300)]
    i, j = np.array(pairs).T
    got_overlap = polygons_overlap(fps[i], fps[j])
    got_dist = footprint_distance(fps[i], fps[j])
    for k, (a, b) in enumerate(pairs):
        assert bool(got_overlap[k]) == ref.sat_overlap(fps[a], fps[b])
        assert got_dist[k] == pytest.approx(ref.rect_distance(fps[a], fps[b]), rel=1e-12, abs=1e-12)


def test_pruned_overlap_matrix_equals_full_test(demo_logs: list[DemoLog]) -> None:
    hits = 0
    for log in demo_logs:
        fps = box_footprints_3d(log.center_city, log.size_lwh, log.city_R_object)[::3]
        for crossings in (
            log.regions.crossings_xy,
            log.regions.dilated_crossings(1.0),
            log.regions.dilated_crossings(5.0),
        ):
            got = polygons_overlap_matrix(fps, crossings)
            np.testing.assert_array_equal(got, polygons_overlap(fps[:, None], crossings[None]))
            hits += int(got.sum())
    assert hits > 100
    # touching and degenerate cases survive the pruning
    a = np.stack([rect(0.0, 0.0, 2.0, 2.0, 0.0), rect(0.0, 0.0, 0.0, 0.0, 0.0)])
    b = np.stack([rect(2.0, 0.0, 2.0, 2.0, 0.0), rect(50.0, 0.0, 2.0, 2.0, 0.3)])
    np.testing.assert_array_equal(polygons_overlap_matrix(a, b), polygons_overlap(a[:, None], b[None]))


# ----------------------------------------------------------------------------- point in polygon


def test_points_on_edges_follow_ray_casting() -> None:
    points = np.array(
        [
            [0.5, 0.0],  # bottom edge: outside (y > min fails)
            [0.5, 1.0],  # top edge: inside
            [0.0, 0.5],  # left edge: outside (two crossings)
            [1.0, 0.5],  # right edge: inside
            [0.0, 0.0],  # bottom-left corner: outside
            [1.0, 1.0],  # top-right corner: inside
            [0.5, 0.5],
            [1.5, 0.5],
        ]
    )
    expected = [False, True, False, True, False, True, True, False]
    assert points_in_polygon(points, UNIT_SQUARE).tolist() == expected
    assert [ref.ray_cast(p, UNIT_SQUARE) for p in points] == expected
    # the same through the indexed set (bbox pruning must keep boundary points)
    assert PolygonSet.from_polygons([UNIT_SQUARE]).contains_any(points).tolist() == expected


def test_unclosed_polygon_is_closed_implicitly() -> None:
    pts = np.array([[0.5, 0.5], [0.5, 1.0], [2.0, 2.0]])
    assert points_in_polygon(pts, UNIT_SQUARE[:-1]).tolist() == points_in_polygon(pts, UNIT_SQUARE).tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(finite, finite), min_size=3, max_size=9),
    st.lists(st.tuples(finite, finite), min_size=1, max_size=20),
)
def test_random_polygons_match_reference(
    vertices: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    polygon = np.array([*vertices, vertices[0]])  # possibly self-intersecting
    pts = np.array(points + vertices)  # vertices themselves are boundary cases
    expected = [ref.ray_cast(p, polygon) for p in pts]
    assert points_in_polygon(pts, polygon).tolist() == expected
    # the indexed set, with the reversed polygon as a second member (its own rounding on edges)
    reverse = polygon[::-1]
    point_idx, poly_idx = PolygonSet.from_polygons([polygon, reverse]).contains_pairs(pts)
    expected_pairs = [(i, 0) for i, e in enumerate(expected) if e]
    expected_pairs += [(i, 1) for i, p in enumerate(pts) if ref.ray_cast(p, reverse)]
    assert sorted(zip(point_idx.tolist(), poly_idx.tolist(), strict=True)) == sorted(expected_pairs)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(finite, finite), min_size=8, max_size=60),
    st.lists(st.tuples(finite, finite), min_size=1, max_size=30),
)
def test_banded_polygon_set_equals_casting_against_every_edge(
    vertices: list[tuple[float, float]], points: list[tuple[float, float]]
) -> None:
    # many edges: each polygon is split into several bands, and vertices sit on band boundaries
    polygon = np.array([*vertices, vertices[0]])
    polygons = [polygon, polygon[::-1], polygon[: max(4, len(polygon) // 2)]]
    middles = [((x0 + x1) / 2, (y0 + y1) / 2) for (x0, y0), (x1, y1) in itertools.pairwise(vertices)]
    pts = np.array(points + vertices + middles)
    point_idx, poly_idx = PolygonSet.from_polygons(polygons).contains_pairs(pts)
    expected = {(i, k) for k, p in enumerate(polygons) for i in np.flatnonzero(points_in_polygon(pts, p)).tolist()}
    assert set(zip(point_idx.tolist(), poly_idx.tolist(), strict=True)) == expected


def test_polygon_set_with_a_flat_polygon_and_odd_points() -> None:
    flat = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [0.0, 1.0]])  # no height: one band holds every edge
    polygons = [flat, UNIT_SQUARE, np.array([*UNIT_SQUARE[:-1], [0.5, 0.5], [0.2, 0.9], [0.0, 0.0]])]
    pts = np.array([[1.0, 1.0], [0.5, 0.5], [np.nan, 0.5], [0.5, np.inf], [0.5, -np.inf], [0.3, 0.9]])
    point_idx, poly_idx = PolygonSet.from_polygons(polygons).contains_pairs(pts)
    expected = {(i, k) for k, p in enumerate(polygons) for i in np.flatnonzero(points_in_polygon(pts, p)).tolist()}
    assert set(zip(point_idx.tolist(), poly_idx.tolist(), strict=True)) == expected


def test_polygon_set_on_lane_polygons_matches_reference(demo_logs: list[DemoLog]) -> None:
    log = demo_logs[1]
    rows = sample_rows(len(log.center_city), 300, seed=2)
    polys = log.index.polygons_xy
    point_idx, poly_idx = log.index.polygons.contains_pairs(log.center_city[rows, :2])
    got = set(zip(point_idx.tolist(), poly_idx.tolist(), strict=True))
    expected = {(i, k) for i, r in enumerate(rows) for k, p in enumerate(polys) if ref.ray_cast(log.center_city[r], p)}
    assert got == expected and len(expected) > 50


# ----------------------------------------------------------------------------- dilation


def test_dilating_a_square_offsets_each_side() -> None:
    out = dilate_polygon(UNIT_SQUARE, 1.0)
    assert out.shape == (5, 2)
    np.testing.assert_allclose(out[0], out[-1])
    np.testing.assert_allclose(np.sort(np.unique(out.round(12), axis=0), axis=0), [[-1, -1], [-1, -1], [2, 2], [2, 2]])
    # clockwise input gives the same outward offset
    np.testing.assert_allclose(
        np.unique(dilate_polygon(UNIT_SQUARE[::-1], 1.0).round(12), axis=0), np.unique(out.round(12), axis=0)
    )
    # distance 0: same vertices (RefAV's loop starts at the second vertex)
    np.testing.assert_allclose(np.unique(dilate_polygon(UNIT_SQUARE, 0.0), axis=0), np.unique(UNIT_SQUARE, axis=0))


def test_concave_polygon_dilation_matches_reference() -> None:
    # an L-shaped (concave) lane-like polygon and a U with a repeated vertex
    l_shape = np.array([[0, 0], [4, 0], [4, 1], [1, 1], [1, 4], [0, 4], [0, 0]], dtype=float)
    u_shape = np.array([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]], dtype=float)
    for poly in (l_shape, u_shape, l_shape[::-1]):
        for d in (0.0, 0.5, 5.0, -0.2):
            np.testing.assert_allclose(dilate_polygon(poly, d), ref.dilate(poly, d), rtol=0, atol=1e-9)
    # the reflex corner of the L moves inward (mitred offset of a concave vertex)
    assert dilate_polygon(l_shape, 0.5)[2].tolist() == pytest.approx([1.5, 1.5])


def test_lane_and_crossing_dilation_matches_reference(demo_logs: list[DemoLog]) -> None:
    for log in demo_logs:
        for poly in [*log.index.polygons_xy, *log.regions.crossings_xy]:
            np.testing.assert_allclose(dilate_polygon(poly, 5.0), ref.dilate(poly, 5.0), rtol=0, atol=1e-9)
