from __future__ import annotations

import pickle
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest

from avmine.server.executor import Executor, Limits
from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.readers.safe_pickle import load_pickle

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
SECRET = "CANARY-7f3a9c-ground-truth-secret"
# the wall clock leaves the CPU limit room to act first even when other work shares the cores
TEST_LIMITS = Limits(wall_seconds=12.0, cpu_seconds=3, memory_bytes=1 << 30, stdout_chars=4096, result_bytes=1 << 20)


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


@pytest.fixture(scope="session")
def canary_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo's scenario-mining logs, plus ground truth whose prompt and file hold a secret."""
    root = tmp_path_factory.mktemp("executor")
    shutil.copytree(SCENARIO_MINING_DIR / LOG, root / "logs" / LOG)
    ground_truth = load_pickle(SCENARIO_MINING_DIR / "combined_gt_dev.pkl")
    frames = ground_truth[(LOG, "vehicle with a bicycle to its right")]
    canary = root / "canary_gt.pkl"
    canary.write_bytes(pickle.dumps({(LOG, SECRET): frames}))
    store = Store.open(root / "db" / "canary.duckdb")
    ingest(store, root / "logs" / LOG, split="train", progress=False)
    ingest(store, canary, progress=False)
    prepare_logs(store, [("annotations", LOG)], progress=False)
    store.canary_path = canary  # type: ignore[attr-defined]
    yield store
    store.close()


@pytest.fixture(scope="session")
def executor(canary_store: Store) -> Iterator[Executor]:
    with Executor(canary_store, workers=1, limits=TEST_LIMITS) as ex:
        yield ex


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()
