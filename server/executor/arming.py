"""Sandboxed children: forked from the warm worker, inside every sandbox layer, waiting for one job.

Forking a child and entering the sandbox cost ~20 ms, so the worker arms the next child as soon as
it has answered a job. A child keeps only its own pipes (job, results, VLM requests and answers);
``disarm`` kills its whole process group, reaps it and removes its private root.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import resource
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from avmine.server.executor import sandbox
from avmine.server.executor.log_contexts import LogContexts
from avmine.server.executor.safe_builtins import printed_capacity
from avmine.server.executor.sandboxed_child import pipe_broker, run_job_logs
from avmine.vlm.program_functions import set_broker

SANDBOX_PREFIX = "avmine-sandbox-"
MAX_LOGS_PER_CHILD = 64
"""Logs one sandboxed child runs at most (its CPU hard limit covers this many)."""


@dataclass
class Armed:
    """A forked child already inside the sandbox, waiting for one job (forking and entering cost ~20 ms)."""

    pid: int
    jobs: int
    results: int
    mount_point: Path
    generation: int
    asks: int = -1
    """The child's VLM requests (one JSON line each), relayed to the executor."""
    answers: int = -1
    """Where the relayed answers go back to the child."""
    printed: mmap.mmap | None = None
    """Shared memory the child mirrors the running log's output into: what a killed program printed survives it."""


def _keep_only(keep: tuple[int, ...]) -> None:
    """Point stdio at /dev/null and close every other inherited descriptor but ``keep``.

    The worker's stdin and stdout carry the executor's protocol: a program that escaped the
    Python layers must not be able to read other jobs or forge replies.
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    previous = 2
    for fd in sorted(keep):
        os.closerange(previous + 1, fd)
        previous = fd
    os.closerange(previous + 1, max(1 << 16, resource.getrlimit(resource.RLIMIT_NOFILE)[0]))


def arm(
    limits: sandbox.Limits, base: Path, confinement: sandbox.Confinement, contexts: LogContexts, raw: bool = False
) -> Armed:
    """Fork a child that enters the sandbox now and runs the one job it is later sent, on ``contexts``' logs.

    ``raw`` (tests of the OS boundary only; set by the worker's command line, which neither a
    program nor the MCP server controls) runs the job with the real builtins and ``os``.
    """
    mount_point = Path(tempfile.mkdtemp(dir=base))
    job_read, job_write = os.pipe()
    result_read, result_write = os.pipe()
    ask_read, ask_write = os.pipe()
    answer_read, answer_write = os.pipe()
    printed = mmap.mmap(-1, printed_capacity(limits.stdout_chars))  # anonymous and shared with the child
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (job_write, result_read, ask_read, answer_write):
            os.close(fd)
        try:
            _keep_only((job_read, result_write, ask_write, answer_read))
            os.environ.clear()  # nothing of the server's environment (keys, tokens) stays reachable
            layers = sandbox.enter(mount_point, limits, confinement, runs=MAX_LOGS_PER_CHILD)
            set_broker(pipe_broker(ask_write, answer_read))
            with os.fdopen(job_read, "rb") as pipe:
                job = json.loads(pipe.read())
            run_job_logs(job, contexts, layers, limits, raw, result_write, printed)
        except BaseException as exc:  # a failure around the programs: report it, never hang
            payload = json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"}).encode()
            with contextlib.suppress(OSError):
                os.write(result_write, payload + b"\n")
        finally:
            os._exit(0)
    for fd in (job_read, result_write, ask_write, answer_read):
        os.close(fd)
    for fd in (job_write, answer_write):  # the worker's writes to a child end by a deadline (``child_results``)
        os.set_blocking(fd, False)
    return Armed(pid, job_write, result_read, mount_point, contexts.generation, ask_read, answer_write, printed)


def sweep_dead_workers() -> None:
    """Remove sandbox directories left by workers that died without cleaning up."""
    for path in Path(tempfile.gettempdir()).glob(f"{SANDBOX_PREFIX}*"):
        pid = path.name.removeprefix(SANDBOX_PREFIX)
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def disarm(armed: Armed, grace: float = 0.0) -> tuple[int, float]:
    """Kill an armed child's process group, reap it and remove its mount point; returns (status, CPU seconds).

    ``grace``: seconds to let a child that closed its result pipe exit on its own first, so that its
    exit status tells whether it finished or died (a kill before it exits would look like a death).
    """
    for fd in (armed.jobs, armed.results, armed.asks, armed.answers):
        with contextlib.suppress(OSError):
            if fd >= 0:
                os.close(fd)
    until = time.perf_counter() + grace
    while time.perf_counter() < until:
        pid, status, usage = os.wait4(armed.pid, os.WNOHANG)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(armed.pid, signal.SIGKILL)  # anything it left in its group
            shutil.rmtree(armed.mount_point, ignore_errors=True)
            return status, usage.ru_utime + usage.ru_stime
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(armed.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(armed.pid, signal.SIGKILL)  # before it made its own group
    _, status, usage = os.wait4(armed.pid, 0)
    shutil.rmtree(armed.mount_point, ignore_errors=True)
    return status, usage.ru_utime + usage.ru_stime
