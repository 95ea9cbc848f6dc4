"""Scenario results to the submission pickles av2 0.3.6 accepts (``av2/evaluation/scenario_mining/eval.py``)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from avmine.evaluation.sequences import LABEL_NAMES, REFERRED_OBJECT
from avmine.evaluation.submission.labels import label_boxes
from avmine.store.typing import NDArrayFloat, NDArrayInt

Frame = dict[str, Any]


@dataclass(frozen=True)
class LogBoxes:
    """All boxes of one log at its evaluation timestamps (the input of the submission builder).

    N box rows, T evaluation timestamps. Rows keep the log's order; ``track_id`` in the output is a uuid's
    position in the order of first appearance among these rows.

    Attributes:
        log_id: the log.
        eval_timestamps_ns: (T,) sorted evaluation timestamps.
        ego_translation_city: (T, 3) ego position per evaluation timestamp, city frame.
        timestamp_ns: (N,) timestamp of each box (one of ``eval_timestamps_ns``).
        track_uuid: (N,) track uuid of each box.
        translation_city: (N, 3) box centres, city frame.
        size_lwh: (N, 3) length, width, height.
        yaw_city: (N,) heading about the city z axis.
        score: (N,) confidence (1.0 for annotations).
    """

    log_id: str
    eval_timestamps_ns: NDArrayInt
    ego_translation_city: NDArrayFloat
    timestamp_ns: NDArrayInt
    track_uuid: npt.NDArray[Any]
    translation_city: NDArrayFloat
    size_lwh: NDArrayFloat
    yaw_city: NDArrayFloat
    score: NDArrayFloat
    track_index: NDArrayInt | None = None
    """(N,) RefAV's ``track_id`` of each row, when the rows are a subset of a larger file: the uuid's
    position in the whole file's order of first appearance. Default: derived from these rows."""

    def __post_init__(self) -> None:
        """Check shapes, order and that every box sits at an evaluation timestamp."""
        t, n = self.eval_timestamps_ns.shape[0], self.timestamp_ns.shape[0]
        expected = {
            "ego_translation_city": (t, 3),
            "track_uuid": (n,),
            "translation_city": (n, 3),
            "size_lwh": (n, 3),
            "yaw_city": (n,),
            "score": (n,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"LogBoxes({self.log_id}).{name} has shape {getattr(self, name).shape}, expected {shape}"
                )
        if np.any(np.diff(self.eval_timestamps_ns) <= 0):
            raise ValueError(f"LogBoxes({self.log_id}).eval_timestamps_ns must be strictly increasing")
        if n and not np.isin(self.timestamp_ns, self.eval_timestamps_ns).all():
            raise ValueError(f"LogBoxes({self.log_id}) has boxes at timestamps that are not evaluation timestamps")

    def track_ids(self) -> NDArrayInt:
        """(N,) index of each row's uuid in the order of first appearance.

        Returns:
            Integer track ids.
        """
        if self.track_index is not None:
            return np.asarray(self.track_index, dtype=np.int64)
        _, first, inverse = np.unique(self.track_uuid.astype(str), return_index=True, return_inverse=True)
        rank = np.empty(first.size, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(first.size)
        return rank[inverse]


def sequence_frames(boxes: LogBoxes, prompt: str, scenario: Mapping[str, Any] | None) -> list[Frame]:
    """Spatio-temporal frames of one (log, prompt): every box of every evaluation timestamp, labelled.

    Args:
        boxes: the log's boxes.
        prompt: the prompt.
        scenario: the program's scenario dict, or None if the program failed (all boxes OTHER).

    Returns:
        Frames in chronological order, in the format av2's evaluate accepts.
    """
    labels = label_boxes(scenario, boxes.track_uuid, boxes.timestamp_ns).astype(np.int32)
    track_ids = boxes.track_ids().astype(np.int32)
    names = np.asarray(LABEL_NAMES, dtype="<U31")[labels]
    order = np.argsort(np.searchsorted(boxes.eval_timestamps_ns, boxes.timestamp_ns), kind="stable")
    bounds = np.searchsorted(boxes.timestamp_ns[order], [*boxes.eval_timestamps_ns.tolist(), np.iinfo(np.int64).max])
    frames = []
    for j, ts in enumerate(boxes.eval_timestamps_ns.tolist()):
        rows = order[bounds[j] : bounds[j + 1]]
        frames.append(
            {
                "seq_id": (str(boxes.log_id), str(prompt)),
                "timestamp_ns": int(ts),
                "ego_translation_m": [float(v) for v in boxes.ego_translation_city[j]],
                "description": str(prompt),
                "translation_m": boxes.translation_city[rows].astype(np.float64),
                "size": boxes.size_lwh[rows].astype(np.float32),
                "yaw": boxes.yaw_city[rows].astype(np.float32),
                "label": labels[rows],
                "name": names[rows],
                "track_id": track_ids[rows],
                "score": boxes.score[rows].astype(np.float32),
            }
        )
    return frames


def temporal_frames(frames: list[Frame]) -> list[Frame]:
    """Temporal-track frames: ``timestamp_ns``, ``is_positive`` and the empty arrays av2 0.3.6 still slices.

    Args:
        frames: spatio-temporal frames of one sequence.

    Returns:
        Temporal frames.
    """
    return [
        {
            "timestamp_ns": frame["timestamp_ns"],
            "is_positive": bool((frame["label"] == REFERRED_OBJECT).any()),
            "label": np.zeros(0, dtype=np.int32),
            "translation_m": np.zeros((0, 3), dtype=np.float64),
            "size": np.zeros((0, 3), dtype=np.float32),
            "yaw": np.zeros(0, dtype=np.float32),
            "track_id": np.zeros(0, dtype=np.int32),
        }
        for frame in frames
    ]


def build_submission(
    results: Mapping[tuple[str, str], Mapping[str, Any] | None],
    boxes_by_log: Mapping[str, LogBoxes],
    temporal: bool = False,
) -> dict[tuple[str, str], list[Frame]]:
    """Build the combined submission dict from scenario results.

    Args:
        results: ``{(log_id, prompt): scenario dict, or None where the program failed}``; list every pair of
            the split (a missing pair would be missing from the submission).
        boxes_by_log: the boxes of every log.
        temporal: build temporal-track frames instead of spatio-temporal ones.

    Returns:
        ``{(log_id, prompt): [frame, ...]}``, ready for ``pickle.dump``.

    Raises:
        KeyError: if a result's log has no boxes.
    """
    submission: dict[tuple[str, str], list[Frame]] = {}
    for (log_id, prompt), scenario in results.items():
        if log_id not in boxes_by_log:
            raise KeyError(f"no LogBoxes for log {log_id!r} (needed by prompt {prompt!r})")
        frames = sequence_frames(boxes_by_log[log_id], prompt, scenario)
        submission[(str(log_id), str(prompt))] = temporal_frames(frames) if temporal else frames
    return submission
