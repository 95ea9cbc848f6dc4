"""Post-processing steps: evaluation timestamps, dilation switch, alignment to the ground truth."""

import numpy as np

from avmine.evaluation import evaluate
from avmine.evaluation.postprocess import PostprocessConfig, align_predictions, dilate_referred_samples, dilate_scenario
from avmine.evaluation.synthetic import CaseConfig, make_case
from avmine.evaluation.timestamps import evaluation_timestamps

PERIOD_NS = 100_000_000


def test_evaluation_timestamps_subsample_10hz_logs_only() -> None:
    ten_hz = np.arange(156) * PERIOD_NS
    assert evaluation_timestamps(ten_hz[::-1]).tolist() == ten_hz[::5].tolist()
    two_hz = np.arange(40) * 5 * PERIOD_NS
    assert evaluation_timestamps(np.repeat(two_hz, 3)).tolist() == two_hz.tolist()
    assert evaluation_timestamps(ten_hz, "log", {"log": [7, 3]}).tolist() == [3, 7]


def test_dilation_widens_short_runs_symmetrically_and_clips() -> None:
    referred = np.zeros(40, dtype=bool)
    referred[20] = True  # 1 sample -> grows by (15 - 1) // 2 = 7 each side
    referred[0:3] = True  # clipped at the start
    referred[30:39] = True  # 9 samples -> grows by 3 each side, clipped at 40
    out = dilate_referred_samples(np.arange(40) * PERIOD_NS, referred, PERIOD_NS)
    assert np.flatnonzero(out).tolist() == list(range(0, 9)) + list(range(13, 40))


def test_dilation_is_off_by_default_and_does_not_mutate() -> None:
    timeline = np.arange(30) * PERIOD_NS
    scenario = {"a": [int(timeline[10])], "b": {"c": [int(timeline[3])]}}
    assert dilate_scenario(scenario, {"a": timeline}, PERIOD_NS) == scenario
    dilated = dilate_scenario(scenario, {"a": timeline}, PERIOD_NS, PostprocessConfig(dilate=True))
    assert len(dilated["a"]) == 15 and dilated["b"] == scenario["b"]
    assert scenario["a"] == [int(timeline[10])]


def test_align_predictions_pads_drops_and_then_scores() -> None:
    predictions, gt = make_case(5, CaseConfig(num_logs=2, extra_prediction_logs=1))
    key = next(iter(gt))
    predictions[key] = predictions[key][1:-1]  # lost frames
    del predictions[list(gt)[1]]  # lost sequence
    aligned = align_predictions(predictions, gt)
    assert list(aligned) == list(gt)
    assert [f["timestamp_ns"] for f in aligned[key]] == [f["timestamp_ns"] for f in gt[key]]
    padded = aligned[key][0]
    assert padded["label"].tolist() == [2] and padded["score"].tolist() == [0.0]
    evaluate(aligned, gt)  # accepted
