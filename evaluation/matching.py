"""Per-frame pairing of ground-truth and predicted boxes, and the assignments the metrics need.

All gt x prediction pairs of all frames are laid out in one flat array, frame by frame and, inside a
frame, row-major (gt outer, prediction inner) exactly like the per-frame similarity matrices of
TrackEval. Assignments are solved without a Python loop for the frames where the answer is forced
(the usual case: objects further apart than the 2 m similarity radius), and with scipy's
``linear_sum_assignment`` on the remaining frames so that tie-breaking is identical to av2's.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

ZERO_DISTANCE_M = 2.0
"""Centre distance at which the similarity reaches 0 (av2's ``match_distance_m``)."""


@dataclass(frozen=True)
class FramePairs:
    """Every (gt box, predicted box) pair that shares a frame, P pairs in all.

    Attributes:
        gt: (P,) index of the gt box (into the gt subset given to :func:`pair_boxes`).
        pred: (P,) index of the predicted box.
        frame: (P,) frame index.
        similarity: (P,) ``max(0, 1 - d_xy / 2 m)``.
        gt_per_frame: (F,) number of gt boxes per frame.
        pred_per_frame: (F,) number of predicted boxes per frame.
        pair_offsets: (F+1,) pairs of frame ``f`` are ``pair_offsets[f]:pair_offsets[f+1]``.
    """

    gt: NDArrayInt
    pred: NDArrayInt
    frame: NDArrayInt
    similarity: NDArrayFloat
    gt_per_frame: NDArrayInt
    pred_per_frame: NDArrayInt
    pair_offsets: NDArrayInt


def xy_similarity(gt_xy: NDArrayFloat, pred_xy: NDArrayFloat) -> NDArrayFloat:
    """Centre similarity used by av2 for matching: ``max(0, 1 - distance_xy / 2 m)``.

    Args:
        gt_xy: (P, 2) gt centres.
        pred_xy: (P, 2) predicted centres, paired with ``gt_xy`` row by row.

    Returns:
        (P,) similarity in [0, 1].
    """
    delta = gt_xy - pred_xy
    distance_m = np.sqrt(delta[:, 0] * delta[:, 0] + delta[:, 1] * delta[:, 1])
    return np.maximum(0.0, 1.0 - distance_m / ZERO_DISTANCE_M)


def pair_boxes(
    gt_frame: NDArrayInt, gt_xy: NDArrayFloat, pred_frame: NDArrayInt, pred_xy: NDArrayFloat, num_frames: int
) -> FramePairs:
    """Enumerate all gt x prediction pairs within each frame.

    Args:
        gt_frame: (G,) frame index of each gt box, non-decreasing.
        gt_xy: (G, 2) gt centres, city frame.
        pred_frame: (Q,) frame index of each predicted box, non-decreasing.
        pred_xy: (Q, 2) predicted centres, city frame.
        num_frames: F.

    Returns:
        The pairs, frame-major and row-major inside a frame.
    """
    gt_per_frame = np.bincount(gt_frame, minlength=num_frames).astype(np.int64)
    pred_per_frame = np.bincount(pred_frame, minlength=num_frames).astype(np.int64)
    pred_start = (np.cumsum(pred_per_frame) - pred_per_frame).astype(np.int64)
    per_gt = pred_per_frame[gt_frame]
    total = int(per_gt.sum())
    gt = np.repeat(np.arange(gt_frame.shape[0], dtype=np.int64), per_gt)
    first_pair_of_gt = (np.cumsum(per_gt) - per_gt).astype(np.int64)
    within = np.arange(total, dtype=np.int64) - np.repeat(first_pair_of_gt, per_gt)
    pred = np.repeat(pred_start[gt_frame], per_gt) + within
    frame = gt_frame[gt]
    similarity = xy_similarity(gt_xy[gt], pred_xy[pred]) if total else np.zeros(0, dtype=np.float64)
    pair_offsets = np.concatenate([[0], np.cumsum(gt_per_frame * pred_per_frame)]).astype(np.int64)
    return FramePairs(
        gt=gt,
        pred=pred,
        frame=frame,
        similarity=similarity,
        gt_per_frame=gt_per_frame,
        pred_per_frame=pred_per_frame,
        pair_offsets=pair_offsets,
    )


def _first_max_per_frame(pairs: FramePairs, weight: NDArrayFloat, frames: NDArrayInt) -> NDArrayInt:
    """Index of the first pair with the frame's largest weight, for each frame in ``frames``."""
    in_frames = np.isin(pairs.frame, frames)
    idx = np.flatnonzero(in_frames)
    frame_max = np.full(int(pairs.frame.max()) + 1 if pairs.frame.size else 0, -np.inf)
    np.maximum.at(frame_max, pairs.frame[idx], weight[idx])
    at_max = idx[weight[idx] == frame_max[pairs.frame[idx]]]
    _, first = np.unique(pairs.frame[at_max], return_index=True)
    return np.asarray(at_max[first], dtype=np.int64)


def _solve_frame(pairs: FramePairs, weight: NDArrayFloat, frame: int) -> NDArrayInt:
    """Pair indices scipy assigns in one frame when maximising ``weight``."""
    start = int(pairs.pair_offsets[frame])
    n_gt, n_pred = int(pairs.gt_per_frame[frame]), int(pairs.pred_per_frame[frame])
    matrix = weight[start : start + n_gt * n_pred].reshape(n_gt, n_pred)
    rows, cols = linear_sum_assignment(-matrix)
    return (start + rows * n_pred + cols).astype(np.int64)


def positive_assignment(pairs: FramePairs, weight: NDArrayFloat) -> NDArrayBool:
    """Pairs chosen by a per-frame maximum-weight assignment and having positive weight.

    Zero-weight assignments are left out: no metric counts them as matches. A frame where every box has
    at most one positive-weight partner has a unique answer (all positive pairs); frames with a single gt
    or single prediction take the first maximum (scipy's choice); the rest go to scipy.

    Args:
        pairs: the frame pairs.
        weight: (P,) non-negative weight to maximise.

    Returns:
        (P,) boolean mask of matched pairs.
    """
    positive = weight > 0
    matched = positive.copy()
    if not positive.any():
        return matched
    pos_per_gt = np.bincount(pairs.gt[positive], minlength=int(pairs.gt.max()) + 1)
    pos_per_pred = np.bincount(pairs.pred[positive], minlength=int(pairs.pred.max()) + 1)
    crowded = (pos_per_gt[pairs.gt] > 1) | (pos_per_pred[pairs.pred] > 1)
    crowded_frames = np.unique(pairs.frame[positive & crowded])
    if crowded_frames.size == 0:
        return matched
    in_crowded = np.isin(pairs.frame, crowded_frames)
    matched[in_crowded] = False
    single = (pairs.gt_per_frame[crowded_frames] == 1) | (pairs.pred_per_frame[crowded_frames] == 1)
    if single.any():
        matched[_first_max_per_frame(pairs, weight, crowded_frames[single])] = True
    for frame in crowded_frames[~single].tolist():
        matched[_solve_frame(pairs, weight, frame)] = True
    return matched & positive


def assigned_predictions(pairs: FramePairs, similarity: NDArrayFloat) -> NDArrayInt:
    """Predicted boxes that av2's score-threshold tuning assigns to a gt box, zero similarity included.

    Every prediction is assigned in frames with no more predictions than gt boxes; with one gt box the
    first most similar prediction is; other frames go to scipy.

    Args:
        pairs: the frame pairs.
        similarity: (P,) similarity to maximise.

    Returns:
        Indices of the assigned predicted boxes (unordered).
    """
    busy = (pairs.gt_per_frame > 0) & (pairs.pred_per_frame > 0)
    all_assigned = busy & (pairs.pred_per_frame <= pairs.gt_per_frame)
    one_gt = busy & ~all_assigned & (pairs.gt_per_frame == 1)
    general = np.flatnonzero(busy & ~all_assigned & ~one_gt)
    chosen = [np.unique(pairs.pred[all_assigned[pairs.frame]])]
    if one_gt.any():
        chosen.append(pairs.pred[_first_max_per_frame(pairs, similarity, np.flatnonzero(one_gt))])
    chosen.extend(pairs.pred[_solve_frame(pairs, similarity, frame)] for frame in general.tolist())
    return np.concatenate(chosen).astype(np.int64)
