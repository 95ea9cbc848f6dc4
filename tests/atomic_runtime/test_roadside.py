"""Turn-only lanes, shoulders and parallel parking on real demo maps; objects moved by people, scripted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.context import LogContext, context_for
from avmine.atomic.functions import FUNCTIONS
from avmine.atomic.functions.roadside import turn_only_lanes
from avmine.atomic.map.lanes import MapIndex
from avmine.atomic.validation import ArgumentError
from avmine.store import Store

from .scripted_tracks import Track, build, times

F = FUNCTIONS
TURNS_LOG = "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"
SHOULDER_LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


def _on_map(demo_store: Store, log: str, tmp_path: Path, name: str) -> tuple[LogContext, Path]:
    """The demo log's context and an empty scripted log directory that uses its map."""
    real = context_for(demo_store.log_dir(log))
    log_dir = tmp_path / name
    (log_dir / "log").mkdir(parents=True)
    (log_dir / "log" / "map").symlink_to(real.arrays.map_dir)
    return real, log_dir


def _drive(centerline: np.ndarray, speed_mps: float = 8.0) -> Track:
    """A box driving along a polyline at constant speed, sampled at 10 Hz."""
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(centerline[:, :2], axis=0), axis=1))])
    t = times(travelled[-1] / speed_mps)
    x = np.interp(t * speed_mps, travelled, centerline[:, 0])
    y = np.interp(t * speed_mps, travelled, centerline[:, 1])
    return Track("REGULAR_VEHICLE", t, x, y, np.unwrap(np.arctan2(np.gradient(y), np.gradient(x))))


