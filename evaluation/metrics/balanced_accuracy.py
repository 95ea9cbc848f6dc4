"""Timestamp- and log-level balanced accuracy per prompt, av2's retrieval metrics."""

from dataclasses import dataclass

import numpy as np

from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt


@dataclass(frozen=True)
class Confusion:
    """Confusion counts per prompt.

    Attributes:
        tp: (C,) true positives.
        fp: (C,) false positives.
        fn: (C,) false negatives.
        tn: (C,) true negatives.
    """

    tp: NDArrayInt
    fp: NDArrayInt
    fn: NDArrayInt
    tn: NDArrayInt

    def balanced_accuracy(self) -> NDArrayFloat:
        """(TPR + TNR) / 2 per prompt, where a rate with an empty denominator counts as 1 (as in av2).

        Returns:
            (C,) balanced accuracy.
        """
        return (_safe_rate(self.tp, self.tp + self.fn) + _safe_rate(self.tn, self.tn + self.fp)) / 2


def _safe_rate(numerator: NDArrayInt, denominator: NDArrayInt) -> NDArrayFloat:
    rate = np.ones(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=rate, where=denominator > 0)
    return rate


def _confusion(gt: NDArrayBool, pred: NDArrayBool, group: NDArrayInt, num_groups: int) -> Confusion:
    def count(mask: NDArrayBool) -> NDArrayInt:
        return np.bincount(group[mask], minlength=num_groups).astype(np.int64)

    return Confusion(tp=count(gt & pred), fp=count(~gt & pred), fn=count(gt & ~pred), tn=count(~gt & ~pred))


@dataclass(frozen=True)
class RetrievalOutcome:
    """Per-frame and per-sequence decisions with the per-prompt confusions built from them.

    Attributes:
        frame_gt: (F,) frame is positive in the ground truth.
        frame_pred: (F,) frame is positive in the predictions.
        frame_scored: (F,) frame counts for the timestamp metric (not ambiguous, sequence not all ambiguous).
        seq_gt: (S,) log-level ground truth.
        seq_pred: (S,) log-level prediction.
        seq_scored: (S,) sequence counts for the log metric.
        timestamp: per-prompt timestamp confusion.
        log: per-prompt log confusion.
    """

    frame_gt: NDArrayBool
    frame_pred: NDArrayBool
    frame_scored: NDArrayBool
    seq_gt: NDArrayBool
    seq_pred: NDArrayBool
    seq_scored: NDArrayBool
    timestamp: Confusion
    log: Confusion


def retrieval_outcome(
    frame_gt: NDArrayBool,
    frame_ambiguous: NDArrayBool,
    frame_pred: NDArrayBool,
    frame_seq: NDArrayInt,
    seq_class: NDArrayInt,
    num_classes: int,
) -> RetrievalOutcome:
    """Score frame decisions against ground truth at timestamp and log level.

    A sequence whose frames are all ambiguous is skipped entirely; a log is positive if any of its frames is
    (ambiguous frames never make a ground-truth log positive, but do count for the prediction).

    Args:
        frame_gt: (F,) ground-truth positive frames.
        frame_ambiguous: (F,) ground-truth frames marked ``is_positive=None``.
        frame_pred: (F,) predicted positive frames.
        frame_seq: (F,) sequence of each frame.
        seq_class: (S,) prompt of each sequence.
        num_classes: C.

    Returns:
        The outcome.
    """
    num_seqs = seq_class.size
    clear_frames = np.bincount(frame_seq[~frame_ambiguous], minlength=num_seqs)
    seq_scored = clear_frames > 0
    frame_scored = ~frame_ambiguous & seq_scored[frame_seq]
    seq_gt = np.bincount(frame_seq[frame_gt], minlength=num_seqs) > 0
    seq_pred = np.bincount(frame_seq[frame_pred], minlength=num_seqs) > 0
    frame_class = seq_class[frame_seq]
    timestamp = _confusion(frame_gt[frame_scored], frame_pred[frame_scored], frame_class[frame_scored], num_classes)
    log = _confusion(seq_gt[seq_scored], seq_pred[seq_scored], seq_class[seq_scored], num_classes)
    return RetrievalOutcome(frame_gt, frame_pred, frame_scored, seq_gt, seq_pred, seq_scored, timestamp, log)
