"""An ingest killed by SIGKILL: its map-feature processes die with it, and the next ingest removes only what it left.

A real ``avmine ingest`` of six logs (enough to start its pool of map-feature processes) is killed
while those processes work; run as root and as the user ``nobody``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from avmine.store.split_copier import make_split

from ..processes import descendants, exited
from ..unprivileged import as_nobody, give_to_nobody, nobody_dir, nobody_python


@pytest.fixture(params=["root", "nobody"])
def as_user(request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """How to run avmine as the user (an interpreter and a folder of that user's) for each user."""
    if request.param == "root":
        home = nobody_dir("avmine-killed-ingest-")
        yield sys.executable, home
    else:
        python = nobody_python()
        home = nobody_dir("avmine-killed-ingest-")
        yield python, home
    subprocess.run(["rm", "-rf", str(home)], check=False)


def _command(python: str, user: str, *args: str) -> list[str]:
    command = [python, "-m", "avmine.server.cli", *args]
    return as_nobody(command) if user == "nobody" else command


def test_a_killed_ingest_takes_its_workers_and_the_next_removes_only_dead_writers_files(
    as_user: tuple[str, Path], request: pytest.FixtureRequest
) -> None:
    python, home = as_user
    user = "nobody" if "nobody" in request.node.callspec.id else "root"
    make_split(home / "val", 6)
    db = home / "db" / "killed.duckdb"
    db.parent.mkdir()
    give_to_nobody(home)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "OPENBLAS_NUM_THREADS": "1"}
    ingest = subprocess.Popen(
        _command(python, user, "--db", str(db), "ingest", "--quiet", str(home / "val")),
        env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # as nobody the command is setpriv, which execs the interpreter in place: the same pid
    workers: list[int] = []
    try:
        until = time.monotonic() + 240
        while not workers and time.monotonic() < until and ingest.poll() is None:
            time.sleep(0.2)
            workers = descendants(ingest.pid)
        time.sleep(1.0)  # they are at work on the first staged logs
        partials = sorted(db.parent.glob("*.logs-next-*"))
    finally:
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
    assert workers, "the ingest never started its map-feature processes"
    assert partials and all(f"-{ingest.pid}-" in p.name for p in partials), partials
    until = time.monotonic() + 5
    while not all(exited(pid) for pid in workers) and time.monotonic() < until:
        time.sleep(0.1)
    assert all(exited(pid) for pid in workers), f"map-feature processes outlived their ingest: {workers}"
    assert all(p.exists() for p in partials)  # what the killed ingest left, until the next writer starts

    live = db.with_name(f"{db.name}.logs-next-{socket.gethostname()}-{os.getpid()}-0badc0de.duckdb.tmp")
    live.write_bytes(b"a live writer's copy")  # this test process is that writer: it is alive
    live.with_name(live.name + ".wal").write_bytes(b"its log")
    give_to_nobody(home)
    one_log = home / "val" / sorted(os.listdir(home / "val"))[0]
    again = subprocess.run(
        _command(python, user, "--db", str(db), "ingest", "--quiet", str(one_log)),
        env=env, cwd=home, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert not any(p.exists() for p in partials), partials
    assert live.read_bytes() == b"a live writer's copy" and live.with_name(live.name + ".wal").is_file()
