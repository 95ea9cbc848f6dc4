"""Ingest: idempotent, transactional (even when killed), trackers, ground truth and prompts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avmine.store import PrefilterConfig, Store, ingest
from avmine.store.demo import DEMO_GROUND_TRUTH, SCENARIO_MINING_DIR
from avmine.store.errors import IngestError
from avmine.store.readers.safe_pickle import load_pickle
from avmine.store.schema import SCHEMA_VERSION

from .conftest import SENSOR_LOG, SM_LOG, make_tracker_pickle, table_snapshot


def test_reingest_replaces_and_never_duplicates(store: Store, sensor_log: Path) -> None:
    first = ingest(store, sensor_log, progress=False)
    snapshot = table_snapshot(store)
    second = ingest(store, sensor_log, progress=False)
    assert table_snapshot(store) == snapshot
    assert first.num_boxes == second.num_boxes == snapshot["boxes"]
    assert store.load_arrays(SENSOR_LOG).key == store.query_df("SELECT cache_key FROM track_sources")["cache_key"][0]
    assert not (store.cache_root / ".staging").exists() or not any((store.cache_root / ".staging").iterdir())


def test_split_from_directory_name_and_option(store: Store, sensor_log: Path) -> None:
    ingest(store, sensor_log, progress=False)
    assert store.query_df("SELECT split FROM logs")["split"][0] == "val"
    with pytest.raises(IngestError, match="is in split 'val', and this ingest would move it to split 'train'"):
        ingest(store, sensor_log, split="train", progress=False)
    assert store.query_df("SELECT split FROM logs")["split"].tolist() == ["val"]
    ingest(store, sensor_log, split="train", progress=False, move_split=True)
    assert store.query_df("SELECT split FROM logs")["split"].tolist() == ["train"]


def test_killed_ingest_leaves_database_as_it_was(store: Store, sensor_log: Path, sm_log: Path) -> None:
    """SIGKILL in the middle of an ingest (after rows were inserted) loses nothing and adds nothing."""
    ingest(store, sm_log, progress=False)
    before = table_snapshot(store)
    db = store.path
    store.close()
    script = textwrap.dedent(
        f"""
        import os, signal
        import avmine.store.cache as cache_module
        from avmine.store import Store, ingest
        real = cache_module.stage_boxes
        def stage_then_die(*args, **kwargs):
            real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        cache_module.stage_boxes = stage_then_die
        ingest(Store.open({str(db)!r}), {str(sensor_log)!r}, progress=False)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    with Store.open(db) as reopened:
        assert table_snapshot(reopened) == before
        assert reopened.query_df("SELECT log_id FROM logs")["log_id"].tolist() == [SM_LOG]
        assert not (reopened.cache_root / SENSOR_LOG).exists()
        staging = reopened.cache_root / ".staging"
        assert not staging.exists() or not any(staging.iterdir())
        assert reopened.load_arrays(SM_LOG).num_tracks == 120


def test_committed_but_unpublished_cache_is_published_on_open(store: Store, sensor_log: Path) -> None:
    """A kill between the database commit and the cache rename is finished on the next open."""
    import avmine.store.cache as cache_module

    real_publish = cache_module.publish
    cache_module.publish = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        ingest(store, sensor_log, progress=False)
    finally:
        cache_module.publish = real_publish
    assert not (store.cache_root / SENSOR_LOG).exists()
    db = store.path
    store.close()
    with Store.open(db) as reopened:
        arrays = reopened.load_arrays(SENSOR_LOG)
        assert (store.cache_root / SENSOR_LOG / "log" / "map").is_dir()
        assert arrays.num_tracks == 115


def test_stale_cache_is_rebuilt_from_the_database(store: Store, sensor_log: Path) -> None:
    ingest(store, sensor_log, progress=False)
    box_dir = store.cache_root / SENSOR_LOG / "boxes" / "annotations"
    expected = np.load(box_dir / "xyz_city.npy")
    for path in box_dir.iterdir():
        path.unlink()
    arrays = store.load_arrays(SENSOR_LOG)
    np.testing.assert_array_equal(arrays.xyz_city, expected)


