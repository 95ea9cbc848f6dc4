"""Trajectory refinement measured with av2's own tracking evaluation: raw vs refined tracker boxes.

Tracker-like sources are made from the demo logs' annotations by the project's noise model
(``evaluation.noise``: jitter, heading flips, dropped boxes, fragments, identity swaps, then lag,
scores and clutter tracks), ingested as a track source, refined with ``avmine refine``'s defaults,
and both are scored against the annotations with ``av2.evaluation.tracking.eval.evaluate_tracking``
(TrackEval's HOTA and CLEAR; matching within 2 m of the centre, as av2 does). Seconds per log are the
refinement steps alone, then with reading and writing the source.

    python benchmarks/bench_refine.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.noise import NoiseModel, TrackerOutputModel, apply_noise, tracking_frames
from evaluation.tracking_eval import METRICS, sequence, tracking_metrics
from store import Store, ingest
from store.demo import ingest_demo
from store.prefilter import PrefilterConfig
from store.refine import refine


def run(seed: int, store: Store, work: Path) -> tuple[dict[str, float], dict[str, float], list[float], list[float]]:
    logs = [str(r[0]) for r in store.con.execute(
        "SELECT log_id FROM track_sources WHERE source = 'annotations' ORDER BY 1").fetchall()]  # fmt: skip
    data = {}
    for log_id in logs:
        clean = store.load_arrays(log_id)
        noisy = apply_noise(clean, NoiseModel(seed=seed))
        data[log_id] = tracking_frames(noisy, TrackerOutputModel(seed=seed))
    path = work / f"noisy{seed}_tracks.pkl"
    path.write_bytes(pickle.dumps(data))
    raw, refined = f"noisy{seed}", f"noisy{seed}-refined"
    ingest(store, path, source=raw, prefilter=PrefilterConfig.off(), progress=False)
    started = time.perf_counter()
    report = refine(store, raw, refined, progress=False)
    total = (time.perf_counter() - started) / len(logs)
    steps = [sum(c.seconds.values()) for c in report.logs.values()]
    labels, before, after = {}, {}, {}
    for log_id in logs:
        truth = store.load_arrays(log_id)
        timestamps = np.asarray(truth.timestamps_ns)
        labels[log_id] = sequence(truth, timestamps)
        before[log_id] = sequence(store.load_arrays(log_id, raw), timestamps)
        after[log_id] = sequence(store.load_arrays(log_id, refined), timestamps)
    return tracking_metrics(labels, before), tracking_metrics(labels, after), steps, [total]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        ingest_demo(store, progress=False)
        rows: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in METRICS}
        steps: list[float] = []
        totals: list[float] = []
        for seed in args.seeds:
            raw, refined, step_s, total_s = run(seed, store, Path(tmp))
            for name, _ in METRICS:
                rows[name].append((raw[name], refined[name]))
            steps += step_s
            totals += total_s
    print(f"av2 tracking evaluation, 4 demo logs, noise seeds {args.seeds} (mean over seeds)")
    print("| metric | raw | refined | change |\n|---|---|---|---|")
    for name, pairs in rows.items():
        raw_mean, refined_mean = np.mean([p[0] for p in pairs]), np.mean([p[1] for p in pairs])
        if name in ("IDSW", "Frag"):
            change = f"{100 * (refined_mean - raw_mean) / max(raw_mean, 1e-9):+.0f} %"
            print(f"| {name} | {raw_mean:.0f} | {refined_mean:.0f} | {change} |")
        else:
            print(
                f"| {name} | {100 * raw_mean:.1f} | {100 * refined_mean:.1f} | {100 * (refined_mean - raw_mean):+.1f} |"
            )
    print(f"seconds per log: refinement steps {np.mean(steps):.3f} (max {np.max(steps):.3f}); "
          f"with reading and writing the source {np.mean(totals):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
