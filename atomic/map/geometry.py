"""2-D geometry that RefAV's map and distance helpers rest on, vectorised.

RefAV: ``refAV/utils.py``: ``cuboid_distance``, ``polygons_overlap``, ``is_point_in_polygon``,
``dilate_convex_polygon``.

Every routine reproduces RefAV's floating-point operations (same formulas, same order), so
that answers agree with RefAV's per-point Python loops up to points lying exactly on an edge,
where a rounding difference in a dot product can flip a touching test.

Polygons are arrays of vertices ``(K, 2)``; RefAV's polygons are *closed* (the first vertex
is repeated at the end) and every routine accepts them as they come from av2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

FOOTPRINT_CORNERS = np.array([[1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
"""Bottom corners of a box in its own frame in units of half length / half width, closed:
front-right, back-right, back-left, front-left (av2 cuboid vertices 2, 6, 7, 3)."""

_PAIR_CHUNK = 1 << 21
"""Most (pair, edge) rows materialised at once by the ragged routines (memory bound)."""


# --------------------------------------------------------------------------- footprints


def box_footprints(
    center_xy: NDArrayFloat, length_m: NDArrayFloat, width_m: NDArrayFloat, yaw_rad: NDArrayFloat
) -> NDArrayFloat:
    """Closed bottom rectangles of boxes given by centre, size and heading.

    Args:
        center_xy: box centres in some frame, shape (N, 2), metres.
        length_m: box lengths along the heading, shape (N,), metres.
        width_m: box widths, shape (N,), metres.
        yaw_rad: headings in the same frame, shape (N,), radians.

    Returns:
        Footprints in that frame, shape (N, 5, 2): front-right, back-right, back-left,
        front-left, front-right.
    """
    center_xy = np.asarray(center_xy, dtype=np.float64).reshape(-1, 2)
    half = np.stack([np.asarray(length_m, np.float64) / 2.0, np.asarray(width_m, np.float64) / 2.0], axis=-1)
    corners_obj = FOOTPRINT_CORNERS[None, :, :] * half.reshape(-1, 1, 2)  # (N, 5, 2)
    cos, sin = np.cos(yaw_rad).reshape(-1, 1), np.sin(yaw_rad).reshape(-1, 1)
    x = cos * corners_obj[..., 0] - sin * corners_obj[..., 1] + center_xy[:, 0:1]
    y = sin * corners_obj[..., 0] + cos * corners_obj[..., 1] + center_xy[:, 1:2]
    return np.stack([x, y], axis=-1)


def box_footprints_3d(center_xyz: NDArrayFloat, size_lwh_m: NDArrayFloat, frame_R_object: NDArrayFloat) -> NDArrayFloat:
    """Closed bottom rectangles of 3-D boxes, projected to x-y exactly as RefAV does.

    RefAV takes the bottom four of av2's cuboid vertices in the target frame and drops z; with
    roll or pitch this is not the rectangle of :func:`box_footprints`, so use this one where the
    full rotation is known.

    Args:
        center_xyz: box centres in the target frame, shape (N, 3), metres.
        size_lwh_m: length, width, height, shape (N, 3), metres.
        frame_R_object: object -> target-frame rotations, shape (N, 3, 3).

    Returns:
        Footprints in the target frame, shape (N, 5, 2), in :data:`FOOTPRINT_CORNERS` order.
    """
    center_xyz = np.asarray(center_xyz, dtype=np.float64).reshape(-1, 3)
    half = np.asarray(size_lwh_m, dtype=np.float64).reshape(-1, 3) / 2.0
    unit = np.concatenate([FOOTPRINT_CORNERS, -np.ones((5, 1))], axis=1)  # bottom face: z = -h/2
    corners_obj = unit[None, :, :] * half[:, None, :]  # (N, 5, 3)
    corners = np.einsum("nij,nkj->nki", np.asarray(frame_R_object, np.float64), corners_obj) + center_xyz[:, None, :]
    return np.ascontiguousarray(corners[..., :2])


# --------------------------------------------------------------------------- SAT overlap


def _axes(polygons: NDArrayFloat) -> NDArrayFloat:
    """Unit edge normals ``(-dy, dx) / |.|`` of polygons (..., K, 2) -> (..., K-1, 2); NaN for null edges."""
    edges = polygons[..., 1:, :] - polygons[..., :-1, :]
    normals = np.stack([-edges[..., 1], edges[..., 0]], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return normals / np.sqrt(normals[..., 0] * normals[..., 0] + normals[..., 1] * normals[..., 1])[..., None]


def polygons_overlap(polygons_a: NDArrayFloat, polygons_b: NDArrayFloat) -> NDArrayBool:
    """RefAV's separating-axis overlap test, broadcast over leading dimensions.

    Edges join consecutive vertices only (pass closed polygons); touching counts as overlap.
    A zero-length edge gives a NaN axis, which RefAV reads as "separated": the pair is reported
    as not overlapping, reproduced here.

    Args:
        polygons_a: polygons, shape (..., K, 2).
        polygons_b: polygons, shape (..., M, 2), leading dimensions broadcastable with ``polygons_a``.

    Returns:
        Whether each pair overlaps, shape of the broadcast leading dimensions.
    """
    a = np.asarray(polygons_a, dtype=np.float64)
    b = np.asarray(polygons_b, dtype=np.float64)
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    separated = np.zeros(lead, dtype=np.bool_)
    # Each polygon's own axes are computed once, not once per pair (broadcasting does the rest).
    for axes in (_axes(a), _axes(b)):
        min_a, max_a = _project(a, axes)
        min_b, max_b = _project(b, axes)
        # RefAV's extra containment clauses are implied by this one; NaN compares False = separated.
        overlap_on_axis = (min_a <= max_b) & (min_b <= max_a)
        separated |= ~overlap_on_axis.all(axis=-1)
    return ~separated


def polygons_overlap_matrix(polygons_a: NDArrayFloat, polygons_b: NDArrayFloat) -> NDArrayBool:
    """:func:`polygons_overlap` of every polygon of ``a`` with every polygon of ``b``, pruned.

    A pair is decided without the full test when one of the first two edge normals of the
    ``a`` polygon (both are among the SAT axes) must separate it: for normals at cosine ``c``,
    one of them sees at least ``|d| * sqrt((1 - c) / 2)`` of the centre offset ``d``, which
    beats the two circumradii with a safety margin. Surviving pairs get the exact test.

    Args:
        polygons_a: closed polygons, shape (N, K, 2), e.g. footprints.
        polygons_b: closed polygons, shape (M, L, 2), e.g. crossings.

    Returns:
        Shape (N, M).
    """
    a = np.asarray(polygons_a, dtype=np.float64)
    b = np.asarray(polygons_b, dtype=np.float64)
    out = np.zeros((len(a), len(b)), dtype=np.bool_)
    if len(a) == 0 or len(b) == 0:
        return out
    center_a, center_b = a.mean(axis=1), b.mean(axis=1)
    radius_a = np.linalg.norm(a - center_a[:, None], axis=-1).max(axis=1)
    radius_b = np.linalg.norm(b - center_b[:, None], axis=-1).max(axis=1)
    normals = _axes(a[:, :3])  # (N, 2, 2): the first two edges' normals
    cos = np.abs(np.sum(normals[:, 0] * normals[:, 1], axis=-1))
    reach = np.sqrt(np.clip((1.0 - cos) / 2.0, 0.0, None))  # NaN normals: NaN, never prunes
    gap = np.hypot(center_a[:, None, 0] - center_b[None, :, 0], center_a[:, None, 1] - center_b[None, :, 1])
    gap *= reach[:, None]  # a bound with a margin far above rounding: any formula of the distance will do
    maybe = ~(gap > (radius_a[:, None] + radius_b[None]) * (1 + 1e-9) + 1e-9)
    i, j = np.nonzero(maybe)
    out[i, j] = polygons_overlap(a[i], b[j])
    return out


def _project(polygons: NDArrayFloat, axes: NDArrayFloat) -> tuple[NDArrayFloat, NDArrayFloat]:
    """Least and greatest ``vertex . axis`` of polygons (..., K, 2) on axes (..., E, 2), each (..., E)."""
    x = polygons[..., None, :, 0] * axes[..., :, None, 0]
    x += polygons[..., None, :, 1] * axes[..., :, None, 1]
    return x.min(axis=-1), x.max(axis=-1)


def _point_segment_distance(p: NDArrayFloat, a: NDArrayFloat, b: NDArrayFloat) -> NDArrayFloat:
    """Distance from points p to segments ab, all (..., 2), as RefAV's point_to_segment_distance."""
    ap = p - a
    ab = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(
            (ap[..., 0] * ab[..., 0] + ap[..., 1] * ab[..., 1]) / (ab[..., 0] * ab[..., 0] + ab[..., 1] * ab[..., 1]),
            0,
            1,
        )
    closest = a + t[..., None] * ab
    d = p - closest
    return np.asarray(np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]))