def test_tracker_output_becomes_a_track_source(store: Store, sensor_log: Path, tmp_path: Path) -> None:
    ingest(store, sensor_log, progress=False)
    data = make_tracker_pickle(sensor_log, tmp_path / "mytracker.pkl", drop_frame=10)
    report = ingest(store, tmp_path / "mytracker.pkl", prefilter=PrefilterConfig.off(), progress=False)
    assert report.sources[0][:2] == ("mytracker", SENSOR_LOG)
    arrays = store.load_arrays(SENSOR_LOG, "mytracker")
    frames = data[SENSOR_LOG]
    # every frame timestamp is kept, including the frame without detections (RefAV drops it)
    np.testing.assert_array_equal(arrays.timestamps_ns, [f["timestamp_ns"] for f in frames])
    ego_rows = np.flatnonzero(arrays.row_track == list(arrays.track_uuids).index("ego"))
    assert len(ego_rows) == len(frames) and arrays.ego_uuid == "ego"
    # city -> ego -> city round trip reproduces the tracker's city-frame centres and headings
    boxes = store.query_df("SELECT * FROM boxes WHERE source = 'mytracker' AND track_uuid != 'ego' ORDER BY input_row")
    xyz = np.concatenate([f["translation_m"] for f in frames])
    np.testing.assert_allclose(boxes[["tx_city_m", "ty_city_m", "tz_city_m"]].to_numpy(), xyz, atol=1e-6)
    yaw = np.concatenate([f["yaw"] for f in frames]).astype(np.float64)
    # RefAV stores tracker boxes as pure yaw in the ego frame, dropping the ego's roll and pitch,
    # so the heading comes back within a milli-radian, not exactly.
    heading_error = np.angle(np.exp(1j * (boxes["yaw_city_rad"].to_numpy() - yaw)))
    assert np.abs(heading_error).max() < 2e-3
    # and the ego-frame centres equal the original annotations (same boxes, same poses)
    annotations = pd.read_feather(sensor_log / "annotations.feather")
    kept = annotations[annotations["timestamp_ns"] != frames[10]["timestamp_ns"]].sort_values(
        "timestamp_ns", kind="stable"
    )
    np.testing.assert_allclose(
        boxes[["tx_ego_m", "ty_ego_m", "tz_ego_m"]].to_numpy(), kept[["tx_m", "ty_m", "tz_m"]].to_numpy(), atol=1e-6
    )
    assert boxes["score"].notna().all() and (boxes["num_interior_pts"] == 1).all()
    # both sources live side by side
    assert sorted(store.query_df("SELECT source FROM track_sources")["source"]) == ["annotations", "mytracker"]


def test_tracker_prefilter_applied_at_ingest(store: Store, sensor_log: Path, tmp_path: Path) -> None:
    ingest(store, sensor_log, progress=False)
    make_tracker_pickle(sensor_log, tmp_path / "trk.pkl")
    ingest(store, tmp_path / "trk.pkl", prefilter=PrefilterConfig(top_k=3, common_top_k=3), progress=False)
    row = store.query_df("SELECT num_tracks, num_tracks_before_prefilter FROM track_sources WHERE source = 'trk'")
    assert row["num_tracks_before_prefilter"][0] == 114
    kept = row["num_tracks"][0] - 1  # minus the ego
    categories = pd.read_feather(sensor_log / "annotations.feather")["category"].nunique()
    assert categories <= kept < 114  # at most 3 per class, plus tracks that fill empty frames


def test_ground_truth_pickle(store: Store, sm_log: Path) -> None:
    ingest(store, sm_log, progress=False)
    report = ingest(store, DEMO_GROUND_TRUTH, progress=False)
    assert report.gt_pairs == 2
    data = load_pickle(DEMO_GROUND_TRUTH)
    frames = store.query_df("SELECT * FROM gt_frames ORDER BY log_id, prompt, frame_index")
    assert len(frames) == sum(len(v) for v in data.values())
    labels = store.query_df("SELECT * FROM ground_truth WHERE log_id = ?", [SM_LOG])
    gt = data[(SM_LOG, "vehicle with a bicycle to its right")]
    assert len(labels) == sum(len(f["label"]) for f in gt)
    assert (labels["label"] == "REFERRED").sum() == sum(int((f["label"] == 0).sum()) for f in gt)
    # track ids are resolved to uuids where the log is present, and only there
    assert labels["track_uuid"].notna().all()
    assert store.query_df("SELECT count(*) AS n FROM ground_truth WHERE track_uuid IS NULL")["n"][0] > 0
    pairs = store.query_df("SELECT * FROM log_prompt_pairs ORDER BY log_id")
    assert pairs["split"].tolist() == ["unknown", "unknown"]  # the sm log's parent is not a split dir
    again = table_snapshot(store)
    ingest(store, DEMO_GROUND_TRUTH, progress=False)
    assert table_snapshot(store) == again


