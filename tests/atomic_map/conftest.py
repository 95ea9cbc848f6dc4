"""Real AV2 maps and box positions from the repository's demo data (never /work/shared)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.feather as feather
import pytest
from av2.map.map_api import ArgoverseStaticMap
from scipy.spatial.transform import Rotation

from avmine.atomic.map import MapIndex, MapRegions
from tests.atomic_map.reference import ReferenceMap

DEMO = Path(__file__).resolve().parents[2] / "store" / "demo_data"
LOG_DIRS = sorted([*(DEMO / "scenario_mining").glob("*/map"), *(DEMO / "sensor" / "val").glob("*/map")])


@dataclass
class DemoLog:
    name: str
    avm: ArgoverseStaticMap
    index: MapIndex
    regions: MapRegions
    reference: ReferenceMap
    timestamps_ns: np.ndarray  # (N,)
    track: np.ndarray  # (N,) track uuids
    center_city: np.ndarray  # (N, 3) box centres, city frame
    city_R_object: np.ndarray  # noqa: N815 - av2 frame naming; (N, 3, 3)
    size_lwh: np.ndarray  # (N, 3)


def load_log(map_dir: Path) -> DemoLog:
    log_dir = map_dir.parent
    ann_path = log_dir / "annotations_with_ego.feather"
    if not ann_path.exists():
        ann_path = log_dir / "annotations.feather"
    boxes = feather.read_table(ann_path).to_pandas()
    boxes = boxes.sort_values(["track_uuid", "timestamp_ns"], kind="stable").reset_index(drop=True)
    poses = feather.read_table(log_dir / "city_SE3_egovehicle.feather").to_pandas()
    pose = poses.drop_duplicates("timestamp_ns").set_index("timestamp_ns").loc[boxes["timestamp_ns"].to_numpy()]
    city_R_ego = Rotation.from_quat(np.array(pose[["qw", "qx", "qy", "qz"]].to_numpy()), scalar_first=True)
    ego_R_object = Rotation.from_quat(np.array(boxes[["qw", "qx", "qy", "qz"]].to_numpy()), scalar_first=True)
    t_ego = np.array(boxes[["tx_m", "ty_m", "tz_m"]].to_numpy(), dtype=float)
    center_city = city_R_ego.apply(t_ego) + np.array(pose[["tx_m", "ty_m", "tz_m"]].to_numpy(), dtype=float)
    avm = ArgoverseStaticMap.from_map_dir(map_dir, build_raster=False)
    index = MapIndex(avm)
    return DemoLog(
        name=log_dir.name,
        avm=avm,
        index=index,
        regions=MapRegions(avm, index),
        reference=ReferenceMap(avm),
        timestamps_ns=boxes["timestamp_ns"].to_numpy(np.int64),
        track=boxes["track_uuid"].to_numpy(),
        center_city=center_city,
        city_R_object=(city_R_ego * ego_R_object).as_matrix(),
        size_lwh=np.array(boxes[["length_m", "width_m", "height_m"]].to_numpy(), dtype=float),
    )


@pytest.fixture(scope="session")
def demo_logs() -> list[DemoLog]:
    assert len(LOG_DIRS) == 4, LOG_DIRS
    return [load_log(p) for p in LOG_DIRS]


def sample_rows(n_rows: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=min(k, n_rows), replace=False))