def _frame(line: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The middle point of a polyline, its heading there, and the unit vector to its right."""
    middle = len(line) // 2
    direction = line[min(middle + 1, len(line) - 1), :2] - line[max(middle - 1, 0), :2]
    heading = float(np.arctan2(direction[1], direction[0]))
    return line[middle, :2], heading, np.array([np.sin(heading), -np.cos(heading)])


def test_turn_only_lanes_turn_one_way_beside_a_lane_that_does_not(demo_store: Store, tmp_path: Path) -> None:
    real, log_dir = _on_map(demo_store, TURNS_LOG, tmp_path, "turns")
    index: MapIndex = real.map_index
    pockets = turn_only_lanes(index)
    assert {"left", "right"} <= set(pockets.values())
    for lane, way in pockets.items():
        k = index.index_of[lane]
        assert not index.is_intersection[k]
        ahead = [index.index_of[int(s)] for s in index.successors[k] if index.contains(s)]
        if all(index.is_intersection[j] for j in ahead):  # the pocket's last segment
            assert {index.turn_direction[j] for j in ahead} == {way}
        else:  # a segment leading only into the pocket
            assert [int(s) for s in index.successors[k]] in ([p] for p in pockets)
    lane = next(lane for lane, way in pockets.items() if way == "left" and len(index.successors[index.index_of[lane]]))
    beside = int(index.right_neighbor_id[index.index_of[lane]])
    if beside not in index.index_of:
        beside = int(index.left_neighbor_id[index.index_of[lane]])
    avm = real.static_map
    build({"turner": _drive(avm.get_lane_segment_centerline(lane)),
           "straight": _drive(avm.get_lane_segment_centerline(beside))}, log_dir)  # fmt: skip
    found = F["on_turn_only_lane"](["turner", "straight"], log_dir, direction="left")
    assert found["turner"] and not found["straight"]
    assert F["on_turn_only_lane"](["turner"], log_dir, direction="right")["turner"] == []


def _edge_lanes(real: LogContext) -> list[int]:
    """Vehicle lanes outside intersections with no lane to their right, longest first."""
    index = real.map_index
    edges = [k for k in range(len(index.lane_ids)) if not index.is_intersection[k]
             and index.lane_type[k] == "VEHICLE" and index.right_neighbor_id[k] not in index.index_of]  # fmt: skip
    length = {k: float(np.linalg.norm(np.diff(index.right_xyz[k][:, :2], axis=0), axis=1).sum()) for k in edges}
    return [int(index.lane_ids[k]) for k in sorted(edges, key=lambda k: -length[k])]


def _shoulder_spot(real: LogContext) -> tuple[int, np.ndarray, float, np.ndarray]:
    """An edge lane with drivable ground, in no lane, just beyond its right boundary: lane, spot, heading, right."""
    index, regions = real.map_index, real.map_regions
    for lane in _edge_lanes(real):
        k = index.index_of[lane]
        if len(index.right_xyz[k]) < 3:
            continue
        point, heading, right = _frame(index.right_xyz[k])
        spot = (point + 0.5 * right)[None]
        free = regions.in_drivable_area(spot)[0] and not index.polygons.contains_any(spot)[0]
        if free and not regions.near_intersection(spot, 5.0)[0]:
            return lane, spot[0], heading, right
    raise AssertionError("the demo map has a shoulder beside an edge lane")


def test_standing_beyond_the_edge_lane_is_on_the_shoulder(demo_store: Store, tmp_path: Path) -> None:
    real, log_dir = _on_map(demo_store, SHOULDER_LOG, tmp_path, "shoulder")
    lane, spot, heading, _ = _shoulder_spot(real)
    centre, _, _ = _frame(real.static_map.get_lane_segment_centerline(lane))
    t = times(5)

    def standing(xy: np.ndarray) -> Track:
        return Track("REGULAR_VEHICLE", t, np.full_like(t, xy[0]), np.full_like(t, xy[1]), np.full_like(t, heading))

    build({"shoulder": standing(spot), "lane": standing(centre)}, log_dir)
    found = F["on_shoulder"](["shoulder", "lane"], log_dir)
    assert len(found["shoulder"]) == len(t) and found["lane"] == []
    with pytest.raises(ArgumentError, match="on_shoulder: max_distance"):
        F["on_shoulder"](["shoulder"], log_dir, max_distance=-1)


def test_pulling_over_to_the_kerb_is_parallel_parking_and_stopping_in_lane_is_not(
    demo_store: Store, tmp_path: Path
) -> None:
    real, log_dir = _on_map(demo_store, SHOULDER_LOG, tmp_path, "parking")
    lane = _edge_lanes(real)[0]
    line = real.static_map.get_lane_segment_centerline(lane)[:, :2]
    k = real.map_index.index_of[lane]
    width = float(np.linalg.norm(real.map_index.right_xyz[k][len(real.map_index.right_xyz[k]) // 2, :2]
                                 - real.map_index.left_xyz[k][len(real.map_index.left_xyz[k]) // 2, :2]))  # fmt: skip
    t = times(16)
    # drive 4 s at 5 m/s, slow to a stop over 4 s while easing to the kerb, then stand 8 s
    speed = np.interp(t, [0, 4, 8, 16], [5.0, 5.0, 0.0, 0.0])
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
    along = np.cumsum(speed) / 10
    assert along[-1] < travelled[-1] - 5
    centre = np.stack([np.interp(along, travelled, line[:, 0]), np.interp(along, travelled, line[:, 1])], axis=1)
    ahead = np.stack([np.interp(along + 1, travelled, line[:, 0]), np.interp(along + 1, travelled, line[:, 1])], axis=1)
    heading = np.arctan2(*(ahead - centre).T[::-1])
    right = np.stack([np.sin(heading), -np.cos(heading)], axis=1)
    kerb = 0.4 * width  # in the lane's outer quarter: w = 0.9
    sideways = np.interp(t, [0, 4, 8, 16], [0.0, 0.0, kerb, kerb])
    parker = centre + sideways[:, None] * right
    stopper = centre
    ctx = build({"parker": Track("REGULAR_VEHICLE", t, parker[:, 0], parker[:, 1], heading),
                 "stopper": Track("REGULAR_VEHICLE", t, stopper[:, 0], stopper[:, 1], heading)}, log_dir)  # fmt: skip
    assert np.all(ctx.row_lane[ctx.rows_of(ctx.track_index["parker"])] == lane)
    found = F["parallel_parking"](["parker", "stopper"], log_dir)
    assert found["stopper"] == []
    stamps = np.array(found["parker"]) / 1e9
    assert len(stamps) and stamps[0] < 4.0 + 1e-6 and 7.0 < stamps[-1] <= 9.0  # the manoeuvre and settling in
    assert F["parallel_parking"](["parker"], log_dir, min_shift_m=kerb + 0.5)["parker"] == []


def test_a_pushed_stroller_is_moved_by_its_pusher_and_a_parked_bicycle_is_not(tmp_path: Path) -> None:
    t = times(8)
    walk = 1.2 * t
    stroller = Track("STROLLER", t, walk + 1.2, np.zeros_like(t), np.zeros_like(t), length=1.0)
    pusher = Track("PEDESTRIAN", t, walk, np.zeros_like(t), np.zeros_like(t), length=0.5)
    bicycle = Track("BICYCLE", t, np.full_like(t, 5.0), np.full_like(t, 1.5), np.zeros_like(t), length=1.8)
    passer = Track("PEDESTRIAN", t, 2.5 * t, np.full_like(t, 0.8), np.zeros_like(t), length=0.5)
    log_dir = tmp_path / "pushing"
    build({"stroller": stroller, "pusher": pusher, "bicycle": bicycle, "passer": passer}, log_dir)
    objects = F["get_objects_of_category"](log_dir, "ANY")
    people = F["get_objects_of_category"](log_dir, "PEDESTRIAN")
    found = F["moved_by_person"](objects, people, log_dir)
    assert {u for u, related in found.items() if related} == {"stroller"}
    assert set(found["stroller"]) == {"pusher"}  # the jogger beside it runs past
    pushing = F["reverse_relationship"](F["moved_by_person"])(objects, people, log_dir)
    assert {u for u, related in pushing.items() if related} == {"pusher"}


def test_on_every_demo_log_the_roadside_functions_give_subsets_of_timelines(demo_store: Store) -> None:
    for log in demo_store.query_df("SELECT log_id FROM logs ORDER BY log_id")["log_id"]:
        log_dir = demo_store.log_dir(str(log))
        ctx = context_for(log_dir)
        vehicles = F["get_objects_of_category"](log_dir, "VEHICLE")
        for name in ("on_turn_only_lane", "on_shoulder", "parallel_parking"):
            out = F[name](vehicles, log_dir)
            assert set(out) == set(vehicles)
            assert all(set(stamps) <= set(ctx.timeline(u)) for u, stamps in out.items())  # type: ignore[arg-type]
        # a turn-only lane is a lane: every box found on one has that lane
        pockets = turn_only_lanes(ctx.map_index)
        for uuid, stamps in F["on_turn_only_lane"](vehicles, log_dir).items():
            rows = ctx.row_at[ctx.track_index[uuid], np.searchsorted(ctx.timestamps_ns, stamps)]
            assert all(int(lane) in pockets for lane in ctx.row_lane[rows])
        moved = F["moved_by_person"](F["get_objects_of_category"](log_dir, "ANY"), F["get_objects_of_category"](
            log_dir, "PEDESTRIAN"), log_dir)  # fmt: skip
        assert all(ctx.track_category[ctx.track_index[p]] == "PEDESTRIAN" for rel in moved.values() for p in rel)
