"""End to end: avmine's predictions for the ground-truth prompts equal RefAV's, frame for frame and in score.

RefAV's own ``output_scenario`` wrote tests/data/refav_golden/refav_predictions.pkl for the programs
in make_prediction_pickles.py; avmine runs the same programs through its sandboxed executor (which
post-processes each answer, as RefAV's ``output_scenario`` does) and writes frames.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.evaluation.submission.format import sequence_frames
from avmine.evaluation.submission.from_store import log_boxes
from avmine.server.executor import Executor
from avmine.store import Store
from avmine.store.demo import DEMO_GROUND_TRUTH
from avmine.store.readers.safe_pickle import load_pickle

from .golden import run_all

GOLDEN_DIR = Path(__file__).parents[1] / "data" / "refav_golden"
REFAV_PREDICTIONS = load_pickle(GOLDEN_DIR / "refav_predictions.pkl")


def _programs() -> dict[tuple[str, str], str]:
    spec = importlib.util.spec_from_file_location("make_prediction_pickles", GOLDEN_DIR / "make_prediction_pickles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    programs: dict[tuple[str, str], str] = module.PROGRAMS
    return programs


@pytest.fixture(scope="module")
def ours(golden_executor: Executor, demo_db: Store) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """avmine's frames for every (log, prompt) of RefAV's pickle."""
    programs = _programs()
    results = run_all(golden_executor, {prompt: code for (_, prompt), code in programs.items()},
                      [(prompt, log_id, prompt) for log_id, prompt in programs])  # fmt: skip
    out = {}
    for log_id, prompt in programs:
        result = results[f"{prompt}|{log_id}"]
        assert result.status == "ok", result.error
        timestamps = [int(f["timestamp_ns"]) for f in REFAV_PREDICTIONS[(log_id, prompt)]]
        boxes = log_boxes(demo_db.load_arrays(log_id), timestamps)
        out[(log_id, prompt)] = sequence_frames(boxes, prompt, result.scenario)
    return out


def test_frames_equal_refavs(ours: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    assert set(ours) == set(REFAV_PREDICTIONS)
    for key, frames in REFAV_PREDICTIONS.items():
        assert len(ours[key]) == len(frames)
        for mine, theirs in zip(ours[key], frames, strict=True):
            assert mine["timestamp_ns"] == theirs["timestamp_ns"]
            for name in ("translation_m", "size", "yaw", "score"):
                np.testing.assert_allclose(mine[name], theirs[name], atol=1e-5, err_msg=name)
            for name in ("track_id", "label", "name"):
                np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


def test_metrics_equal_refavs_under_av2(ours: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    from av2.evaluation.scenario_mining.eval import evaluate as av2_evaluate

    ground_truth = load_pickle(DEMO_GROUND_TRUTH)
    theirs = av2_evaluate(copy.deepcopy(REFAV_PREDICTIONS), copy.deepcopy(ground_truth), "HOTA", 50, None, None)
    mine = av2_evaluate(copy.deepcopy(ours), copy.deepcopy(ground_truth), "HOTA", 50, None, None)
    np.testing.assert_allclose(mine, theirs, atol=1e-9)
    assert theirs[0] > 0.5  # the programs are good answers, so equality is not trivially 0 == 0
