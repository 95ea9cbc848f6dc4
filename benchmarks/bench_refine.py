"""Trajectory refinement measured with av2's own evaluations: raw vs refined tracker boxes, two noise models.

Tracker-like sources are made from the demo logs' annotations by two independent noise models:
the project's own (``avmine.evaluation.noise``: jitter, heading flips, dropped boxes, fragments, identity
swaps, then lag, scores and clutter tracks; the refinement's defaults were chosen on it) and a second
one the refinement was not tuned on (``avmine.evaluation.occlusion_noise``: drifting bias, heavy-tailed
heading noise and lasting flips, occlusion gaps, new ids after gaps, id switches at crossings,
category confusion, doubled detections, drifting clutter, per-track lag). Each is ingested as a track
source and refined with ``avmine refine``'s defaults (IMM smoother) and with the constant-velocity
smoother instead.

Tracking: all of them against the annotations with ``av2.evaluation.tracking.eval.evaluate_tracking``
(TrackEval's HOTA and CLEAR; matching within 2 m of the centre, as av2 does).

Downstream: the demo's two ground-truth prompts run in the sandbox on every source (the stopped-car program
of ``store/demo_data/programs.py``, and for the bicycle prompt a program that refers the bicycles as its
fixture's labels do, not the demo's, which follows RefAV's convention and refers the vehicles: refinement
is measured on what the labels reward), scored against RefAV's ground truth with the challenge metrics
(``evaluation.evaluate``: HOTA-Temporal, HOTA-Track, timestamp and log balanced accuracy).

Seconds per log: the refinement steps alone (wall clock), then with reading and writing the source (wall
clock and CPU time of this process: on a shared machine the CPU time is the steadier measure).

    python benchmarks/bench_refine.py [--seeds 0 1 2] [--noise 0 1] [--no-downstream] [--leave-one-out]
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from avmine.evaluation.api import evaluate
from avmine.evaluation.ground_truth_from_store import ground_truth_frames, ground_truth_pairs
from avmine.evaluation.noise import NoiseModel, TrackerOutputModel, apply_noise, tracking_frames
from avmine.evaluation.occlusion_noise import OcclusionNoise, occlusion_tracking_frames
from avmine.evaluation.submission.from_runs import submission_from_runs
from avmine.evaluation.tracking_eval import METRICS, sequence, tracking_metrics
from avmine.server.executor import Executor, LogSelection
from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.arrays import LogArrays
from avmine.store.demo import DEMO_SPLIT, demo_programs, ingest_demo
from avmine.store.prefilter import PrefilterConfig
from avmine.store.refine import STEPS, RefineParams, refine

NOISE: dict[str, Callable[[LogArrays, int], list[dict[str, Any]]]] = {
    "project's noise model": lambda clean, seed: tracking_frames(
        apply_noise(clean, NoiseModel(seed=seed)), TrackerOutputModel(seed=seed)
    ),
    "second noise model (not tuned on)": lambda clean, seed: occlusion_tracking_frames(
        clean, OcclusionNoise(seed=seed)
    ),
}
VARIANTS = {"refined (IMM)": RefineParams(), "refined (CV)": RefineParams(smoother="cv")}
DOWNSTREAM = ("HOTA-Temporal", "HOTA-Track", "Timestamp BA", "Log BA")
GT_PROMPTS = list(demo_programs())[:2]  # the demo's programs for its ground-truth prompts come first
FIXTURE_PROGRAMS = {
    "vehicle with a bicycle to its right": """
vehicles = get_objects_of_category(log_dir, category='VEHICLE')
bicycles = get_objects_of_category(log_dir, category='BICYCLE')
found = get_objects_in_relative_direction(vehicles, bicycles, log_dir, direction='right', within_distance=10)
output_scenario(found, description, log_dir, output_dir)
"""
}
"""Programs that refer what the demo's ground truth labels where it deviates from RefAV's convention."""


def downstream(store: Store, source: str, logs: list[str]) -> dict[str, dict[str, float]]:
    """The ground-truth prompts' programs on ``source``, scored per prompt with the challenge metrics."""
    prepare_logs(store, [(source, log_id) for log_id in logs], progress=False)
    scores: dict[str, dict[str, float]] = {}
    with Executor(store) as executor:
        for prompt in GT_PROMPTS:
            program = FIXTURE_PROGRAMS.get(prompt) or demo_programs()[prompt]
            run = executor.run(program, prompt, LogSelection(logs=tuple(logs)), source=source)
            executor.flush()
            submission, _ = submission_from_runs(store, DEMO_SPLIT, source, prompts=[prompt], runs={prompt: run.run_id})
            truth = {key: ground_truth_frames(store, *key) for key in submission}
            result = evaluate(submission, truth, "HOTA", 50).by_prompt[prompt]
            scores[prompt] = dict(zip(DOWNSTREAM, (result.hota_temporal, result.hota_track, result.timestamp_ba,
                                                  result.log_ba), strict=True))  # fmt: skip
    return scores


