"""A store keeps the arrays it mapped while their cache files stay the same, and maps again after a re-ingest."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from avmine.store import Store, ingest
from avmine.store.demo import SENSOR_DIR
from tests.store.conftest import SENSOR_LOG


def test_arrays_are_mapped_once_and_again_after_a_reingest(tmp_path: Path) -> None:
    log = tmp_path / "val" / SENSOR_LOG
    shutil.copytree(SENSOR_DIR / SENSOR_LOG, log)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest(store, log, split="val", progress=False)
        first = store.load_arrays(SENSOR_LOG)
        assert store.load_arrays(SENSOR_LOG) is first
        ingest(store, log, split="val", progress=False)  # replaces the boxes' directory
        again = store.load_arrays(SENSOR_LOG)
        assert again is not first
        np.testing.assert_array_equal(again.row_timestamp_ns, first.row_timestamp_ns)
        shutil.rmtree(store.log_dir(SENSOR_LOG) / "boxes")  # a lost cache is rebuilt, never served stale
        rebuilt = store.load_arrays(SENSOR_LOG)
        assert rebuilt is not again and len(rebuilt.track_uuids) == len(first.track_uuids)
