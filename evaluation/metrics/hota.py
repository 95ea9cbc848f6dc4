"""HOTA (Luiten et al. 2020) per prompt, over all sequences at once, matching TrackEval's numbers."""

from dataclasses import dataclass
from typing import Final

import numpy as np

from avmine.evaluation.matching import FramePairs, positive_assignment
from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

ALPHAS: Final = np.arange(0.05, 0.99, 0.05)
"""Localisation thresholds HOTA is averaged over (19 values, as in TrackEval)."""
_EPS: Final = np.finfo(float).eps


@dataclass(frozen=True)
class TrackKeys:
    """Dense track identities of the boxes of one side (a track is a (sequence, track_id) pair).

    Attributes:
        track: (N,) dense track index per box, in [0, num_tracks).
        num_tracks: number of distinct tracks.
        seq_of_track: (num_tracks,) sequence index of each track.
    """

    track: NDArrayInt
    num_tracks: int
    seq_of_track: NDArrayInt


def dense_track_keys(seq: NDArrayInt, track_id: NDArrayInt) -> TrackKeys:
    """Number the distinct (sequence, track_id) pairs.

    Args:
        seq: (N,) sequence index per box.
        track_id: (N,) track id per box.

    Returns:
        The dense keys.
    """
    if seq.size == 0:
        return TrackKeys(np.zeros(0, np.int64), 0, np.zeros(0, np.int64))
    _, dense_id = np.unique(track_id, return_inverse=True)
    combined = seq * (int(dense_id.max()) + 1) + dense_id
    uniq, track = np.unique(combined, return_inverse=True)
    return TrackKeys(track.astype(np.int64), int(uniq.size), (uniq // (int(dense_id.max()) + 1)).astype(np.int64))


@dataclass(frozen=True)
class Associations:
    """Matched pairs and the track-pair statistics HOTA and the diagnostics share.

    Attributes:
        matched: (P,) pairs matched by the HOTA assignment (positive score only).
        pair_track: (P,) index of the pair's (gt track, predicted track) combination.
        gt_track_of_combo: (K,) gt track of each combination.
        pred_track_of_combo: (K,) predicted track of each combination.
    """

    matched: NDArrayBool
    pair_track: NDArrayInt
    gt_track_of_combo: NDArrayInt
    pred_track_of_combo: NDArrayInt


def associate(pairs: FramePairs, gt_keys: TrackKeys, pred_keys: TrackKeys) -> Associations:
    """Run HOTA's matching: per-frame assignment weighted by global track alignment.

    Args:
        pairs: gt x prediction pairs of one class subset.
        gt_keys: track keys of the gt boxes.
        pred_keys: track keys of the predicted boxes.

    Returns:
        The associations.
    """
    sim = pairs.similarity
    row_sum = np.bincount(pairs.gt, weights=sim, minlength=gt_keys.track.size)
    col_sum = np.bincount(pairs.pred, weights=sim, minlength=pred_keys.track.size)
    denom = col_sum[pairs.pred] + row_sum[pairs.gt] - sim
    sim_iou = np.zeros_like(sim)
    np.divide(sim, denom, out=sim_iou, where=denom > _EPS)
    combo = gt_keys.track[pairs.gt] * max(pred_keys.num_tracks, 1) + pred_keys.track[pairs.pred]
    uniq, pair_track = np.unique(combo, return_inverse=True)
    gt_of_combo = uniq // max(pred_keys.num_tracks, 1)
    pred_of_combo = uniq % max(pred_keys.num_tracks, 1)
    potential = np.bincount(pair_track, weights=sim_iou, minlength=uniq.size)
    gt_count = np.bincount(gt_keys.track, minlength=gt_keys.num_tracks)[gt_of_combo]
    pred_count = np.bincount(pred_keys.track, minlength=pred_keys.num_tracks)[pred_of_combo]
    alignment = potential / (gt_count + pred_count - potential)
    matched = positive_assignment(pairs, alignment[pair_track] * sim)
    return Associations(
        matched, pair_track.astype(np.int64), gt_of_combo.astype(np.int64), pred_of_combo.astype(np.int64)
    )


def hota_by_class(
    pairs: FramePairs,
    gt_keys: TrackKeys,
    pred_keys: TrackKeys,
    gt_seq: NDArrayInt,
    pred_seq: NDArrayInt,
    seq_class: NDArrayInt,
    num_classes: int,
) -> NDArrayFloat:
    """HOTA per prompt, averaged over the 19 alphas, with sequences combined as TrackEval does.

    Args:
        pairs: gt x prediction pairs (referred boxes, predictions above the score threshold).
        gt_keys: track keys of the gt boxes.
        pred_keys: track keys of the predicted boxes.
        gt_seq: (G,) sequence of each gt box.
        pred_seq: (Q,) sequence of each predicted box.
        seq_class: (S,) prompt index of each sequence.
        num_classes: C.

    Returns:
        (C,) HOTA values.
    """
    num_seqs = seq_class.size
    assoc = associate(pairs, gt_keys, pred_keys)
    matched = np.flatnonzero(assoc.matched)
    matched_sim = pairs.similarity[matched]
    matched_combo = assoc.pair_track[matched]
    matched_seq = gt_seq[pairs.gt[matched]]
    num_combos = assoc.gt_track_of_combo.size
    gt_count = np.bincount(gt_keys.track, minlength=gt_keys.num_tracks)[assoc.gt_track_of_combo]
    pred_count = np.bincount(pred_keys.track, minlength=pred_keys.num_tracks)[assoc.pred_track_of_combo]
    seq_of_combo = gt_keys.seq_of_track[assoc.gt_track_of_combo]

    gt_dets = np.bincount(seq_class[gt_seq], minlength=num_classes).astype(np.float64)
    pred_dets = np.bincount(seq_class[pred_seq], minlength=num_classes).astype(np.float64)
    num_alphas = ALPHAS.size
    # Column a of every (., num_alphas) array below belongs to ALPHAS[a]; flat indices are item * A + a.
    ok = matched_sim[:, np.newaxis] >= ALPHAS[np.newaxis, :] - _EPS
    alpha_of = np.broadcast_to(np.arange(num_alphas), ok.shape)[ok]
    tp_seq = (
        np.bincount(
            np.repeat(matched_seq, num_alphas)[ok.ravel()] * num_alphas + alpha_of, minlength=num_seqs * num_alphas
        )
        .reshape(num_seqs, num_alphas)
        .astype(np.float64)
    )
    matches = (
        np.bincount(
            np.repeat(matched_combo, num_alphas)[ok.ravel()] * num_alphas + alpha_of, minlength=num_combos * num_alphas
        )
        .reshape(num_combos, num_alphas)
        .astype(np.float64)
    )
    ass = matches / np.maximum(1, (gt_count + pred_count)[:, np.newaxis] - matches)
    ass_sum = np.zeros((num_seqs, num_alphas))
    np.add.at(ass_sum, seq_of_combo, matches * ass)
    ass_seq = ass_sum / np.maximum(1, tp_seq)
    tp = np.zeros((num_classes, num_alphas))
    np.add.at(tp, seq_class, tp_seq)
    ass_weighted = np.zeros((num_classes, num_alphas))
    np.add.at(ass_weighted, seq_class, ass_seq * tp_seq)
    ass_a = ass_weighted / np.maximum(1.0, tp)
    det_a = tp / np.maximum(1, tp + (gt_dets[:, np.newaxis] - tp) + (pred_dets[:, np.newaxis] - tp))
    return np.asarray(np.sqrt(det_a * ass_a).mean(axis=1), dtype=np.float64)
