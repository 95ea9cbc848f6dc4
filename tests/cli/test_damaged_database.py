"""A database file that is empty, not DuckDB's, truncated or damaged: exit 2, one paragraph, the file untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from avmine.server.cli.exit_codes import ExitCode
from avmine.store.database import connect
from avmine.store.demo import DEMO_PROGRAMS, SCENARIO_MINING_DIR, SENSOR_DIR
from avmine.store.errors import DatabaseLockedError
from tests.cli.test_cli_behaviour import AVMINE, avmine

COMMANDS = (
    ("stats",),
    ("exec", str(DEMO_PROGRAMS), "--prompt", "cars"),
    ("ingest", str(SENSOR_DIR), "--split", "val", "--quiet"),
)


@pytest.fixture(scope="module")
def sound_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sound") / "sound.duckdb"
    done = avmine("--db", str(db), "ingest", str(SCENARIO_MINING_DIR), "--split", "val", "--quiet")
    assert done.returncode == 0, done.stderr
    return db


def damage(sound: Path, target: Path, how: str) -> None:
    """Make ``target`` a database file damaged in the way ``how`` names."""
    if how == "empty":
        target.write_bytes(b"")
    elif how == "text":
        target.write_text("notes, not a database\n")
    elif how == "truncated":
        target.write_bytes(sound.read_bytes()[: sound.stat().st_size // 2])
    else:  # a block in the middle that fails its checksum: it shows only when a query reads it
        shutil.copyfile(sound, target)
        with target.open("r+b") as file:
            file.seek(1 << 20)
            file.write(bytes(range(256)) * 256)


@pytest.mark.parametrize("how", ["empty", "text", "truncated", "block"])
def test_a_damaged_database_is_left_as_it_was_with_how_to_recover(sound_db: Path, tmp_path: Path, how: str) -> None:
    db = tmp_path / "work.duckdb"
    damage(sound_db, db, how)
    os.utime(db, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    refused = 0
    for command in COMMANDS:
        done = avmine("--db", str(db), *command)
        assert (db.read_bytes(), db.stat().st_mtime_ns) == before, (how, command)
        assert "Traceback" not in done.stderr, done.stderr
        if done.returncode == 0:  # a damaged block this command never read
            assert how == "block" and command[0] == "stats", (how, command)
            continue
        refused += 1
        assert done.returncode == ExitCode.USAGE, (how, command, done.stderr)
        assert done.stderr.count("\n") == 1 and f"{db} cannot be used" in done.stderr, done.stderr
        assert f"avmine --db {db} ingest " in done.stderr and "left it exactly as it was" in done.stderr
    assert refused >= 2  # exec and ingest read every log table


def test_demo_says_a_database_a_server_holds_is_busy(sound_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    shutil.copyfile(sound_db, db)
    server = subprocess.Popen([*AVMINE, "--db", str(db), "serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the server holds the file
            try:
                connect(db, read_only=True).close()
            except DatabaseLockedError:
                break
            time.sleep(0.2)
        done = avmine("--db", str(db), "demo", "--out", str(tmp_path / "demo"), "--quiet")
        assert done.returncode == ExitCode.USAGE, done.stderr
        assert f"{db} is open in process {server.pid}" in done.stderr and "--replace-db" not in done.stderr
        assert db.read_bytes() == sound_db.read_bytes()
    finally:
        server.kill()
        server.wait()
