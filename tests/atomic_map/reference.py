"""Slow, independent reference for the map layer: plain per-point loops over av2 objects,
written straight from RefAV's per-point code (one scalar at a time): refAV/utils.py (get_nth_pos_deriv,
cuboid_distance, get_scenario_lanes, get_pos_within_lane) and refAV/atomic_functions.py (changing_lanes,
at_pedestrian_crossing, near_intersection, in_drivable_area).

Every vectorised routine of ``avmine.atomic.map`` is checked for equality against these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from av2.geometry.interpolate import interp_arc
from av2.map.lane_segment import LaneSegment
from av2.map.map_api import ArgoverseStaticMap

# ----------------------------------------------------------------------------- geometry


def ray_cast(point: Any, polygon: Any) -> bool:
    x, y = float(point[0]), float(point[1])
    n = len(polygon)
    inside = False
    for i in range(1, n + 1):
        x1, y1 = float(polygon[i - 1][0]), float(polygon[i - 1][1])
        x2, y2 = float(polygon[i % n][0]), float(polygon[i % n][1])
        if min(y1, y2) < y <= max(y1, y2) and x <= max(x1, x2):
            if x1 == x2:
                inside = not inside
            else:
                crossing_x = (y - y1) * (x2 - x1) / (y2 - y1) + x1
                if x <= crossing_x:
                    inside = not inside
    return inside


def sat_overlap(a: Any, b: Any) -> bool:
    def normals(poly: Any) -> list[tuple[float, float]]:
        out = []
        for i in range(len(poly) - 1):
            ex, ey = poly[i + 1][0] - poly[i][0], poly[i + 1][1] - poly[i][1]
            length = math.sqrt(ey * ey + ex * ex)
            out.append((-ey / length, ex / length) if length > 0 else (math.nan, math.nan))
        return out

    for ax, ay in normals(a) + normals(b):
        pa = [v[0] * ax + v[1] * ay for v in a]
        pb = [v[0] * ax + v[1] * ay for v in b]
        if not (min(pa) <= max(pb) and min(pb) <= max(pa)):  # NaN: not overlapping
            return False
    return True


def point_segment(p: Any, a: Any, b: Any) -> float:
    abx, aby = b[0] - a[0], b[1] - a[1]
    apx, apy = p[0] - a[0], p[1] - a[1]
    t = (apx * abx + apy * aby) / (abx * abx + aby * aby)
    t = min(max(t, 0.0), 1.0)
    return math.hypot(p[0] - (a[0] + t * abx), p[1] - (a[1] + t * aby))


def rect_distance(a: Any, b: Any) -> float:
    if sat_overlap(a, b):
        return 0.0
    best = math.inf
    for i in range(4):
        for j in range(4):
            best = min(
                best,
                point_segment(a[i], b[j], b[j + 1]),
                point_segment(b[j], a[i], a[i + 1]),
            )
    return best


def dilate(polygon: Any, d: float) -> np.ndarray:
    pts = [(float(p[0]), float(p[1])) for p in polygon]
    signed = sum((pts[i + 1][0] - pts[i][0]) * (pts[i + 1][1] + pts[i][1]) for i in range(len(pts) - 1))
    if signed > 0:
        pts = pts[::-1]
    n = len(pts)

    def unit(vx: float, vy: float) -> tuple[float, float]:
        length = math.sqrt(vx * vx + vy * vy)
        return (vx / length, vy / length) if length != 0 else (vx, vy)

    out = []
    for i in range(1, n):
        prev, cur, nxt = pts[i - 1], pts[i], pts[(i + 1) % (n - 1)]
        e1 = unit(cur[0] - prev[0], cur[1] - prev[1])
        e2 = unit(nxt[0] - cur[0], nxt[1] - cur[1])
        n1, n2 = (e1[1], -e1[0]), (e2[1], -e2[0])
        bis = unit(n1[0] + n2[0], n1[1] + n2[1])
        cos_half = bis[0] * n1[0] + bis[1] * n1[1]
        step = d if abs(cos_half) < 1e-10 else d / cos_half
        out.append((cur[0] + step * bis[0], cur[1] + step * bis[1]))
    out.append(out[0])
    return np.array(out)


# ----------------------------------------------------------------------------- lanes


class ReferenceMap:
    """RefAV's lane primitives over av2 LaneSegment objects, one query at a time."""

    def __init__(self, avm: ArgoverseStaticMap) -> None:
        self.avm = avm
        self.lanes: dict[int, LaneSegment] = avm.vector_lane_segments
        self._orientation: dict[int, np.ndarray] = {}
        # av2 resamples both boundaries to 50 points on every call; doing it once is the same
        self.samples: dict[int, list[np.ndarray]] = {}
        for lane_id, ls in self.lanes.items():
            self.samples[lane_id] = [
                interp_arc(50, ls.right_lane_boundary.xyz[:, :2]),
                interp_arc(50, ls.left_lane_boundary.xyz[:, :2]),
            ]

    def nearby(self, point: Any, radius: float) -> list[int]:
        out = []
        for lane_id, boundaries in self.samples.items():
            for pts in boundaries:
                d = np.abs(pts - np.asarray(point[:2])[None, :]).max(axis=1).min()
                if d < radius:  # NaN fails
                    out.append(lane_id)
                    break
        return out

    def containing(self, point: Any) -> list[int]:
        return [i for i in self.nearby(point, 5.0) if ray_cast(point, self.lanes[i].polygon_boundary[:, :2])]

    def turn(self, lane_id: int) -> str | None:
        ls = self.lanes[lane_id]
        if not ls.is_intersection:
            return None
        s = ls.right_lane_boundary.xyz[0, :2] - ls.left_lane_boundary.xyz[0, :2]
        e = ls.right_lane_boundary.xyz[-1, :2] - ls.left_lane_boundary.xyz[-1, :2]
        change = math.atan2(e[0], e[1]) - math.atan2(s[0], s[1])
        if change > math.pi:
            change -= 2 * math.pi
        elif change < -math.pi:
            change += 2 * math.pi
        if change > math.pi / 6:
            return "right"
        if change < -math.pi / 6:
            return "left"
        return "straight"

    def assign(
        self, timestamps: list[int], lanes_per_t: list[list[int]], yaw_rate: np.ndarray
    ) -> dict[int, int | None]:
        """get_scenario_lanes' bucket vote, given each timestamp's containing lanes (self.containing)."""
        buckets: dict[int, list[int]] = {}
        for t, lanes in zip(timestamps, lanes_per_t, strict=True):
            for lane_id in lanes:
                buckets.setdefault(lane_id, []).append(t)
        result: dict[int, int | None] = {}
        ts = np.asarray(timestamps)
        while buckets:
            best, most = None, 0
            for lane_id, members in buckets.items():
                if len(members) > most:
                    best, most = lane_id, len(members)
                elif len(members) == most:
                    rate = float(np.mean(yaw_rate[np.isin(ts, members)]))
                    turn = self.turn(lane_id)
                    if (
                        (turn == "left" and rate > 0.15)
                        or (turn == "right" and rate < -0.15)
                        or (turn == "straight" and -0.15 < rate < 0.15)
                    ):
                        best = lane_id
            assert best is not None
            won = buckets.pop(best)
            for t in won:
                result[t] = best
            for lane_id in list(buckets):
                left = [t for t in buckets[lane_id] if t not in won]
                if left:
                    buckets[lane_id] = left
                else:
                    del buckets[lane_id]
        return {t: result.get(t) for t in timestamps}

    def orientation(self, lane_id: int) -> np.ndarray:
        if lane_id not in self._orientation:  # av2's centerline inference is slow; its answer is fixed
            c = self.avm.get_lane_segment_centerline(lane_id)
            o = c[-1] - c[0]
            self._orientation[lane_id] = o / np.linalg.norm(o + 1e-8)
        return self._orientation[lane_id]

    def straight_or_plain(self, lane_id: int) -> bool:
        return not self.lanes[lane_id].is_intersection or self.turn(lane_id) == "straight"

    def semantic(self, lane_id: int | None) -> list[int]:
        if lane_id is None:
            return []
        lane = [lane_id]
        if not self.straight_or_plain(lane_id):
            return lane
        for attr, floor in (("predecessors", 0.0), ("successors", -math.inf)):
            todo = [lane_id]
            while todo:
                cur = todo.pop()
                here = self.orientation(cur)
                choice, best = None, floor
                for other in getattr(self.lanes[cur], attr):
                    if other not in self.lanes:
                        continue
                    there = self.orientation(other)
                    sim = float(np.dot(there, here) / (np.linalg.norm(there) * np.linalg.norm(here)))
                    if self.straight_or_plain(other) and sim > best:
                        choice, best = other, sim
                if choice is not None and choice not in lane:
                    lane.append(choice)
                    todo.append(choice)
        return lane

    def road_side(self, lane_id: int | None, side: str) -> list[int]:
        if lane_id is None or lane_id not in self.lanes:
            return []
        queue = self.semantic(lane_id)
        same: list[int] = []
        opposite: list[int] = []
        while queue:
            cur = queue.pop(0)
            same.append(cur)
            ls = self.lanes[cur]
            for nid, mine, theirs in (
                (ls.left_neighbor_id, "left_lane_boundary", "right_lane_boundary"),
                (ls.right_neighbor_id, "right_lane_boundary", "left_lane_boundary"),
            ):
                if not nid or nid not in self.lanes or nid in same or nid in opposite:
                    continue
                a = getattr(ls, mine).xyz[:, :2]
                b = getattr(self.lanes[nid], theirs).xyz[:, :2]
                if np.linalg.norm(a[0] - b[0]) + np.linalg.norm(a[-1] - b[-1]) < 0.1:
                    queue.append(nid)
                else:
                    opposite.append(nid)
        if side == "same":
            return same
        return self.road_side(opposite[0], "same") if opposite else []

    def stop_sign_lane(self, position: Any) -> int | None:
        near = self.nearby(position, 10.0)
        plain = [i for i in near if not self.lanes[i].is_intersection]
        if plain:
            return plain[-1]
        return near[-1] if near else None

    def boundary_direction(self, lane_id: int, side: str, point: Any) -> np.ndarray:
        ls = self.lanes[lane_id]
        b = (ls.left_lane_boundary if side == "left" else ls.right_lane_boundary).xyz[:, :2]
        dists = [math.hypot(w[0] - point[0], w[1] - point[1]) for w in b]
        k = int(np.argmin(dists))
        start = min(0, k - 1) if side == "left" else max(0, k - 1)
        end = min(len(b) - 1, k + 1)
        d = b[end] - b[start]
        return d / np.linalg.norm(d + 1e-8)

    def lane_w(self, point: Any, lane_id: int | None) -> float | None:
        if lane_id is None:
            return None
        ls = self.lanes[lane_id]
        if not ray_cast(point, ls.polygon_boundary[:, :2]):
            return None
        p = np.asarray(point[:2], dtype=float)
        feet = []
        for line in (ls.left_lane_boundary.xyz[:, :2], ls.right_lane_boundary.xyz[:, :2]):
            best, foot = math.inf, None
            for i in range(1, len(line)):
                a, b = line[i - 1], line[i]
                seg = b - a
                u = seg / np.linalg.norm(seg)
                proj = float(np.dot(p - a, u)) * u
                plen = float(np.linalg.norm(proj))
                cand = a + proj if plen <= np.linalg.norm(seg) else b
                dist = float(np.linalg.norm(p - cand))
                if dist < best:
                    best, foot = dist, a + proj
            if foot is None:
                return None
            feet.append(foot)
        left, right = feet
        width = float(np.linalg.norm(left - right))
        direction = (left - right) / width
        lateral = float(np.dot(p - left, direction)) * direction
        return float(np.linalg.norm(lateral)) / width


# ----------------------------------------------------------------------------- regions


def crossing_loop(footprints: np.ndarray, crossings: list[np.ndarray], d: float) -> list[int]:
    """The RefAV at_pedestrian_crossing loop, list rebinding and all, over one track."""
    reported = []
    current = list(range(len(crossings)))
    for k, fp in enumerate(footprints):
        iterating = current  # the for statement holds on to the list it started with
        for c in iterating:
            if sat_overlap(fp, dilate(crossings[c], d)):
                reported.append(k)
        if iterating:  # rebound inside the loop body (to the same value on every pass)
            current = [j for j, poly in enumerate(crossings) if sat_overlap(poly, fp)]
    return sorted(set(reported))
