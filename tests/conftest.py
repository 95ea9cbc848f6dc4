"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.ingestion import prepare_logs
from store import Store
from store.demo import ingest_demo


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A database with the whole demo dataset and its map features, shared by tests that only read it."""
    store = Store.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    reports = ingest_demo(store, progress=False)
    prepare_logs(store, [(s, log_id) for r in reports for s, log_id, *_ in r.sources], progress=False)
    yield store
    store.close()
