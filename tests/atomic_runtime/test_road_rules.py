"""Map-aware behaviours on a real demo map: a vehicle driven backwards along its lane is a wrong-way driver."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avmine.atomic.context import LogContext, context_for
from avmine.atomic.functions import FUNCTIONS
from avmine.atomic.functions.map import _lane_table
from avmine.atomic.functions.road_rules import (
    entering_drivable_area,
    leaving_drivable_area,
    merging,
    special_stopping,
    wrong_way,
)
from avmine.atomic.functions.robust import planar_speed
from avmine.atomic.validation import ArgumentError
from avmine.store import Store

from .scripted_tracks import Track, build, times

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


@pytest.fixture(scope="module")
def clean(demo_store: Store) -> LogContext:
    return context_for(demo_store.log_dir(LOG))


def _driver(ctx: LogContext) -> int:
    """The vehicle with the most boxes driving above 3 m/s on plain lanes."""
    driving = (planar_speed(ctx, 1.0) > 3) & (ctx.row_lane >= 0) & ~_lane_table(ctx)[0]
    vehicles = np.isin(np.asarray(ctx.track_category)[ctx.row_track], ["REGULAR_VEHICLE", "BUS", "BOX_TRUCK"])
    counts = np.bincount(ctx.row_track[driving & vehicles], minlength=len(ctx.track_uuids))
    return int(np.argmax(counts))


def test_a_vehicle_driven_backwards_along_its_lane_drives_the_wrong_way(clean: LogContext) -> None:
    uuids = clean.track_uuids
    honest = wrong_way.rule(clean, uuids)
    assert sum(bool(stamps) for stamps in honest.values()) <= 2  # annotated traffic keeps to its lanes
    track = _driver(clean)
    rows = clean.rows_of(track)
    xyz = np.array(clean.arrays.xyz_city)
    xyz[rows] = xyz[rows][::-1]  # the same path, travelled from its end to its start
    yaw = np.array(clean.arrays.yaw_city)
    yaw[rows] = yaw[rows][::-1] + np.pi
    backwards = LogContext(dataclasses.replace(
        clean.arrays, source="reversed-for-test", key="reversed", xyz_city=xyz, yaw_city=yaw,
        quat_city=Rotation.from_euler("z", yaw[:, None]).as_quat(scalar_first=True)))  # fmt: skip
    found = wrong_way.rule(backwards, [uuids[track]])[uuids[track]]
    driving = planar_speed(clean, 1.0)[rows] > 3
    assert len(found) >= 0.5 * int(driving.sum())


def test_the_other_road_rules_give_subsets_of_timelines(clean: LogContext) -> None:
    uuids = clean.track_uuids
    for rule in (special_stopping.rule, entering_drivable_area.rule, leaving_drivable_area.rule):
        out = rule(clean, uuids)
        assert all(set(stamps) <= set(clean.timeline(u)) for u, stamps in out.items())
    stops = special_stopping.rule(clean, uuids, where="intersection")
    for uuid, stamps in stops.items():
        rows = [clean.row_at[clean.track_index[uuid], np.searchsorted(clean.timestamps_ns, t)] for t in stamps]
        assert np.all(_lane_table(clean)[0][rows]) and np.all(planar_speed(clean, 1.0)[rows] < 0.5)


def test_bad_arguments(clean: LogContext) -> None:
    log_dir = clean.log_dir
    vehicles = FUNCTIONS["get_objects_of_category"](log_dir, category="VEHICLE")
    with pytest.raises(ArgumentError, match="where="):
        FUNCTIONS["special_stopping"](vehicles, log_dir, where="roundabout")
    with pytest.raises(ArgumentError, match=r"in \(0, 180\]"):
        FUNCTIONS["wrong_way"](vehicles, log_dir, min_angle_deg=270)


MERGE_LOG = "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"
MERGE_LANE, FEEDER = 38111648, 38111825  # two lanes become one in this log's map


def _drive(centerline: np.ndarray, speed_mps: float = 8.0) -> Track:
    """A box driving along a polyline at constant speed, sampled at 10 Hz."""
    steps = np.linalg.norm(np.diff(centerline[:, :2], axis=0), axis=1)
    travelled = np.concatenate([[0.0], np.cumsum(steps)])
    t = times(travelled[-1] / speed_mps)
    x = np.interp(t * speed_mps, travelled, centerline[:, 0])
    y = np.interp(t * speed_mps, travelled, centerline[:, 1])
    yaw = np.unwrap(np.arctan2(np.gradient(y), np.gradient(x)))
    return Track("REGULAR_VEHICLE", t, x, y, yaw)


def test_a_car_driving_from_a_feeding_lane_into_the_merged_lane_merges(demo_store: Store, tmp_path: Path) -> None:
    real = context_for(demo_store.log_dir(MERGE_LOG))
    log_dir = tmp_path / MERGE_LOG
    (log_dir / "log").mkdir(parents=True)
    (log_dir / "log" / "map").symlink_to(real.arrays.map_dir)
    avm = real.static_map
    merge = avm.get_lane_segment_centerline(MERGE_LANE)
    feeder = avm.get_lane_segment_centerline(FEEDER)
    ctx = build({"merger": _drive(np.concatenate([feeder, merge[1:]])), "stays": _drive(merge)}, log_dir)
    found = merging.rule(ctx, ["merger", "stays"])
    assert found["stays"] == []
    change = int(np.flatnonzero(np.diff(ctx.row_lane[ctx.rows_of(ctx.track_index["merger"])]) != 0)[0])
    changed_at = ctx.timeline("merger")[change + 1]
    assert found["merger"] and found["merger"][0] <= changed_at <= found["merger"][-1]
    assert (found["merger"][-1] - found["merger"][0]) / 1e9 <= 4.1  # within 2 s of the change


def test_standing_in_a_lane_beside_a_parked_car_is_double_parking(demo_store: Store, tmp_path: Path) -> None:
    real = context_for(demo_store.log_dir(MERGE_LOG))
    log_dir = tmp_path / "double-parking"
    (log_dir / "log").mkdir(parents=True)
    (log_dir / "log" / "map").symlink_to(real.arrays.map_dir)
    index, avm = real.map_index, real.static_map

    def length_m(lane_id: int) -> float:
        return float(np.linalg.norm(np.diff(avm.get_lane_segment_centerline(lane_id)[:, :2], axis=0), axis=1).sum())

    plain = [
        int(lane)
        for k, lane in enumerate(index.lane_ids)
        if not index.is_intersection[k] and index.lane_type[k] == "VEHICLE" and length_m(int(lane)) > 25
    ]
    lane, other = plain[0], plain[-1]
    t = times(25)

    def standing(lane_id: int, offset_right_m: float) -> Track:
        line = avm.get_lane_segment_centerline(lane_id)[:, :2]
        middle = len(line) // 2
        direction = line[middle + 1] - line[middle - 1]
        heading = float(np.arctan2(direction[1], direction[0]))
        right = np.array([np.sin(heading), -np.cos(heading)])
        x, y = line[middle] + offset_right_m * right
        return Track("REGULAR_VEHICLE", t, np.full_like(t, x), np.full_like(t, y), np.full_like(t, heading))

    ctx = build({"double": standing(lane, 0.0), "kerb": standing(lane, 2.5), "alone": standing(other, 0.0)}, log_dir)
    assert ctx.row_lane[ctx.rows_of(ctx.track_index["double"])][0] == lane
    found = FUNCTIONS["double_parked"](list(ctx.track_uuids), log_dir)
    assert {u for u, stamps in found.items() if stamps} == {"double"}
    assert len(found["double"]) == len(t)


def test_across_the_intersection_is_the_far_side_of_the_same_intersection(clean: LogContext) -> None:
    _, centres = clean.map_regions.intersections
    assert len(centres) >= 2
    counts = np.bincount(clean.row_track, minlength=len(clean.track_uuids))
    ego = clean.track_index[clean.ego_uuid]
    across, beside, elsewhere = [int(t) for t in np.argsort(-counts) if t != ego][:3]
    placed = {ego: centres[0] + [8.0, 0.0], across: centres[0] + [-8.0, 1.0], beside: centres[0] + [7.0, 4.0],
              elsewhere: centres[1] + [-8.0, 0.0]}  # fmt: skip
    xyz = np.array(clean.arrays.xyz_city)
    for track, where in placed.items():
        xyz[clean.rows_of(track), :2] = where
    ego_xyz = np.array(clean.arrays.ego_xyz_city)
    ego_xyz[:, :2] = placed[ego]
    moved = LogContext(dataclasses.replace(clean.arrays, source="placed-for-test", key="placed", xyz_city=xyz,
                                           ego_xyz_city=ego_xyz))  # fmt: skip
    names = [clean.track_uuids[t] for t in (across, beside, elsewhere)]
    found = FUNCTIONS["across_intersection_from"].rule(moved, names, [clean.ego_uuid])
    assert found[names[0]].get(clean.ego_uuid), "the far side of the same intersection"
    assert not found[names[1]] and not found[names[2]], "the same side, and another intersection"
    # 173° apart seen from the centre: not across when 179° are asked for
    narrow = FUNCTIONS["across_intersection_from"].rule(moved, names, [clean.ego_uuid], min_angle_deg=179)
    assert not narrow[names[0]]
