"""Turning ego-frame box rows into the store's box table.

Annotation files and tracker outputs both end up as rows in the ego frame (as
RefAV's ``sm_annotations.feather``); this module adds the ego track where it is
missing, places every box in the city frame with the pose of its timestamp, and
derives velocities from motion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from avmine.store.errors import IngestError
from avmine.store.geometry import central_velocity, compose_ego_to_city

EGO_CATEGORY = "EGO_VEHICLE"
EGO_UUID = "ego"
"""Track id of the ego where avmine (like RefAV for tracker outputs) adds it."""
EGO_SIZE_M = (4.877, 2.0, 1.473)
"""Ego box length, width, height in metres; its centre is the ego origin (rear axle)."""

BOX_COLUMNS = (
    "source", "log_id", "track_uuid", "track_index", "category", "timestamp_ns",
    "tx_ego_m", "ty_ego_m", "tz_ego_m", "qw_ego", "qx_ego", "qy_ego", "qz_ego",
    "tx_city_m", "ty_city_m", "tz_city_m", "qw_city", "qx_city", "qy_city", "qz_city", "yaw_city_rad",
    "length_m", "width_m", "height_m", "vx_city_mps", "vy_city_mps", "vz_city_mps",
    "score", "num_interior_pts", "input_row",
)  # fmt: skip
"""Columns of the ``boxes`` table, in table order."""


def with_ego_rows(raw: pd.DataFrame, timestamps_ns: np.ndarray) -> tuple[pd.DataFrame, str, bool]:
    """Return the rows with an ego track, its uuid, and whether it was added.

    A log that already has ``EGO_VEHICLE`` rows keeps them and their uuid (RefAV's
    ground-truth logs use a UUID). Otherwise an ``ego`` track is appended at every
    timestamp in ``timestamps_ns``: box 4.877 x 2 x 1.473 m at the ego origin,
    identity rotation, score 1.
    """
    is_ego = raw["category"].to_numpy() == EGO_CATEGORY
    if is_ego.any():
        return raw, str(raw["track_uuid"].to_numpy()[np.flatnonzero(is_ego)[0]]), False
    n = len(timestamps_ns)
    ego = pd.DataFrame(
        {
            "timestamp_ns": np.asarray(timestamps_ns, dtype=np.int64),
            "track_uuid": EGO_UUID,
            "category": EGO_CATEGORY,
            "length_m": EGO_SIZE_M[0],
            "width_m": EGO_SIZE_M[1],
            "height_m": EGO_SIZE_M[2],
            "qw": np.ones(n), "qx": np.zeros(n), "qy": np.zeros(n), "qz": np.zeros(n),
            "tx_m": np.zeros(n), "ty_m": np.zeros(n), "tz_m": np.zeros(n),
            "num_interior_pts": 1,
        }
    )  # fmt: skip
    if "score" in raw.columns:
        ego["score"] = 1.0
    return pd.concat([raw, ego], ignore_index=True), EGO_UUID, True


def build_boxes(raw: pd.DataFrame, poses: pd.DataFrame, *, source: str, log_id: str, path: Path) -> pd.DataFrame:
    """Build the store's box rows from ego-frame rows and the log's poses.

    Args:
        raw: ego-frame rows in input order with the AV2 annotation columns, and optionally
            ``score`` and ``num_interior_pts``.
        poses: the log's ``city_SE3_egovehicle`` rows, sorted by timestamp.
        source: the track source name.
        log_id: the log.
        path: the input file, named in errors.

    Returns:
        A frame with ``BOX_COLUMNS``, rows sorted by track (order of first appearance) then time.

    Raises:
        IngestError: a box's timestamp has no ego pose.
    """
    pose_ts = poses["timestamp_ns"].to_numpy(np.int64)
    row_ts = raw["timestamp_ns"].to_numpy(np.int64)
    at = np.clip(np.searchsorted(pose_ts, row_ts), 0, len(pose_ts) - 1)
    missing = pose_ts[at] != row_ts
    if missing.any():
        t = int(row_ts[missing][0])
        raise IngestError(
            path,
            f"has boxes at timestamp {t} (and {int(np.unique(row_ts[missing]).size) - 1} more) for which "
            f"the log's city_SE3_egovehicle.feather has no pose.",
            "Boxes and poses must come from the same log: check that the file belongs to log "
            f"{log_id} and that its pose file is complete.",
        )
    pose_xyz = poses[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64)[at]
    pose_quat = poses[["qw", "qx", "qy", "qz"]].to_numpy(np.float64)[at]
    xyz_ego = raw[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64)
    quat_ego = raw[["qw", "qx", "qy", "qz"]].to_numpy(np.float64)
    xyz_city, quat_city, yaw_city = compose_ego_to_city(xyz_ego, quat_ego, pose_xyz, pose_quat)

    track_index, _ = pd.factorize(raw["track_uuid"], sort=False)
    order = np.lexsort((row_ts, track_index))
    sorted_tracks = track_index[order]
    sorted_ts = row_ts[order]
    repeated = (sorted_tracks[1:] == sorted_tracks[:-1]) & (sorted_ts[1:] == sorted_ts[:-1])
    if repeated.any():  # the store keeps one box per track and timestamp (the table has no key to catch it)
        first = int(np.flatnonzero(repeated)[0])
        raise IngestError(
            path,
            f"log {log_id}: has two boxes for track {raw['track_uuid'].to_numpy()[order[first]]} at timestamp "
            f"{int(sorted_ts[first])} ({int(repeated.sum())} duplicated rows in all).",
            "A track has one box per timestamp: drop the duplicates and re-run the ingest.",
        )
    starts = np.flatnonzero(np.r_[True, sorted_tracks[1:] != sorted_tracks[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    group_start = np.repeat(starts, lengths)
    group_end = np.repeat(starts + lengths - 1, lengths)
    velocity = central_velocity(xyz_city[order], row_ts[order], group_start, group_end)

    score = raw["score"].to_numpy(np.float64) if "score" in raw.columns else np.full(len(raw), np.nan)
    interior = (
        raw["num_interior_pts"].to_numpy(np.float64) if "num_interior_pts" in raw.columns else np.full(len(raw), np.nan)
    )
    columns: dict[str, object] = {
        "source": source,
        "log_id": log_id,
        "track_uuid": raw["track_uuid"].to_numpy(object)[order],
        "track_index": sorted_tracks.astype(np.int32),
        "category": raw["category"].to_numpy(object)[order],
        "timestamp_ns": row_ts[order],
    }
    for i, name in enumerate(("tx_ego_m", "ty_ego_m", "tz_ego_m")):
        columns[name] = xyz_ego[order, i]
    for i, name in enumerate(("qw_ego", "qx_ego", "qy_ego", "qz_ego")):
        columns[name] = quat_ego[order, i]
    for i, name in enumerate(("tx_city_m", "ty_city_m", "tz_city_m")):
        columns[name] = xyz_city[order, i]
    for i, name in enumerate(("qw_city", "qx_city", "qy_city", "qz_city")):
        columns[name] = quat_city[order, i]
    columns["yaw_city_rad"] = yaw_city[order]
    for name in ("length_m", "width_m", "height_m"):
        columns[name] = raw[name].to_numpy(np.float64)[order]
    for i, name in enumerate(("vx_city_mps", "vy_city_mps", "vz_city_mps")):
        columns[name] = velocity[:, i]
    # Nullable columns: a file without scores or point counts stores NULL, not a made-up value.
    columns["score"] = pd.array(score[order], dtype="Float64")
    columns["num_interior_pts"] = pd.array(interior[order], dtype="Float64").astype("Int64")
    columns["input_row"] = order.astype(np.int64)
    return pd.DataFrame(columns)[list(BOX_COLUMNS)]
