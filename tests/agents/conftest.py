"""A fresh database per test: the demo's two scenario-mining logs (split val) with their ground truth."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.ingestion import prepare_logs
from store import Store, ingest
from store.demo import SCENARIO_MINING_DIR

from .programs import LOGS


def scripted_agents_alive(state: Path) -> list[int]:
    """The scripted agent sessions started with this state folder that are still running."""
    pids = (state / "pids").read_text().split() if (state / "pids").exists() else []
    alive = []
    for pid in map(int, pids):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone
        zombie = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].startswith(" Z")  # dead, not yet reaped
        if b"scripted_agent.py" in cmdline and not zombie:
            alive.append(pid)
    return alive


@pytest.fixture(autouse=True)
def no_agent_outlives_its_test(tmp_path: Path) -> Iterator[None]:
    """Fails a test that leaves a scripted agent session running (and ends it, so nothing leaks on)."""
    yield
    leaked = scripted_agents_alive(tmp_path / "agent-state")
    for pid in leaked:
        os.killpg(pid, signal.SIGKILL)  # each session leads its own process group
    assert not leaked, f"scripted agent sessions still running after the test: {leaked}"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The demo's two scenario-mining logs (split val) with their ground truth."""
    path = tmp_path / "agents.duckdb"
    with Store.open(path) as store:
        ingest(store, SCENARIO_MINING_DIR, split="val", progress=False)
        prepare_logs(store, [("annotations", log) for log in LOGS], progress=False)
    return path
