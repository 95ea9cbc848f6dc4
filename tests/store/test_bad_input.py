"""Bad input: a one-paragraph error naming the file, the problem and the fix; the database unchanged."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from avmine.store import IngestError, Store, ingest
from avmine.store.demo import DEMO_PREDICTIONS, SENSOR_DIR
from avmine.store.readers.safe_pickle import load_pickle

from .conftest import SENSOR_LOG, make_tracker_pickle, table_snapshot


def _fails(store: Store, path: Path, *fragments: str) -> str:
    """Ingest must fail with all fragments in the message and change nothing."""
    before = table_snapshot(store)
    cache_before = (
        sorted(p.relative_to(store.cache_root) for p in store.cache_root.rglob("*"))
        if store.cache_root.exists()
        else []
    )
    with pytest.raises(IngestError) as info:
        ingest(store, path, progress=False)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    assert table_snapshot(store) == before
    cache_after = (
        sorted(p.relative_to(store.cache_root) for p in store.cache_root.rglob("*"))
        if store.cache_root.exists()
        else []
    )
    assert cache_after == cache_before
    return message


@pytest.fixture
def populated(store: Store, tmp_path: Path) -> Store:
    """A store that already holds one log, so 'unchanged' is a real check."""
    other = "adcf7d18-0510-35b0-a2fa-b4cea13a6d76"
    shutil.copytree(SENSOR_DIR / other, tmp_path / "first" / other)
    ingest(store, tmp_path / "first" / other, progress=False)
    return store


def test_path_that_does_not_exist(populated: Store, tmp_path: Path) -> None:
    _fails(populated, tmp_path / "nope", "nope", "does not exist", "city_SE3_egovehicle.feather")


def test_directory_without_logs(populated: Store, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("hello")
    _fails(populated, empty, "holds no recognisable log", "map/")


def test_truncated_feather(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "annotations.feather"
    path.write_bytes(path.read_bytes()[:5000])
    _fails(populated, sensor_log, "annotations.feather", "could not be read", "truncated or corrupt")


def test_corrupt_pose_feather(populated: Store, sensor_log: Path) -> None:
    (sensor_log / "city_SE3_egovehicle.feather").write_bytes(b"not a feather file at all")
    _fails(populated, sensor_log, "city_SE3_egovehicle.feather", "could not be read")


def test_missing_columns(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "annotations.feather"
    pd.read_feather(path).drop(columns=["qw", "length_m"]).to_feather(path)
    _fails(populated, sensor_log, "annotations.feather", "missing the column(s) length_m, qw")


def test_log_without_poses(populated: Store, sensor_log: Path) -> None:
    (sensor_log / "city_SE3_egovehicle.feather").unlink()
    _fails(populated, sensor_log, SENSOR_LOG, "without ego poses", "copy city_SE3_egovehicle.feather")


def test_log_without_map(populated: Store, sensor_log: Path) -> None:
    shutil.rmtree(sensor_log / "map")
    _fails(populated, sensor_log, "without a vector map", "map/ directory")


def test_duplicated_box_timestamps(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "annotations.feather"
    frame = pd.read_feather(path)
    pd.concat([frame, frame.iloc[[10]]], ignore_index=True).to_feather(path)
    uuid = frame["track_uuid"].iloc[10]
    _fails(populated, sensor_log, f"two boxes for track {uuid}", "drop_duplicates")


def test_unsorted_box_timestamps(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "annotations.feather"
    frame = pd.read_feather(path)
    frame.iloc[::-1].reset_index(drop=True).to_feather(path)
    _fails(populated, sensor_log, "out of chronological order", "sort_values")


def test_duplicated_pose_timestamps(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "city_SE3_egovehicle.feather"
    frame = pd.read_feather(path)
    pd.concat([frame.iloc[:3], frame.iloc[2:]], ignore_index=True).to_feather(path)
    _fails(populated, sensor_log, "two poses for timestamp", "drop_duplicates")


def test_unsorted_pose_timestamps(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "city_SE3_egovehicle.feather"
    pd.read_feather(path).iloc[::-1].reset_index(drop=True).to_feather(path)
    _fails(populated, sensor_log, "out of order", "sort")


def test_non_finite_values(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "annotations.feather"
    frame = pd.read_feather(path)
    frame.loc[7, "tx_m"] = float("inf")
    frame.to_feather(path)
    _fails(populated, sensor_log, "non-finite value", "'tx_m'", "row 7")


def test_tracker_pickle_with_missing_keys(populated: Store, sensor_log: Path, tmp_path: Path) -> None:
    ingest(populated, sensor_log, progress=False)
    data = make_tracker_pickle(sensor_log, tmp_path / "trk.pkl")
    del data[SENSOR_LOG][3]["track_id"]
    (tmp_path / "trk.pkl").write_bytes(pickle.dumps(data))
    _fails(
        populated, tmp_path / "trk.pkl", f"log {SENSOR_LOG}, frame 3 lacks the key(s) track_id", "tracking-challenge"
    )


def test_tracker_pickle_for_unknown_log(populated: Store, sensor_log: Path, tmp_path: Path) -> None:
    make_tracker_pickle(sensor_log, tmp_path / "trk.pkl")
    _fails(populated, tmp_path / "trk.pkl", "not in the store", "Ingest the logs first")


def test_tracker_frames_out_of_order(populated: Store, sensor_log: Path, tmp_path: Path) -> None:
    ingest(populated, sensor_log, progress=False)
    data = make_tracker_pickle(sensor_log, tmp_path / "trk.pkl")
    frames = data[SENSOR_LOG]
    frames[4], frames[5] = frames[5], frames[4]
    (tmp_path / "trk.pkl").write_bytes(pickle.dumps(data))
    _fails(populated, tmp_path / "trk.pkl", "frame 5 goes back to timestamp", "increasing time order")


def test_ground_truth_pickle_with_missing_keys(populated: Store, tmp_path: Path) -> None:
    data = load_pickle(SENSOR_DIR.parent.parent / "scenario_mining" / "combined_gt_dev.pkl")
    key = next(iter(data))
    del data[key][2]["label"]
    (tmp_path / "gt.pkl").write_bytes(pickle.dumps(data))
    _fails(populated, tmp_path / "gt.pkl", "frame 2 lacks the key(s) label", "(log_id, prompt)")


def test_truncated_pickle(populated: Store, tmp_path: Path) -> None:
    (tmp_path / "gt.pkl").write_bytes(DEMO_PREDICTIONS.read_bytes()[:1000])
    _fails(populated, tmp_path / "gt.pkl", "could not be read as a pickle")


def test_prediction_pickle_points_to_score(populated: Store) -> None:
    _fails(populated, DEMO_PREDICTIONS, "scenario-mining prediction", "avmine score")


def test_failure_in_second_log_keeps_first_out(populated: Store, sensor_log: Path, tmp_path: Path) -> None:
    """A split dir with one good and one bad log: nothing of either is written."""
    bad = sensor_log.parent / "ffffffff-0000-0000-0000-000000000000"
    shutil.copytree(sensor_log, bad)
    (bad / "city_SE3_egovehicle.feather").write_bytes(b"broken")
    _fails(populated, sensor_log.parent, "ffffffff-0000-0000-0000-000000000000", "could not be read")


def test_a_small_feather_that_decodes_to_too_many_rows(populated: Store, sensor_log: Path) -> None:
    """A few kilobytes of zstd that would decode to 30 million rows: the read stops past 20 million."""
    path = sensor_log / "city_SE3_egovehicle.feather"
    table = pa.table({"timestamp_ns": pa.array(np.zeros(30_000_000, np.int8))})
    feather.write_feather(table, path, compression="zstd", chunksize=1_000_000)
    assert path.stat().st_size < 200_000
    _fails(populated, sensor_log, "city_SE3_egovehicle.feather", "decodes to more than 20,000,000 rows",
           "read stopped at 21,000,000 rows", "corrupt or crafted")  # fmt: skip


def test_a_feather_with_huge_text(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "annotations.feather"
    frame = pd.read_feather(path)
    frame.loc[3, "category"] = "x" * 5_000_000
    frame.to_feather(path, compression="zstd")
    _fails(populated, sensor_log, "annotations.feather", "a value of 5,000,000 bytes in column 'category'")


def test_a_prompt_list_nested_too_deeply(populated: Store, tmp_path: Path) -> None:
    path = tmp_path / "prompts.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    _fails(populated, path, "prompts.json", "nested too deeply to be a prompt list")
