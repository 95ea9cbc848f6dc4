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

from avmine.atomic.context import LogContext

logger = logging.getLogger(__name__)

FOLDER = "derived"
PER_ROW = (
    "smoothed_xyz_city", "velocity_city", "acceleration_city", "yaw_rate", "yaw_city", "rotation_city",
    "footprints_city", "footprints_ego", "row_lane", "row_track", "row_time",
)  # fmt: skip
"""Series with one entry per box, in row order."""
PER_TRACK = ("is_stationary", "row_at")
"""Series with one entry per track."""
PER_ROW_PREFIX = "per_row-"
"""File name prefix of a ``LogContext.per_row`` series computed for every track (e.g. a map mask)."""


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


def _keyed_folder(ctx: LogContext) -> Path | None:
    """The log's derived folder, created and keyed to its boxes; None when it holds another boxes' series.

    Raises:
        OSError: the cache cannot be written (the callers keep the series in memory).
    """
    folder = _folder(ctx)
    folder.mkdir(exist_ok=True)
    key_file = folder / "key"
    if not key_file.is_file():
        _write(key_file, lambda f: f.write(ctx.arrays.key.encode()))
    return folder if key_file.read_text() == ctx.arrays.key else None


def store(ctx: LogContext) -> int:
    """Write each series ``ctx`` computed in memory to its log's cache and map it back; returns how many.

    A cache that cannot be written (read-only) keeps them in memory only.
    """
    stored = 0
    try:
        folder = _keyed_folder(ctx)
        if folder is None:
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
        logger.debug("derived series of %s kept in memory: %s", _folder(ctx), exc)
    return stored


def _per_row_file(folder: Path, key: tuple[object, ...]) -> Path:
    return folder / f"{PER_ROW_PREFIX}{'-'.join(str(part) for part in key)}.npy"


def attach_per_row(ctx: LogContext, key: tuple[object, ...]) -> bool:
    """Map the stored ``ctx.per_row(key, ...)`` series of every track into ``ctx``; False when none is stored."""
    folder = _folder(ctx)
    try:
        if (folder / "key").read_text() != ctx.arrays.key:
            return False
        array = np.load(_per_row_file(folder, key), mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return False
    if array.ndim != 1 or len(array) != len(ctx.arrays.row_track):
        return False
    ctx.adopt_per_row(key, array)
    return True


def store_per_row(ctx: LogContext, key: tuple[object, ...]) -> bool:
    """Write ``ctx``'s per-row series ``key``, once computed for every track, to the log's cache and map it back.

    Returns whether it was stored (not when it covers only some tracks, or the cache is read-only).
    """
    array = ctx.per_row_if_complete(key)
    if array is None:
        return False
    if isinstance(array, np.memmap):
        return True
    try:
        folder = _keyed_folder(ctx)
        if folder is None:
            return False
        path = _per_row_file(folder, key)
        _write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))
        ctx.adopt_per_row(key, np.load(path, mmap_mode="r", allow_pickle=False))
    except OSError:
        return False
    return True


def _write(path: Path, write: object) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with partial.open("wb") as f:
        write(f)  # type: ignore[operator]
    os.replace(partial, path)
