"""Tracker outputs in the AV2 tracking-challenge format, as RefAV consumes them.

The pickle maps each log id to its frames, in time order. A frame holds the
tracker's boxes at one lidar timestamp in the city frame::

    {"timestamp_ns": int, "translation_m": (N, 3), "size": (N, 3), "yaw": (N,),
     "name": (N,) category names, "label": (N,) integer classes, "track_id": (N,),
     "score": (N,)}                                  # label and score optional
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avmine.store.errors import IngestError
from avmine.store.geometry import city_to_ego
from avmine.store.prefilter import PrefilterConfig, prefilter_track_ids
from avmine.store.readers.values import POSITION, SCORE, SIZE, TIMESTAMP, YAW, Bound, checked_numbers, checked_scalar

REQUIRED_FRAME_KEYS = ("timestamp_ns", "translation_m", "size", "yaw", "name", "track_id")


@dataclass(frozen=True)
class TrackerLog:
    """One log's detections, flattened: one entry per (frame, detection)."""

    log_id: str
    frame_timestamps_ns: np.ndarray  # (F,) every frame, with or without detections
    detections: pd.DataFrame  # timestamp_ns, frame, track_uuid, category, label, score, xyz/size/yaw city


def is_tracker_pickle(obj: object) -> bool:
    """Whether a loaded pickle looks like ``{log_id: [frame, ...]}`` tracking output."""
    return (
        isinstance(obj, dict)
        and len(obj) > 0
        and all(isinstance(k, str) and not k.startswith("(") for k in obj)
        and all(isinstance(v, list) for v in obj.values())
    )


def _array(frame: dict[str, Any], key: str, where: str, path: Path, shape_tail: tuple[int, ...]) -> np.ndarray:
    value = np.asarray(frame[key])
    if value.ndim != 1 + len(shape_tail) or value.shape[1:] != shape_tail:
        raise IngestError(
            path,
            f"{where}: '{key}' has shape {value.shape}, expected (N{''.join(f', {d}' for d in shape_tail)}).",
            "Each frame holds N boxes; every per-box array must have N rows.",
        )
    return value


def _numbers(
    frame: dict[str, Any], key: str, where: str, path: Path, shape_tail: tuple[int, ...], bound: Bound
) -> np.ndarray:
    return checked_numbers(_array(frame, key, where, path, shape_tail), bound, path, where, key)


def read_tracker_log(log_id: str, frames: list[Any], path: Path) -> TrackerLog:
    """Validate and flatten one log's frames.

    Raises:
        IngestError: a frame is not a dict, lacks keys, has inconsistent lengths, text, non-finite
            or out-of-range values (``avmine.store.readers.values``), or frame timestamps are not strictly increasing.
    """
    rows: list[pd.DataFrame] = []
    timestamps = np.empty(len(frames), dtype=np.int64)
    for i, frame in enumerate(frames):
        where = f"log {log_id}, frame {i}"
        if not isinstance(frame, dict):
            raise IngestError(path, f"{where} is a {type(frame).__name__}, not a dict.", _FORMAT_HINT)
        missing = [k for k in REQUIRED_FRAME_KEYS if k not in frame]
        if missing:
            raise IngestError(path, f"{where} lacks the key(s) {', '.join(missing)}.", _FORMAT_HINT)
        timestamps[i] = int(checked_scalar(frame["timestamp_ns"], TIMESTAMP, path, where, "timestamp_ns"))
        xyz = _numbers(frame, "translation_m", where, path, (3,), POSITION)
        size = _numbers(frame, "size", where, path, (3,), SIZE)
        yaw = _numbers(frame, "yaw", where, path, (), YAW)
        names = _array(frame, "name", where, path, ()).astype(str)
        track = _array(frame, "track_id", where, path, ())
        n = len(xyz)
        score = _numbers(frame, "score", where, path, (), SCORE) if "score" in frame else None
        label = _array(frame, "label", where, path, ()) if "label" in frame else names
        lengths = {len(a) for a in (xyz, size, yaw, names, track, label) + ((score,) if score is not None else ())}
        if lengths != {n}:
            raise IngestError(
                path,
                f"{where}: per-box arrays have different lengths ({sorted(lengths)}).",
                "Every per-box array of a frame must have one entry per box.",
            )
        if len(np.unique(track.astype(str))) != n:
            raise IngestError(
                path,
                f"{where} has the same track_id twice.",
                "A track has at most one box per frame; fix the tracker output.",
            )
        rows.append(
            pd.DataFrame(
                {
                    "frame": i,
                    "timestamp_ns": timestamps[i],
                    "track_uuid": track.astype(str),
                    "category": names,
                    "label": label.astype(str),
                    "score": score if score is not None else np.nan,
                    "x": xyz[:, 0],
                    "y": xyz[:, 1],
                    "z": xyz[:, 2],
                    "length_m": size[:, 0],
                    "width_m": size[:, 1],
                    "height_m": size[:, 2],
                    "yaw": yaw,
                }
            )
        )
    steps = np.diff(timestamps)
    if (steps <= 0).any():
        k = int(np.flatnonzero(steps <= 0)[0])
        problem = "repeats" if steps[k] == 0 else "goes back to"
        raise IngestError(
            path,
            f"log {log_id}: frame {k + 1} {problem} timestamp {timestamps[k + 1]} after {timestamps[k]}.",
            "Frames of a log must be in strictly increasing time order; sort them and drop duplicates.",
        )
    detections = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return TrackerLog(log_id=log_id, frame_timestamps_ns=timestamps, detections=detections)


