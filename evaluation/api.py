"""``evaluate``: av2's scenario-mining evaluation (HOTA-Temporal, HOTA-Track, Timestamp BA, Log BA) in numpy."""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avmine.evaluation.diagnostics import SequenceDiagnostics, sequence_diagnostics
from avmine.evaluation.errors import EvaluationInputError
from avmine.evaluation.filters import within_range_mask, within_roi_mask
from avmine.evaluation.metrics.balanced_accuracy import RetrievalOutcome, retrieval_outcome
from avmine.evaluation.scoring import ObjectiveMetric, PassResult, score_pass, spread_referred_over_tracks
from avmine.evaluation.sequences import (
    POSITIVE_AMBIGUOUS,
    POSITIVE_TRUE,
    REFERRED_OBJECT,
    SequenceTable,
    align_to_ground_truth,
    is_tracking_submission,
    read_sequences,
)
from avmine.store.typing import NDArrayBool, NDArrayInt


@dataclass(frozen=True)
class PromptScores:
    """The four metrics of one prompt, and the score threshold chosen for it.

    Attributes:
        hota_temporal: HOTA on the referred timestamps.
        hota_track: HOTA on whole referred tracks.
        timestamp_ba: timestamp-level balanced accuracy.
        log_ba: log-level balanced accuracy.
        score_threshold: confidence threshold that maximised HOTA-Temporal (None in temporal-only mode).
        num_logs: number of logs evaluated for the prompt.
    """

    hota_temporal: float
    hota_track: float
    timestamp_ba: float
    log_ba: float
    score_threshold: float | None
    num_logs: int


@dataclass(frozen=True)
class EvaluationResult:
    """Result of :func:`evaluate`; unpacks like av2's 4-tuple.

    Attributes:
        hota_temporal: mean over prompts of HOTA-Temporal.
        hota_track: mean over prompts of HOTA-Track.
        timestamp_ba: mean over prompts of timestamp balanced accuracy.
        log_ba: mean over prompts of log balanced accuracy (av2's ``scenario_ba``).
        tracking: False when the predictions are temporal-only (HOTA values are then 0).
        objective_metric: "HOTA" or "MOTA" (with MOTA the first two values are MOTA, as in av2).
        by_prompt: per-prompt scores.
        sequences: per (log, prompt) diagnostics, in ground-truth order.
        ignored_sequences: prediction sequences absent from the ground truth (not scored).
    """

    hota_temporal: float
    hota_track: float
    timestamp_ba: float
    log_ba: float
    tracking: bool
    objective_metric: str
    by_prompt: dict[str, PromptScores] = field(default_factory=dict)
    sequences: list[SequenceDiagnostics] = field(default_factory=list)
    ignored_sequences: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[float]:
        """Yield (hota_temporal, hota_track, timestamp_ba, log_ba), the order av2 returns them in."""
        return iter(self.as_tuple())

    def as_tuple(self) -> tuple[float, float, float, float]:
        """The four metrics in av2's order.

        Returns:
            (hota_temporal, hota_track, timestamp_ba, log_ba).
        """
        return (self.hota_temporal, self.hota_track, self.timestamp_ba, self.log_ba)

    def metrics(self) -> dict[str, float]:
        """The four metrics under RefAV's names (the keys of its ``results.json``).

        Returns:
            ``{"HOTA-Temporal", "HOTA-Track", "Timestamp BA", "Log BA"}``.
        """
        return {
            "HOTA-Temporal": self.hota_temporal,
            "HOTA-Track": self.hota_track,
            "Timestamp BA": self.timestamp_ba,
            "Log BA": self.log_ba,
        }


def _prompt_index(keys: list[tuple[str, str]]) -> tuple[list[str], NDArrayInt]:
    prompts: dict[str, int] = {}
    seq_class = np.array([prompts.setdefault(prompt, len(prompts)) for _, prompt in keys], dtype=np.int64)
    return list(prompts), seq_class


def _frames_with_referred(table: SequenceTable, rows: NDArrayInt) -> NDArrayBool:
    has = np.zeros(table.num_frames, dtype=bool)
    has[table.frame_of_row[rows]] = True
    return has


def _retrieval(
    ground_truth: SequenceTable,
    predictions: SequenceTable,
    pred_referred_rows: NDArrayInt,
    seq_class: NDArrayInt,
    num_classes: int,
) -> RetrievalOutcome:
    gt_flag, pred_flag = ground_truth.is_positive, predictions.is_positive
    gt_has = _frames_with_referred(ground_truth, np.flatnonzero(ground_truth.label == REFERRED_OBJECT))
    frame_gt = np.where(gt_flag < 0, gt_has, gt_flag == POSITIVE_TRUE)
    frame_pred = (pred_flag == POSITIVE_TRUE) | _frames_with_referred(predictions, pred_referred_rows)
    return retrieval_outcome(
        frame_gt, gt_flag == POSITIVE_AMBIGUOUS, frame_pred, ground_truth.seq_of_frame, seq_class, num_classes
    )


