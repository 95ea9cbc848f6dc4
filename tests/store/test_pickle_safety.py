"""Pickles: crafted files are refused before any of their code runs; RefAV's real pickles still load."""

from __future__ import annotations

import builtins
import functools
import os
import pickle
import re
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
from avmine.store.readers.safe_pickle import PickleTooLargeError, UnsafePickleError, load_pickle

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


class _State(_Call):
    """Pickles as 'call fn(*args), then set its state', as NumPy arrays do."""

    def __init__(self, fn: Any, args: tuple[Any, ...], state: Any) -> None:
        super().__init__(fn, *args)
        self.state = state

    def __reduce__(self) -> tuple[Any, tuple[Any, ...], Any]:  # type: ignore[override]
        return self.fn, self.args, self.state


def _nested(depth: int) -> bytes:
    """A list nested ``depth`` levels deep, as opcodes (pickle.dumps itself would recurse)."""
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


_RECONSTRUCT = np.zeros(1).__reduce__()[0]
BOMBS: dict[str, tuple[bytes, str]] = {
    # each: the file, and what the refusal says; unrestricted, each allocates gigabytes or crashes the process
    # (the million-level list when anything recursive, here repr, walks it)
    "bytearray(3e9)": (pickle.dumps(_Call(bytearray, 3 * 10**9), 2), "bytearray(3000000000) asks for 3,000,000,000"),
    "bytearray(2**34)": (pickle.dumps(_Call(bytearray, 2**34), 4), "asks for 17,179,869,184 bytes"),
    "ndarray((1e10,))": (pickle.dumps(_Call(np.ndarray, (10**10,), np.dtype("f8")), 4), "an array asks for"),
    "_reconstruct of 1e10": (pickle.dumps(_Call(_RECONSTRUCT, np.ndarray, (10**10,), b"b"), 2), "an array asks for"),
    "object array, short list": (
        pickle.dumps(_State(_RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10**8,), np.dtype("O"), False, [1, 2])), 2),
        "an array of shape (100000000,) and dtype object does not come with its data",
    ),
    "nested 1e6 levels": (_nested(10**6), "nest more than 64 levels deep"),
}
REFUSED_SHAPES: dict[str, tuple[bytes, str]] = {
    # no RefAV format has these; each byte of text would become an object, 65 levels is beyond any format
    "list(bytes)": (pickle.dumps(_Call(list, b"x" * 1000), 4), "list() is built from a bytes"),
    "tuple(str)": (pickle.dumps(_Call(tuple, "x" * 1000), 4), "tuple() is built from a str"),
    "nested 65 levels": (_nested(65), "nest more than 64 levels deep"),
}


def _load_limited(path: Path, python_code: str) -> subprocess.CompletedProcess[str]:
    """Run ``python_code`` (with ``path`` as argv[1]) in a process limited to 2 GiB of address space."""
    limit = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({2 << 30}, {2 << 30}))\n"
    return subprocess.run([sys.executable, "-c", limit + python_code, str(path)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_small_pickle_cannot_make_large_work(name: str, tmp_path: Path) -> None:
    """The review's 102-byte pickle ran 89 s at 3.2 GB under avmine: now each is refused before it allocates."""
    raw, message = BOMBS[name]
    path = tmp_path / "combined_gt_val.pkl"
    path.write_bytes(raw)
    plain = _load_limited(path, "import pickle, sys; repr(pickle.load(open(sys.argv[1], 'rb')))")
    assert plain.returncode != 0  # the route is real: unrestricted, it runs out of memory, recurses or crashes
    done = _load_limited(path, "import sys; from avmine.store.readers.safe_pickle import load_pickle\n"
                               "load_pickle(sys.argv[1])")  # fmt: skip
    assert done.returncode == 1 and "PickleTooLargeError" in done.stderr, done.stderr[-2000:]
    assert message in done.stderr and f"{path} was not unpickled" in done.stderr
    assert "MemoryError" not in done.stderr and "RecursionError" not in done.stderr


@pytest.mark.parametrize("name", list(REFUSED_SHAPES))
def test_shapes_no_format_has_are_refused(name: str, tmp_path: Path) -> None:
    raw, message = REFUSED_SHAPES[name]
    path = tmp_path / "x.pkl"
    path.write_bytes(raw)
    with pytest.raises(PickleTooLargeError, match=re.escape(message)):
        load_pickle(path)
    path.write_bytes(_nested(64))
    assert load_pickle(path) is not None  # 64 levels still load


def test_ingest_refuses_a_bomb_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "combined_gt_val.pkl"
    path.write_bytes(BOMBS["bytearray(3e9)"][0])
    assert len(path.read_bytes()) < 110
    before = table_snapshot(store)
    with pytest.raises(IngestError, match=r"asks for 3,000,000,000 bytes, more than the file can justify"):
        ingest(store, path, progress=False)
    assert table_snapshot(store) == before


def test_shared_references_are_visited_once(tmp_path: Path) -> None:
    """60 levels, each list holding the next twice: 2**60 paths, one object per level."""
    inner: list[Any] = [np.arange(3)]
    for _ in range(60):
        inner = [inner, inner]
    path = tmp_path / "shared.pkl"
    path.write_bytes(pickle.dumps(inner, 4))
    loaded = load_pickle(path)
    for _ in range(60):
        assert loaded[0] is loaded[1]
        loaded = loaded[0]
    assert type(loaded[0]) is np.ndarray and loaded[0].tolist() == [0, 1, 2]
