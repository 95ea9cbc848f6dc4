"""Reading a cached log: memory-mapped NumPy arrays, with nothing heavier than NumPy imported.

Sandboxed workers import only this module of the store, so a cold start stays cheap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ANNOTATIONS_SOURCE = "annotations"
"""The track source name of a log's own annotation boxes."""


@dataclass(frozen=True)
class LogArrays:
    """One track source of one log, as memory-mapped arrays.

    Rows are boxes sorted by track then time; ``track_start[i]:track_start[i + 1]`` are the rows
    of track ``i`` (its index in order of first appearance in the input, RefAV's ``track_id``).
    Frames are in array names: ``xyz_city`` is in the city frame, ``xyz_ego`` in the ego frame of
    the row's timestamp. Units: metres, radians, m/s, nanoseconds.
    """

    log_dir: Path
    log_id: str
    source: str
    key: str
    ego_uuid: str
    has_score: bool
    timestamps_ns: npt.NDArray[np.int64]  # (T,) sorted timestamps of this source
    track_uuids: npt.NDArray[np.str_]  # (U,)
    track_categories: npt.NDArray[np.str_]  # (U,) category of each track's first row
    track_start: npt.NDArray[np.int64]  # (U + 1,)
    categories: npt.NDArray[np.str_]  # (C,) category names used by row_category
    row_track: npt.NDArray[np.int32]  # (R,)
    row_time_index: npt.NDArray[np.int32]  # (R,) index into timestamps_ns
    row_timestamp_ns: npt.NDArray[np.int64]  # (R,)
    row_category: npt.NDArray[np.int16]  # (R,)
    xyz_ego: npt.NDArray[np.float64]  # (R, 3)
    quat_ego: npt.NDArray[np.float64]  # (R, 4) object -> ego, scalar first
    xyz_city: npt.NDArray[np.float64]  # (R, 3)
    quat_city: npt.NDArray[np.float64]  # (R, 4) object -> city, scalar first
    yaw_city: npt.NDArray[np.float64]  # (R,)
    size: npt.NDArray[np.float64]  # (R, 3) length, width, height
    velocity_city: npt.NDArray[np.float64]  # (R, 3) two-sided difference, unsmoothed
    score: npt.NDArray[np.float64]  # (R,) NaN where the source has no scores
    num_interior_pts: npt.NDArray[np.int64]  # (R,) -1 where unknown
    input_row: npt.NDArray[np.int64]  # (R,) position in the input
    ego_xyz_city: npt.NDArray[np.float64]  # (T, 3) city_SE3_ego translation at timestamps_ns
    ego_quat_city: npt.NDArray[np.float64]  # (T, 4) city_SE3_ego rotation at timestamps_ns

    @property
    def num_tracks(self) -> int:
        """Number of tracks."""
        return len(self.track_uuids)

    @property
    def map_dir(self) -> Path:
        """The log's vector map directory (a copy inside the cache)."""
        return self.log_dir / "log" / "map"


def load_log_arrays(log_dir: Path, source: str = ANNOTATIONS_SOURCE) -> LogArrays:
    """Memory-map one source's boxes of a cached log.

    Args:
        log_dir: ``<cache root>/<log_id>``.
        source: the track source name.

    Raises:
        FileNotFoundError: the log or the source is not in the cache.
    """
    box_dir = log_dir / "boxes" / source
    if not (box_dir / "meta.json").is_file():
        available = sorted(p.name for p in (log_dir / "boxes").glob("*")) if (log_dir / "boxes").is_dir() else []
        raise FileNotFoundError(
            f"{log_dir.name} has no cached boxes for source '{source}' (available: {available or 'none'}); "
            "ingest the log or the tracker output first."
        )
    return load_box_arrays(box_dir, log_dir, source)


def load_box_arrays(box_dir: Path, log_dir: Path, source: str) -> LogArrays:
    """Memory-map the boxes written in ``box_dir`` (e.g. staged by an ingest) as those of ``log_dir``."""
    meta = json.loads((box_dir / "meta.json").read_text())
    fields: dict[str, Any] = {}
    for name in LogArrays.__dataclass_fields__:
        path = box_dir / f"{name}.npy"
        if path.is_file():
            fields[name] = np.load(path, mmap_mode="r", allow_pickle=False)
    return LogArrays(
        log_dir=log_dir,
        log_id=str(meta["log_id"]),
        source=source,
        key=str(meta["key"]),
        ego_uuid=str(meta["ego_uuid"]),
        has_score=bool(meta["has_score"]),
        **fields,
    )
