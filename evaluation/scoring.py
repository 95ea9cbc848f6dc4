"""One scoring pass of av2's scenario-mining evaluation over already filtered tables.

av2 runs this pass twice: on the labels as given (HOTA-Temporal, and the balanced accuracies) and after
spreading REFERRED over whole tracks (HOTA-Track). Each prompt is its own class; a sequence belongs to
the class of its prompt.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

from avmine.evaluation.matching import pair_boxes
from avmine.evaluation.metrics.clear import mota_by_class
from avmine.evaluation.metrics.hota import TrackKeys, dense_track_keys, hota_by_class
from avmine.evaluation.metrics.thresholds import RECALL_LEVELS, tune_score_thresholds
from avmine.evaluation.sequences import REFERRED_OBJECT, SequenceTable
from avmine.store.typing import NDArrayBool, NDArrayFloat, NDArrayInt

ObjectiveMetric = Literal["HOTA", "MOTA"]


@dataclass(frozen=True)
class ReferredBoxes:
    """The REFERRED boxes of one side, with what the metrics need per box.

    Attributes:
        rows: (N,) indices into the side's table.
        frame: (N,) frame index.
        seq: (N,) sequence index.
        xy_city: (N, 2) centres.
        score: (N,) confidence.
        keys: dense (sequence, track_id) identities.
    """

    rows: NDArrayInt
    frame: NDArrayInt
    seq: NDArrayInt
    xy_city: NDArrayFloat
    score: NDArrayFloat
    keys: TrackKeys

    def subset(self, keep: NDArrayBool) -> "ReferredBoxes":
        """Boxes where ``keep`` holds, renumbering tracks.

        Args:
            keep: (N,) mask.

        Returns:
            The subset.
        """
        seq = self.seq[keep]
        track_id = self.keys.track[keep]
        return ReferredBoxes(
            self.rows[keep],
            self.frame[keep],
            seq,
            self.xy_city[keep],
            self.score[keep],
            dense_track_keys(seq, track_id),
        )


def referred_boxes(table: SequenceTable) -> ReferredBoxes:
    """Collect the REFERRED boxes of a table.

    Args:
        table: one side.

    Returns:
        Its referred boxes.
    """
    rows = np.flatnonzero(table.label == REFERRED_OBJECT)
    frame = table.frame_of_row[rows]
    seq = table.seq_of_frame[frame]
    return ReferredBoxes(
        rows,
        frame,
        seq,
        table.translation_city[rows, :2],
        table.score[rows],
        dense_track_keys(seq, table.track_id[rows]),
    )


def spread_referred_over_tracks(table: SequenceTable) -> SequenceTable:
    """Label every box of a track REFERRED if the track is REFERRED in any frame of its sequence.

    Args:
        table: one side, after filtering.

    Returns:
        The relabelled table (HOTA-Track's input).
    """
    keys = dense_track_keys(table.seq_of_frame[table.frame_of_row], table.track_id)
    referred = np.zeros(keys.num_tracks, dtype=bool)
    referred[keys.track[table.label == REFERRED_OBJECT]] = True
    return table.with_labels(np.where(referred[keys.track], REFERRED_OBJECT, table.label).astype(np.int64))


@dataclass(frozen=True)
class PassResult:
    """Outcome of one pass.

    Attributes:
        metric_by_threshold: (C, 10) objective value per prompt and recall level.
        best: (C,) index of the first best recall level per prompt.
        value: (C,) best value, floored at 0.
        thresholds: (C, 10) score thresholds.
        gt: referred gt boxes.
        pred: referred predicted boxes.
        pred_kept: (Q,) predictions at or above their prompt's best threshold.
    """

    metric_by_threshold: NDArrayFloat
    best: NDArrayInt
    value: NDArrayFloat
    thresholds: NDArrayFloat
    gt: ReferredBoxes
    pred: ReferredBoxes
    pred_kept: NDArrayBool

    @property
    def best_thresholds(self) -> NDArrayFloat:
        """(C,) score threshold chosen per prompt."""
        return self.thresholds[np.arange(self.best.size), self.best]


def score_pass(
    ground_truth: SequenceTable,
    predictions: SequenceTable,
    seq_class: NDArrayInt,
    num_classes: int,
    objective_metric: ObjectiveMetric,
) -> PassResult:
    """Tune thresholds per prompt and evaluate the objective at each, keeping the best.

    Args:
        ground_truth: filtered ground truth.
        predictions: filtered predictions, frames aligned with the ground truth's.
        seq_class: (S,) prompt index of each sequence.
        num_classes: C.
        objective_metric: "HOTA" or "MOTA".

    Returns:
        The pass result.
    """
    gt = referred_boxes(ground_truth)
    pred = referred_boxes(predictions)
    num_frames = ground_truth.num_frames
    gt_class, pred_class = seq_class[gt.seq], seq_class[pred.seq]
    all_pairs = pair_boxes(gt.frame, gt.xy_city, pred.frame, pred.xy_city, num_frames)
    thresholds = tune_score_thresholds(all_pairs, pred.score, pred_class, gt_class, num_classes)
    frame_seq = ground_truth.seq_of_frame
    metric = np.zeros((num_classes, RECALL_LEVELS.size))
    done: dict[bytes, NDArrayFloat] = {}
    for k in range(RECALL_LEVELS.size):
        keep = pred.score >= thresholds[pred_class, k]
        signature = np.packbits(keep).tobytes()
        if signature not in done:
            kept = pred.subset(keep)
            pairs = pair_boxes(gt.frame, gt.xy_city, kept.frame, kept.xy_city, num_frames)
            if objective_metric == "HOTA":
                done[signature] = hota_by_class(pairs, gt.keys, kept.keys, gt.seq, kept.seq, seq_class, num_classes)
            else:
                done[signature] = mota_by_class(
                    pairs, gt.keys, kept.keys, gt.seq, kept.seq, seq_class, frame_seq, num_classes
                )
        metric[:, k] = done[signature]
    best = np.argmax(metric, axis=1) if num_classes else np.zeros(0, dtype=np.int64)
    value = np.maximum(0.0, metric.max(axis=1)) if num_classes else np.zeros(0)
    best_threshold = thresholds[np.arange(num_classes), best]
    pred_kept = pred.score >= best_threshold[pred_class]
    return PassResult(metric, best.astype(np.int64), value, thresholds, gt, pred, pred_kept)
