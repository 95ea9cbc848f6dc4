"""Refined tracker boxes score better than raw ones with av2's own tracking evaluation (one demo log).

Two noise models make the tracker-like sources: the project's (``avmine.evaluation.noise``) and a second one
the refinement was not tuned on (``avmine.evaluation.occlusion_noise``).
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.evaluation.noise import NoiseModel, TrackerOutputModel, apply_noise, tracking_frames
from avmine.evaluation.occlusion_noise import OcclusionNoise, occlusion_tracking_frames
from avmine.evaluation.tracking_eval import sequence, tracking_metrics
from avmine.store import Store, ingest
from avmine.store.arrays import LogArrays
from avmine.store.demo import SENSOR_DIR
from avmine.store.prefilter import PrefilterConfig
from avmine.store.refine import refine
from tests.store.conftest import SENSOR_LOG


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("quality")
    log = tmp_path / "val" / SENSOR_LOG
    shutil.copytree(SENSOR_DIR / SENSOR_LOG, log)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest(store, log, split="val", progress=False)
    return tmp_path / "db.duckdb"


def _scores(
    store: Store, name: str, frames: list[dict[str, Any]], work: Path
) -> tuple[dict[str, float], dict[str, float]]:
    truth = store.load_arrays(SENSOR_LOG)
    (work / f"{name}_tracks.pkl").write_bytes(pickle.dumps({SENSOR_LOG: frames}))
    ingest(store, work / f"{name}_tracks.pkl", source=name, prefilter=PrefilterConfig.off(), progress=False)
    refine(store, name, progress=False)
    timestamps = np.asarray(truth.timestamps_ns)
    labels = {SENSOR_LOG: sequence(truth, timestamps)}
    raw = tracking_metrics(labels, {SENSOR_LOG: sequence(store.load_arrays(SENSOR_LOG, name), timestamps)})
    refined = tracking_metrics(
        labels, {SENSOR_LOG: sequence(store.load_arrays(SENSOR_LOG, f"{name}-refined"), timestamps)}
    )
    return raw, refined


def test_refinement_meets_the_targets_on_a_noisy_tracker_like_source(database: Path) -> None:
    with Store.open(database) as store:
        truth = store.load_arrays(SENSOR_LOG)
        frames = tracking_frames(apply_noise(truth, NoiseModel(seed=7)), TrackerOutputModel(seed=7))
        raw, refined = _scores(store, "noisy", frames, database.parent)
    assert refined["HOTA"] >= raw["HOTA"] + 0.05, (raw, refined)
    assert refined["IDSW"] <= 0.6 * raw["IDSW"], (raw, refined)
    assert refined["DetRe"] >= raw["DetRe"] - 0.01, (raw, refined)


def _summary(arrays: LogArrays, frames: list[dict[str, Any]]) -> dict[str, float]:
    ids = np.concatenate([f["track_id"] for f in frames])
    return {"boxes": len(ids), "ids": len(np.unique(ids)), "clean_boxes": len(arrays.row_track),
            "clean_tracks": arrays.num_tracks}  # fmt: skip


def test_the_second_noise_model_breaks_tracks_at_occlusions_and_adds_false_boxes(database: Path) -> None:
    with Store.open(database, read_only=True) as store:
        clean = store.load_arrays(SENSOR_LOG)
    frames = occlusion_tracking_frames(clean, OcclusionNoise(seed=3))
    again = occlusion_tracking_frames(clean, OcclusionNoise(seed=3))
    other = occlusion_tracking_frames(clean, OcclusionNoise(seed=4))
    assert all(np.array_equal(a["translation_m"], b["translation_m"]) for a, b in zip(frames, again, strict=True))
    assert not all(np.array_equal(a["translation_m"], b["translation_m"]) for a, b in zip(frames, other, strict=True))
    summary = _summary(clean, frames)
    assert summary["ids"] > 2 * summary["clean_tracks"], summary  # new ids after gaps, doubles, clutter
    assert 0.75 * summary["clean_boxes"] < summary["boxes"] < summary["clean_boxes"], summary  # occlusions
    # occlusions are runs of missed frames, not single dropped boxes: some ids resume after a gap of 0.3 s or more
    times: dict[int, list[int]] = {}
    for frame in frames:
        for track_id in frame["track_id"].tolist():
            times.setdefault(track_id, []).append(frame["timestamp_ns"])
    gaps = [np.diff(t).max() / 1e9 for t in times.values() if len(t) > 1]
    assert max(gaps) >= 0.3
    scores = np.concatenate([f["score"] for f in frames])
    assert scores.min() > 0.0 and scores.max() < 1.0