def evaluate(
    predictions: Mapping[Any, Any],
    ground_truth: Mapping[Any, Any],
    objective_metric: str = "HOTA",
    max_range_m: float = 50,
    dataset_dir: str | Path | None = None,
    out: str | Path | None = None,
) -> EvaluationResult:
    """Score scenario-mining predictions exactly as ``av2.evaluation.scenario_mining.eval.evaluate`` does.

    Inputs are never modified. Differences from av2 are limited to bad input, which raises instead of
    crashing later or scoring silently wrong: prediction frames must have the ground truth's timestamps,
    sequence keys must be real (log_id, prompt) pairs, arrays must be finite and consistent.

    Args:
        predictions: ``{(log_id, prompt): [frame, ...]}``, spatio-temporal or temporal-only frames.
        ground_truth: the same shape, with labels (and optionally ``is_positive``).
        objective_metric: "HOTA" (default) or "MOTA": what the per-prompt score threshold is tuned for.
        max_range_m: boxes further than this (xy, from the frame's ego position) are ignored.
        dataset_dir: split directory holding ``<log_id>/map``; when given, boxes with no corner in the
            road region of interest are ignored too.
        out: if given, a directory to write ``temporal_metrics.json`` and ``spatiotemporal_metrics.json``
            as av2 does (confusion-matrix PNGs are not drawn).

    Returns:
        The four metrics (unpackable as av2's tuple), per-prompt scores and per-sequence diagnostics.

    Raises:
        EvaluationInputError: for malformed or mismatched input; the message names the entry.
    """
    if objective_metric not in ("HOTA", "MOTA"):
        raise EvaluationInputError(f"objective_metric {objective_metric!r} is not supported; use 'HOTA' or 'MOTA'")
    objective: ObjectiveMetric = "HOTA" if objective_metric == "HOTA" else "MOTA"
    if not isinstance(predictions, Mapping):
        raise EvaluationInputError(
            f"predictions: expected a dict {{(log_id, prompt): [frame, ...]}}, got {type(predictions).__name__}"
        )
    tracking = is_tracking_submission(predictions)
    gt_table = read_sequences(ground_truth, "ground truth", tracking=tracking, require_score=False)
    pred_all = read_sequences(predictions, "predictions", tracking=tracking, require_score=tracking)
    pred_table = align_to_ground_truth(pred_all, gt_table)
    gt_keys = set(gt_table.seq_keys)
    ignored = [key for key in pred_all.seq_keys if key not in gt_keys]
    prompts, seq_class = _prompt_index(gt_table.seq_keys)
    num_classes = len(prompts)

    temporal: PassResult | None = None
    if tracking:
        gt_keep, pred_keep = within_range_mask(gt_table, max_range_m), within_range_mask(pred_table, max_range_m)
        if dataset_dir is not None:
            gt_keep &= within_roi_mask(gt_table, dataset_dir)
            pred_keep &= within_roi_mask(pred_table, dataset_dir)
        gt_table, pred_table = gt_table.select_rows(gt_keep), pred_table.select_rows(pred_keep)
        temporal = score_pass(gt_table, pred_table, seq_class, num_classes, objective)
        track = score_pass(
            spread_referred_over_tracks(gt_table),
            spread_referred_over_tracks(pred_table),
            seq_class,
            num_classes,
            objective,
        )
        kept_rows = temporal.pred.rows[temporal.pred_kept]
        hota_temporal, hota_track = temporal.value, track.value
        thresholds: list[float | None] = [float(t) for t in temporal.best_thresholds]
    else:
        kept_rows = np.flatnonzero(pred_table.label == REFERRED_OBJECT)
        hota_temporal = hota_track = np.zeros(num_classes)
        thresholds = [None] * num_classes
    outcome = _retrieval(gt_table, pred_table, kept_rows, seq_class, num_classes)
    timestamp_ba, log_ba = outcome.timestamp.balanced_accuracy(), outcome.log.balanced_accuracy()

    logs_per_prompt = np.bincount(seq_class, minlength=num_classes)
    by_prompt = {
        prompt: PromptScores(
            float(hota_temporal[c]),
            float(hota_track[c]),
            float(timestamp_ba[c]),
            float(log_ba[c]),
            thresholds[c],
            int(logs_per_prompt[c]),
        )
        for c, prompt in enumerate(prompts)
    }
    result = EvaluationResult(
        hota_temporal=float(np.mean(hota_temporal)) if tracking else 0.0,
        hota_track=float(np.mean(hota_track)) if tracking else 0.0,
        timestamp_ba=float(np.mean(timestamp_ba)),
        log_ba=float(np.mean(log_ba)),
        tracking=tracking,
        objective_metric=objective,
        by_prompt=by_prompt,
        sequences=sequence_diagnostics(gt_table, pred_table, temporal, outcome),
        ignored_sequences=ignored,
    )
    if out:
        write_metric_files(result, Path(out))
    return result


def write_metric_files(result: EvaluationResult, out_dir: Path) -> None:
    """Write av2's metric JSON files (same names and keys) into ``out_dir``.

    Args:
        result: an evaluation result.
        out_dir: directory, created if needed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    temporal = {
        "timestamp_balanced_accuracy_class_avg": result.timestamp_ba,
        "scenario_balanced_accuracy_class_avg": result.log_ba,
        "timestamp_balanced_accuracy_by_class": {p: s.timestamp_ba for p, s in result.by_prompt.items()},
        "scenario_balanced_accuracy_by_class": {p: s.log_ba for p, s in result.by_prompt.items()},
    }
    (out_dir / "temporal_metrics.json").write_text(json.dumps(temporal, indent=4))
    if result.tracking:
        spatiotemporal = {
            "hota_temporal_class_avg": result.hota_temporal,
            "hota_track_class_avg": result.hota_track,
            "hota_temporal_by_class": {p: s.hota_temporal for p, s in result.by_prompt.items()},
            "hota_track_by_class": {p: s.hota_track for p, s in result.by_prompt.items()},
        }
        (out_dir / "spatiotemporal_metrics.json").write_text(json.dumps(spatiotemporal, indent=4))
