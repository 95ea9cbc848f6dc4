"""Collecting a sandboxed child's results: one per log, in order, within each log's limits.

The worker hands a job to an armed child and reads its result pipe (bounded); it kills the child's
process group when a log passes its wall-clock limit or the child writes something malformed or
oversized, and says why a log whose process died failed. A program's VLM requests are relayed to
the executor on the way (checked here: the program is untrusted), at most ``MAX_VLM_CALLS`` each.
"""

from __future__ import annotations

import functools
import json
import math
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from avmine.server.executor import messages, sandbox
from avmine.server.executor.arming import Armed, disarm
from avmine.server.executor.safe_builtins import read_printed

Relay = Callable[[dict[str, Any]], dict[str, Any]]
"""Passes a program's VLM request to the executor and returns its answer."""
MAX_VLM_CALLS = 50
"""VLM calls one program may make (each may ask about many views)."""


def run_job(
    job: dict[str, Any], armed: Armed, limits: sandbox.Limits, relay: Relay | None = None
) -> tuple[dict[str, Any], Armed | None]:
    """Hand a one-log job to an armed child and collect its result; never raises for anything the program does.

    Returns:
        The result, and the child still to be reaped (None if it was reaped already): reaping a
        process that maps the warm runtime takes ~10 ms, so a result is answered first.
    """
    results: list[dict[str, Any]] = []
    _, child = run_logs(job, [str(job["log_id"])], armed, limits, lambda _log, request: _relay(relay, request),
                        lambda _log, result: results.append(result))  # fmt: skip
    return results[0], child


def _relay(relay: Relay | None, request: dict[str, Any]) -> dict[str, Any]:
    if relay is None:
        return {"error": "no VLM is connected to this run (only the avmine MCP server with a VLM configured has one)"}
    return relay(request)


def run_logs(
    job: dict[str, Any],
    logs: list[str],
    armed: Armed,
    limits: sandbox.Limits,
    relay: Callable[[str, dict[str, Any]], dict[str, Any]] | None,
    answer: Callable[[str, dict[str, Any]], None],
) -> tuple[int, Armed | None]:
    """Hand a job over ``logs`` to an armed child and collect one result per log, in order.

    Each log has the wall-clock limit from the end of the one before. ``answer(log_id, result)`` is
    called as each log finishes or fails; never raises for anything a program does. When a log
    fails by killing its process (a timeout, a crash, a forged or oversized result), the logs after
    it are not run: the caller runs them in a fresh child.

    Returns:
        How many logs (from the first) were answered, and the child still to be reaped (None if it
        was reaped already).
    """
    started = time.perf_counter()
    deadline = started + limits.wall_seconds
    timed_out = not _write_by(armed.jobs, json.dumps(job).encode(), deadline)
    os.close(armed.jobs)
    armed.jobs = -1  # closed: ``disarm`` must not close the number again (a newer pipe may hold it by then)
    pending = bytearray()
    scanned = 0
    done = 0
    too_large = ended = False
    asked = bytearray()
    calls = 0
    watched = [armed.results, armed.asks]

    def finish(line: bytes) -> str | None:
        """Answer the current log with a result line; the reason when the line is malformed."""
        nonlocal done, started, deadline, calls
        try:
            reply = messages.child_result(line, limits)
        except messages.MessageError as exc:  # cut off by its death (below), or forged by an escaped program
            return str(exc)
        reply["seconds"] = time.perf_counter() - started
        answer(logs[done], reply)
        done += 1
        started = time.perf_counter()
        deadline, calls = started + limits.wall_seconds, 0
        return None

    malformed = None
    while done < len(logs) and malformed is None and not timed_out:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            timed_out = True
            break
        ready = _ready(watched, remaining)
        if not ready:
            continue
        if armed.asks in ready and armed.results not in ready:
            chunk = os.read(armed.asks, 1 << 20)
            asked.extend(chunk)
            if not chunk or len(asked) > limits.result_bytes:  # closed, or flooding: stop listening to it
                watched = [armed.results]
                asked.clear()
            while b"\n" in asked:
                line, _, rest = bytes(asked).partition(b"\n")
                asked[:] = rest
                calls += 1
                waited = time.perf_counter()
                reply = _answer(line, None if relay is None else functools.partial(relay, logs[done]), calls, limits)
                deadline += time.perf_counter() - waited  # the VLM's time is not the program's
                if not _write_by(armed.answers, (json.dumps(reply) + "\n").encode(), deadline):
                    timed_out = True  # it asks and never reads the answers: the wall clock still holds
                    break
            continue
        chunk = os.read(armed.results, 1 << 20)
        if not chunk:
            ended = True
            break
        pending.extend(chunk)
        while done < len(logs) and malformed is None:
            end = pending.find(b"\n", scanned)
            if end < 0:
                scanned = len(pending)
                break
            line = bytes(pending[:end])
            del pending[: end + 1]
            scanned = 0
            malformed = finish(line)
        if malformed is None and len(pending) > limits.result_bytes + 4096:
            too_large = True
            break
    if done == len(logs):
        return done, armed
    if ended and pending and malformed is None:  # a last result without its newline (the child exited after it)
        malformed = finish(bytes(pending))
        if malformed is None and done == len(logs):
            return done, armed
    if malformed is not None and not ended:  # a whole line, forged or wrongly shaped: the child is stopped here
        disarm(armed)
        answer(logs[done], {"status": "error", "error": malformed, "seconds": time.perf_counter() - started})
        return done + 1, None
    # no result: the program was stopped or its process died; reap it to learn how
    first = done == 0
    status, cpu_used = disarm(armed, grace=1.0 if malformed is not None else 0.0)
    seconds = time.perf_counter() - started
    failure = _failure(status, cpu_used if first else 0.0, seconds, limits, timed_out, too_large, malformed)
    if armed.printed is not None:  # what the killed program printed before it was stopped
        failure["stdout"] = read_printed(armed.printed, limits.stdout_chars)
    answer(logs[done], failure)
    return done + 1, None


