"""Per-prompt and per-log breakdown of a score, down to the tracks and timestamps that went wrong.

This is for people reading a score; agent-facing tools decide themselves how much of it to reveal.
"""

from dataclasses import dataclass, field

import numpy as np

from avmine.evaluation.matching import pair_boxes
from avmine.evaluation.metrics.balanced_accuracy import RetrievalOutcome
from avmine.evaluation.metrics.hota import associate
from avmine.evaluation.scoring import PassResult
from avmine.evaluation.sequences import SeqKey, SequenceTable
from avmine.store.typing import NDArrayInt

FOUND_SIMILARITY = 0.5
"""A track counts as found when matched at least once within 1 m (similarity 0.5)."""


@dataclass(frozen=True)
class SequenceDiagnostics:
    """What happened in one (log, prompt) sequence, at its prompt's chosen score threshold.

    Attributes:
        log_id: the log.
        prompt: the prompt.
        gt_positive: the log holds the scenario per the ground truth.
        pred_positive: the predictions say it does.
        timestamp_counts: ``{"tp", "fp", "fn", "tn"}`` over the scored frames.
        false_positive_timestamps: frames predicted positive that are negative in the ground truth.
        missed_timestamps: positive frames predicted negative.
        false_positive_tracks: predicted referred track ids never matched to a referred gt box.
        missed_tracks: referred gt track ids never matched.
    """

    log_id: str
    prompt: str
    gt_positive: bool
    pred_positive: bool
    timestamp_counts: dict[str, int]
    false_positive_timestamps: list[int] = field(default_factory=list)
    missed_timestamps: list[int] = field(default_factory=list)
    false_positive_tracks: list[int] = field(default_factory=list)
    missed_tracks: list[int] = field(default_factory=list)


def _unmatched_track_ids(track_ids: NDArrayInt, seqs: NDArrayInt, found: np.ndarray, seq: int) -> list[int]:
    in_seq = seqs == seq
    all_ids = set(track_ids[in_seq].tolist())
    hit = set(track_ids[in_seq & found].tolist())
    return sorted(all_ids - hit)


def sequence_diagnostics(
    ground_truth: SequenceTable, predictions: SequenceTable, temporal: PassResult | None, outcome: RetrievalOutcome
) -> list[SequenceDiagnostics]:
    """Build the per-sequence breakdown.

    Args:
        ground_truth: filtered ground truth.
        predictions: filtered predictions (aligned frames).
        temporal: the HOTA-Temporal pass (None in temporal-only mode: no track lists then).
        outcome: the retrieval outcome the balanced accuracies came from.

    Returns:
        One entry per ground-truth sequence, in its order.
    """
    gt_found = np.zeros(0, dtype=bool)
    pred_found = np.zeros(0, dtype=bool)
    gt_track_ids = pred_track_ids = gt_seq = pred_seq = np.zeros(0, dtype=np.int64)
    if temporal is not None:
        gt, pred = temporal.gt, temporal.pred.subset(temporal.pred_kept)
        pairs = pair_boxes(gt.frame, gt.xy_city, pred.frame, pred.xy_city, ground_truth.num_frames)
        assoc = associate(pairs, gt.keys, pred.keys)
        hit = assoc.matched & (pairs.similarity >= FOUND_SIMILARITY)
        gt_found = np.zeros(gt.rows.size, dtype=bool)
        gt_found[pairs.gt[hit]] = True
        pred_found = np.zeros(pred.rows.size, dtype=bool)
        pred_found[pairs.pred[hit]] = True
        gt_track_ids, gt_seq = ground_truth.track_id[gt.rows], gt.seq
        pred_track_ids, pred_seq = predictions.track_id[pred.rows], pred.seq
        # A track is found if any of its boxes is.
        gt_found = _spread_over_tracks(gt.keys.track, gt_found)
        pred_found = _spread_over_tracks(pred.keys.track, pred_found)

    reports = []
    frame_offsets = ground_truth.frame_offsets
    for s, key in enumerate(ground_truth.seq_keys):
        lo, hi = int(frame_offsets[s]), int(frame_offsets[s + 1])
        scored = outcome.frame_scored[lo:hi]
        g, p = outcome.frame_gt[lo:hi] & scored, outcome.frame_pred[lo:hi] & scored
        ts = ground_truth.timestamp_ns[lo:hi]
        counts = {
            "tp": int((g & p).sum()),
            "fp": int((~g & p & scored).sum()),
            "fn": int((g & ~p).sum()),
            "tn": int((~g & ~p & scored).sum()),
        }
        reports.append(
            SequenceDiagnostics(
                log_id=key[0],
                prompt=key[1],
                gt_positive=bool(outcome.seq_gt[s]),
                pred_positive=bool(outcome.seq_pred[s]),
                timestamp_counts=counts,
                false_positive_timestamps=ts[~g & p & scored].tolist(),
                missed_timestamps=ts[g & ~p].tolist(),
                false_positive_tracks=_unmatched_track_ids(pred_track_ids, pred_seq, pred_found, s),
                missed_tracks=_unmatched_track_ids(gt_track_ids, gt_seq, gt_found, s),
            )
        )
    return reports


def _spread_over_tracks(track: NDArrayInt, found: np.ndarray) -> np.ndarray:
    if track.size == 0:
        return found
    any_found = np.zeros(int(track.max()) + 1, dtype=bool)
    any_found[track[found]] = True
    return any_found[track]


def by_log(reports: list[SequenceDiagnostics]) -> dict[str, list[SequenceDiagnostics]]:
    """Group sequence reports by log id.

    Args:
        reports: per-sequence reports.

    Returns:
        ``{log_id: [report, ...]}``.
    """
    grouped: dict[str, list[SequenceDiagnostics]] = {}
    for report in reports:
        grouped.setdefault(report.log_id, []).append(report)
    return grouped


def seq_key(report: SequenceDiagnostics) -> SeqKey:
    """The (log_id, prompt) of a report.

    Args:
        report: a sequence report.

    Returns:
        Its key.
    """
    return (report.log_id, report.prompt)
