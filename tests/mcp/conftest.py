"""One demo log in a fresh database per test module, with or without its ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.demo import DEMO_GROUND_TRUTH, SCENARIO_MINING_DIR

from ..agents.conftest import add_negative_pairs
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


@pytest.fixture(scope="module")
def two_log_labelled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both demo logs with their ground truth, each log also a negative of the other's prompt.

    Each prompt then has two ground-truth logs: one score_run scores, one held out for the library.
    """
    path = tmp_path_factory.mktemp("mcp") / "two-logs.duckdb"
    with Store.open(path) as store:
        ingest(store, SCENARIO_MINING_DIR, split="val", progress=False)
        prepare_logs(store, [("annotations", log.name) for log in SCENARIO_MINING_DIR.iterdir() if log.is_dir()],
                     progress=False)  # fmt: skip
    add_negative_pairs(path)
    return path
