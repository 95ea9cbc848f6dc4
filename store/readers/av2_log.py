"""AV2 sensor logs and RefAV scenario-mining log directories.

A log directory is named by its log id and holds ``city_SE3_egovehicle.feather``,
``map/`` and, where the split is annotated, one annotation file:
``sm_annotations.feather`` (RefAV), ``annotations_with_ego.feather`` (av2's
scenario-mining fixtures) or ``annotations.feather`` (AV2 sensor logs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avmine.store.errors import IngestError
from avmine.store.readers.feather import read_feather_checked
from avmine.store.readers.values import POSITION, QUATERNION, SIZE, TIMESTAMP, Bound

ANNOTATION_FILES = ("sm_annotations.feather", "annotations_with_ego.feather", "annotations.feather")
"""Annotation file names in order of preference (RefAV's own file first)."""
POSES_FILE = "city_SE3_egovehicle.feather"
POSE_COLUMNS = ("timestamp_ns", "qw", "qx", "qy", "qz", "tx_m", "ty_m", "tz_m")
ANNOTATION_COLUMNS = (
    "timestamp_ns", "track_uuid", "category",
    "length_m", "width_m", "height_m",
    "qw", "qx", "qy", "qz",
    "tx_m", "ty_m", "tz_m",
)  # fmt: skip
POSE_BOUNDS: dict[str, Bound] = {
    "timestamp_ns": TIMESTAMP,
    **{q: QUATERNION for q in ("qw", "qx", "qy", "qz")},
    **{t: POSITION for t in ("tx_m", "ty_m", "tz_m")},
}
ANNOTATION_BOUNDS: dict[str, Bound] = {**POSE_BOUNDS, **{s: SIZE for s in ("length_m", "width_m", "height_m")}}
_MAP_ARCHIVE = re.compile(r"log_map_archive_.*____(?P<city>[A-Z]+)_city_\d+\.json$")


@dataclass(frozen=True)
class LogFiles:
    """The files of one log directory."""

    log_dir: Path
    log_id: str
    poses: Path
    map_dir: Path
    map_archive: Path
    annotations: Path | None
    calibration_dir: Path | None


@dataclass(frozen=True)
class MapSummary:
    """What the store records about a log's vector map."""

    city: str | None
    num_lane_segments: int
    num_intersection_lane_segments: int
    num_pedestrian_crossings: int
    num_drivable_areas: int
    bounds_city: tuple[float, float, float, float] | None


def is_log_dir(path: Path) -> bool:
    """Whether ``path`` looks like a log directory (it has poses or an annotation file)."""
    return path.is_dir() and (
        (path / POSES_FILE).is_file() or any((path / name).is_file() for name in ANNOTATION_FILES)
    )


def find_log_files(log_dir: Path) -> LogFiles:
    """Locate and check the files of a log directory.

    Raises:
        IngestError: the poses or the vector map are missing.
    """
    poses = log_dir / POSES_FILE
    if not poses.is_file():
        raise IngestError(
            log_dir,
            f"is a log directory without ego poses ({POSES_FILE}).",
            "Every box is stored in the ego frame and needs the pose of its timestamp: copy "
            f"{POSES_FILE} from the AV2 sensor dataset's copy of this log into the directory.",
        )
    map_dir = log_dir / "map"
    archives = sorted(map_dir.glob("log_map_archive_*.json")) if map_dir.is_dir() else []
    if not archives:
        raise IngestError(
            log_dir,
            "is a log directory without a vector map (map/log_map_archive_*.json).",
            "Map-based functions need it: copy the log's map/ directory from the AV2 sensor dataset "
            "(it holds log_map_archive_*.json, *_ground_height_surface____*.npy and *___img_Sim2_city.json).",
        )
    annotations = next((log_dir / n for n in ANNOTATION_FILES if (log_dir / n).is_file()), None)
    calibration = log_dir / "calibration"
    return LogFiles(
        log_dir=log_dir,
        log_id=log_dir.name,
        poses=poses,
        map_dir=map_dir,
        map_archive=archives[0],
        annotations=annotations,
        calibration_dir=calibration if calibration.is_dir() else None,
    )


def read_poses(path: Path) -> pd.DataFrame:
    """Read ``city_SE3_egovehicle.feather``: one ego -> city pose per timestamp, sorted and unique.

    Raises:
        IngestError: unreadable, missing columns, non-finite values, unsorted or duplicated timestamps.
    """
    poses = read_feather_checked(path, POSE_COLUMNS, "AV2 ego-pose", POSE_BOUNDS)
    if poses.empty:
        raise IngestError(path, "holds no poses.", "Copy the log's pose file again from the dataset.")
    timestamps = poses["timestamp_ns"].to_numpy(np.int64)
    steps = np.diff(timestamps)
    if (steps == 0).any():
        t = int(timestamps[1:][steps == 0][0])
        raise IngestError(
            path,
            f"has two poses for timestamp {t}; a pose file has one pose per timestamp.",
            "Drop the duplicate rows (e.g. df.drop_duplicates('timestamp_ns')) or copy the file again.",
        )
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0])
        raise IngestError(
            path,
            f"has timestamps out of order (row {i + 1}: {timestamps[i + 1]} comes after {timestamps[i]}).",
            "AV2 pose files are sorted by timestamp_ns; sort it (df.sort_values('timestamp_ns')) "
            "or copy the file again.",
        )
    norms = np.linalg.norm(poses[["qw", "qx", "qy", "qz"]].to_numpy(np.float64), axis=1)
    if (np.abs(norms - 1.0) > 1e-3).any():
        row = int(np.flatnonzero(np.abs(norms - 1.0) > 1e-3)[0])
        raise IngestError(
            path,
            f"has a rotation quaternion that is not unit length at row {row} (norm {norms[row]:.4f}).",
            "The file is not an AV2 pose file or is corrupt; copy it again from the dataset.",
        )
    return poses[list(POSE_COLUMNS)].reset_index(drop=True)


