"""A fresh database per test: the demo's two scenario-mining logs (split val) with their ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.ingestion import prepare_logs
from store import Store, ingest
from store.demo import SCENARIO_MINING_DIR

from .programs import LOGS


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The demo's two scenario-mining logs (split val) with their ground truth."""
    path = tmp_path / "agents.duckdb"
    with Store.open(path) as store:
        ingest(store, SCENARIO_MINING_DIR, split="val", progress=False)
        prepare_logs(store, [("annotations", log) for log in LOGS], progress=False)
    return path
