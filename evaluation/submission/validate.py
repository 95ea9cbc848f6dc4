"""Check a submission against av2 0.3.6's format and report every problem with its location."""

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from avmine.evaluation.errors import EvaluationInputError
from avmine.evaluation.sequences import (
    TEMPORAL_KEYS,
    TRACKING_KEYS,
    SeqKey,
    _Frame,
    is_tracking_submission,
    parse_seq_key,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission.

    Attributes:
        location: where: the sequence key, frame index and key as far as known.
        message: what is wrong and how to fix it.
    """

    location: str
    message: str

    def __str__(self) -> str:
        """Location and message on one line."""
        return f"{self.location}: {self.message}"


def _frame_checks(frame: _Frame, tracking: bool) -> list[Callable[[], object]]:
    n_checks: list[Callable[[], object]] = [frame.timestamp]
    n = None
    track_id = frame.frame.get("track_id")
    if isinstance(track_id, np.ndarray) and track_id.ndim == 1:
        n = int(track_id.shape[0])
    n_checks.append(lambda: frame.array("track_id", None, None, "int"))
    for key, width, kind in (
        ("translation_m", 3, "float"),
        ("size", 3, "float"),
        ("yaw", None, "float"),
        ("label", None, "int"),
    ):
        if key in frame.frame:
            n_checks.append(functools.partial(frame.array, key, n, width, kind))
    if tracking:
        if "score" in frame.frame:
            n_checks.append(lambda: frame.array("score", n, None, "float"))
        if "ego_translation_m" in frame.frame:
            n_checks.append(frame.ego_xy)
    n_checks.append(frame.positive)
    if n and isinstance(track_id, np.ndarray) and track_id.dtype.kind in "iu":

        def unique_ids() -> None:
            uniq, counts = np.unique(track_id, return_counts=True)
            if (counts > 1).any():
                raise frame.fail(
                    "track_id",
                    f"track id(s) {uniq[counts > 1].tolist()} occur more than once",
                    "one track id per box within a frame",
                )

        n_checks.append(unique_ids)
    return n_checks


def validate_submission(obj: object, ground_truth: Mapping[Any, Any] | None = None) -> list[Problem]:
    """Find every format problem in a submission (empty list: av2's evaluate accepts it).

    Args:
        obj: the unpickled submission.
        ground_truth: if given, also check that every ground-truth (log, prompt) is present with the same
            frame timestamps, and report prediction-only sequences.

    Returns:
        The problems, in file order.
    """
    if not isinstance(obj, Mapping):
        return [Problem("submission", f"is a {type(obj).__name__}; expected a dict {{(log_id, prompt): [frame]}}")]
    if not obj:
        return [Problem("submission", "is empty")]
    problems: list[Problem] = []
    tracking = is_tracking_submission(obj)
    required = list((*TRACKING_KEYS, "score") if tracking else TEMPORAL_KEYS)
    seen: dict[SeqKey, list[int]] = {}
    for raw_key, frames in obj.items():
        try:
            key = parse_seq_key(raw_key, "predictions")
        except EvaluationInputError as err:
            problems.append(Problem(f"key {raw_key!r}", str(err)))
            continue
        if not isinstance(frames, list) or not frames:
            problems.append(Problem(f"{key!r}", "frames must be a non-empty list of dicts"))
            continue
        timestamps: list[int] = []
        for j, raw_frame in enumerate(frames):
            try:
                frame = _Frame("predictions", key, j, raw_frame)
            except EvaluationInputError as err:
                problems.append(Problem(f"{key!r}, frame {j}", str(err)))
                continue
            missing = [k for k in required if k not in frame.frame]
            if missing:
                problems.append(Problem(frame.where(), f"missing key(s) {missing}"))
            for check in _frame_checks(frame, tracking):
                try:
                    value = check()
                except EvaluationInputError as err:
                    location, _, message = str(err).partition(": ")
                    problems.append(Problem(location, message))
                    continue
                if check == frame.timestamp and isinstance(value, int):
                    timestamps.append(value)
        if any(b <= a for a, b in itertools.pairwise(timestamps)):
            problems.append(Problem(f"{key!r}", "frames are not in strictly increasing timestamp_ns order"))
        seen[key] = timestamps
    if ground_truth is not None:
        problems.extend(_against_ground_truth(seen, ground_truth))
    return problems


def _against_ground_truth(seen: Mapping[SeqKey, list[int]], ground_truth: Mapping[Any, Any]) -> list[Problem]:
    problems = []
    gt_keys = set()
    for raw_key, frames in ground_truth.items():
        key = parse_seq_key(raw_key, "ground truth")
        gt_keys.add(key)
        expected = [int(f["timestamp_ns"]) for f in frames]
        if key not in seen:
            problems.append(Problem(f"{key!r}", "ground-truth sequence missing from the submission"))
        elif seen[key] != expected:
            problems.append(
                Problem(
                    f"{key!r}",
                    f"has {len(seen[key])} frames / timestamps that differ from the "
                    f"ground truth's {len(expected)}; align with align_predictions",
                )
            )
    for key in seen:
        if key not in gt_keys:
            problems.append(Problem(f"{key!r}", "not in the ground truth (ignored by the evaluator)"))
    return problems
