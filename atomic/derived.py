"""Per-box series derived from a log's boxes, stored beside them so that every process maps one copy.

Kinematics, footprints, lane assignments and the row lookups a program's functions use are
computed once per log and source, by the first process that needs them, and written to
``<log>/boxes/<source>/derived/<name>.npy`` atomically (a temporary file renamed into place).
Every later context memory-maps them: the operating system's page cache holds one copy that all
workers and their sandboxes share, instead of one per process. They live inside the boxes'
directory, so a re-ingest, which replaces that directory, replaces them too; ``key`` names the
boxes they were computed from.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from atomic.context import LogContext

logger = logging.getLogger(__name__)

FOLDER = "derived"
PER_ROW = (
    "smoothed_xyz_city", "velocity_city", "acceleration_city", "yaw_rate", "yaw_city", "rotation_city",
    "footprints_city", "footprints_ego", "row_lane", "row_track", "row_time",
)  # fmt: skip
"""Series with one entry per box, in row order."""
PER_TRACK = ("is_stationary", "row_at")
"""Series with one entry per track."""


def _folder(ctx: LogContext) -> Path:
    return ctx.log_dir / "boxes" / ctx.arrays.source / FOLDER


def _expected_length(ctx: LogContext, name: str) -> int:
    return len(ctx.track_uuids) if name in PER_TRACK else len(ctx.arrays.row_track)


def attach(ctx: LogContext) -> int:
    """Map every stored series of ``ctx``'s log into it (in place of computing it); returns how many."""
    folder = _folder(ctx)
    try:
        if (folder / "key").read_text() != ctx.arrays.key:
            return 0
    except OSError:
        return 0
    attached = 0
    for name in PER_ROW + PER_TRACK:
        try:
            array = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            continue  # not stored yet, or cut short: computed and stored again
        if array.ndim and len(array) == _expected_length(ctx, name):
            vars(ctx)[name] = array  # the cached property's slot, or the attribute computed in __init__
            attached += 1
    return attached


def store(ctx: LogContext) -> int:
    """Write each series ``ctx`` computed in memory to its log's cache and map it back; returns how many.

    A cache that cannot be written (read-only) keeps them in memory only.
    """
    folder = _folder(ctx)
    stored = 0
    try:
        folder.mkdir(exist_ok=True)
        key_file = folder / "key"
        if not key_file.is_file():
            _write(key_file, lambda f: f.write(ctx.arrays.key.encode()))
        if key_file.read_text() != ctx.arrays.key:
            return 0
        for name in PER_ROW + PER_TRACK:
            value = vars(ctx).get(name)
            if not isinstance(value, np.ndarray) or isinstance(value, np.memmap):
                continue
            array = np.ascontiguousarray(value)
            _write(folder / f"{name}.npy", lambda f, array=array: np.save(f, array, allow_pickle=False))
            vars(ctx)[name] = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            stored += 1
    except OSError as exc:  # a cache that cannot be written (read-only): the series stay in memory
        logger.debug("derived series of %s kept in memory: %s", folder, exc)
    return stored


def _write(path: Path, write: object) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with partial.open("wb") as f:
        write(f)  # type: ignore[operator]
    os.replace(partial, path)
