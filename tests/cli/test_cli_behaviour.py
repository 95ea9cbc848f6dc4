"""How the avmine command behaves for a person at a terminal or in a pipeline, run as real subprocesses."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from avmine.server import __version__
from avmine.store import Store
from avmine.store.demo import SENSOR_DIR

AVMINE = [sys.executable, "-m", "avmine.server.cli"]
LOG = "adcf7d18-0510-35b0-a2fa-b4cea13a6d76"


def avmine(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AVMINE, *args], capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_version() -> None:
    done = avmine("--version")
    assert done.returncode == 0 and done.stdout == f"avmine {__version__}\n"


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"vehicle {i} turning left near a pedestrian\n" for i in range(2000)))
    for args in (["coverage", str(prompts)], ["--db", str(tmp_path / "none.duckdb"), "coverage", str(prompts)]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first line is written
        process = subprocess.Popen([*AVMINE, *args], stdout=write, stderr=subprocess.PIPE, text=True)
        os.close(write)
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 141 and stderr == "", stderr
    # and as in a shell, where head reads a line first
    piped = subprocess.run(f"{shlex.join([*AVMINE, 'coverage', str(prompts)])} | head -n 1", shell=True,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert piped.stdout.startswith("ok  vehicle 0 turning left") and piped.stderr == ""


def test_the_command_a_missing_database_suggests_works_as_printed(tmp_path: Path) -> None:
    db = tmp_path / "new.duckdb"
    missing = avmine("--db", str(db), "stats")
    assert missing.returncode == 2
    suggested = re.findall(r"`(avmine [^`]+)`", missing.stderr)
    ingest = next(command for command in suggested if " ingest " in command)
    shutil.copytree(SENSOR_DIR / LOG, tmp_path / "val" / LOG)
    words = shlex.split(ingest.replace("PATH", str(tmp_path / "val")))
    assert words[:3] == ["avmine", "--db", str(db)]
    assert avmine(*words[1:], "--quiet").returncode == 0
    assert LOG in avmine("--db", str(db), "stats").stdout


def test_ingest_names_the_split_warns_about_unknown_and_exec_shows_progress_in_a_terminal(tmp_path: Path) -> None:
    db = str(tmp_path / "db.duckdb")
    shutil.copytree(SENSOR_DIR / LOG, tmp_path / "logs" / LOG)
    unnamed = avmine("--db", db, "ingest", str(tmp_path / "logs"), "--quiet")
    assert unnamed.returncode == 0, unnamed.stderr
    assert "split: unknown 1 log(s)" in unnamed.stdout and "1 log(s) went to split 'unknown'" in unnamed.stderr
    named = avmine("--db", db, "ingest", str(tmp_path / "logs"), "--split", "val", "--quiet")
    assert "split: val 1 log(s)" in named.stdout and "warning" not in named.stderr
    (tmp_path / "prompts.txt").write_text("stopped car\n")
    prompts = avmine("--db", db, "ingest", str(tmp_path / "prompts.txt"), "--quiet")
    assert "1 prompt(s) and 0 (log, prompt) pair(s) went to split 'unknown'" in prompts.stderr

    program = tmp_path / "cars.py"
    program.write_text("output_scenario(get_objects_of_category(log_dir, category='VEHICLE'), description, "
                       "log_dir, output_dir)\n")  # fmt: skip
    quiet = avmine("--db", db, "exec", str(program), "--prompt", "car")  # stderr is a pipe: no bar
    assert quiet.returncode == 0 and "log/s" not in quiet.stderr and "1/1" not in quiet.stderr
    terminal, stderr = pty.openpty()
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    process = subprocess.Popen([*AVMINE, "--db", db, "exec", str(program), "--prompt", "car"],
                               stdout=subprocess.PIPE, stderr=stderr, text=True)  # fmt: skip
    os.close(stderr)
    out, _ = process.communicate(timeout=300)
    shown = read_all(terminal)
    assert process.returncode == 0 and "1 logs: 1 ran" in out
    assert "logs: 100%" in shown and "1/1" in shown, shown


def test_moving_a_log_to_another_split_needs_move_split_and_an_unknown_split_name_warns(tmp_path: Path) -> None:
    db = str(tmp_path / "db.duckdb")
    shutil.copytree(SENSOR_DIR / LOG, tmp_path / "logs" / LOG)
    assert avmine("--db", db, "ingest", str(tmp_path / "logs"), "--split", "val", "--quiet").returncode == 0
    before = Path(db).read_bytes()
    refused = avmine("--db", db, "ingest", str(tmp_path / "logs"), "--split", "nonsense", "--quiet")
    assert refused.returncode == 2 and "warning: split 'nonsense' is none of AV2's" in refused.stderr
    assert f"log {LOG} is in split 'val'" in refused.stderr and "--move-split" in refused.stderr, refused.stderr
    assert Path(db).read_bytes() == before
    moved = avmine("--db", db, "ingest", str(tmp_path / "logs"), "--split", "test", "--move-split", "--quiet")
    assert moved.returncode == 0 and "split: test 1 log(s)" in moved.stdout and "warning" not in moved.stderr


def test_no_progress_bar_on_a_stderr_that_is_not_a_terminal(tmp_path: Path) -> None:
    shutil.copytree(SENSOR_DIR / LOG, tmp_path / "val" / LOG)
    done = avmine("--db", str(tmp_path / "db.duckdb"), "ingest", str(tmp_path / "val"))  # no --quiet
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "item/s" not in done.stderr and "log/s" not in done.stderr, done.stderr


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def test_serve_in_a_terminal_says_what_it_is_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    Store.open(tmp_path / "db.duckdb").close()  # serve needs a database; it never creates one
    terminal, stdin = pty.openpty()
    process = subprocess.Popen([*AVMINE, "--db", str(tmp_path / "db.duckdb"), "serve"], stdin=stdin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    os.close(stdin)
    try:
        line = process.stderr.readline() if process.stderr else ""
        assert "MCP server for" in line and "standard input and output" in line and "Ctrl-C stops it" in line
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 128 + signal.SIGINT
    finally:
        process.kill()
        os.close(terminal)


def test_serve_over_http_says_where_it_listens(tmp_path: Path) -> None:
    Store.open(tmp_path / "db.duckdb").close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*AVMINE, "--db", str(tmp_path / "db.duckdb"), "serve", "--transport", "http",
                                "--port", str(port)], stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        token_line = process.stderr.readline() if process.stderr else ""
        assert f"made a new token in {tmp_path / 'db.duckdb.http-token'} (owner-only)" in token_line
        line = process.stderr.readline() if process.stderr else ""
        assert f"at http://127.0.0.1:{port}/mcp; Ctrl-C stops it." in line
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # and it does listen there
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("nothing listens on the port it named")
    finally:
        process.terminate()
        process.wait(timeout=30)