def footprint_distance(footprints_a: NDArrayFloat, footprints_b: NDArrayFloat) -> NDArrayFloat:
    """RefAV's ``cuboid_distance`` between footprints, broadcast over leading dimensions.

    0 where the footprints overlap (:func:`polygons_overlap`, touching included), else the
    least distance from a corner of one to an edge of the other.

    Args:
        footprints_a: closed rectangles, shape (..., 5, 2), metres.
        footprints_b: closed rectangles, shape (..., 5, 2), metres.

    Returns:
        Distances in metres, shape of the broadcast leading dimensions.
    """
    a = np.asarray(footprints_a, dtype=np.float64)
    b = np.asarray(footprints_b, dtype=np.float64)
    # corners of a (..., 4, 1, 2) against edges of b (..., 1, 4, 2) and vice versa
    a_to_b = _point_segment_distance(a[..., :4, None, :], b[..., None, :4, :], b[..., None, 1:5, :])
    b_to_a = _point_segment_distance(b[..., :4, None, :], a[..., None, :4, :], a[..., None, 1:5, :])
    gap = np.minimum(a_to_b.min(axis=(-1, -2)), b_to_a.min(axis=(-1, -2)))
    return np.where(polygons_overlap(a, b), 0.0, gap)


def footprint_discs(footprints: NDArrayFloat) -> tuple[NDArrayFloat, NDArrayFloat]:
    """Discs holding closed footprints: the corners' mean (N, 2) and the farthest corner's distance (N,).

    For two footprints with centres ``d`` apart and radii ``ra``, ``rb``, :func:`footprint_distance`
    lies between ``d - ra - rb`` and ``d + ra + rb`` (a corner of one is that close to a corner of
    the other), up to rounding; pair searches use this to skip the exact computation.

    Args:
        footprints: closed rectangles, shape (N, 5, 2), metres.
    """
    corners = np.asarray(footprints, dtype=np.float64)[:, :4]
    centre = corners.mean(axis=1)
    radius = np.linalg.norm(corners - centre[:, None], axis=-1).max(axis=1)
    return centre, radius


