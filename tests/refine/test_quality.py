"""Refined tracker boxes score better than raw ones with av2's own tracking evaluation (one demo log)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np

from evaluation.noise import NoiseModel, TrackerOutputModel, apply_noise, tracking_frames
from evaluation.tracking_eval import sequence, tracking_metrics
from store import Store, ingest
from store.demo import SENSOR_DIR
from store.prefilter import PrefilterConfig
from store.refine import refine
from tests.store.conftest import SENSOR_LOG


def test_refinement_meets_the_targets_on_a_noisy_tracker_like_source(tmp_path: Path) -> None:
    log = tmp_path / "val" / SENSOR_LOG
    shutil.copytree(SENSOR_DIR / SENSOR_LOG, log)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest(store, log, split="val", progress=False)
        truth = store.load_arrays(SENSOR_LOG)
        frames = tracking_frames(apply_noise(truth, NoiseModel(seed=7)), TrackerOutputModel(seed=7))
        (tmp_path / "noisy_tracks.pkl").write_bytes(pickle.dumps({SENSOR_LOG: frames}))
        ingest(store, tmp_path / "noisy_tracks.pkl", source="noisy", prefilter=PrefilterConfig.off(), progress=False)
        report = refine(store, "noisy", progress=False)
        timestamps = np.asarray(truth.timestamps_ns)
        labels = {SENSOR_LOG: sequence(truth, timestamps)}
        raw = tracking_metrics(labels, {SENSOR_LOG: sequence(store.load_arrays(SENSOR_LOG, "noisy"), timestamps)})
        refined = tracking_metrics(
            labels, {SENSOR_LOG: sequence(store.load_arrays(SENSOR_LOG, "noisy-refined"), timestamps)}
        )
    assert refined["HOTA"] >= raw["HOTA"] + 0.05, (raw, refined)
    assert refined["IDSW"] <= 0.6 * raw["IDSW"], (raw, refined)
    assert refined["DetRe"] >= raw["DetRe"] - 0.01, (raw, refined)
    assert report.seconds_per_log < 1.0
