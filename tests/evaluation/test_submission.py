"""Scenario results to submission pickles, labelling rules, and the validator."""

from typing import Any

import numpy as np

from avmine.evaluation import evaluate
from avmine.evaluation.sequences import OTHER_OBJECT, REFERRED_OBJECT, RELATED_OBJECT
from avmine.evaluation.submission import LogBoxes, build_submission, label_boxes, validate_submission

TS = [100, 200, 300]


def _boxes(log_id: str = "0" * 8 + "-0000-0000-0000-" + "0" * 12) -> LogBoxes:
    uuids = np.array(["b", "a", "b", "c", "a", "c", "ego"])
    ts = np.array([100, 100, 200, 200, 300, 300, 300])
    n = len(uuids)
    return LogBoxes(
        log_id=log_id,
        eval_timestamps_ns=np.array(TS),
        ego_translation_city=np.zeros((3, 3)),
        timestamp_ns=ts,
        track_uuid=uuids,
        translation_city=np.arange(n * 3, dtype=float).reshape(n, 3),
        size_lwh=np.ones((n, 3)),
        yaw_city=np.zeros(n),
        score=np.linspace(0.1, 0.9, n),
    )


def test_labels_flat_relational_nested_sets_and_empty() -> None:
    uuid = np.array(["a", "b", "c", "d", "a", "b"])
    ts = np.array([1, 1, 1, 1, 2, 2])
    scenario: dict[str, Any] = {"a": {"b": [1], "c": {"d": {1}}}, "x": [], "y": {}}
    assert label_boxes(scenario, uuid, ts).tolist() == [
        REFERRED_OBJECT,
        RELATED_OBJECT,
        RELATED_OBJECT,
        RELATED_OBJECT,
        OTHER_OBJECT,
        OTHER_OBJECT,
    ]
    assert label_boxes({"a": {2, 1}}, uuid, ts).tolist() == [0, 2, 2, 2, 0, 2]
    assert label_boxes(None, uuid, ts).tolist() == [OTHER_OBJECT] * 6


def test_related_bug_for_relational_top_level_tracks_is_reproduced() -> None:
    uuid = np.array(["a", "b", "b"])
    ts = np.array([1, 1, 2])
    # b is related to a at 1 and 2, and itself a relational referred track at 2 only.
    scenario = {"a": {"b": [1, 2]}, "b": {"c": [2]}}
    assert label_boxes(scenario, uuid, ts).tolist() == [REFERRED_OBJECT, OTHER_OBJECT, REFERRED_OBJECT]
    # With a list value, b keeps its RELATED label.
    assert label_boxes({"a": {"b": [1, 2]}, "b": [2]}, uuid, ts).tolist() == [0, RELATED_OBJECT, 0]
    # Self-keys: a's own list stored under a.
    assert label_boxes({"a": {"a": [1], "b": [1]}}, uuid, ts).tolist() == [0, RELATED_OBJECT, OTHER_OBJECT]


def test_track_ids_follow_first_appearance_and_frames_hold_every_box() -> None:
    boxes = _boxes()
    assert boxes.track_ids().tolist() == [0, 1, 0, 2, 1, 2, 3]
    key = (boxes.log_id, "cars")
    submission = build_submission({key: {"a": [100, 300]}}, {boxes.log_id: boxes})
    frames = submission[key]
    assert [f["timestamp_ns"] for f in frames] == TS
    assert frames[0]["track_id"].tolist() == [0, 1] and frames[0]["label"].tolist() == [2, 0]
    assert isinstance(frames[0]["ego_translation_m"], list)
    assert frames[2]["name"].tolist() == ["REFERRED_OBJECT", "OTHER_OBJECT", "OTHER_OBJECT"]
    assert validate_submission(submission) == []


def test_failed_program_gets_all_other_frames_and_scores(av2_evaluate) -> None:
    boxes = _boxes()
    key = (boxes.log_id, "cars")
    gt = build_submission({key: {"a": [100, 300]}}, {boxes.log_id: boxes})
    failed = build_submission({key: None}, {boxes.log_id: boxes})
    assert all((f["label"] == OTHER_OBJECT).all() for f in failed[key])
    assert np.allclose(evaluate(failed, gt).as_tuple(), av2_evaluate(failed, gt), atol=1e-6)
    perfect = evaluate(gt, gt).as_tuple()
    assert np.allclose(perfect, av2_evaluate(gt, gt), atol=1e-6)


def test_temporal_submission_is_accepted_by_av2(av2_evaluate) -> None:
    boxes = _boxes()
    key = (boxes.log_id, "cars")
    gt = build_submission({key: {"a": [100]}}, {boxes.log_id: boxes})
    temporal = build_submission({key: {"a": [100, 200]}}, {boxes.log_id: boxes}, temporal=True)
    assert validate_submission(temporal, gt) == []
    assert np.allclose(evaluate(temporal, gt).as_tuple(), av2_evaluate(temporal, gt), atol=1e-6)


def test_validator_reports_every_problem_with_location() -> None:
    boxes = _boxes()
    key = (boxes.log_id, "cars")
    submission = build_submission({key: {"a": [100]}}, {boxes.log_id: boxes})
    frames = submission[key]
    del frames[0]["score"]
    frames[1]["ego_translation_m"] = np.zeros(3)
    frames[2]["translation_m"][0, 0] = np.nan
    submission[("bad key", "x", "y")] = []  # type: ignore[index]
    gt = {key: frames, (boxes.log_id, "other prompt"): frames}
    problems = validate_submission(submission, ground_truth=gt)
    text = "\n".join(map(str, problems))
    assert "frame 0" in text and "'score'" in text
    assert "frame 1" in text and "ego_translation_m" in text
    assert "frame 2" in text and "non-finite" in text
    assert "bad key" in text
    assert "'other prompt')" in text and "missing from the submission" in text
    assert len(problems) >= 5
