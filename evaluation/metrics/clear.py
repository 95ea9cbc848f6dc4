"""CLEAR-MOTA per prompt (av2's ``objective_metric="MOTA"``), matching TrackEval's numbers.

MOTA's matching prefers, per gt track, the prediction it was matched to in the previous frame, so frames
depend on each other. Frames whose assignment is forced (each box has at most one partner within the
1 m similarity threshold) are solved for all frames at once; only the remaining frames are solved one by
one, in time order, with scipy.
"""

from typing import Final

import numpy as np
from scipy.optimize import linear_sum_assignment

from avmine.evaluation.matching import FramePairs
from avmine.evaluation.metrics.hota import TrackKeys
from avmine.store.typing import NDArrayFloat, NDArrayInt

MATCH_SIMILARITY: Final = 0.5
"""TrackEval's CLEAR threshold: similarity 0.5 is a 1 m centre distance."""
_EPS: Final = np.finfo(float).eps
_CONTINUITY_BONUS: Final = 1000.0


def _matches(pairs: FramePairs, gt_keys: TrackKeys, pred_keys: TrackKeys, frame_seq: NDArrayInt) -> NDArrayInt:
    """Indices of the pairs CLEAR matches, in frame order."""
    eligible = pairs.similarity >= MATCH_SIMILARITY - _EPS
    matched = eligible.copy()
    if not eligible.any():
        return np.flatnonzero(matched)
    per_gt = np.bincount(pairs.gt[eligible], minlength=int(pairs.gt.max()) + 1)
    per_pred = np.bincount(pairs.pred[eligible], minlength=int(pairs.pred.max()) + 1)
    crowded = eligible & ((per_gt[pairs.gt] > 1) | (per_pred[pairs.pred] > 1))
    crowded_frames = np.unique(pairs.frame[crowded])
    matched[np.isin(pairs.frame, crowded_frames)] = False
    busy_frames = np.flatnonzero((pairs.gt_per_frame > 0) & (pairs.pred_per_frame > 0))
    for frame in crowded_frames.tolist():
        # The previous frame CLEAR looked at: the latest earlier frame of the sequence with boxes on both sides.
        k = int(np.searchsorted(busy_frames, frame)) - 1
        previous_pred_of_gt: dict[int, int] = {}
        if k >= 0 and frame_seq[busy_frames[k]] == frame_seq[frame]:
            lo, hi = pairs.pair_offsets[busy_frames[k]], pairs.pair_offsets[busy_frames[k] + 1]
            done = lo + np.flatnonzero(matched[lo:hi])
            previous_pred_of_gt = dict(
                zip(gt_keys.track[pairs.gt[done]].tolist(), pred_keys.track[pairs.pred[done]].tolist(), strict=True)
            )
        lo, hi = int(pairs.pair_offsets[frame]), int(pairs.pair_offsets[frame + 1])
        n_gt, n_pred = int(pairs.gt_per_frame[frame]), int(pairs.pred_per_frame[frame])
        gt_track = gt_keys.track[pairs.gt[lo:hi]]
        previous = np.array([previous_pred_of_gt.get(int(t), -1) for t in gt_track], dtype=np.int64)
        sim = pairs.similarity[lo:hi]
        score = _CONTINUITY_BONUS * (pred_keys.track[pairs.pred[lo:hi]] == previous) + sim
        score[sim < MATCH_SIMILARITY - _EPS] = 0
        rows, cols = linear_sum_assignment(-score.reshape(n_gt, n_pred))
        chosen = rows * n_pred + cols
        matched[lo + chosen[score[chosen] > _EPS]] = True
    return np.flatnonzero(matched)


def mota_by_class(
    pairs: FramePairs,
    gt_keys: TrackKeys,
    pred_keys: TrackKeys,
    gt_seq: NDArrayInt,
    pred_seq: NDArrayInt,
    seq_class: NDArrayInt,
    frame_seq: NDArrayInt,
    num_classes: int,
) -> NDArrayFloat:
    """MOTA per prompt with sequences combined by summing counts.

    Args:
        pairs: gt x prediction pairs.
        gt_keys: track keys of the gt boxes.
        pred_keys: track keys of the predicted boxes.
        gt_seq: (G,) sequence of each gt box.
        pred_seq: (Q,) sequence of each predicted box.
        seq_class: (S,) prompt index of each sequence.
        frame_seq: (F,) sequence of each frame.
        num_classes: C.

    Returns:
        (C,) MOTA values.
    """
    matched = _matches(pairs, gt_keys, pred_keys, frame_seq)
    gt_track = gt_keys.track[pairs.gt[matched]]
    pred_track = pred_keys.track[pairs.pred[matched]]
    by_gt = np.argsort(gt_track, kind="stable")
    same_gt = gt_track[by_gt][1:] == gt_track[by_gt][:-1]
    switched = same_gt & (pred_track[by_gt][1:] != pred_track[by_gt][:-1])
    switch_class = seq_class[gt_keys.seq_of_track[gt_track[by_gt][1:][switched]]]
    idsw = np.bincount(switch_class, minlength=num_classes).astype(np.float64)
    tp = np.bincount(seq_class[gt_seq[pairs.gt[matched]]], minlength=num_classes).astype(np.float64)
    fn = np.bincount(seq_class[gt_seq], minlength=num_classes) - tp
    fp = np.bincount(seq_class[pred_seq], minlength=num_classes) - tp
    return np.asarray((tp - fp - idsw) / np.maximum(1.0, tp + fn), dtype=np.float64)
