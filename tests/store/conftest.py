from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from av2.geometry.se3 import SE3
from av2.utils.io import read_city_SE3_ego
from scipy.spatial.transform import Rotation

from avmine.store import Store, ingest
from avmine.store.demo import SCENARIO_MINING_DIR, SENSOR_DIR

SM_LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
SENSOR_LOG = "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "test.duckdb") as s:
        yield s


@pytest.fixture
def sensor_log(tmp_path: Path) -> Path:
    """A writable copy of one AV2 sensor log (no ego rows, with calibration)."""
    target = tmp_path / "data" / "val" / SENSOR_LOG
    shutil.copytree(SENSOR_DIR / SENSOR_LOG, target)
    return target


@pytest.fixture
def sm_log(tmp_path: Path) -> Path:
    """A writable copy of one RefAV scenario-mining log (ego rows with a UUID)."""
    target = tmp_path / "sm" / SM_LOG
    shutil.copytree(SCENARIO_MINING_DIR / SM_LOG, target)
    return target


def table_snapshot(store: Store) -> dict[str, int]:
    """Row counts of every table, to show a failed ingest changed nothing."""
    names = store.query_df("SELECT table_name FROM information_schema.tables")["table_name"]
    return {name: int(store.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]) for name in names}


def make_tracker_pickle(log_dir: Path, out: Path, drop_frame: int | None = None, seed: int = 0) -> dict[str, list]:
    """An AV2 tracking-format pickle made from a log's annotations with av2's own SE3 (independent of avmine).

    Each annotated track becomes a tracker track with an integer id and a random score; frame
    ``drop_frame`` keeps its timestamp but loses all detections.
    """
    rng = np.random.default_rng(seed)
    annotations = pd.read_feather(log_dir / "annotations.feather")
    poses = read_city_SE3_ego(log_dir)
    ids = {uuid: i for i, uuid in enumerate(pd.unique(annotations["track_uuid"]))}
    track_score = rng.uniform(0.2, 0.9, size=len(ids))
    labels = {name: i for i, name in enumerate(sorted(annotations["category"].unique()))}
    frames = []
    for k, (timestamp, rows) in enumerate(annotations.groupby("timestamp_ns", sort=True)):
        city_SE3_ego: SE3 = poses[int(timestamp)]
        xyz_city = city_SE3_ego.transform_point_cloud(rows[["tx_m", "ty_m", "tz_m"]].to_numpy())
        ego_R = Rotation.from_quat(rows[["qw", "qx", "qy", "qz"]].to_numpy(), scalar_first=True).as_matrix()
        city_R = city_SE3_ego.rotation @ ego_R
        yaw = np.arctan2(city_R[:, 1, 0], city_R[:, 0, 0])
        keep = np.ones(len(rows), dtype=bool) if k != drop_frame else np.zeros(len(rows), dtype=bool)
        track_ids = np.array([ids[u] for u in rows["track_uuid"]], dtype=np.int64)
        frames.append(
            {
                "timestamp_ns": int(timestamp),
                "translation_m": xyz_city[keep],
                "size": rows[["length_m", "width_m", "height_m"]].to_numpy(np.float32)[keep],
                "yaw": yaw[keep].astype(np.float32),
                "velocity_m_per_s": np.zeros((int(keep.sum()), 3)),
                "label": np.array([labels[c] for c in rows["category"]], dtype=np.int32)[keep],
                "name": rows["category"].to_numpy(str)[keep],
                "track_id": track_ids[keep],
                "score": track_score[track_ids][keep].astype(np.float32),
            }
        )
    data = {log_dir.name: frames}
    out.write_bytes(pickle.dumps(data))
    return data


__all__ = ["SENSOR_LOG", "SM_LOG", "ingest", "make_tracker_pickle", "table_snapshot"]
