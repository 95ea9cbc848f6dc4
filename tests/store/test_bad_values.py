"""Non-numeric and absurd values: one paragraph naming the file, the column and the fix; nothing written."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from avmine.store import Store, ingest
from avmine.store.demo import DEMO_GROUND_TRUTH
from avmine.store.readers.safe_pickle import load_pickle

from .conftest import SENSOR_LOG, make_tracker_pickle
from .test_bad_input import _fails, populated

__all__ = ["populated"]  # the fixture, shared with test_bad_input


def _at(array: np.ndarray, flat: int, value: float) -> np.ndarray:
    """A float64 copy with one entry replaced (float32 would turn 1e308 into inf)."""
    out = array.astype(np.float64)
    out.flat[flat] = value
    return out


def _edit_feather(path: Path, column: str, row: int, value: Any) -> None:
    frame = pd.read_feather(path)
    if isinstance(value, str):
        frame[column] = frame[column].astype(str)
    frame.loc[row, column] = value
    frame.to_feather(path)


@pytest.mark.parametrize(
    ("column", "row", "value", "fragments"),
    [
        ("tx_m", 5, "12.5 m", ["column 'tx_m' at row 0", "holds '", "(str), not a number", "metres"]),
        ("length_m", 9, 1e308, ["column 'length_m' at row 9", "1e+308", "outside 0 to 100 m", "box size"]),
        ("width_m", 3, -0.5, ["column 'width_m' at row 3", "-0.5", "outside 0 to 100 m"]),
        ("tz_m", 4, 2e7, ["column 'tz_m' at row 4", "20000000.0", "-1e+06 to 1e+06 m", "a position"]),
        ("qx", 2, 7.0, ["column 'qx' at row 2", "7.0", "unit quaternions"]),
        ("tx_m", 6, float("nan"), ["empty value in column 'tx_m'", "row 6"]),
    ],
)
def test_bad_annotation_values(
    populated: Store, sensor_log: Path, column: str, row: int, value: Any, fragments: list[str]
) -> None:
    path = sensor_log / "annotations.feather"
    _edit_feather(path, column, row, value)
    message = _fails(populated, sensor_log, str(path), *fragments)
    assert "re-run the ingest" in message


def test_pose_values(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "city_SE3_egovehicle.feather"
    _edit_feather(path, "ty_m", 1, -5e6)
    _fails(populated, sensor_log, str(path), "column 'ty_m' at row 1", "-5000000.0", "metres")


def test_float_timestamps(populated: Store, sensor_log: Path) -> None:
    path = sensor_log / "city_SE3_egovehicle.feather"
    frame = pd.read_feather(path)
    frame["timestamp_ns"] = frame["timestamp_ns"].astype(np.float64)
    frame.to_feather(path)
    _fails(populated, sensor_log, "column 'timestamp_ns'", "float64", "must be an integer", "nanoseconds")


@pytest.mark.parametrize(
    ("key", "value", "fragments"),
    [
        ("size", lambda a: _at(a, 13, 1e308), ["'size' (box 4) holds 1e+308", "outside 0 to 100 m"]),
        ("translation_m", lambda a: _at(a, 0, np.nan), ["'translation_m' (box 0) holds nan"]),
        ("translation_m", lambda a: np.full(a.shape, np.inf), ["'translation_m' (box 0) holds inf"]),
        ("translation_m", lambda a: a.astype(str), ["'translation_m' (box 0) holds text"]),
        ("yaw", lambda a: a + 1e6, ["'yaw' (box 0)", "rad"]),
        ("score", lambda a: a * 10, ["'score'", "between 0 and 1"]),
        ("timestamp_ns", lambda t: "soon", ["'timestamp_ns' holds text ('soon')"]),
        ("timestamp_ns", lambda t: -t, ["'timestamp_ns' holds -", "integer nanoseconds"]),
    ],
)
def test_bad_tracker_values(
    populated: Store, sensor_log: Path, tmp_path: Path, key: str, value: Any, fragments: list[str]
) -> None:
    ingest(populated, sensor_log, progress=False)
    data = make_tracker_pickle(sensor_log, tmp_path / "trk.pkl")
    frame = data[SENSOR_LOG][2]
    frame[key] = value(frame[key])
    (tmp_path / "trk.pkl").write_bytes(pickle.dumps(data))
    _fails(populated, tmp_path / "trk.pkl", f"log {SENSOR_LOG}, frame 2: ", *fragments, "nothing was written")


@pytest.mark.parametrize(
    ("key", "value", "fragments"),
    [
        ("size", lambda a: -a, ["'size' (box 0)", "outside 0 to 100 m"]),
        ("translation_m", lambda a: a * np.inf, ["'translation_m' (box 0) holds"]),
        ("ego_translation_m", lambda a: ["x", "y", "z"], ["'ego_translation_m' holds text"]),
        ("ego_translation_m", lambda a: [1.0, 2.0], ["'ego_translation_m' has shape (2,)", "(N, 3)"]),
        ("track_id", lambda a: a.astype(str), ["'track_id' (box 0) holds text"]),
        ("timestamp_ns", lambda t: float(t), ["'timestamp_ns' holds float64", "integer"]),
    ],
)
def test_bad_ground_truth_values(populated: Store, tmp_path: Path, key: str, value: Any, fragments: list[str]) -> None:
    data = load_pickle(DEMO_GROUND_TRUTH)
    first = next(iter(data))
    frame = data[first][2]
    frame[key] = value(frame[key])
    (tmp_path / "gt.pkl").write_bytes(pickle.dumps(data))
    _fails(populated, tmp_path / "gt.pkl", "frame 2: ", *fragments)
