"""Per-prompt score thresholds at fixed recall levels, as av2 tunes them before its metric sweep."""

from typing import Final

import numpy as np

from avmine.evaluation.matching import FramePairs, assigned_predictions
from avmine.store.typing import NDArrayFloat, NDArrayInt

RECALL_LEVELS: Final = np.linspace(0.1, 1, 10).round(12)[::-1]
"""Target recalls, highest first; column ``k`` of every threshold array belongs to ``RECALL_LEVELS[k]``."""


def recall_score_thresholds(matched_scores: NDArrayFloat, num_gt: int) -> NDArrayFloat:
    """Score threshold reaching each target recall, 0 where the recall is never reached.

    Args:
        matched_scores: (M,) scores of the predictions assigned to a gt box (M <= num_gt).
        num_gt: number of gt boxes of the prompt.

    Returns:
        (10,) thresholds aligned with ``RECALL_LEVELS``.
    """
    if matched_scores.size == 0:
        return np.zeros_like(RECALL_LEVELS)
    scores_desc = np.sort(matched_scores)[::-1]
    recall = np.arange(1, scores_desc.size + 1) / num_gt
    thresholds = np.interp(RECALL_LEVELS, recall, scores_desc, right=0)
    thresholds[recall.max() < RECALL_LEVELS] = 0.0
    return np.asarray(thresholds, dtype=np.float64)


def tune_score_thresholds(
    pairs: FramePairs, pred_score: NDArrayFloat, pred_class: NDArrayInt, gt_class: NDArrayInt, num_classes: int
) -> NDArrayFloat:
    """Thresholds per prompt from the scores of assigned predictions (every assigned pair counts).

    Args:
        pairs: all gt x prediction pairs of referred boxes.
        pred_score: (Q,) prediction scores.
        pred_class: (Q,) prompt index of each prediction.
        gt_class: (G,) prompt index of each gt box.
        num_classes: C.

    Returns:
        (C, 10) thresholds.
    """
    assigned = assigned_predictions(pairs, pairs.similarity)
    num_gt = np.bincount(gt_class, minlength=num_classes)
    by_class = np.argsort(pred_class[assigned], kind="stable")
    assigned = assigned[by_class]
    bounds = np.searchsorted(pred_class[assigned], np.arange(num_classes + 1))
    return (
        np.stack(
            [
                recall_score_thresholds(pred_score[assigned[bounds[c] : bounds[c + 1]]], int(num_gt[c]))
                for c in range(num_classes)
            ]
        )
        if num_classes
        else np.zeros((0, RECALL_LEVELS.size))
    )
