"""Submissions built from the store reproduce the official ground-truth pickle frame for frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.evaluation.submission.format import sequence_frames
from avmine.evaluation.submission.from_store import log_boxes
from avmine.store import Store
from avmine.store.demo import DEMO_GROUND_TRUTH
from avmine.store.readers.safe_pickle import load_pickle


def test_ground_truth_labels_written_from_the_store_equal_the_official_pickle(demo_store: Store) -> None:
    official = load_pickle(DEMO_GROUND_TRUTH)
    for (log_id, prompt), frames in official.items():
        labels = demo_store.query_df(
            "SELECT track_uuid, timestamp_ns FROM ground_truth WHERE log_id = ? AND prompt = ? AND label = 'REFERRED'",
            [log_id, prompt],
        )
        scenario: dict[str, list[int]] = {}
        for uuid, timestamp in labels.itertuples(index=False):
            scenario.setdefault(uuid, []).append(int(timestamp))
        boxes = log_boxes(demo_store.load_arrays(log_id), [int(f["timestamp_ns"]) for f in frames])
        ours = sequence_frames(boxes, prompt, scenario)
        assert len(ours) == len(frames)
        for mine, theirs in zip(ours, frames, strict=True):
            assert mine["timestamp_ns"] == theirs["timestamp_ns"]
            np.testing.assert_allclose(mine["ego_translation_m"], theirs["ego_translation_m"], atol=1e-9)
            np.testing.assert_allclose(mine["translation_m"], theirs["translation_m"], atol=1e-9)
            np.testing.assert_allclose(mine["size"], theirs["size"], atol=1e-6)
            np.testing.assert_allclose(mine["yaw"], theirs["yaw"], atol=1e-6)
            np.testing.assert_array_equal(mine["track_id"], theirs["track_id"])
            # the official pickle marks non-referred objects OTHER; RELATED needs the relationships
            np.testing.assert_array_equal(mine["label"] == 0, theirs["label"] == 0)


def test_missing_evaluation_timestamp_is_refused(demo_store: Store, tmp_path: Path) -> None:
    arrays = demo_store.load_arrays("3b3570b4-7b0b-3268-a571-b0889dbf40b6")
    with pytest.raises(ValueError, match="has no timestamp 5"):
        log_boxes(arrays, [5])


def test_ground_truth_rebuilt_from_the_store_scores_like_the_official_pickle(demo_store: Store) -> None:
    import copy

    from avmine.evaluation import evaluate
    from avmine.evaluation.ground_truth_from_store import ground_truth_frames, ground_truth_pairs
    from avmine.store.demo import DEMO_PREDICTIONS

    official = load_pickle(DEMO_GROUND_TRUTH)
    rebuilt = {key: ground_truth_frames(demo_store, *key) for key in official}
    assert ground_truth_pairs(demo_store, "stopped car") == ["3bffdcff-c3a7-38b6-a0f2-64196d130958"]
    for key, frames in official.items():
        for mine, theirs in zip(rebuilt[key], frames, strict=True):
            for name in ("translation_m", "size", "yaw", "label", "track_id"):
                np.testing.assert_allclose(mine[name], theirs[name], atol=1e-6, err_msg=name)
    predictions = load_pickle(DEMO_PREDICTIONS)
    assert tuple(evaluate(copy.deepcopy(predictions), rebuilt, "HOTA", 50)) == tuple(
        evaluate(copy.deepcopy(predictions), official, "HOTA", 50)
    )
