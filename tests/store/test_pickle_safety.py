"""Pickles: crafted files are refused before any of their code runs; RefAV's real pickles still load."""

from __future__ import annotations

import builtins
import functools
import os
import pickle
import shutil
import subprocess
import sys
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avmine.store import IngestError, Store, ingest
from avmine.store.demo import DEMO_GROUND_TRUTH, DEMO_PREDICTIONS, SCENARIO_MINING_DIR, SENSOR_DIR
from avmine.store.readers.safe_pickle import UnsafePickleError, load_pickle

from .conftest import SM_LOG, make_tracker_pickle, table_snapshot

GOLDEN_PREDICTIONS = Path(__file__).parents[1] / "data" / "refav_golden" / "refav_predictions.pkl"


class _Call:
    """Pickles as 'call fn(*args)', the way a crafted pickle runs code."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn = fn
        self.args = args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.fn, self.args


def _gadgets(marker: Path) -> dict[str, bytes]:
    """Each payload creates ``marker`` when unpickled by ``pickle.load``; hidden inside a tracker-shaped dict."""
    shell = f"touch {marker}"
    payloads = {
        "posix.system": _Call(os.system, shell),
        "subprocess.check_call": _Call(subprocess.check_call, ["touch", str(marker)]),
        "builtins.eval": _Call(builtins.eval, f"__import__('pathlib').Path({str(marker)!r}).touch()"),
        "functools.partial": _Call(functools.partial(os.system, shell)),
    }
    raw = {
        name: pickle.dumps({SM_LOG: [{"timestamp_ns": 1, "translation_m": payload}]})
        for name, payload in payloads.items()
    }
    # NumPy's own exec gadget, named by text only (protocol 0), as an attacker would write it.
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    raw["numpy.testing._private.utils.runstring"] = (
        f"cnumpy.testing._private.utils\nrunstring\n(V{code}\n(dtR.".encode()
    )
    return raw


GADGET_NAMES = list(_gadgets(Path("/x")))


@pytest.mark.parametrize("name", GADGET_NAMES)
def test_plain_pickle_would_run_the_gadget(name: str, tmp_path: Path) -> None:
    """The payloads are real: the unrestricted unpickler runs them (so the refusals below mean something)."""
    marker = tmp_path / "pwned"
    pickle.loads(_gadgets(marker)[name])
    assert marker.exists()


@pytest.mark.parametrize("name", GADGET_NAMES)
def test_restricted_unpickler_refuses_and_runs_nothing(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "tracker.pkl"
    path.write_bytes(_gadgets(marker)[name])
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    module = name.rsplit(".", 1)[0]
    assert module in str(info.value) and "nothing of it was run" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", GADGET_NAMES)
def test_ingest_of_a_named_malicious_pickle_fails_cleanly(name: str, store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "tracker.pkl"
    path.write_bytes(_gadgets(marker)[name])
    before = table_snapshot(store)
    with pytest.raises(IngestError) as info:
        ingest(store, path, progress=False)
    message = str(info.value)
    assert str(path) in message and "was not unpickled" in message and "\n" not in message
    assert not marker.exists()
    assert table_snapshot(store) == before


def test_directory_scan_unpickles_only_expected_names(store: Store, sm_log: Path, tmp_path: Path) -> None:
    """Other pickles in a scanned directory are never opened; expected names are read restricted."""
    marker = tmp_path / "pwned"
    scanned = sm_log.parent
    gadget = _gadgets(marker)["posix.system"]
    (scanned / "notes.pkl").write_bytes(gadget)
    (scanned / "old_predictions.pkl").write_bytes(gadget)
    report = ingest(store, scanned, progress=False)
    assert report.logs == [SM_LOG]
    assert not marker.exists()
    assert any("notes.pkl was not read" in note and "give the file itself" in note for note in report.notes)
    assert not any("old_predictions.pkl" in note for note in report.notes)  # submissions: passed over quietly

    (scanned / "My_Tracking_val.pkl").write_bytes(gadget)  # a name a scan does read
    before = table_snapshot(store)
    with pytest.raises(IngestError, match=r"My_Tracking_val\.pkl.*posix\.system"):
        ingest(store, scanned, progress=False)
    assert not marker.exists()
    assert table_snapshot(store) == before


def test_a_directory_of_only_unexpected_pickles_says_what_a_scan_reads(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "pickles"
    folder.mkdir()
    shutil.copy(DEMO_GROUND_TRUTH, folder / "labels.pkl")
    with pytest.raises(IngestError, match=r"pickles were not read.*combined_gt\*\.pkl and \*track\*\.pkl"):
        ingest(store, folder, progress=False)


def test_scan_reads_ground_truth_and_tracker_names(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "val"
    shutil.copytree(
        SENSOR_DIR / "7fab2350-7eaf-3b7e-a39d-6937a4c1bede", folder / "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"
    )
    make_tracker_pickle(folder / "7fab2350-7eaf-3b7e-a39d-6937a4c1bede", folder / "my_tracking_predictions_val.pkl")
    report = ingest(store, folder, progress=False)
    assert [s[0] for s in report.sources] == ["annotations", "my_tracking_predictions_val"]
    report = ingest(store, SCENARIO_MINING_DIR, progress=False)
    assert report.gt_pairs == 2 and report.notes == []


@pytest.mark.parametrize("path", [DEMO_GROUND_TRUTH, DEMO_PREDICTIONS, GOLDEN_PREDICTIONS], ids=lambda p: p.name)
def test_shipped_pickles_load_exactly(path: Path) -> None:
    with path.open("rb") as f:
        expected = pickle.load(f)
    assert repr(load_pickle(path)) == repr(expected)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_and_numpy_1_names(protocol: int, tmp_path: Path) -> None:
    data = {
        SM_LOG: [
            {
                "timestamp_ns": np.int64(315971916960141000),
                "translation_m": np.arange(6.0).reshape(2, 3),
                "size": np.ones((2, 3), np.float32).T.copy().T,  # a non-contiguous view pickles differently
                "name": np.array(["BUS", "CAR"]),
                "track_id": np.array(["a", 1], dtype=object),
                "flags": (True, None, 1.5, 2j, b"x", bytearray(b"y"), {1}, frozenset({2})),
            }
        ],
        "extra": (defaultdict(list, {1: [2]}), OrderedDict(a=1)),
    }
    raw = pickle.dumps(data, protocol=protocol)
    path = tmp_path / "x.pkl"
    path.write_bytes(raw)
    assert repr(load_pickle(path)) == repr(data)
    if protocol == 0:  # how NumPy 1.x named its reconstructors
        path.write_bytes(raw.replace(b"numpy._core.", b"numpy.core."))
        assert repr(load_pickle(path)) == repr(data)


def test_score_refuses_a_malicious_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "submission.pkl"
    path.write_bytes(_gadgets(marker)["posix.system"])
    done = subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "score", str(path), str(DEMO_GROUND_TRUTH)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "was not unpickled" in done.stderr and "posix.system" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()
