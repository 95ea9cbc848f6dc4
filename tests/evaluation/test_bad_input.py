"""Bad input raises EvaluationInputError naming the entry, never a silent score."""

import argparse
import copy
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.evaluation import EvaluationInputError, evaluate
from avmine.evaluation.synthetic import CaseConfig, make_case


@pytest.fixture
def case() -> tuple[dict[Any, Any], dict[Any, Any]]:
    return make_case(11, CaseConfig(num_logs=2, num_tracks=4, num_false_tracks=0, p_drop=0.0, p_empty_prediction=0.0))


def _first(seqs: dict[Any, Any]) -> tuple[Any, list[dict[str, Any]]]:
    key = next(iter(seqs))
    return key, seqs[key]


def test_missing_key(case) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    del frames[2]["score"]
    with pytest.raises(EvaluationInputError, match=r"frame 2, timestamp_ns=\d+, key 'score': missing key"):
        evaluate(predictions, gt)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_value(case, bad: float) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    frames[1]["translation_m"][0, 1] = bad
    with pytest.raises(EvaluationInputError, match=r"frame 1.*key 'translation_m': has a non-finite value"):
        evaluate(predictions, gt)


def test_duplicate_track_id_in_frame(case) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    frame = next(f for f in frames if len(f["track_id"]) >= 2)
    frame["track_id"][1] = frame["track_id"][0]
    with pytest.raises(EvaluationInputError, match=r"key 'track_id': track id\(s\) \[\d+\] occur more than once"):
        evaluate(predictions, gt)


def test_unsorted_timestamps(case) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    frames[0], frames[1] = frames[1], frames[0]
    with pytest.raises(EvaluationInputError, match=r"frame 1.*is earlier than the previous frame's"):
        evaluate(predictions, gt)


def test_timestamps_differ_from_ground_truth(case) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    frames[-1]["timestamp_ns"] += 1
    with pytest.raises(EvaluationInputError, match=r"frame \d+: timestamp_ns=\d+ but the ground truth's frame"):
        evaluate(predictions, gt)


def test_mismatched_prompt(case) -> None:
    predictions, gt = copy.deepcopy(case)
    key = next(iter(predictions))
    predictions[(key[0], key[1] + " (typo)")] = predictions.pop(key)
    with pytest.raises(EvaluationInputError, match=r"ground-truth sequence\(s\) missing"):
        evaluate(predictions, gt)


def test_numpy_string_key(case) -> None:
    predictions, gt = copy.deepcopy(case)
    key = next(iter(predictions))
    predictions[(np.str_(key[0]), np.str_(key[1]))] = predictions.pop(key)
    with pytest.raises(EvaluationInputError, match=r"members of type \(str_, str_\)"):
        evaluate(predictions, gt)


def test_ndarray_ego_translation(case) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    frames[0]["ego_translation_m"] = np.asarray(frames[0]["ego_translation_m"])
    with pytest.raises(EvaluationInputError, match=r"key 'ego_translation_m': is a numpy array"):
        evaluate(predictions, gt)


def test_wrong_shape(case) -> None:
    predictions, gt = copy.deepcopy(case)
    _, frames = _first(predictions)
    frames[0]["size"] = frames[0]["size"][:, :2]
    with pytest.raises(EvaluationInputError, match=r"key 'size': has shape \(\d+, 2\), expected \(\d+, 3\)"):
        evaluate(predictions, gt)


def test_empty_ground_truth_dict(case) -> None:
    predictions, _ = case
    with pytest.raises(EvaluationInputError, match="ground truth: the dict is empty"):
        evaluate(predictions, {})


def test_unknown_objective(case) -> None:
    with pytest.raises(EvaluationInputError, match="objective_metric 'IDF1'"):
        evaluate(*case, objective_metric="IDF1")


def test_malformed_pickle_via_cli(tmp_path: Path, case, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle")
    gt = tmp_path / "gt.pkl"
    gt.write_bytes(pickle.dumps(case[1]))
    from avmine.server.cli.score import run

    args = argparse.Namespace(
        predictions=bad, ground_truth=gt, max_range_m=50, dataset_dir=None, objective_metric="HOTA", json=False
    )
    assert run(args) == 2
    assert "is not a readable pickle" in capsys.readouterr().err
