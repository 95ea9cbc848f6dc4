"""Map features are computed at ingest, stored beside the arrays, and read back instead of recomputed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from avmine.atomic.context import LogContext
from avmine.atomic.map_features import LANE_FILE, compute_lane_assignment
from avmine.server.ingestion import ingest_and_prepare
from avmine.store import Store
from avmine.store.demo import SENSOR_DIR

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


def test_map_masks_are_stored_once_and_mapped_by_later_contexts(tmp_path: Path) -> None:
    from avmine.atomic.functions.map import (
        at_pedestrian_crossing,
        in_drivable_area,
        map_mask_keys,
        near_intersection,
        warm_map_masks,
    )

    shutil.copytree(SENSOR_DIR / LOG, tmp_path / "val" / LOG)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest_and_prepare(store, tmp_path / "val", progress=False)
        first = LogContext(store.load_arrays(LOG))
        warm_map_masks(first)  # computes and stores
        folder = store.log_dir(LOG) / "boxes" / "annotations" / "derived"
        assert len(list(folder.glob("per_row-*.npy"))) == len(map_mask_keys()) == 3
        later = LogContext(store.load_arrays(LOG))
        warm_map_masks(later)  # maps the stored copy: the map is never even loaded
        assert "map_regions" not in vars(later) and "static_map" not in vars(later)
        fresh = LogContext(store.load_arrays(LOG))  # computed from scratch, never stored
        xy = fresh.smoothed_xyz_city[:, :2]
        expected = (
            fresh.map_regions.in_drivable_area(xy),
            fresh.map_regions.near_intersection(xy, 5.0),
            fresh.map_regions.at_pedestrian_crossing_refav(fresh.footprints_city, 1.0, fresh.row_track),
        )
        for key, mask in zip(map_mask_keys(), expected, strict=True):
            stored = later.per_row_if_complete(key)
            assert isinstance(stored, np.memmap) and stored.dtype == mask.dtype
            np.testing.assert_array_equal(stored, mask)
        assert expected[0].any() and expected[1].any() and expected[2].any()
        everyone = fresh.uuids()
        assert in_drivable_area.rule(later, everyone) == in_drivable_area.rule(fresh, everyone)
        assert near_intersection.rule(later, everyone, 5) == near_intersection.rule(fresh, everyone, 5)
        assert at_pedestrian_crossing.rule(later, everyone, 1) == at_pedestrian_crossing.rule(fresh, everyone, 1)
        # a re-ingest replaces the boxes' directory, and the masks with it
        ingest_and_prepare(store, tmp_path / "val", progress=False)
        assert not list((store.log_dir(LOG) / "boxes" / "annotations").glob("derived/per_row-*.npy"))


def test_a_worker_warms_the_masks_for_programs_calling_a_function_declared_to_read_them(demo_db: Store) -> None:
    from avmine.atomic.functions import map_mask_functions
    from avmine.server.executor.log_contexts import LogContexts

    name = (LOG, LogContext(demo_db.load_arrays(LOG)).arrays.source)

    def warmed(program: str) -> bool:
        contexts = LogContexts(demo_db.cache_root)
        contexts.warm(*name)
        generation = contexts.generation
        contexts.warm_map_masks_for(program, name)
        assert (contexts.generation != generation) == contexts[name].map_masks
        return contexts[name].map_masks

    assert not warmed("moving = has_velocity(get_objects_of_category(log_dir, 'VEHICLE'), log_dir)")
    assert len(map_mask_functions()) == 3
    for function in sorted(map_mask_functions()):
        assert warmed(f"found = {function}(get_objects_of_category(log_dir, 'VEHICLE'), log_dir)"), function
