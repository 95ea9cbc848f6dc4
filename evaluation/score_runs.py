"""Scoring a stored run against the ground truth the store holds for its prompt."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from avmine.evaluation.api import evaluate
from avmine.evaluation.ground_truth_from_store import ground_truth_frames, ground_truth_pairs
from avmine.evaluation.submission.format import sequence_frames
from avmine.evaluation.submission.from_store import log_boxes
from avmine.store.database import Store
from avmine.store.errors import StoreError
from avmine.store.runs import load_run

HIDDEN_SPLITS = ("test",)
"""Splits whose ground truth is never scored against (a challenge's hidden labels)."""
CLUSTER_MIN_RUNS = 2
"""Fewer runs are scored here even on a cluster: shipping one run's inputs costs this process about what
computing its metrics does, and a task adds a round trip (``benchmarks/bench_ray.py --scoring``)."""


class ScoringRefusedError(StoreError):
    """The run cannot be scored: its prompt has no usable ground truth."""


@dataclass
class RunScore:
    """A run's challenge metrics over every ground-truth log of its prompt, negatives included."""

    run_id: str
    prompt: str
    metrics: dict[str, float]
    per_log: list[dict[str, Any]]
    not_run: list[str] = field(default_factory=list)
    """Ground-truth logs the run did not cover: scored as finding nothing there."""


def labelled_logs(store: Store, prompt: str) -> list[str]:
    """The ground-truth logs ``prompt`` may be scored on (negatives included).

    Raises:
        ScoringRefusedError: no ground truth for the prompt, or only in a hidden split.
    """
    logs = ground_truth_pairs(store, prompt)
    if not logs:
        raise ScoringRefusedError(
            f"no ground truth for the prompt {prompt!r}: scoring works on prompts of a split with labels "
            "(train or val), with the prompt's text exactly as ingested; judge other runs with execute_scenario's "
            "diagnostics, inspect_track and render_bev."
        )
    splits = {str(r[0]) for r in store.con.execute(
        "SELECT DISTINCT split FROM log_prompt_pairs WHERE prompt = ?", [prompt]).fetchall()}  # fmt: skip
    if splits & set(HIDDEN_SPLITS):
        raise ScoringRefusedError(
            f"the prompt {prompt!r} belongs to a hidden split ({', '.join(sorted(splits))}), whose labels are never "
            "scored; judge its runs with execute_scenario's diagnostics, inspect_track and render_bev."
        )
    return logs


@dataclass
class ScoringInputs:
    """What scoring one run needs, read by the process that holds the database (picklable, no store)."""

    run_id: str
    prompt: str
    predictions: dict[tuple[str, str], list[dict[str, Any]]]
    truth: dict[tuple[str, str], list[dict[str, Any]]]
    not_run: list[str]


def scoring_inputs(store: Store, run_id: str, logs: Sequence[str] | None = None) -> ScoringInputs:
    """Read a run's predictions and its prompt's ground truth (on ``logs``, default all) from the store.

    Raises:
        ScoringRefusedError: no ground truth for the prompt, only in a hidden split, or not on ``logs``.
        StoreError: no such run.
    """
    record, results = load_run(store, run_id)
    prompt, source = str(record["prompt"]), str(record["source"])
    every = labelled_logs(store, prompt)
    if logs is not None:
        chosen = set(logs)
        if not chosen or not chosen <= set(every):
            raise ScoringRefusedError(f"the prompt {prompt!r} has no ground truth on some of the logs asked for.")
        every = [log for log in every if log in chosen]
    by_log = {r.log_id: r for r in results}
    truth, predictions = {}, {}
    for log_id in every:
        frames = ground_truth_frames(store, log_id, prompt)
        result = by_log.get(log_id)
        scenario = result.scenario if result is not None and result.status == "ok" else None
        boxes = log_boxes(store.load_arrays(log_id, source), [int(f["timestamp_ns"]) for f in frames])
        truth[(log_id, prompt)] = frames
        predictions[(log_id, prompt)] = sequence_frames(boxes, prompt, scenario)
    return ScoringInputs(run_id, prompt, predictions, truth, [log for log in every if log not in by_log])


def score_inputs(inputs: ScoringInputs, reveal: bool = False) -> RunScore:
    """Score what ``scoring_inputs`` read (any process: it needs no store); ``reveal`` as in ``score_stored_run``."""
    scores = evaluate(inputs.predictions, inputs.truth, "HOTA", 50)
    per_log = []
    for sequence in scores.sequences:
        row: dict[str, Any] = {
            "log_id": sequence.log_id,
            "gt_positive": sequence.gt_positive,
            "pred_positive": sequence.pred_positive,
            "timestamps": sequence.timestamp_counts,
        }
        if reveal:
            row.update(
                false_positive_tracks=sequence.false_positive_tracks,
                missed_tracks=sequence.missed_tracks,
                false_positive_timestamps=sequence.false_positive_timestamps,
                missed_timestamps=sequence.missed_timestamps,
            )
        per_log.append(row)
    return RunScore(inputs.run_id, inputs.prompt, scores.metrics(), per_log, inputs.not_run)


def score_stored_run(store: Store, run_id: str, reveal: bool = False, logs: Sequence[str] | None = None) -> RunScore:
    """Score a run; with ``reveal`` the per-log rows also list false-positive and missed tracks and timestamps.

    ``logs`` limits the scoring to those of the prompt's ground-truth logs (default: all of them).

    Raises:
        ScoringRefusedError: no ground truth for the prompt, only in a hidden split, or not on ``logs``.
        StoreError: no such run.
    """
    return score_stored_runs(store, [run_id], reveal, None if logs is None else [logs])[0]


def score_stored_runs(
    store: Store, run_ids: Sequence[str], reveal: bool = False, logs: Sequence[Sequence[str] | None] | None = None
) -> list[RunScore]:
    """Score many runs (``logs``: each run's logs, as in ``score_stored_run``), in ``run_ids``' order.

    This process reads every input from the store; with a Ray cluster chosen (``--ray``) the metrics of
    several runs are computed on its nodes, one task per run, else here. The scores are the same.

    Raises:
        ScoringRefusedError: as ``score_stored_run``, for the first run that cannot be scored.
        StoreError: no such run.
    """
    from avmine.server.executor.cluster import selected_backend  # imports nothing of Ray without a cluster

    inputs = [scoring_inputs(store, run_id, None if logs is None else logs[i]) for i, run_id in enumerate(run_ids)]
    backend = selected_backend()
    if backend is not None and len(inputs) >= CLUSTER_MIN_RUNS:
        return backend.score(inputs, reveal)
    return [score_inputs(one, reveal) for one in inputs]
