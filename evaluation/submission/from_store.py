"""The boxes a submission is built from, read from a log's cached arrays."""

from collections.abc import Sequence

import numpy as np

from avmine.evaluation.submission.format import LogBoxes
from avmine.evaluation.timestamps import evaluation_timestamps
from avmine.store.arrays import LogArrays
from avmine.store.typing import NDArrayInt


def log_boxes(arrays: LogArrays, eval_timestamps_ns: Sequence[int] | NDArrayInt | None = None) -> LogBoxes:
    """All boxes of a cached log at its evaluation timestamps, as RefAV writes them.

    Rows keep the input's order (RefAV's per-frame object order); ``track_id`` is the uuid's position
    in the input's order of first appearance; yaw is RefAV's city heading; sources without scores
    score 1.

    Args:
        arrays: one track source of one log.
        eval_timestamps_ns: the timestamps to write (the ground truth's, when known); default RefAV's
            rule over the source's timestamps (every 5th once there are more than 50).
    """
    if eval_timestamps_ns is None:
        eval_ts = evaluation_timestamps(np.asarray(arrays.timestamps_ns))
    else:
        eval_ts = np.asarray(sorted(eval_timestamps_ns), dtype=np.int64)
    rows = np.flatnonzero(np.isin(arrays.row_timestamp_ns, eval_ts))
    rows = rows[np.argsort(np.asarray(arrays.input_row)[rows], kind="stable")]
    timestamps = np.asarray(arrays.timestamps_ns)
    at = np.clip(np.searchsorted(timestamps, eval_ts), 0, len(timestamps) - 1)
    missing = eval_ts[timestamps[at] != eval_ts]
    if len(missing):
        raise ValueError(
            f"log {arrays.log_id} ({arrays.source}) has no timestamp {int(missing[0])} "
            f"({len(missing)} evaluation timestamps missing); evaluation timestamps must be the log's sweeps"
        )
    ego = np.asarray(arrays.ego_xyz_city)[at]
    score = np.asarray(arrays.score)[rows]
    return LogBoxes(
        log_id=arrays.log_id,
        eval_timestamps_ns=eval_ts,
        ego_translation_city=ego,
        timestamp_ns=np.asarray(arrays.row_timestamp_ns)[rows],
        track_uuid=np.asarray(arrays.track_uuids)[np.asarray(arrays.row_track)[rows]],
        translation_city=np.asarray(arrays.xyz_city)[rows],
        size_lwh=np.asarray(arrays.size)[rows],
        yaw_city=np.asarray(arrays.yaw_city)[rows],
        score=np.where(np.isnan(score), 1.0, score),
        track_index=np.asarray(arrays.row_track, dtype=np.int64)[rows],
    )