def footprints_degenerate(footprints: NDArrayFloat) -> NDArrayBool:
    """Footprints whose :func:`footprint_distance` may not be a number, shape (N,).

    A non-finite or huge coordinate, or a zero-length edge (RefAV's distance is then NaN); no bound
    may decide such a footprint's pairs.
    """
    footprints = np.asarray(footprints, dtype=np.float64)
    edges = footprints[:, 1:] - footprints[:, :-1]
    null_edge = (edges[..., 0] * edges[..., 0] + edges[..., 1] * edges[..., 1] == 0).any(axis=1)
    return np.asarray(~(np.abs(footprints) < 1e100).all(axis=(1, 2)) | null_edge)


# --------------------------------------------------------------------------- point in polygon


def _crossings(x: NDArrayFloat, y: NDArrayFloat, edges: NDArrayFloat) -> NDArrayBool:
    """Whether RefAV's ray cast toggles for points (x, y) against edges (px1, py1, px2, py2), all broadcast."""
    px1, py1, px2, py2 = edges[..., 0], edges[..., 1], edges[..., 2], edges[..., 3]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xinters = (y - py1) * (px2 - px1) / (py2 - py1) + px1
    # A horizontal edge never passes the first two tests, so its undefined xinters is never read.
    flags: NDArrayBool = (
        (y > np.minimum(py1, py2))
        & (y <= np.maximum(py1, py2))
        & (x <= np.maximum(px1, px2))
        & ((px1 == px2) | (x <= xinters))
    )
    return flags


