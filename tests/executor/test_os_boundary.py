"""The operating-system boundary holds on its own, as root and as an ordinary user.

A worker started with its test-only switch (a command-line flag the executor never passes, so
neither a program nor the MCP server can reach it) runs each job with the real builtins and ``os``:
exactly what a program has once it has defeated every Python layer. Each attack must still fail,
with the error the kernel gives, and the worker must go on serving.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from avmine.server.executor import Limits
from avmine.server.executor.worker import RAW_FOR_TESTS
from avmine.store import Store

from ..processes import descendants
from ..unprivileged import as_nobody, give_to_nobody, nobody_dir, nobody_python
from .conftest import LOG, Listener

LIMITS = Limits(wall_seconds=5.0, cpu_seconds=4, memory_bytes=512 << 20)
EPERM, ENOSYS, ENOTTY = 1, 38, 25
LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def _syscall(name: str) -> int:
    import pyseccomp

    return int(pyseccomp.resolve_syscall(pyseccomp.system_arch(), name))


class RawWorker:
    """A worker process in test mode, spoken to over its job protocol."""

    def __init__(self, python: str, cache_root: Path, user: str) -> None:
        command = [python, "-m", "avmine.server.executor.launch", str(cache_root), "annotations",
                   json.dumps(asdict(LIMITS)), RAW_FOR_TESTS]  # fmt: skip
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENBLAS_NUM_THREADS": "1"}
        if user == "nobody":
            command, env["HOME"] = as_nobody(command), str(cache_root)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=cache_root
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        ready = self.read()
        assert ready.get("ready"), ready

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self) -> dict[str, object]:
        line = self.lines.get(timeout=120)
        assert line, "the worker exited"
        reply: dict[str, object] = json.loads(line)
        return reply

    def run(self, program: str) -> dict[str, object]:
        assert self.process.stdin is not None
        job = {"job_id": "attack", "program": program, "prompt": "attack", "log_id": LOG}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        reply = self.read()
        if reply.get("status") == "timeout":  # stopped by the worker: only what it printed came back, if anything
            return reply
        key = "value" if reply["status"] == "ok" else "errno"  # the test mode's result, carried as stdout
        reply[key] = int(str(reply["stdout"])) if key == "errno" and reply["stdout"] != "None" else reply["stdout"]
        if reply[key] == "None":
            reply[key] = None
        return reply

    def children(self) -> list[int]:
        """Host pids of the worker's processes below the launcher (the worker and its sandboxes)."""
        return descendants(self.process.pid)

    def armed(self) -> list[int]:
        """The worker and its one armed sandbox, once the previous sandbox has been reaped."""
        seen: list[int] = []
        for _ in range(100):
            now = self.children()
            if len(now) == 2 and now == seen:
                return now
            seen = now
            time.sleep(0.2)
        raise AssertionError(f"the worker did not settle: {seen}")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module", params=["root", "nobody"])
def worker(request: pytest.FixtureRequest, canary_store: Store) -> Iterator[RawWorker]:
    user = request.param
    python = sys.executable if user == "root" else nobody_python()
    home = nobody_dir("avmine-os-boundary-")
    shutil.copytree(canary_store.cache_root / LOG, home / "cache" / LOG)
    give_to_nobody(home)
    raw = RawWorker(python, home / "cache", user)
    raw.user = user  # type: ignore[attr-defined]
    yield raw
    raw.close()
    shutil.rmtree(home, ignore_errors=True)


def _expect_error(outcome: dict[str, object], error: str, errno: int | None = None) -> None:
    assert outcome["status"] == "error", outcome
    assert str(outcome["error"]).startswith(error), outcome
    if errno is not None:
        assert outcome["errno"] == errno, outcome


def test_every_layer_is_active_and_reported(worker: RawWorker) -> None:
    outcome = worker.run("result = 1")
    layers = outcome["layers"]
    assert isinstance(layers, dict)
    assert layers["mode"] == ("root" if worker.user == "root" else "user-namespace")  # type: ignore[attr-defined]
    missing = [name for name, on in layers.items() if name != "mode" and not on]
    unused = "user_namespace" if layers["mode"] == "root" else "distinct_uid"
    assert missing in ([], [unused]), layers


