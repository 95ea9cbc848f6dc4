"""avmine's evaluate against av2's on generated cases: damaged tracks, wrong labels, empty sides, extra logs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avmine.evaluation import EvaluationInputError, evaluate
from avmine.evaluation.synthetic import CaseConfig, make_case

configs = st.builds(
    CaseConfig,
    num_logs=st.integers(1, 3),
    prompts_per_log=st.integers(1, 2),
    num_frames=st.integers(1, 8),
    num_tracks=st.integers(0, 7),
    world_radius_m=st.sampled_from([10.0, 45.0, 70.0]),
    p_drop=st.sampled_from([0.0, 0.3, 1.0]),
    p_split=st.sampled_from([0.0, 0.5]),
    p_merge=st.sampled_from([0.0, 0.5]),
    shift_m=st.sampled_from([0.0, 0.8, 3.0]),
    jitter_m=st.sampled_from([0.0, 0.5]),
    p_wrong_label=st.sampled_from([0.0, 0.2]),
    num_false_tracks=st.integers(0, 2),
    p_no_positive=st.sampled_from([0.0, 0.5, 1.0]),
    p_empty_prediction=st.sampled_from([0.0, 0.3, 1.0]),
    p_is_positive=st.sampled_from([0.0, 0.5]),
    extra_prediction_logs=st.integers(0, 1),
    score_levels=st.sampled_from([0, 2]),
)


def _check(seed: int, config: CaseConfig, objective: str, av2_evaluate) -> None:
    predictions, ground_truth = make_case(seed, config)
    expected = av2_evaluate(predictions, ground_truth, objective)
    ours = evaluate(predictions, ground_truth, objective).as_tuple()
    assert np.allclose(ours, expected, atol=1e-6, rtol=0), (ours, expected)


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@settings(max_examples=15, **_SETTINGS)
@given(seed=st.integers(0, 2**31), config=configs)
def test_generated_cases_match_av2(seed: int, config: CaseConfig, av2_evaluate) -> None:
    _check(seed, config, "HOTA", av2_evaluate)


@pytest.mark.slow
@settings(max_examples=200, **_SETTINGS)
@given(seed=st.integers(0, 2**31), config=configs, objective=st.sampled_from(["HOTA", "HOTA", "MOTA"]))
def test_many_generated_cases_match_av2(seed: int, config: CaseConfig, objective: str, av2_evaluate) -> None:
    _check(seed, config, objective, av2_evaluate)


def test_ground_truth_log_missing_from_predictions_is_an_error_as_in_av2(av2_evaluate) -> None:
    predictions, ground_truth = make_case(3, CaseConfig(num_logs=2))
    del predictions[next(iter(ground_truth))]
    with pytest.raises(KeyError):
        av2_evaluate(predictions, ground_truth)
    with pytest.raises(EvaluationInputError, match="ground-truth sequence"):
        evaluate(predictions, ground_truth)


def test_prediction_only_logs_are_ignored_and_reported() -> None:
    predictions, ground_truth = make_case(4, CaseConfig(num_logs=2, extra_prediction_logs=1))
    result = evaluate(predictions, ground_truth)
    assert len(result.ignored_sequences) == 1