def polygon_edges(polygon_xy: NDArrayFloat) -> NDArrayFloat:
    """Edges that RefAV's ray cast walks: vertex i-1 -> vertex i mod K for i = 1..K.

    Args:
        polygon_xy: vertices, shape (K, 2) (closed or not).

    Returns:
        Edges ``(px1, py1, px2, py2)``, shape (K, 4).
    """
    polygon_xy = np.asarray(polygon_xy, dtype=np.float64)[:, :2]
    return np.concatenate([polygon_xy, np.roll(polygon_xy, -1, axis=0)], axis=1)


def points_in_polygon(points_xy: NDArrayFloat, polygon_xy: NDArrayFloat) -> NDArrayBool:
    """RefAV's even-odd ray cast of many points against one polygon.

    Args:
        points_xy: query points, shape (N, 2).
        polygon_xy: vertices, shape (K, 2).

    Returns:
        Whether each point is inside, shape (N,). Points on some edges count as inside.
    """
    points_xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    edges = polygon_edges(polygon_xy)
    flags = _crossings(points_xy[:, 0:1], points_xy[:, 1:2], edges[None, :, :])
    return np.asarray(flags.sum(axis=1) % 2 == 1)


EDGES_PER_BAND = 4
"""About how many edges a polygon's horizontal band holds (``Bands``): more bands, fewer edge tests."""
MAX_BANDS = 1024
"""Most bands of one polygon."""


