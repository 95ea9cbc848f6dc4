"""The operating-system layers hold on their own, even for code the syntax policy would never let through.

Trusted test code enters the sandbox in a forked child exactly as a program's process does, then
tries what an escaped program would: read the database and the ground truth, read the host's files
and /proc, write outside the scratch directory, connect to a listener, fork, allocate without bound.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
from collections.abc import Callable
from pathlib import Path

from server.executor import Executor, sandbox
from store import Store

from .conftest import Listener


def _in_sandbox(attempt: Callable[[], object]) -> dict[str, object]:
    """Run ``attempt`` in a sandboxed child; report its result or the exception it raised."""
    mount_point = Path(tempfile.mkdtemp(prefix="avmine-test-sandbox-"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        # a worker starts as a fresh process; this fork of pytest inherits its memory-mapped logs'
        # descriptors, which would count against the sandbox's 64 open files
        os.closerange(3, write_end)
        os.closerange(write_end + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        try:
            layers = sandbox.enter(mount_point, sandbox.Limits(memory_bytes=512 << 20))
            try:
                outcome: dict[str, object] = {"value": repr(attempt())}
            except BaseException as exc:
                outcome = {"error": type(exc).__name__, "message": str(exc)}
            outcome["missing_layers"] = layers.missing()
        except BaseException as exc:
            outcome = {"setup_error": repr(exc)}
        os.write(write_end, json.dumps(outcome).encode())
        os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.waitpid(pid, 0)
    os.rmdir(mount_point)
    return json.loads(data)  # type: ignore[no-any-return]


def test_every_layer_is_active(executor: Executor) -> None:
    layers = executor.layers()
    assert layers.missing() == [], f"sandbox layers not active: {layers.missing()}"


def test_database_and_ground_truth_are_unreadable(canary_store: Store) -> None:
    for path in (canary_store.path, canary_store.canary_path, Path.home() / ".bashrc"):  # type: ignore[attr-defined]
        outcome = _in_sandbox(lambda path=path: Path(path).read_bytes())
        assert outcome.get("error") == "FileNotFoundError", outcome
        assert outcome["missing_layers"] == []


def test_host_files_and_proc_are_invisible() -> None:
    assert _in_sandbox(lambda: os.listdir("/")) == {"value": "['scratch']", "missing_layers": []}
    assert _in_sandbox(lambda: Path("/proc/1/environ").read_bytes())["error"] == "FileNotFoundError"
    assert _in_sandbox(lambda: Path("/etc/passwd").read_text())["error"] == "FileNotFoundError"


def test_only_the_scratch_dir_is_writable() -> None:
    assert _in_sandbox(lambda: Path("/scratch/ok.txt").write_text("fine"))["value"] == "4"
    assert _in_sandbox(lambda: Path("/escape.txt").write_text("no"))["error"] == "PermissionError"
    big = _in_sandbox(lambda: Path("/scratch/big").write_bytes(b"x" * (64 << 20)))
    assert big.get("error") in ("OSError", "MemoryError"), big  # file size / scratch size limits


def test_no_network(listener: Listener) -> None:
    import socket

    def connect() -> object:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.settimeout(1)
            client.connect(("127.0.0.1", listener.port))
            return "connected"

    outcome = _in_sandbox(connect)
    assert outcome.get("error") == "OSError" and "unreachable" in str(outcome.get("message")), outcome
    assert listener.connections == 0


def test_no_processes_and_bounded_memory() -> None:
    assert _in_sandbox(lambda: os.fork())["error"] == "BlockingIOError"
    assert _in_sandbox(lambda: bytearray(2 << 30))["error"] == "MemoryError"
    assert _in_sandbox(lambda: os.setuid(0))["error"] == "PermissionError"