def test_refav_split_feather(store: Store, sm_log: Path, tmp_path: Path) -> None:
    """RefAV's per-split annotations feather: labels at every annotated timestamp, frames at 2 Hz."""
    ingest(store, sm_log, progress=False)
    annotations = pd.read_feather(sm_log / "annotations_with_ego.feather")
    referred = annotations["track_uuid"].iloc[0]
    split_gt = annotations.assign(
        log_id=SM_LOG,
        prompt="first track",
        mining_category=np.where(annotations["track_uuid"] == referred, "REFERRED_OBJECT", "OTHER_OBJECT"),
    )
    path = tmp_path / "scenario_mining_val_annotations.feather"
    split_gt.to_feather(path)
    ingest(store, path, split="val", progress=False)
    labels = store.query_df("SELECT * FROM ground_truth WHERE prompt = 'first track'")
    assert len(labels) == len(annotations)
    assert set(labels.loc[labels["label"] == "REFERRED", "track_uuid"]) == {referred}
    frames = store.query_df("SELECT * FROM gt_frames WHERE prompt = 'first track' ORDER BY frame_index")
    np.testing.assert_array_equal(frames["timestamp_ns"], np.unique(annotations["timestamp_ns"])[::5])
    assert frames["ego_tx_m"].notna().all()


@pytest.mark.parametrize(
    ("name", "content", "expected_prompts", "expected_pairs"),
    [
        ("prompts.txt", "# comment\nstopped car\n\nvehicle turning left\nstopped car\n", 2, 0),
        ("prompts.json", json.dumps(["a", "b", "c"]), 3, 0),
        ("log_prompt_pairs_val.json", json.dumps({SM_LOG: ["stopped car", "car"], "other": ["car"]}), 2, 3),
    ],
)
def test_prompt_lists(store: Store, tmp_path: Path, name: str, content: str, expected_prompts: int,
                      expected_pairs: int) -> None:  # fmt: skip
    path = tmp_path / name
    path.write_text(content)
    ingest(store, path, progress=False)
    assert len(store.query_df("SELECT * FROM prompts")) == expected_prompts
    pairs = store.query_df("SELECT * FROM log_prompt_pairs")
    assert len(pairs) == expected_pairs
    if expected_pairs:
        assert set(pairs["split"]) == {"val"}


def test_dataset_root_with_split_dirs(store: Store, sensor_log: Path) -> None:
    """``<root>/val/<log_id>`` is found from the root, and the split comes from the directory."""
    report = ingest(store, sensor_log.parent.parent, progress=False)
    assert report.logs == [SENSOR_LOG]
    assert store.query_df("SELECT split FROM logs")["split"][0] == "val"


def test_scenario_mining_dir_skips_prediction_pickle(store: Store) -> None:
    report = ingest(store, SCENARIO_MINING_DIR, progress=False)
    assert len(report.logs) == 2 and report.gt_pairs == 2
    assert not any("prediction" in p for p in store.query_df("SELECT source_path FROM gt_frames")["source_path"])


def test_older_schema_is_migrated_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with Store.open(db) as store:
        store.con.execute("DROP TABLE final_programs")
        store.con.execute("DROP TABLE agent_sessions")
        store.con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Store.open(db) as store:
        assert store.query_df("SELECT value FROM meta WHERE key = 'schema_version'")["value"][0] == str(SCHEMA_VERSION)
        assert store.query_df("SELECT count(*) AS n FROM final_programs")["n"][0] == 0
        assert store.query_df("SELECT count(*) AS n FROM agent_sessions")["n"][0] == 0


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    from avmine.store.errors import SchemaVersionError

    db = tmp_path / "new.duckdb"
    with Store.open(db) as store:
        store.con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match=f"schema version 99, this avmine reads version {SCHEMA_VERSION}"):
        Store.open(db)
