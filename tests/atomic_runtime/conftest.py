from __future__ import annotations

from collections.abc import Iterator

import pytest

from avmine.atomic.context import LogContext, context_for
from avmine.server.executor import Executor
from avmine.store import Store

LOGS = (
    "3b3570b4-7b0b-3268-a571-b0889dbf40b6",
    "3bffdcff-c3a7-38b6-a0f2-64196d130958",
    "7fab2350-7eaf-3b7e-a39d-6937a4c1bede",
    "adcf7d18-0510-35b0-a2fa-b4cea13a6d76",
)


@pytest.fixture(scope="session")
def demo_db(demo_store: Store) -> Store:
    return demo_store


@pytest.fixture(scope="session", params=LOGS)
def ctx(request: pytest.FixtureRequest, demo_db: Store) -> LogContext:
    return context_for(demo_db.log_dir(request.param))


@pytest.fixture(scope="session")
def golden_executor(demo_db: Store) -> Iterator[Executor]:
    """The sandboxed executor the golden programs run in, as `avmine exec` runs them (one per session)."""
    with Executor(demo_db, workers=1) as executor:
        yield executor