_FORMAT_HINT = (
    "Tracker outputs must be AV2 tracking-challenge pickles: {log_id: [frame, ...]} where each frame "
    "has timestamp_ns, translation_m (N, 3), size (N, 3), yaw (N,), name (N,), track_id (N,) "
    "and optionally label (N,) and score (N,)."
)


def tracker_rows_in_ego_frame(
    log: TrackerLog, poses: pd.DataFrame, path: Path, prefilter: PrefilterConfig
) -> tuple[pd.DataFrame, int]:
    """Apply the prefilter and express the kept boxes in the ego frame, as RefAV's conversion does.

    Returns:
        The ego-frame rows (annotation columns plus ``score`` and ``num_interior_pts`` = 1) and
        the number of tracks before the prefilter.

    Raises:
        IngestError: a frame's timestamp has no ego pose in the log.
    """
    det = log.detections
    num_before = int(det["track_uuid"].nunique()) if len(det) else 0
    if len(det) and det["score"].notna().all():
        kept = prefilter_track_ids(
            det["frame"].to_numpy(np.int64),
            det["track_uuid"].to_numpy(str),
            det["score"].to_numpy(np.float64),
            det["label"].to_numpy(str),
            det["category"].to_numpy(str),
            len(log.frame_timestamps_ns),
            prefilter,
        )
        det = det[det["track_uuid"].isin(kept)]
    pose_ts = poses["timestamp_ns"].to_numpy(np.int64)
    frame_ts = log.frame_timestamps_ns
    at = np.clip(np.searchsorted(pose_ts, frame_ts), 0, len(pose_ts) - 1)
    if (pose_ts[at] != frame_ts).any():
        t = int(frame_ts[pose_ts[at] != frame_ts][0])
        raise IngestError(
            path,
            f"log {log.log_id}: frame timestamp {t} has no ego pose in the log's city_SE3_egovehicle.feather.",
            "Tracker frames use lidar sweep timestamps of the log; check the output belongs to this log.",
        )
    row_pose = at[det["frame"].to_numpy(np.int64)] if len(det) else np.empty(0, dtype=np.int64)
    xyz_ego, quat_ego = city_to_ego(
        det[["x", "y", "z"]].to_numpy(np.float64).reshape(-1, 3),
        det["yaw"].to_numpy(np.float64),
        poses[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64)[row_pose],
        poses[["qw", "qx", "qy", "qz"]].to_numpy(np.float64)[row_pose],
    )
    rows = pd.DataFrame(
        {
            "timestamp_ns": det["timestamp_ns"].to_numpy(np.int64),
            "track_uuid": det["track_uuid"].to_numpy(object),
            "category": det["category"].to_numpy(object),
            "length_m": det["length_m"].to_numpy(np.float64),
            "width_m": det["width_m"].to_numpy(np.float64),
            "height_m": det["height_m"].to_numpy(np.float64),
            "qw": quat_ego[:, 0],
            "qx": quat_ego[:, 1],
            "qy": quat_ego[:, 2],
            "qz": quat_ego[:, 3],
            "tx_m": xyz_ego[:, 0],
            "ty_m": xyz_ego[:, 1],
            "tz_m": xyz_ego[:, 2],
            "num_interior_pts": 1,
        }
    )
    if det["score"].notna().all():
        rows["score"] = det["score"].to_numpy(np.float64)
    return rows, num_before
