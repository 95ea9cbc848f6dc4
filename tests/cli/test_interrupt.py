"""Ctrl-C (SIGINT to the command's process group, as a terminal sends it) on real avmine processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from avmine.server.cli.exit_codes import ExitCode
from avmine.store import Store
from avmine.store.demo import SENSOR_DIR
from avmine.store.split_copier import make_split
from tests.cli.test_cli_behaviour import AVMINE


def interrupt_when(
    command: list[str], ready: Path, watch: Callable[[int], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command``, Ctrl-C its process group once ``ready`` exists, and return how it ended.

    ``watch``, given the process id, is called while waiting (it may make ``ready``).
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            if watch is not None:
                watch(process.pid)
            time.sleep(0.01)
        time.sleep(1)  # well inside what it does
        assert process.poll() is None, "the command ended before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def test_ctrl_c_during_an_ingest_says_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    staging = Path(f"{db}.cache") / ".staging"
    # enough logs that the ingest is still running a second after its first staging folder appears (two demo logs
    # took 0.9 s on a quiet machine: the interrupt came after the commit)
    split = tmp_path / "val"
    make_split(split, 24)
    done = interrupt_when([*AVMINE, "--db", str(db), "ingest", str(split), "--split", "val"], staging)
    assert done.returncode == ExitCode.INTERRUPTED, done.stderr
    assert done.stderr == "avmine ingest: interrupted; nothing was changed\n", done.stderr
    assert not staging.exists() and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    stats = subprocess.run([*AVMINE, "--db", str(db), "stats"], capture_output=True, text=True, timeout=120)
    assert "val" not in stats.stdout  # no log was committed


def test_ctrl_c_during_an_exec_says_one_line(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    ingested = subprocess.run([*AVMINE, "--db", str(db), "ingest", str(SENSOR_DIR), "--split", "val", "--quiet"],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    program = tmp_path / "forever.py"
    program.write_text("while True:\n    pass\noutput_scenario({}, description, log_dir, output_dir)\n")
    runs_before = subprocess.run([*AVMINE, "--db", str(db), "stats"], capture_output=True, text=True, timeout=120)
    started = tmp_path / "started"  # the program is running once a worker process exists
    command = [*AVMINE, "--db", str(db), "exec", str(program), "--prompt", "car", "--timeout", "300"]
    done = interrupt_when(command, started, lambda pid: started.touch() if workers_of(pid) else None)
    assert done.returncode == ExitCode.INTERRUPTED, done.stderr
    assert done.stderr == "avmine exec: interrupted; nothing was changed\n", done.stderr
    runs_after = subprocess.run([*AVMINE, "--db", str(db), "stats"], capture_output=True, text=True, timeout=120)
    assert runs_after.stdout == runs_before.stdout


def workers_of(pid: int) -> list[int]:
    """The processes ``pid`` started (its workers' launchers run in a process group of their own)."""
    found = subprocess.run(["pgrep", "-P", str(pid), "-f", "avmine.server.executor.launch"], capture_output=True,
                           text=True).stdout.split()  # fmt: skip
    return [int(p) for p in found]


def test_ctrl_c_on_an_exec_forwarded_to_a_server_cancels_its_run_there(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    ingested = subprocess.run([*AVMINE, "--db", str(db), "ingest", str(SENSOR_DIR), "--split", "val", "--quiet"],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    program = tmp_path / "forever.py"
    program.write_text("while True:\n    pass\noutput_scenario({}, description, log_dir, output_dir)\n")
    server = subprocess.Popen([*AVMINE, "--db", str(db), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        socket_file = Path(f"{db}.sock")
        deadline = time.monotonic() + 120
        while not socket_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        started = tmp_path / "started"  # given time to reach the server and start the program there
        command = [*AVMINE, "--db", str(db), "exec", str(program), "--prompt", "car", "--timeout", "300"]
        began = time.monotonic()
        # 20 s: the client starts, forwards the program and the server starts it, on a loaded machine too
        done = interrupt_when(command, started, lambda _: started.touch() if time.monotonic() - began > 20 else None)
        assert done.returncode == ExitCode.INTERRUPTED, done.stderr
        assert done.stderr.startswith("avmine exec: interrupted; ") and done.stderr.count("\n") == 1, done.stderr
        time.sleep(15)  # the server records the cancelled run once its workers stopped
    finally:
        if server.stdin is not None:
            server.stdin.close()  # the end of its client's input stops a stdio server
        try:
            server.wait(timeout=120)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
    with Store.open(db, read_only=True) as store:
        rows = store.con.execute("SELECT status, error FROM runs").fetchall()
    assert rows and rows[0][0] == "cancelled", rows
