"""Logs built from scripted trajectories (no map): known manoeuvres for the robust and behaviour functions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from avmine.atomic.context import LogContext, pin_context
from avmine.store.arrays import LogArrays

RATE_HZ = 10
EGO = "ego"


@dataclass
class Track:
    """A box's path: times in seconds, centre (x, y) in metres, heading in radians (city frame)."""

    category: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    length: float = 4.5


def times(seconds: float) -> np.ndarray:
    return np.arange(0, seconds + 1e-9, 1 / RATE_HZ)


def along(
    t: np.ndarray, speed: np.ndarray | float, heading: np.ndarray | float, start: tuple[float, float] = (0.0, 0.0)
) -> Track:
    """Integrate a path from speed (m/s, negative: reversing) and heading (rad) over time."""
    speed = np.broadcast_to(np.asarray(speed, dtype=float), t.shape)
    heading = np.broadcast_to(np.asarray(heading, dtype=float), t.shape)
    dt = np.diff(t, prepend=t[0])
    x = start[0] + np.cumsum(speed * np.cos(heading) * dt)
    y = start[1] + np.cumsum(speed * np.sin(heading) * dt)
    return Track("REGULAR_VEHICLE", t, x, y, heading.copy())


def build(tracks: dict[str, Track], log_dir: Path, ego: Track | None = None) -> LogContext:
    """A log context over the tracks and the ego, pinned to ``log_dir`` for lifted calls.

    ``ego`` must cover every timestamp; by default the ego is parked far away (x = 500 m).
    """
    t = next(iter(tracks.values())).t
    ego = ego or Track("EGO_VEHICLE", t, np.full_like(t, 500.0), np.zeros_like(t), np.zeros_like(t))
    tracks = {EGO: Track("EGO_VEHICLE", ego.t, ego.x, ego.y, ego.yaw)} | tracks
    stamps = np.unique(np.concatenate([np.round(tr.t * 1e9).astype(np.int64) for tr in tracks.values()]))
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("track", "time", "xyz", "quat", "yaw", "size", "cat")}
    categories = sorted({tr.category for tr in tracks.values()})
    for index, track in enumerate(tracks.values()):
        ns = np.round(track.t * 1e9).astype(np.int64)
        n = len(ns)
        columns["track"].append(np.full(n, index))
        columns["time"].append(np.searchsorted(stamps, ns))
        columns["xyz"].append(np.stack([track.x, track.y, np.zeros(n)], axis=1))
        columns["quat"].append(Rotation.from_euler("z", np.asarray(track.yaw)[:, None]).as_quat(scalar_first=True))
        columns["yaw"].append(np.asarray(track.yaw, dtype=float))
        columns["size"].append(np.tile([track.length, 1.9, 1.6], (n, 1)))
        columns["cat"].append(np.full(n, categories.index(track.category)))
    lengths = [len(tr.t) for tr in tracks.values()]
    rows = sum(lengths)
    ego_t = np.round(ego.t * 1e9).astype(np.int64)
    ego_xyz = np.stack([np.interp(stamps, ego_t, ego.x), np.interp(stamps, ego_t, ego.y), np.zeros(len(stamps))], 1)
    ego_yaw = np.interp(stamps, ego_t, np.unwrap(np.asarray(ego.yaw, dtype=float)))
    xyz = np.concatenate(columns["xyz"])
    time_index = np.concatenate(columns["time"]).astype(np.int32)
    to_ego = Rotation.from_euler("z", -ego_yaw[time_index][:, None])
    yaw_ego = np.concatenate(columns["yaw"]) - ego_yaw[time_index]
    arrays = LogArrays(
        log_dir=log_dir, log_id=log_dir.name, source="scripted", key="scripted", ego_uuid=EGO, has_score=False,
        timestamps_ns=stamps, track_uuids=np.array(list(tracks)),
        track_categories=np.array([tr.category for tr in tracks.values()]),
        track_start=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), categories=np.array(categories),
        row_track=np.concatenate(columns["track"]).astype(np.int32), row_time_index=time_index,
        row_timestamp_ns=stamps[time_index], row_category=np.concatenate(columns["cat"]).astype(np.int16),
        xyz_ego=to_ego.apply(xyz - ego_xyz[time_index]),
        quat_ego=Rotation.from_euler("z", yaw_ego[:, None]).as_quat(scalar_first=True), xyz_city=xyz,
        quat_city=np.concatenate(columns["quat"]), yaw_city=np.concatenate(columns["yaw"]),
        size=np.concatenate(columns["size"]), velocity_city=np.zeros((rows, 3)), score=np.full(rows, np.nan),
        num_interior_pts=np.full(rows, -1), input_row=np.arange(rows), ego_xyz_city=ego_xyz,
        ego_quat_city=Rotation.from_euler("z", ego_yaw[:, None]).as_quat(scalar_first=True),
    )  # fmt: skip
    ctx = LogContext(arrays)
    pin_context(log_dir, ctx)
    return ctx


def seconds(found: dict[str, list[int]] | dict[str, object], uuid: str) -> tuple[float, float] | None:
    """First and last found time of ``uuid`` in seconds (None when nothing was found)."""
    from avmine.atomic.scenario import timestamps

    stamps = sorted(timestamps(found.get(uuid, [])))  # type: ignore[arg-type]
    return None if not stamps else (stamps[0] / 1e9, stamps[-1] / 1e9)
