"""Map features of every box, computed once per log and stored beside its arrays.

Lane assignment follows RefAV (``refAV/utils.py: get_scenario_lanes``): per track, on smoothed
centres over its full timeline, lanes vote by how many timestamps they contain. It is the costliest map question,
so ``avmine ingest`` stores it as ``row_lane.npy`` in the log's cache (``precompute_staged``, on each source
as soon as it is staged; ``precompute`` on a published log) and every later process reads it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
from av2.map.map_api import ArgoverseStaticMap

from avmine.atomic.context import LogContext, context_for
from avmine.store.arrays import load_box_arrays

LANE_FILE = "row_lane.npy"


def _box_dir(ctx: LogContext) -> Path:
    return ctx.log_dir / "boxes" / ctx.arrays.source


def compute_lane_assignment(ctx: LogContext) -> npt.NDArray[np.int64]:
    """Lane id of every box (-1 where none), by RefAV's bucket vote per track, shape (R,)."""
    return ctx.map_index.assign_lanes_per_track(ctx.smoothed_xyz_city[:, :2], ctx.yaw_rate, ctx.track_start)


def lane_assignment(ctx: LogContext) -> npt.NDArray[np.int64]:
    """The stored lane assignment of the log's boxes, computing (and storing, if allowed) it once."""
    path = _box_dir(ctx) / LANE_FILE
    if path.is_file():
        stored = np.load(path)
        if len(stored) == len(ctx.row_track):
            return np.asarray(stored, dtype=np.int64)
    lanes = compute_lane_assignment(ctx)
    with contextlib.suppress(OSError):  # a read-only cache (a sandboxed worker): the answer stays in memory only
        _save(path, lanes)
    return lanes


def _save(path: Path, lanes: npt.NDArray[np.int64]) -> None:
    partial = path.with_name(f".{LANE_FILE}.{os.getpid()}.tmp")
    with partial.open("wb") as f:
        np.save(f, lanes)
    os.replace(partial, path)


def precompute(log_dir: Path) -> None:
    """Compute and store the map features of a cached log for the active track source."""
    lane_assignment(context_for(log_dir))


def precompute_staged(log_id: str, source: str, box_dir: Path, map_dir: Path) -> None:
    """Compute and store the map features of boxes an ingest has staged (``box_dir``), before they are published.

    Args:
        log_id: the log.
        source: the track source.
        box_dir: the staged boxes; the features are written there and published with them.
        map_dir: the log's vector map (staged by the same ingest, or already published).
    """
    ctx = LogContext(load_box_arrays(box_dir, box_dir.parents[1] / log_id, source))  # <cache>/.staging/<key>
    vars(ctx)["static_map"] = ArgoverseStaticMap.from_map_dir(map_dir, build_raster=False)  # not yet in place
    _save(box_dir / LANE_FILE, compute_lane_assignment(ctx))
