"""Box filters applied before scoring: distance from the ego and av2's road region (ROI).

Both return masks over the boxes of a :class:`~evaluation.sequences.SequenceTable`; av2 applies the
same two filters to predictions and ground truth alike.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from avmine.evaluation.errors import EvaluationInputError
from avmine.evaluation.sequences import SequenceTable
from avmine.store.typing import NDArrayBool, NDArrayFloat

# Corners of the unit cube, in the object frame (signs of half length, width, height).
_UNIT_CORNERS_OBJ = np.array(
    [[sx, sy, sz] for sx in (1.0, -1.0) for sy in (1.0, -1.0) for sz in (1.0, -1.0)], dtype=np.float64
)


def within_range_mask(table: SequenceTable, max_range_m: float) -> NDArrayBool:
    """Boxes whose xy distance from their frame's ego position is at most ``max_range_m``.

    Args:
        table: boxes and frames of one side.
        max_range_m: range in metres (av2 keeps ``distance <= max_range_m``).

    Returns:
        (R,) boolean mask.
    """
    ego_xy_city = table.ego_xy_city[table.frame_of_row]
    offset_xy = table.translation_city[:, :2] - ego_xy_city
    distance_m = np.sqrt(offset_xy[:, 0] * offset_xy[:, 0] + offset_xy[:, 1] * offset_xy[:, 1])
    return np.asarray(distance_m <= max_range_m)


def box_corners_xy_city(translation_city: NDArrayFloat, size_lwh: NDArrayFloat, yaw_city: NDArrayFloat) -> NDArrayFloat:
    """Bird's-eye corners of yawed boxes (the 8 cube vertices, top and bottom coincide in xy).

    Args:
        translation_city: (N, 3) box centres, city frame.
        size_lwh: (N, 3) length, width, height.
        yaw_city: (N,) heading about the city z axis.

    Returns:
        (N, 8, 2) corner coordinates, city frame.
    """
    half_obj = size_lwh[:, np.newaxis, :2] / 2.0 * _UNIT_CORNERS_OBJ[np.newaxis, :, :2]
    cos, sin = np.cos(yaw_city)[:, np.newaxis], np.sin(yaw_city)[:, np.newaxis]
    x_city = cos * half_obj[..., 0] - sin * half_obj[..., 1] + translation_city[:, np.newaxis, 0]
    y_city = sin * half_obj[..., 0] + cos * half_obj[..., 1] + translation_city[:, np.newaxis, 1]
    return np.stack([x_city, y_city], axis=-1)


@lru_cache(maxsize=64)
def load_roi_map(map_dir: Path) -> Any:
    """Load a log's vector map and build its raster layers (cached: rasterising takes about a second).

    Args:
        map_dir: ``<dataset_dir>/<log_id>/map``.

    Returns:
        An ``av2.map.map_api.ArgoverseStaticMap`` with the ROI raster built.

    Raises:
        EvaluationInputError: if the map directory is missing.
    """
    from av2.map.map_api import ArgoverseStaticMap

    if not map_dir.is_dir():
        raise EvaluationInputError(
            f"road-region filter: no map directory {map_dir}; fix: pass the dataset "
            f"split directory that holds <log_id>/map for every evaluated log, or "
            f"dataset_dir=None to switch the filter off"
        )
    return ArgoverseStaticMap.from_map_dir(map_dir, build_raster=True)


def within_roi_mask(table: SequenceTable, dataset_dir: Path | str) -> NDArrayBool:
    """Boxes with any corner inside their log's region of interest (drivable area dilated by 5 m).

    Args:
        table: boxes and frames of one side.
        dataset_dir: directory holding ``<log_id>/map`` for every log of the table.

    Returns:
        (R,) boolean mask.
    """
    from av2.map.map_api import RasterLayerType

    keep = np.zeros(table.num_rows, dtype=bool)
    seq_of_row = table.seq_of_frame[table.frame_of_row]
    log_ids = np.array([key[0] for key in table.seq_keys], dtype=object)
    row_log = log_ids[seq_of_row] if table.num_rows else np.zeros(0, dtype=object)
    for log_id in sorted({key[0] for key in table.seq_keys}):
        rows = np.flatnonzero(row_log == log_id)
        if rows.size == 0:
            continue
        avm = load_roi_map(Path(dataset_dir) / log_id / "map")
        corners_xy_city = box_corners_xy_city(table.translation_city[rows], table.size_lwh[rows], table.yaw_city[rows])
        inside = avm.get_raster_layer_points_boolean(corners_xy_city.reshape(-1, 2), RasterLayerType.ROI)
        keep[rows] = np.asarray(inside).reshape(-1, 8).any(axis=1)
    return keep
