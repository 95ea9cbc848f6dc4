"""A fresh database per test: the demo's two scenario-mining logs (split val) with their ground truth."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.demo import SCENARIO_MINING_DIR

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


def add_negative_pairs(path: Path) -> None:
    """Make each demo prompt's other log a negative for it (RefAV pairs prompts with negative logs too).

    The negative's frames are the other prompt's frames on that log with every object labelled OTHER,
    so each prompt has two ground-truth logs: one held out, one for refinement.
    """
    with Store.open(path) as store:
        pairs = store.con.execute("SELECT log_id, prompt, split FROM log_prompt_pairs").fetchall()
        for log_id, prompt, split in pairs:
            for other_log, other_prompt, _ in pairs:
                if other_log == log_id:
                    continue
                store.con.execute("INSERT INTO log_prompt_pairs VALUES (?, ?, ?)", [log_id, other_prompt, split])
                store.con.execute(
                    "INSERT INTO gt_frames SELECT log_id, ?, timestamp_ns, frame_index, ego_tx_m, ego_ty_m, ego_tz_m, "
                    "false, source_path FROM gt_frames WHERE log_id = ? AND prompt = ?",
                    [other_prompt, log_id, prompt],
                )
                store.con.execute(
                    "INSERT INTO ground_truth SELECT log_id, ?, timestamp_ns, track_uuid, track_id, 'OTHER', "
                    "tx_city_m, ty_city_m, tz_city_m, length_m, width_m, height_m, yaw_city_rad FROM ground_truth "
                    "WHERE log_id = ? AND prompt = ?",
                    [other_prompt, log_id, prompt],
                )


@pytest.fixture
def db_with_negatives(db: Path) -> Path:
    """The demo database where each prompt has two ground-truth logs: its own and the other's, as a negative."""
    add_negative_pairs(db)
    return db