def test_no_host_file_is_visible_and_only_scratch_is_writable(worker: RawWorker, canary_store: Store) -> None:
    for path in (canary_store.path, canary_store.canary_path, "/etc/passwd", "/proc/1/environ", "/dev/shm"):  # type: ignore[attr-defined]
        _expect_error(worker.run(f"result = open({str(path)!r}, 'rb').read()"), "FileNotFoundError")
    assert worker.run("result = sorted(os.listdir('/'))")["value"] == "['scratch']"
    _expect_error(worker.run("open('/escape', 'w').write('x')"), "PermissionError")
    assert worker.run("result = open('/scratch/ok', 'w').write('fine')")["value"] == "4"
    big = worker.run("open('/scratch/big', 'wb').write(b'x' * (64 << 20))")
    assert big["status"] == "error" and str(big["error"]).startswith(("OSError", "MemoryError")), big
    _expect_error(worker.run("os.chmod('/', 0o777)"), "PermissionError", EPERM)
    _expect_error(worker.run("os.chroot('/scratch')"), "PermissionError", EPERM)


def test_no_network(worker: RawWorker, listener: Listener) -> None:
    program = f"import socket\nsocket.socket().connect(('127.0.0.1', {listener.port}))"
    _expect_error(worker.run(program), "PermissionError", EPERM)
    assert listener.connections == 0


def test_no_signal_or_limit_reaches_another_process(worker: RawWorker) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for target in (1, -1, 0, other.pid, os.getpid(), worker.process.pid, *worker.children()):
            for signal_number in (9, 19):  # SIGKILL, SIGSTOP
                _expect_error(worker.run(f"os.kill({target}, {signal_number})"), "PermissionError", EPERM)
        _expect_error(worker.run("import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE, (1, 1))"),
                      "PermissionError", EPERM)  # fmt: skip
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
    assert worker.run("result = 'still serving'")["value"] == "'still serving'"


def test_no_signal_reaches_another_workers_sandbox(worker: RawWorker, canary_store: Store) -> None:
    second = RawWorker(sys.executable, canary_store.cache_root, "root")
    try:
        assert second.run("result = 1")["value"] == "1"  # now its next sandbox is armed and waiting
        armed = second.armed()
        for pid in armed:
            _expect_error(worker.run(f"os.kill({pid}, 9)"), "PermissionError", EPERM)
        assert second.armed() == armed
        assert second.run("result = 2")["value"] == "2"
    finally:
        second.close()


def test_no_ipc_ptrace_or_kernel_interfaces(worker: RawWorker) -> None:
    calls = {
        "libc.msgget(0x4156, 0o1666)": EPERM,
        "libc.shmget(0x4156, 4096, 0o1666)": EPERM,
        "libc.semget(0x4156, 1, 0o1666)": EPERM,
        "libc.ptrace(16, 1, 0, 0)": EPERM,  # PTRACE_ATTACH to the worker
        f"libc.syscall({_syscall('process_vm_readv')}, 1, 0, 0, 0, 0, 0)": EPERM,
        f"libc.syscall({_syscall('keyctl')}, 0, 0, 0, 0, 0)": EPERM,
        f"libc.syscall({_syscall('bpf')}, 0, 0, 0)": EPERM,
        f"libc.syscall({_syscall('io_uring_setup')}, 1, 0)": EPERM,
        f"libc.syscall({_syscall('userfaultfd')}, 0)": EPERM,
        f"libc.syscall({_syscall('perf_event_open')}, 0, 0, -1, -1, 0)": EPERM,
        f"libc.syscall({_syscall('memfd_create')}, b'x', 0)": EPERM,
        f"libc.syscall({_syscall('clone3')}, 0, 0)": ENOSYS,
        "libc.unshare(0x10000000)": EPERM,  # a new user namespace
        "libc.mount(b'proc', b'/scratch', b'proc', 0, None)": EPERM,
        "libc.ioctl(0, 0x5412, b'x')": ENOTTY,  # TIOCSTI
    }
    for call, errno in calls.items():
        outcome = worker.run(f"{LIBC}result = ({call}, ctypes.get_errno())")
        assert outcome.get("value") == f"(-1, {errno})", (call, outcome)


