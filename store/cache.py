"""Per-log columnar caches: NumPy arrays on disk, memory-mapped by readers.

The database is the source of truth; the cache is what the atomic runtime and
sandboxed workers read, without touching the database. Layout under the cache
root (``<db file>.cache/``)::

    <log_id>/log/                 poses (all pose timestamps), map/, calibration/, log.json
    <log_id>/boxes/<source>/      one source's boxes, rows sorted by track then time

Writes are two-phase so that a cache never disagrees with a committed database:
an ingest stages new directories under ``.staging/``, commits the database rows
that name the staging key, then publishes (renames) them into place. On open,
``recover`` publishes staged directories whose key the database committed and
drops the others (an ingest that failed or was killed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

CACHE_FORMAT = 1
"""The layout version written into every ``log.json`` and ``meta.json``; a cache of another is rebuilt."""
STAGING = ".staging"
MAP_ARCHIVE_GLOB = "log_map_archive_*.json"

_BOX_ARRAYS: dict[str, tuple[str, ...]] = {
    "xyz_ego": ("tx_ego_m", "ty_ego_m", "tz_ego_m"),
    "quat_ego": ("qw_ego", "qx_ego", "qy_ego", "qz_ego"),
    "xyz_city": ("tx_city_m", "ty_city_m", "tz_city_m"),
    "quat_city": ("qw_city", "qx_city", "qy_city", "qz_city"),
    "size": ("length_m", "width_m", "height_m"),
    "velocity_city": ("vx_city_mps", "vy_city_mps", "vz_city_mps"),
}


def new_key() -> str:
    """A fresh cache key (names one staged write)."""
    return uuid.uuid4().hex


def log_cache_dir(cache_root: Path, log_id: str) -> Path:
    """The directory of a log in the cache; its name is the log id, like RefAV's ``log_dir``."""
    return cache_root / log_id


def is_current(meta_file: Path, key: str) -> bool:
    """Whether a cached part (its ``log.json`` or ``meta.json``) was written for ``key`` in this format."""
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("key") == key and meta.get("format") == CACHE_FORMAT


@dataclass(frozen=True)
class StagedDir:
    """A directory written under ``.staging/`` that becomes ``target`` once published."""

    key: str
    path: Path
    target: Path


def _stage(cache_root: Path, key: str, target: Path) -> StagedDir:
    path = cache_root / STAGING / key
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (cache_root / STAGING / f"{key}.target").write_text(str(target.relative_to(cache_root)))
    return StagedDir(key=key, path=path, target=target)


@contextmanager
def _staging(cache_root: Path, key: str, target: Path) -> Iterator[StagedDir]:
    """A staged directory, removed again if writing it fails or is interrupted."""
    staged = _stage(cache_root, key, target)
    try:
        yield staged
    except BaseException:
        discard(cache_root, [staged])
        raise


def stage_log(
    cache_root: Path,
    key: str,
    log_id: str,
    poses: pd.DataFrame,
    map_dir: Path,
    calibration_dir: Path | None,
    meta: dict[str, Any],
) -> StagedDir:
    """Stage the log-level part of a log's cache: poses, a copy of the map and calibration."""
    with _staging(cache_root, key, log_cache_dir(cache_root, log_id) / "log") as staged:
        np.save(staged.path / "pose_timestamps_ns.npy", poses["timestamp_ns"].to_numpy(np.int64))
        np.save(staged.path / "pose_xyz_city.npy", poses[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64))
        np.save(staged.path / "pose_quat_city.npy", poses[["qw", "qx", "qy", "qz"]].to_numpy(np.float64))
        # The map and calibration are copied so that a worker reads only the cache, never the user's dataset.
        shutil.copytree(map_dir, staged.path / "map")
        if calibration_dir is not None:
            shutil.copytree(calibration_dir, staged.path / "calibration")
        (staged.path / "log.json").write_text(json.dumps({"format": CACHE_FORMAT, "key": key, **meta}, indent=1))
    return staged


