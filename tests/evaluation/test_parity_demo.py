"""avmine's evaluate against av2's (av2.evaluation.scenario_mining.eval), live, on the av2 demo fixture."""

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.evaluation import evaluate
from avmine.evaluation.sequences import OTHER_OBJECT, REFERRED_OBJECT


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return bool(np.allclose(a, b, atol=1e-6, rtol=0))


def test_road_filter_on_matches_av2_and_golden(demo_predictions, demo_gt, data_dir: Path, av2_evaluate) -> None:
    ours = evaluate(demo_predictions, demo_gt, "HOTA", 50, dataset_dir=data_dir)
    assert _close(ours.as_tuple(), (0.383166, 0.401664, 0.85, 1.0))
    assert _close(ours.as_tuple(), av2_evaluate(demo_predictions, demo_gt, dataset_dir=str(data_dir)))
    assert ours.by_prompt["stopped car"].hota_temporal == pytest.approx(0.42888, abs=1e-5)
    assert ours.by_prompt["vehicle with a bicycle to its right"].hota_temporal == pytest.approx(0.33745, abs=1e-5)
    assert ours.by_prompt["vehicle with a bicycle to its right"].timestamp_ba == pytest.approx(0.7)


def test_road_filter_off_matches_av2_and_golden(demo_predictions, demo_gt, av2_evaluate) -> None:
    ours = tuple(evaluate(demo_predictions, demo_gt, "HOTA", 50))
    assert _close(ours, (0.379550, 0.394139, 0.85, 1.0))
    assert _close(ours, av2_evaluate(demo_predictions, demo_gt))


def test_inputs_are_not_modified(demo_predictions, demo_gt, data_dir: Path) -> None:
    before_p, before_g = copy.deepcopy(demo_predictions), copy.deepcopy(demo_gt)
    evaluate(demo_predictions, demo_gt, dataset_dir=data_dir)
    for before, after in ((before_p, demo_predictions), (before_g, demo_gt)):
        assert list(before) == list(after)
        for key in before:
            for f0, f1 in zip(before[key], after[key], strict=True):
                assert f0.keys() == f1.keys()
                for k in f0:
                    assert np.array_equal(np.asarray(f0[k]), np.asarray(f1[k])), k


def _map_frames(seqs: dict[Any, Any], fn: Any) -> dict[Any, Any]:
    return {key: [fn(dict(frame)) for frame in frames] for key, frames in seqs.items()}


def _all_other(frame: dict[str, Any]) -> dict[str, Any]:
    frame["label"] = np.full_like(frame["label"], OTHER_OBJECT)
    frame["name"] = np.full(frame["label"].shape, "OTHER_OBJECT", dtype="<U31")
    return frame


def _only_referred(frame: dict[str, Any]) -> dict[str, Any]:
    keep = frame["label"] == REFERRED_OBJECT
    return {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in frame.items()}


def _score_one(frame: dict[str, Any]) -> dict[str, Any]:
    frame["score"] = np.ones_like(frame["score"])
    return frame


@pytest.mark.parametrize(
    ("variant", "golden"),
    [
        ("gt_as_predictions", (1.0, 1.0, 1.0, 1.0)),
        ("all_other", (0.0, 0.0, 0.5, 0.5)),
        ("only_referred", (0.379550, None, 0.85, 1.0)),
        ("scores_one", (None, None, None, 1.0)),
    ],
)
def test_spec_variants_match_av2(
    variant: str, golden: tuple[float | None, ...], demo_predictions, demo_gt, av2_evaluate
) -> None:
    if variant == "gt_as_predictions":
        predictions = _map_frames(demo_gt, lambda f: {**f, "score": np.ones(len(f["label"]), np.float32)})
    else:
        fn = {"all_other": _all_other, "only_referred": _only_referred, "scores_one": _score_one}[variant]
        predictions = _map_frames(demo_predictions, fn)
    ours = evaluate(predictions, demo_gt).as_tuple()
    assert _close(ours, av2_evaluate(predictions, demo_gt))
    for value, expected in zip(ours, golden, strict=True):
        if expected is not None:
            assert value == pytest.approx(expected, abs=1e-6)


def test_mota_objective_matches_golden(demo_predictions, demo_gt, data_dir: Path) -> None:
    ours = evaluate(demo_predictions, demo_gt, "MOTA", 50, dataset_dir=data_dir).as_tuple()
    assert _close(ours, (0.249098, 0.139401, 0.85, 1.0))


def test_mota_objective_matches_av2_road_filter_off(demo_predictions, demo_gt, av2_evaluate) -> None:
    assert _close(
        evaluate(demo_predictions, demo_gt, "MOTA").as_tuple(), av2_evaluate(demo_predictions, demo_gt, "MOTA")
    )


def test_temporal_only_submission(demo_predictions, demo_gt, av2_evaluate) -> None:
    def temporal(frame: dict[str, Any]) -> dict[str, Any]:
        return {
            "timestamp_ns": frame["timestamp_ns"],
            "is_positive": bool((frame["label"] == 0).any()),
            "label": np.zeros(0, np.int32),
            "translation_m": np.zeros((0, 3)),
            "size": np.zeros((0, 3)),
            "yaw": np.zeros(0),
            "track_id": np.zeros(0, np.int32),
        }

    predictions = _map_frames(demo_predictions, temporal)
    result = evaluate(predictions, demo_gt)
    assert not result.tracking
    assert _close(result.as_tuple(), (0.0, 0.0, 1.0, 1.0))
    assert _close(result.as_tuple(), av2_evaluate(predictions, demo_gt))


def test_out_writes_av2_metric_files(demo_predictions, demo_gt, tmp_path: Path) -> None:
    import json

    evaluate(demo_predictions, demo_gt, out=tmp_path)
    spatial = json.loads((tmp_path / "spatiotemporal_metrics.json").read_text())
    temporal = json.loads((tmp_path / "temporal_metrics.json").read_text())
    assert spatial["hota_temporal_class_avg"] == pytest.approx(0.379550, abs=1e-6)
    assert temporal["timestamp_balanced_accuracy_class_avg"] == pytest.approx(0.85)


def test_diagnostics_list_concrete_mistakes(demo_predictions, demo_gt) -> None:
    result = evaluate(demo_predictions, demo_gt)
    bike = next(s for s in result.sequences if s.prompt == "vehicle with a bicycle to its right")
    assert bike.timestamp_counts == {"tp": 27, "fp": 3, "fn": 0, "tn": 2}
    assert len(bike.false_positive_timestamps) == 3
    assert bike.false_positive_tracks  # referred predictions never matched to a referred gt box