def test_no_new_process_thread_or_privilege(worker: RawWorker) -> None:
    _expect_error(worker.run("os.fork()"), "PermissionError", EPERM)
    _expect_error(worker.run("os.execv('/bin/sh', ['sh'])"), "PermissionError", EPERM)
    _expect_error(worker.run("import threading\nthreading.Thread(target=print).start()"), "RuntimeError")
    _expect_error(worker.run("os.setuid(0)"), "PermissionError", EPERM)
    _expect_error(worker.run("os.setgid(0)"), "PermissionError", EPERM)


def test_memory_is_bounded(worker: RawWorker) -> None:
    _expect_error(worker.run("b = bytearray(2 << 30)"), "MemoryError")
    assert worker.run("result = len(bytearray(64 << 20))")["value"] == str(64 << 20)


FCNTL_SIGNAL_ROUTES = {
    "F_SETOWN": "8, 1",  # the worker (PID 1 of the namespace) would own the descriptor's I/O signals
    "F_SETOWN_EX": "15, ctypes.byref((ctypes.c_int * 2)(1, 1))",  # F_OWNER_PID, 1
    "F_SETSIG": "10, 2",  # SIGINT instead of SIGIO: Python's handler would end the worker
    "F_SETFL O_ASYNC": f"4, {os.O_ASYNC | os.O_NONBLOCK}",
    "F_SETLEASE": "1024, 1",
    "F_NOTIFY": "1026, 0x80000001",
}
"""fcntl commands through which the kernel signals a descriptor's owner: each refused on every descriptor held."""


def test_no_fcntl_command_makes_the_kernel_signal_the_worker(worker: RawWorker) -> None:
    worker.run("result = 0")  # the next sandbox is armed once a job was served
    before = worker.armed()
    attempts = ", ".join(f"{name!r}: ({call})" for name, call in FCNTL_SIGNAL_ROUTES.items())
    program = (
        f"{LIBC}held = [fd for fd in range(64) if libc.fcntl(fd, 1, 0) >= 0]\n"  # F_GETFD: the pipes it holds
        f"outcomes = set()\nfor fd in held:\n"
        f"    for name, args in {{{attempts}}}.items():\n"
        f"        outcomes.add((name, libc.fcntl(fd, *args), ctypes.get_errno()))\n"
        "flags = libc.fcntl(held[-1], 3, 0)\n"  # what the runtime uses still works: F_GETFL, F_SETFL, F_DUPFD_CLOEXEC
        f"usable = (len(held) >= 3, flags >= 0, libc.fcntl(held[-1], 4, flags | {os.O_NONBLOCK}),"
        " libc.fcntl(held[-1], 1030, 0) > 2)\n"
        "result = (sorted(outcomes), usable)"
    )
    outcome = worker.run(program)
    refused = sorted((name, -1, EPERM) for name in FCNTL_SIGNAL_ROUTES)
    assert outcome.get("value") == repr((refused, (True, True, 0, True))), outcome
    assert worker.run("result = 'still serving'")["value"] == "'still serving'"
    assert worker.armed()[0] == before[0]  # the same worker


def test_the_worker_ignores_signals_it_does_not_expect(worker: RawWorker) -> None:
    worker.run("result = 0")
    before = worker.armed()
    for signal_number in (2, 3, 1, 15, 29, 23, 10, 12, 14):  # INT QUIT HUP TERM IO URG USR1 USR2 ALRM
        os.kill(before[0], signal_number)
    assert worker.run("result = 'still serving'")["value"] == "'still serving'"
    assert worker.armed()[0] == before[0]


def test_a_program_that_never_reads_its_vlm_answers_times_out(worker: RawWorker) -> None:
    """It floods its request pipe (the highest write-only descriptor) with requests the worker answers at once."""
    program = (
        f"{LIBC}writers = [fd for fd in range(64) if libc.fcntl(fd, 3, 0) >= 0 and libc.fcntl(fd, 3, 0) & 3 == 1]\n"
        "while True:\n    os.write(max(writers), b'{}\\n' * 4096)"
    )
    outcome = worker.run(program)
    assert outcome["status"] == "timeout", outcome
    assert f"ran past its {LIMITS.wall_seconds:g} s limit and was killed" in str(outcome["error"]), outcome
    assert worker.run("result = 'still serving'")["value"] == "'still serving'"