def run(store: Store, work: Path, noise: str, seed: int, with_downstream: bool) -> dict[str, Any]:
    """Raw and refined sources of one noise model and seed: tracking metrics, downstream scores, seconds."""
    logs = [str(r[0]) for r in store.con.execute(
        "SELECT log_id FROM track_sources WHERE source = 'annotations' ORDER BY 1").fetchall()]  # fmt: skip
    data = {log_id: NOISE[noise](store.load_arrays(log_id), seed) for log_id in logs}
    raw = f"noise{list(NOISE).index(noise)}-seed{seed}"
    path = work / f"{raw}_tracks.pkl"
    path.write_bytes(pickle.dumps(data))
    ingest(store, path, source=raw, prefilter=PrefilterConfig.off(), progress=False)
    sources = {"raw": raw}
    seconds: dict[str, tuple[list[float], float, float]] = {}
    for name, params in VARIANTS.items():
        started, cpu = time.perf_counter(), time.process_time()
        report = refine(store, raw, f"{raw}-{params.smoother}", params=params, progress=False)
        total, cpu = (time.perf_counter() - started) / len(logs), (time.process_time() - cpu) / len(logs)
        seconds[name] = ([sum(c.seconds.values()) for c in report.logs.values()], total, cpu)
        sources[name] = report.out
    labels: dict[str, list[dict[str, Any]]] = {}
    predictions: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in sources}
    for log_id in logs:
        truth = store.load_arrays(log_id)
        timestamps = np.asarray(truth.timestamps_ns)
        labels[log_id] = sequence(truth, timestamps)
        for name, source in sources.items():
            predictions[name][log_id] = sequence(store.load_arrays(log_id, source), timestamps)
    tracking = {name: tracking_metrics(labels, predicted) for name, predicted in predictions.items()}
    gt_logs = sorted({log for prompt in GT_PROMPTS for log in ground_truth_pairs(store, prompt)})
    mined = {name: downstream(store, source, gt_logs) for name, source in sources.items()} if with_downstream else {}
    return {"tracking": tracking, "downstream": mined, "seconds": seconds}


def leave_one_out(store: Store, work: Path, noise: str, seed: int) -> None:
    """Downstream scores of the refinement with each step left out in turn (which step moves which score)."""
    logs = sorted({log for prompt in GT_PROMPTS for log in ground_truth_pairs(store, prompt)})
    raw = f"ablation-noise{list(NOISE).index(noise)}-seed{seed}"
    path = work / f"{raw}_tracks.pkl"
    path.write_bytes(pickle.dumps({log_id: NOISE[noise](store.load_arrays(log_id), seed) for log_id in logs}))
    ingest(store, path, source=raw, prefilter=PrefilterConfig.off(), progress=False)
    print(f"\n{noise}, seed {seed}: each refinement step left out in turn (challenge metrics)\n")
    print("| left out | prompt | " + " | ".join(DOWNSTREAM) + " |\n" + "|---" * (len(DOWNSTREAM) + 2) + "|")
    for left_out in ("(raw)", "(none)", *STEPS):
        source = raw
        if left_out != "(raw)":
            steps = [step for step in STEPS if step != left_out]
            source = refine(store, raw, f"{raw}-without-{left_out.strip('()')}", steps, progress=False).out
        for prompt, values in downstream(store, source, logs).items():
            print(f"| {left_out} | {prompt} | " + " | ".join(f"{values[m]:.3f}" for m in DOWNSTREAM) + " |")


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def report(noise: str, seeds: list[int], results: list[dict[str, Any]], clean: dict[str, dict[str, float]]) -> None:
    """Print one noise model's tables (means over seeds)."""
    names = ["raw", *VARIANTS]
    print(f"\n### {noise}: av2 tracking evaluation, 4 demo logs, seeds {seeds} (mean over seeds)\n")
    print("| metric | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|")
    for metric, _ in METRICS:
        values = [_mean([r["tracking"][name][metric] for r in results]) for name in names]
        if metric in ("IDSW", "Frag"):
            cells = [f"{values[0]:.0f}"] + [f"{v:.0f} ({100 * (v - values[0]) / max(values[0], 1e-9):+.0f} %)"
                                            for v in values[1:]]  # fmt: skip
        else:
            cells = [f"{100 * values[0]:.1f}"] + [f"{100 * v:.1f} ({100 * (v - values[0]):+.1f})" for v in values[1:]]
        print(f"| {metric} | " + " | ".join(cells) + " |")
    for name in VARIANTS:
        steps = [s for r in results for s in r["seconds"][name][0]]
        totals = [r["seconds"][name][1] for r in results]
        cpu = [r["seconds"][name][2] for r in results]
        print(f"\n{name}: seconds per log, refinement steps {np.mean(steps):.2f} (max {np.max(steps):.2f}); "
              f"with reading and writing the source {np.mean(totals):.2f} ({np.mean(cpu):.2f} s of CPU)")  # fmt: skip
    if not results[0]["downstream"]:
        return
    print(f"\n{noise}: the demo's ground-truth prompts mined on each source (challenge metrics, mean over seeds)\n")
    print("| prompt | metric | annotations | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 3) + "|")
    for prompt in GT_PROMPTS:
        for metric in DOWNSTREAM:
            values = [_mean([r["downstream"][name][prompt][metric] for r in results]) for name in names]
            print(f"| {prompt} | {metric} | {clean[prompt][metric]:.3f} | " + " | ".join(f"{v:.3f}" for v in values)
                  + " |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--noise", choices=range(len(NOISE)), type=int, nargs="+", default=list(range(len(NOISE))))
    parser.add_argument("--no-downstream", action="store_true", help="tracking metrics only")
    parser.add_argument("--leave-one-out", action="store_true", help="downstream scores with each step left out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        ingest_demo(store, progress=False)
        if args.leave_one_out:
            for index in args.noise:
                for seed in args.seeds:
                    leave_one_out(store, Path(tmp), list(NOISE)[index], seed)
            return
        gt_logs = sorted({log for prompt in GT_PROMPTS for log in ground_truth_pairs(store, prompt)})
        clean = {} if args.no_downstream else downstream(store, "annotations", gt_logs)
        for index in args.noise:
            noise = list(NOISE)[index]
            results = [run(store, Path(tmp), noise, seed, not args.no_downstream) for seed in args.seeds]
            report(noise, args.seeds, results, clean)


if __name__ == "__main__":
    main()
