"""Tracking quality of a track source against a log's annotations, with av2's own evaluation.

``av2.evaluation.tracking.eval.evaluate_tracking`` runs TrackEval's HOTA and CLEAR metrics, matching
boxes by centre distance (within 2 m) as av2 does; this module turns stored sources into its input.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from typing import Any

import numpy as np
import numpy.typing as npt

from avmine.store.arrays import LogArrays

METRICS = (("HOTA", "HOTA"), ("AssA", "HOTA"), ("DetA", "HOTA"), ("DetRe", "HOTA"), ("DetPr", "HOTA"),
           ("IDSW", "CLEAR"), ("Frag", "CLEAR"), ("MOTA", "CLEAR"))  # fmt: skip
"""(metric, TrackEval group) reported; HOTA's are averaged over its localisation thresholds."""


def sequence(arrays: LogArrays, timestamps: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
    """One log's non-ego boxes as an AV2 tracking sequence (city frame), a frame at every timestamp."""
    track = np.asarray(arrays.row_track)
    ego = list(arrays.track_uuids).index(arrays.ego_uuid)
    t = np.asarray(arrays.row_timestamp_ns)
    names = np.asarray(arrays.categories)[np.asarray(arrays.row_category)]
    frames = []
    for timestamp in timestamps:
        at = (t == timestamp) & (track != ego)
        n = int(at.sum())
        frames.append(
            {
                "seq_id": arrays.log_id,
                "timestamp_ns": int(timestamp),
                "track_id": track[at].astype(np.int64),
                "translation_m": np.asarray(arrays.xyz_city)[at],
                "size": np.asarray(arrays.size)[at],
                "yaw": np.asarray(arrays.yaw_city)[at],
                "velocity_m_per_s": np.zeros((n, 3)),
                "name": names[at].astype(str),
                "score": np.nan_to_num(np.asarray(arrays.score)[at], nan=1.0),
                "label": np.zeros(n, dtype=np.int32),
            }
        )
    return frames


def tracking_metrics(
    labels: dict[str, list[dict[str, Any]]], predictions: dict[str, list[dict[str, Any]]]
) -> dict[str, float]:
    """``METRICS`` over all logs and categories (TrackEval's detection-weighted class combination)."""
    from av2.evaluation.tracking.eval import evaluate_tracking  # heavy: only when scoring

    classes = sorted({str(n) for seq in (*labels.values(), *predictions.values()) for f in seq for n in f["name"]})
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
        result = evaluate_tracking(labels, predictions, classes, "TRACKER", out)
    combined = result["TrackEvalDataset"]["TRACKER"]["COMBINED_SEQ"]["cls_comb_det_av"]
    return {name: float(np.mean(combined[group][name])) for name, group in METRICS}