@dataclass(frozen=True)
class Bands:
    """Each polygon's edges by horizontal band, so that a point is cast only against edges that may toggle.

    Polygon ``p`` splits its y-range into ``count[p]`` equal bands; band ``b`` of it is global
    band ``first[p] + b`` and holds edges ``edges[edge_start[g]:edge_start[g + 1]]`` (indices into
    the set's edges, ascending): every edge whose y-range ``[min, max]`` meets the band. RefAV's
    ray cast toggles on an edge only where ``min < y <= max``, and ``band_of`` is monotonic in
    ``y``, so every edge that can toggle for a point is in the point's band.
    """

    first: NDArrayInt  # (P + 1,) first global band of each polygon
    count: NDArrayInt  # (P,)
    y0: NDArrayFloat  # (P,) bottom of each polygon's bands
    height: NDArrayFloat  # (P,) height of its bands (1.0 where it has one band)
    edge_start: NDArrayInt  # (G + 1,)
    edges: NDArrayInt  # edge indices, band by band

    @classmethod
    def build(cls, edges: NDArrayFloat, edge_start: NDArrayInt, bounds: NDArrayFloat) -> Bands:
        """The bands of polygons given by their edges (E, 4), first edges (P + 1,) and bounding boxes (P, 4)."""
        num_edges = np.diff(edge_start)
        y0 = bounds[:, 1]
        count = np.clip(num_edges // EDGES_PER_BAND, 1, MAX_BANDS).astype(np.int64)
        with np.errstate(invalid="ignore", over="ignore"):
            height = (bounds[:, 3] - y0) / count
        usable = np.isfinite(y0) & np.isfinite(height) & (height > 0)  # else one band holds every edge
        count = np.where(usable, count, 1)
        first = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
        y0, height = np.where(usable, y0, 0.0), np.where(usable, height, 1.0)
        bands = cls(first, count, y0, height, np.zeros(1, np.int64), np.zeros(0, np.int64))
        owner = np.repeat(np.arange(len(num_edges)), num_edges)
        lo = bands.band_of(np.minimum(edges[:, 1], edges[:, 3]), owner)
        hi = bands.band_of(np.maximum(edges[:, 1], edges[:, 3]), owner)
        span_bands = hi - lo + 1
        entry_edge = np.repeat(np.arange(len(edges)), span_bands)
        entry_band = np.repeat(lo - np.concatenate([[0], np.cumsum(span_bands)[:-1]]), span_bands)
        entry_band = entry_band + np.arange(len(entry_edge))
        order = np.lexsort((entry_edge, entry_band))
        per_band = np.bincount(entry_band, minlength=int(first[-1]))
        edge_start_bands = np.concatenate([[0], np.cumsum(per_band)]).astype(np.int64)
        return cls(first, count, y0, height, edge_start_bands, entry_edge[order].astype(np.int64))

    def band_of(self, y: NDArrayFloat, poly_idx: NDArrayInt) -> NDArrayInt:
        """Global band of heights ``y`` in polygons ``poly_idx`` (clipped to the polygon's bands), shape (N,)."""
        count = self.count[poly_idx]
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.floor((y - self.y0[poly_idx]) / self.height[poly_idx])
        # NaN (no edge toggles for it) and out-of-range heights go to the nearest end band
        t = np.clip(np.nan_to_num(t, nan=0.0, posinf=np.inf, neginf=-np.inf), 0, count - 1)
        return np.asarray(self.first[poly_idx] + t.astype(np.int64))


@dataclass(frozen=True)
class PolygonSet:
    """Many polygons with a bounding-box index, for exact ray casting of many points at once.

    Built once; :meth:`contains_pairs` finds all (point, polygon) containments with RefAV's
    even-odd rule. The STRtree over (slightly padded) bounding boxes only prunes: a point
    outside a polygon's bounding box can never have an odd crossing count. Within a polygon,
    each point is tested only against the edges of its horizontal band (``Bands``): an edge
    whose y-range misses the band can never toggle the ray cast there, so the answer is the
    same as testing every edge.
    """

    edges: NDArrayFloat
    """All polygons' edges one after the other, shape (E, 4)."""
    edge_start: NDArrayInt
    """First edge of each polygon, shape (P + 1,) (the last entry is E)."""
    bounds: NDArrayFloat
    """Bounding boxes ``(xmin, ymin, xmax, ymax)``, shape (P, 4)."""
    tree: shapely.STRtree = field(repr=False)
    bands: Bands = field(repr=False)

    @classmethod
    def from_polygons(cls, polygons_xy: Sequence[NDArrayFloat]) -> PolygonSet:
        """Index polygons given as vertex arrays (K_i, 2) (extra columns such as z are ignored)."""
        edge_list = [polygon_edges(p) for p in polygons_xy]
        counts = np.array([len(e) for e in edge_list], dtype=np.int64)
        edges = np.concatenate(edge_list) if edge_list else np.zeros((0, 4))
        edge_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if edge_list:
            bounds = np.array([[e[:, 0].min(), e[:, 1].min(), e[:, 0].max(), e[:, 1].max()] for e in edge_list])
        else:
            bounds = np.zeros((0, 4))
        pad = 1e-6 * (1.0 + np.abs(bounds))  # pruning only: a larger box is always safe
        boxes = shapely.box(
            bounds[:, 0] - pad[:, 0], bounds[:, 1] - pad[:, 1], bounds[:, 2] + pad[:, 2], bounds[:, 3] + pad[:, 3]
        )
        return cls(edges, edge_start, bounds, shapely.STRtree(boxes), Bands.build(edges, edge_start, bounds))

    def __len__(self) -> int:
        return len(self.bounds)

    def contains_pairs(self, points_xy: NDArrayFloat) -> tuple[NDArrayInt, NDArrayInt]:
        """All (point, polygon) pairs where the point is inside, by RefAV's ray cast.

        Args:
            points_xy: query points, shape (N, 2).

        Returns:
            ``(point_index, polygon_index)``, each shape (M,), sorted by point then polygon.
        """
        points_xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        if len(self) == 0 or len(points_xy) == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty
        point_idx, poly_idx = self.tree.query(shapely.points(points_xy))
        order = np.lexsort((poly_idx, point_idx))
        point_idx, poly_idx = point_idx[order].astype(np.int64), poly_idx[order].astype(np.int64)
        inside = self.pairs_inside(points_xy[point_idx], poly_idx)
        return point_idx[inside], poly_idx[inside]

    def pairs_inside(self, points_xy: NDArrayFloat, poly_idx: NDArrayInt) -> NDArrayBool:
        """RefAV's ray cast of ``points_xy[i]`` against polygon ``poly_idx[i]``.

        Args:
            points_xy: query points, shape (M, 2).
            poly_idx: polygon of each point, shape (M,).

        Returns:
            Whether each point is inside its polygon, shape (M,).
        """
        points_xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        poly_idx = np.asarray(poly_idx, dtype=np.int64)
        inside = np.zeros(len(poly_idx), dtype=np.bool_)
        band = self.bands.band_of(points_xy[:, 1], poly_idx)
        start = self.bands.edge_start[band]
        counts = self.bands.edge_start[band + 1] - start
        # chunk so that (pair, edge) rows stay bounded
        cum = np.cumsum(counts)
        begin = 0
        while begin < len(poly_idx):
            end = int(np.searchsorted(cum, (cum[begin - 1] if begin else 0) + _PAIR_CHUNK, side="right"))
            end = max(end, begin + 1)
            c = counts[begin:end]
            row = np.repeat(np.arange(begin, end), c)
            first = np.repeat(start[begin:end] - np.concatenate([[0], np.cumsum(c)[:-1]]), c)
            edge = self.bands.edges[first + np.arange(len(row))]
            flags = _crossings(points_xy[row, 0], points_xy[row, 1], self.edges[edge])
            inside[begin:end] = np.bincount(row - begin, weights=flags, minlength=end - begin) % 2 == 1
            begin = end
        return inside

    def contains_any(self, points_xy: NDArrayFloat) -> NDArrayBool:
        """Whether each point lies inside at least one polygon, shape (N,)."""
        points_xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        point_idx, _ = self.contains_pairs(points_xy)
        hit = np.zeros(len(points_xy), dtype=np.bool_)
        hit[point_idx] = True
        return hit


# --------------------------------------------------------------------------- dilation


def _normalize(v: NDArrayFloat) -> NDArrayFloat:
    """Rows of v (..., 2) divided by their norm; zero rows stay zero (RefAV's normalize)."""
    norm = np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])[..., None]
    safe = np.where(norm != 0, norm, 1.0)
    return np.where(norm != 0, v / safe, v)


