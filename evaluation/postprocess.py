"""Post-processing between a program's scenario and the scored frames, each step a pure function.

Defaults reproduce RefAV's current code (``refAV/utils.py: post_process_scenario``, ``fix_pred_pkl``): no
dilation, 2 Hz evaluation timestamps (:mod:`avmine.evaluation.timestamps`), and predictions aligned to the ground
truth's frames as ``fix_pred_pkl`` does. The RefAV paper's variant, widening short referred segments to
at least 1.5 s (``dilate_timestamps``), is a switch.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from avmine.evaluation.sequences import LABEL_NAMES, OTHER_OBJECT, parse_seq_key
from avmine.store.typing import NDArrayInt

DILATION_MIN_DURATION_S = 1.5
"""The paper's minimum referred duration (also the README's guarantee on ground-truth tracks)."""


@dataclass(frozen=True)
class PostprocessConfig:
    """Switches for the post-processing steps.

    Attributes:
        dilate: widen referred segments shorter than ``min_duration_s`` (the paper's variant; RefAV HEAD: off).
        min_duration_s: target duration of a dilated segment.
    """

    dilate: bool = False
    min_duration_s: float = DILATION_MIN_DURATION_S


def dilate_referred_samples(
    track_timestamps_ns: NDArrayInt,
    referred: np.ndarray,
    sample_period_ns: int,
    min_duration_s: float = DILATION_MIN_DURATION_S,
) -> np.ndarray:
    """Widen every run of referred samples shorter than ``min_duration_s`` symmetrically, on the track's timeline.

    A run of ``k`` samples shorter than ``w = round(min_duration_s / period)`` grows by ``(w - k) // 2``
    samples on each side, clipped to the track (RefAV's ``dilate_timestamps``).

    Args:
        track_timestamps_ns: (N,) the track's own sorted timestamps.
        referred: (N,) boolean, referred samples.
        sample_period_ns: the log's sample spacing (RefAV uses its first gap).
        min_duration_s: minimum duration.

    Returns:
        (N,) boolean, dilated referred samples.
    """
    del track_timestamps_ns  # runs are counted in samples of the track's timeline, as RefAV does
    width = round(min_duration_s * 1e9 / sample_period_ns)
    referred = np.asarray(referred, dtype=bool)
    padded = np.concatenate([[False], referred, [False]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(padded) == 1)
    stops = np.flatnonzero(np.diff(padded) == -1)
    grow = np.where(stops - starts < width, (width - (stops - starts)) // 2, 0)
    lo, hi = np.maximum(0, starts - grow), np.minimum(referred.size, stops + grow)
    # Mark run coverage with +1/-1 at the edges and integrate.
    edges = np.zeros(referred.size + 1, dtype=np.int64)
    np.add.at(edges, lo, 1)
    np.add.at(edges, hi, -1)
    return np.cumsum(edges)[:-1] > 0


def dilate_scenario(
    scenario: Mapping[str, Any],
    track_timelines_ns: Mapping[str, NDArrayInt],
    sample_period_ns: int,
    config: PostprocessConfig = PostprocessConfig(),
) -> dict[str, Any]:
    """Apply the dilation switch to a scenario's top-level list values (a new dict; the input is unchanged).

    Args:
        scenario: RefAV scenario dict.
        track_timelines_ns: ``{uuid: (N,) sorted timestamps}`` of each track.
        sample_period_ns: the log's sample spacing.
        config: switches; with ``dilate=False`` this returns a plain copy.

    Returns:
        The post-processed scenario.
    """
    out: dict[str, Any] = {}
    for uuid, value in scenario.items():
        if config.dilate and isinstance(value, list | set | tuple) and uuid in track_timelines_ns:
            timeline = np.asarray(track_timelines_ns[uuid], dtype=np.int64)
            referred = np.isin(timeline, np.fromiter(value, dtype=np.int64, count=len(value)))
            dilated = dilate_referred_samples(timeline, referred, sample_period_ns, config.min_duration_s)
            out[uuid] = timeline[dilated].tolist()
        else:
            out[uuid] = value
    return out


def padding_frame(timestamp_ns: int, ego_translation_m: list[float]) -> dict[str, Any]:
    """RefAV's default frame for a missing timestamp: one zero-size OTHER box at the ego, score 0.

    Args:
        timestamp_ns: the missing timestamp.
        ego_translation_m: ego position (city frame) at that timestamp.

    Returns:
        A frame dict.
    """
    return {
        "timestamp_ns": int(timestamp_ns),
        "ego_translation_m": [float(v) for v in ego_translation_m],
        "translation_m": np.asarray([ego_translation_m], dtype=np.float64).reshape(1, 3),
        "size": np.zeros((1, 3), dtype=np.float32),
        "yaw": np.zeros(1, dtype=np.float32),
        "label": np.array([OTHER_OBJECT], dtype=np.int32),
        "name": np.array([LABEL_NAMES[OTHER_OBJECT]], dtype="<U31"),
        "track_id": np.zeros(1, dtype=np.int32),
        "score": np.zeros(1, dtype=np.float32),
    }


def align_predictions(
    predictions: Mapping[Any, list[dict[str, Any]]], ground_truth: Mapping[Any, list[dict[str, Any]]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Give predictions exactly the ground truth's sequences and timestamps (RefAV's ``fix_pred_pkl``).

    Sequences and frames absent from the ground truth are dropped; missing ones get :func:`padding_frame`.
    RefAV appends padded frames at the end; av2 sorts frames by time before scoring, so they are placed in
    order here, which scores the same. Frames are shared, not copied.

    Args:
        predictions: submission-format sequences.
        ground_truth: the labels.

    Returns:
        ``{(log_id, prompt): [frame, ...]}`` aligned with the ground truth.
    """
    by_key = {parse_seq_key(key, "predictions"): frames for key, frames in predictions.items()}
    aligned: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for raw_key, gt_frames in ground_truth.items():
        key = parse_seq_key(raw_key, "ground truth")
        pred_by_ts = {int(f["timestamp_ns"]): f for f in by_key.get(key, [])}
        aligned[key] = [
            pred_by_ts.get(int(g["timestamp_ns"]))
            or padding_frame(int(g["timestamp_ns"]), list(g["ego_translation_m"]))
            for g in gt_frames
        ]
    return aligned
