"""One demo log in a fresh database per test module, with or without its ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.ingestion import prepare_logs
from store import Store, ingest
from store.demo import DEMO_GROUND_TRUTH, SCENARIO_MINING_DIR

from .programs import LOG


def one_log_database(path: Path, ground_truth: bool) -> Path:
    with Store.open(path) as store:
        ingest(store, SCENARIO_MINING_DIR / LOG, split="val", progress=False)
        if ground_truth:
            ingest(store, DEMO_GROUND_TRUTH, split="val", progress=False)
        prepare_logs(store, [("annotations", LOG)], progress=False)
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log without ground truth."""
    return one_log_database(tmp_path_factory.mktemp("mcp") / "mcp.duckdb", ground_truth=False)


@pytest.fixture(scope="module")
def labelled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log with the demo's ground truth."""
    return one_log_database(tmp_path_factory.mktemp("mcp") / "labelled.duckdb", ground_truth=True)
