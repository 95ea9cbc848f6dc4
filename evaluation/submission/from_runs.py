"""A split's submission from the runs stored in the database."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from avmine.evaluation.submission.format import Frame, sequence_frames, temporal_frames
from avmine.evaluation.submission.from_store import log_boxes
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.database import Store
from avmine.store.runs import latest_results, load_run


@dataclass
class SubmissionReport:
    """How a submission was assembled."""

    pairs: int = 0
    from_programs: int = 0
    fallback: list[tuple[str, str, str]] = field(default_factory=list)  # log, prompt, why


def split_pairs(store: Store, split: str, prompts: list[str] | None = None) -> list[tuple[str, str]]:
    """The (log, prompt) pairs a split is evaluated on: its log-prompt pairs, else every log x prompt.

    A named prompt the split does not list is paired with every log of the split.
    """
    pairs = store.query_df(
        "SELECT log_id, prompt FROM log_prompt_pairs WHERE split = ? ORDER BY log_id, prompt", [split]
    )
    logs = [
        str(log) for log in store.query_df("SELECT log_id FROM logs WHERE split = ? ORDER BY log_id", [split])["log_id"]
    ]
    if pairs.empty:
        names = store.query_df("SELECT prompt FROM prompts WHERE split = ? ORDER BY prompt", [split])["prompt"]
        found = [(log, str(p)) for log in logs for p in names]
    else:
        found = [(str(log), str(p)) for log, p in pairs.itertuples(index=False)]
    if prompts is None:
        return found
    listed = {prompt for _, prompt in found}
    found += [(log, prompt) for prompt in dict.fromkeys(prompts) if prompt not in listed for log in logs]
    return sorted(pair for pair in found if pair[1] in prompts)


def submission_from_runs(
    store: Store,
    split: str,
    source: str = ANNOTATIONS_SOURCE,
    temporal: bool = False,
    prompts: list[str] | None = None,
    runs: dict[str, str] | None = None,
) -> tuple[dict[tuple[str, str], list[Frame]], SubmissionReport]:
    """Build the submission of a split from the latest run of each prompt.

    Every (log, prompt) pair of the split gets frames: the latest run's scenario where the program
    succeeded on that log, otherwise every object labelled OTHER (and the reason is reported).
    Frames use the ground truth's timestamps where the store has them, else RefAV's 2 Hz rule.

    Args:
        store: the database.
        split: the split to submit.
        source: the track source the runs used (a tracker for the test split).
        temporal: build temporal-track frames instead of spatio-temporal ones.
        prompts: only these prompts (default: all of the split).
        runs: the run to use for each prompt (prompt -> run id). When given, only these runs are used:
            a prompt without one gets all-OTHER frames, never the results of some earlier, unrelated run.
    """
    report = SubmissionReport()
    submission: dict[tuple[str, str], list[Frame]] = {}
    results: dict[str, dict[str, Any]] = {}
    for log_id, prompt in split_pairs(store, split, prompts):
        if prompt not in results:
            if runs is None:
                results[prompt] = latest_results(store, prompt, source)
            else:
                results[prompt] = {r.log_id: r for r in load_run(store, runs[prompt])[1]} if prompt in runs else {}
        result = results[prompt].get(log_id)
        scenario = result.scenario if result is not None and result.status == "ok" else None
        if scenario is None:
            why = "no run" if result is None else f"{result.status}: {result.error}"
            report.fallback.append((log_id, prompt, why))
        else:
            report.from_programs += 1
        gt_times = store.query_df(
            "SELECT timestamp_ns FROM gt_frames WHERE log_id = ? AND prompt = ? ORDER BY timestamp_ns", [log_id, prompt]
        )["timestamp_ns"]
        boxes = log_boxes(store.load_arrays(log_id, source), np.asarray(gt_times) if len(gt_times) else None)
        frames = sequence_frames(boxes, prompt, scenario)
        submission[(log_id, prompt)] = temporal_frames(frames) if temporal else frames
        report.pairs += 1
    return submission, report