def dilate_polygon(polygon_xy: NDArrayFloat, distance_m: float) -> NDArrayFloat:
    """RefAV's ``dilate_convex_polygon``: a mitred outward offset of a closed polygon.

    The polygon is first put in counter-clockwise order (shoelace sign); each vertex then moves
    along the bisector of its two outward edge normals by ``d / cos(half-angle)``. Concave or
    degenerate inputs are not special-cased (the result may self-intersect), as in RefAV. The
    output starts at the second input vertex (RefAV's loop order) and is closed.

    Args:
        polygon_xy: closed polygon (first vertex repeated last), shape (K, 2) or (K, 3).
        distance_m: offset in metres (negative shrinks).

    Returns:
        Dilated closed polygon, shape (K, 2).
    """
    points = np.asarray(polygon_xy, dtype=np.float64)[:, :2]
    n = len(points)
    nxt = np.roll(points, -1, axis=0)
    shoelace = np.sum(((nxt[:, 0] - points[:, 0]) * (nxt[:, 1] + points[:, 1]))[: n - 1])
    if shoelace > 0:  # clockwise -> counter-clockwise
        points = points[::-1]
    i = np.arange(1, n)
    prev_pt, curr_pt, next_pt = points[i - 1], points[i], points[(i + 1) % (n - 1)]
    edge1 = _normalize(curr_pt - prev_pt)
    edge2 = _normalize(next_pt - curr_pt)
    perp1 = np.stack([edge1[:, 1], -edge1[:, 0]], axis=-1)
    perp2 = np.stack([edge2[:, 1], -edge2[:, 0]], axis=-1)
    bisector = _normalize(perp1 + perp2)
    dot = bisector[:, 0] * perp1[:, 0] + bisector[:, 1] * perp1[:, 1]
    degenerate = np.abs(dot) < 1e-10
    scale = np.where(degenerate, distance_m, distance_m / np.where(degenerate, 1.0, dot))
    dilated = curr_pt + scale[:, None] * bisector
    return np.concatenate([dilated, dilated[:1]], axis=0)
