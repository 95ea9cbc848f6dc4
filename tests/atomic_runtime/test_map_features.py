"""Map features are computed at ingest, stored beside the arrays, and read back instead of recomputed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from atomic.context import LogContext
from atomic.map_features import LANE_FILE, compute_lane_assignment
from server.ingestion import ingest_and_prepare
from store import Store
from store.demo import SENSOR_DIR

LOG = "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"


def test_ingest_stores_lane_assignment(tmp_path: Path) -> None:
    shutil.copytree(SENSOR_DIR / LOG, tmp_path / "val" / LOG)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest_and_prepare(store, tmp_path / "val", progress=False)
        stored = store.log_dir(LOG) / "boxes" / "annotations" / LANE_FILE
        assert stored.is_file()
        ctx = LogContext(store.load_arrays(LOG))
        np.testing.assert_array_equal(np.load(stored), compute_lane_assignment(ctx))
        assert (np.load(stored) >= 0).mean() > 0.2  # a real share of boxes is on a lane


def test_stored_lanes_are_read_not_recomputed(ctx: LogContext) -> None:
    expected = compute_lane_assignment(ctx)
    np.testing.assert_array_equal(ctx.row_lane, expected)
    assert (ctx.log_dir / "boxes" / ctx.arrays.source / LANE_FILE).is_file()