def read_annotations(path: Path) -> pd.DataFrame:
    """Read an annotation feather: ego-frame boxes, one row per track per timestamp, in file order.

    Raises:
        IngestError: unreadable, missing columns, bad values, duplicated or non-chronological rows.
    """
    frame = read_feather_checked(path, ANNOTATION_COLUMNS, "AV2 annotations", ANNOTATION_BOUNDS)
    frame["track_uuid"] = frame["track_uuid"].astype(str)
    frame["category"] = frame["category"].astype(str)
    duplicated = frame.duplicated(["track_uuid", "timestamp_ns"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise IngestError(
            path,
            f"has two boxes for track {row['track_uuid']} at timestamp {row['timestamp_ns']} "
            f"({int(duplicated.sum())} duplicated rows in all).",
            "A track has one box per timestamp: drop the duplicates "
            "(df.drop_duplicates(['track_uuid', 'timestamp_ns'])) and re-run the ingest.",
        )
    # RefAV reads each track's rows in file order as its timeline; a file whose rows go back in
    # time would be read differently by RefAV and by avmine, so it is refused rather than sorted.
    timestamps = frame["timestamp_ns"].to_numpy(np.int64)
    first = np.iinfo(np.int64).min
    previous = frame.groupby("track_uuid", sort=False)["timestamp_ns"].shift(1, fill_value=first).to_numpy(np.int64)
    backwards = timestamps < previous
    if backwards.any():
        at = int(np.flatnonzero(backwards)[0])
        raise IngestError(
            path,
            f"has rows of track {frame['track_uuid'].iloc[at]} out of chronological order "
            f"(row {at}: timestamp {timestamps[at]} comes after {previous[at]}).",
            "Sort the file by timestamp_ns (df.sort_values('timestamp_ns', kind='stable')) and re-run the ingest.",
        )
    return frame.reset_index(drop=True)


def read_map_summary(files: LogFiles) -> MapSummary:
    """Load the vector map with av2 and summarise it.

    Raises:
        IngestError: av2 cannot load the map.
    """
    from av2.map.map_api import ArgoverseStaticMap

    try:
        avm = ArgoverseStaticMap.from_map_dir(files.map_dir, build_raster=False)
    except Exception as exc:  # av2 raises many types for a bad map; all mean the same here
        raise IngestError(
            files.map_archive,
            f"could not be loaded by av2's map API: {exc}.",
            "Copy the log's map/ directory again from the AV2 sensor dataset.",
        ) from exc
    lanes = list(avm.vector_lane_segments.values())
    bounds = None
    if lanes:
        xy = np.concatenate([ls.polygon_boundary[:, :2] for ls in lanes])
        bounds = (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
    match = _MAP_ARCHIVE.search(files.map_archive.name)
    return MapSummary(
        city=match.group("city") if match else None,
        num_lane_segments=len(lanes),
        num_intersection_lane_segments=sum(1 for ls in lanes if ls.is_intersection),
        num_pedestrian_crossings=len(avm.vector_pedestrian_crossings),
        num_drivable_areas=len(avm.vector_drivable_areas),
        bounds_city=bounds,
    )