def stage_boxes(
    cache_root: Path, key: str, boxes: pd.DataFrame, poses: pd.DataFrame, meta: dict[str, Any]
) -> StagedDir:
    """Stage one source's boxes of one log.

    Args:
        cache_root: the cache root.
        key: the staging key recorded with the database rows.
        boxes: the source's rows of the ``boxes`` table, sorted by track index then time.
        poses: the log's poses (for the ego pose at each box timestamp).
        meta: extra fields for ``meta.json`` (source, log id, ego uuid, ...).
    """
    log_id = str(meta["log_id"])
    with _staging(cache_root, key, log_cache_dir(cache_root, log_id) / "boxes" / str(meta["source"])) as staged:
        out = staged.path
        timestamps, time_index = np.unique(boxes["timestamp_ns"].to_numpy(np.int64), return_inverse=True)
        track_index = boxes["track_index"].to_numpy(np.int32)
        num_tracks = int(track_index.max()) + 1 if len(track_index) else 0
        track_start = np.searchsorted(track_index, np.arange(num_tracks + 1)).astype(np.int64)
        first_rows = track_start[:-1]
        categories, row_category = np.unique(boxes["category"].to_numpy(str), return_inverse=True)
        arrays: dict[str, npt.NDArray[Any]] = {
            "timestamps_ns": timestamps,
            "track_uuids": boxes["track_uuid"].to_numpy(str)[first_rows],
            "track_categories": boxes["category"].to_numpy(str)[first_rows],
            "track_start": track_start,
            "categories": categories.astype(str),
            "row_track": track_index,
            "row_time_index": time_index.astype(np.int32),
            "row_timestamp_ns": boxes["timestamp_ns"].to_numpy(np.int64),
            "row_category": row_category.astype(np.int16),
            "yaw_city": boxes["yaw_city_rad"].to_numpy(np.float64),
            "score": boxes["score"].to_numpy(np.float64, na_value=np.nan),
            "num_interior_pts": boxes["num_interior_pts"].to_numpy(np.int64, na_value=-1),
            "input_row": boxes["input_row"].to_numpy(np.int64),
        }
        for name, columns in _BOX_ARRAYS.items():
            arrays[name] = boxes[list(columns)].to_numpy(np.float64)
        pose_ts = poses["timestamp_ns"].to_numpy(np.int64)
        at = np.searchsorted(pose_ts, timestamps)
        arrays["ego_xyz_city"] = poses[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64)[at]
        arrays["ego_quat_city"] = poses[["qw", "qx", "qy", "qz"]].to_numpy(np.float64)[at]
        for name, array in arrays.items():
            np.save(out / f"{name}.npy", np.ascontiguousarray(array))
        (out / "meta.json").write_text(json.dumps({"format": CACHE_FORMAT, "key": key, **meta}, indent=1))
    return staged


def publish(cache_root: Path, staged: Iterable[StagedDir]) -> None:
    """Move staged directories into place, replacing what was there."""
    for item in staged:
        item.target.parent.mkdir(parents=True, exist_ok=True)
        old = item.target.with_name(f"{item.target.name}.old-{item.key}")
        if item.target.exists():
            os.replace(item.target, old)
        os.replace(item.path, item.target)
        shutil.rmtree(old, ignore_errors=True)
        (cache_root / STAGING / f"{item.key}.target").unlink(missing_ok=True)
    _remove_empty_staging(cache_root)


def discard(cache_root: Path, staged: Iterable[StagedDir]) -> None:
    """Remove staged directories of an ingest that did not commit."""
    for item in staged:
        shutil.rmtree(item.path, ignore_errors=True)
        (cache_root / STAGING / f"{item.key}.target").unlink(missing_ok=True)
    _remove_empty_staging(cache_root)


def _remove_empty_staging(cache_root: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: another ingest still stages there
        (cache_root / STAGING).rmdir()


def recover(cache_root: Path, committed_keys: set[str]) -> None:
    """Finish or undo staged writes left by an interrupted ingest."""
    staging = cache_root / STAGING
    if not staging.is_dir():
        return
    for marker in staging.glob("*.target"):
        key = marker.name.removesuffix(".target")
        item = StagedDir(key=key, path=staging / key, target=cache_root / marker.read_text())
        if key in committed_keys and item.path.is_dir():
            publish(cache_root, [item])
        else:
            discard(cache_root, [item])
    for leftover in cache_root.glob("*/**/*.old-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def remove_log(cache_root: Path, log_id: str) -> None:
    """Delete a log's cache (used when a log is removed from the store)."""
    shutil.rmtree(log_cache_dir(cache_root, log_id), ignore_errors=True)
