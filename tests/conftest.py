"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from avmine.server.ingestion import prepare_logs
from avmine.store import Store
from avmine.store.demo import ingest_demo

# CI replays the same generated cases every run (reproducible results); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A database with the whole demo dataset and its map features, shared by tests that only read it."""
    store = Store.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    reports = ingest_demo(store, progress=False)
    prepare_logs(store, [(s, log_id) for r in reports for s, log_id, *_ in r.sources], progress=False)
    yield store
    store.close()
