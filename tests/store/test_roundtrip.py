"""Boxes read back from the store equal the input files; city poses equal av2's SE3 composition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from av2.geometry.se3 import SE3
from av2.utils.io import read_city_SE3_ego
from scipy.spatial.transform import Rotation

from avmine.store import Store
from avmine.store.boxes import EGO_SIZE_M
from avmine.store.demo import SCENARIO_MINING_DIR, SENSOR_DIR

from .conftest import SENSOR_LOG, SM_LOG

CASES = [
    (SCENARIO_MINING_DIR / SM_LOG, "annotations_with_ego.feather"),
    (SENSOR_DIR / SENSOR_LOG, "annotations.feather"),
]


def _stored(store: Store, log_id: str) -> pd.DataFrame:
    return store.query_df(
        "SELECT * FROM boxes WHERE log_id = ? AND source = 'annotations' ORDER BY input_row", [log_id]
    )


@pytest.mark.parametrize(("log_dir", "filename"), CASES)
def test_boxes_equal_feather(demo_store: Store, log_dir, filename) -> None:
    feather = pd.read_feather(log_dir / filename)
    stored = _stored(demo_store, log_dir.name).iloc[: len(feather)]
    assert list(stored["track_uuid"]) == list(feather["track_uuid"])
    assert list(stored["category"]) == list(feather["category"])
    np.testing.assert_array_equal(stored["timestamp_ns"], feather["timestamp_ns"])
    pairs = {
        "tx_ego_m": "tx_m",
        "ty_ego_m": "ty_m",
        "tz_ego_m": "tz_m",
        "qw_ego": "qw",
        "qx_ego": "qx",
        "qy_ego": "qy",
        "qz_ego": "qz",
        "length_m": "length_m",
        "width_m": "width_m",
        "height_m": "height_m",
    }
    for ours, theirs in pairs.items():
        np.testing.assert_allclose(stored[ours], feather[theirs], rtol=0, atol=1e-9, err_msg=ours)
    np.testing.assert_array_equal(stored["num_interior_pts"], feather["num_interior_pts"])
    assert stored["score"].isna().all()


@pytest.mark.parametrize(("log_dir", "filename"), CASES)
def test_city_poses_equal_av2_composition(demo_store: Store, log_dir, filename) -> None:
    stored = _stored(demo_store, log_dir.name)
    poses = read_city_SE3_ego(log_dir)
    sample = stored.sample(400, random_state=0)
    for row in sample.itertuples():
        ego_SE3_object = SE3(
            rotation=Rotation.from_quat(
                [row.qw_ego, row.qx_ego, row.qy_ego, row.qz_ego], scalar_first=True
            ).as_matrix(),
            translation=np.array([row.tx_ego_m, row.ty_ego_m, row.tz_ego_m]),
        )
        city_SE3_object = poses[row.timestamp_ns].compose(ego_SE3_object)
        np.testing.assert_allclose(
            [row.tx_city_m, row.ty_city_m, row.tz_city_m], city_SE3_object.translation, rtol=0, atol=1e-9
        )
        ours = Rotation.from_quat([row.qw_city, row.qx_city, row.qy_city, row.qz_city], scalar_first=True)
        np.testing.assert_allclose(ours.as_matrix(), city_SE3_object.rotation, rtol=0, atol=1e-9)
        refav_yaw = Rotation.from_matrix(city_SE3_object.rotation).as_euler("zxy")[0]
        assert row.yaw_city_rad == pytest.approx(refav_yaw, abs=1e-9)


def test_ego_kept_where_given_and_added_where_missing(demo_store: Store) -> None:
    sources = demo_store.query_df("SELECT log_id, ego_uuid, ego_added FROM track_sources").set_index("log_id")
    assert not sources.loc[SM_LOG, "ego_added"]
    assert sources.loc[SM_LOG, "ego_uuid"] != "ego" and len(sources.loc[SM_LOG, "ego_uuid"]) == 36
    assert sources.loc[SENSOR_LOG, "ego_added"] and sources.loc[SENSOR_LOG, "ego_uuid"] == "ego"
    ego = demo_store.query_df(
        "SELECT * FROM boxes WHERE log_id = ? AND track_uuid = 'ego' ORDER BY timestamp_ns", [SENSOR_LOG]
    )
    feather = pd.read_feather(SENSOR_DIR / SENSOR_LOG / "annotations.feather")
    np.testing.assert_array_equal(ego["timestamp_ns"], np.unique(feather["timestamp_ns"]))
    assert (ego[["length_m", "width_m", "height_m"]].to_numpy() == EGO_SIZE_M).all()
    assert (ego[["tx_ego_m", "ty_ego_m", "tz_ego_m"]].to_numpy() == 0).all()
    assert set(ego["category"]) == {"EGO_VEHICLE"}
    # RefAV appends the ego rows: its track index comes after every annotated track.
    assert int(ego["track_index"].iloc[0]) == feather["track_uuid"].nunique()


def test_velocity_is_motion_of_city_centres(demo_store: Store) -> None:
    boxes = _stored(demo_store, SM_LOG).sort_values(["track_index", "timestamp_ns"])
    track = boxes[boxes["track_index"] == boxes["track_index"].value_counts().idxmax()]
    xyz = track[["tx_city_m", "ty_city_m", "tz_city_m"]].to_numpy()
    t = track["timestamp_ns"].to_numpy() / 1e9
    i = len(track) // 2
    expected = (xyz[i + 1] - xyz[i - 1]) / (t[i + 1] - t[i - 1])
    np.testing.assert_allclose(track[["vx_city_mps", "vy_city_mps", "vz_city_mps"]].to_numpy()[i], expected, atol=1e-6)
    np.testing.assert_allclose(
        track[["vx_city_mps", "vy_city_mps", "vz_city_mps"]].to_numpy()[0], (xyz[1] - xyz[0]) / (t[1] - t[0]), atol=1e-6
    )


def test_cache_arrays_equal_database_rows(demo_store: Store) -> None:
    arrays = demo_store.load_arrays(SM_LOG)
    rows = demo_store.query_df(
        "SELECT * FROM boxes WHERE log_id = ? AND source = 'annotations' ORDER BY track_index, timestamp_ns",
        [SM_LOG],
    )
    assert arrays.log_dir.name == SM_LOG
    assert isinstance(arrays.xyz_city, np.memmap)
    np.testing.assert_array_equal(arrays.xyz_city, rows[["tx_city_m", "ty_city_m", "tz_city_m"]].to_numpy())
    np.testing.assert_array_equal(arrays.row_timestamp_ns, rows["timestamp_ns"])
    np.testing.assert_array_equal(arrays.timestamps_ns[arrays.row_time_index], rows["timestamp_ns"])
    assert list(arrays.track_uuids) == list(pd.unique(rows["track_uuid"]))
    for i in (0, 5, arrays.num_tracks - 1):
        span = slice(arrays.track_start[i], arrays.track_start[i + 1])
        assert set(rows["track_uuid"].iloc[span]) == {arrays.track_uuids[i]}
    assert (
        arrays.ego_uuid
        == demo_store.query_df("SELECT ego_uuid FROM track_sources WHERE log_id = ?", [SM_LOG])["ego_uuid"][0]
    )
    assert (arrays.map_dir / next(arrays.map_dir.glob("log_map_archive_*.json")).name).is_file()