def _write_by(fd: int, data: bytes, deadline: float) -> bool:
    """Write ``data`` to a child's pipe (non-blocking, ``arming``) by ``deadline``; False if it was not taken in time.

    A child that stops reading must not stop the worker: every write the worker makes to a child
    ends by the log's wall-clock deadline. A child that closed its end needs nothing more (True).
    """
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            remaining = deadline - time.perf_counter()
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            if remaining <= 0 or not poller.poll(math.ceil(remaining * 1000)):
                return False
        except OSError:  # the child closed its end (or died): its results say what happened
            return True
    return True


def _ready(fds: list[int], timeout: float) -> list[int]:
    """The descriptors of ``fds`` with data (or closed) within ``timeout`` seconds.

    ``poll``, not ``select``: a worker holding many logs maps each array through a descriptor of
    its own, so a child's pipes may be numbered past select's 1024.
    """
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(max(0, math.ceil(timeout * 1000)))]


def _failure(
    status: int,
    cpu_used: float,
    seconds: float,
    limits: sandbox.Limits,
    timed_out: bool,
    too_large: bool,
    malformed: str | None,
) -> dict[str, Any]:
    """The result of a log whose process was killed or died (``cpu_used``: its CPU seconds, 0 when unknown)."""
    if timed_out:
        message = f"the program ran past its {limits.wall_seconds:g} s limit and was killed"
        return {"status": "timeout", "error": message, "seconds": seconds}
    if too_large:
        return {"status": "error", "error": f"the result exceeded {limits.result_bytes} bytes", "seconds": seconds}
    cpu_signal = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU
    if cpu_signal or cpu_used >= limits.cpu_seconds - 0.05:
        message = f"the program used up its CPU time limit ({limits.cpu_seconds} s) and was stopped"
        return {"status": "timeout", "error": message, "seconds": seconds}
    signalled = os.WIFSIGNALED(status)
    if malformed is not None and not signalled:
        return {"status": "error", "error": malformed, "seconds": seconds}
    why = f"killed by signal {os.WTERMSIG(status)}" if signalled else f"exit status {os.WEXITSTATUS(status)}"
    return {"status": "error", "error": f"the program's process died ({why})", "seconds": seconds}


def _answer(line: bytes, relay: Relay | None, calls: int, limits: sandbox.Limits) -> dict[str, Any]:
    """The answer to one request line of a program (checked here: the program is untrusted)."""
    if relay is None:
        return {"error": "no VLM is connected to this run (only the avmine MCP server with a VLM configured has one)"}
    if calls > MAX_VLM_CALLS:
        return {"error": f"too many VLM calls in one program (limit {MAX_VLM_CALLS}); combine candidates per call"}
    try:
        request = messages.vlm_request(messages.parse(line, limits.result_bytes, "the VLM request"))
    except messages.MessageError as exc:
        return {"error": str(exc)}
    return relay(request)
