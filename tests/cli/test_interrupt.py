"""Ctrl-C (SIGINT to the command's process group, as a terminal sends it) on real avmine processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from avmine.server.cli.exit_codes import ExitCode
from avmine.store.demo import SENSOR_DIR
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
    done = interrupt_when([*AVMINE, "--db", str(db), "ingest", str(SENSOR_DIR), "--split", "val"], staging)
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
    """The processes in ``pid``'s process group besides itself."""
    found = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found if int(p) != pid]
