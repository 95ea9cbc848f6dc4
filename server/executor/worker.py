"""A warm worker: loads the runtime and logs once, then runs each program in a fresh sandboxed fork.

The worker itself runs only trusted code. It reads one job per line (JSON) on stdin and writes
one result per log per line on stdout. A job is one program over one or more logs; for each job
it hands the logs, loaded and warm (``log_contexts``), to an armed child (``arming``) that entered
the sandbox and runs the program on each log in turn (``sandboxed_child``, through the runner of
``avmine.atomic.runner``), each log with fresh globals, its own CPU time limit and its own result line.
The worker collects those lines (``child_results``), kills the child's whole process group when a
log passes the wall-clock limit, and goes on with the job's remaining logs in a fresh child.
Programs of different jobs never share a child.

    python -m avmine.server.executor.launch CACHE_ROOT [SOURCE [LIMITS_JSON]] [--memory-budget=BYTES]
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket  # noqa: F401  (imported before the sandbox: verify() needs it once files are gone)
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avmine.atomic import compat
from avmine.atomic.context import set_active_source
from avmine.server.executor import namespaces, sandbox
from avmine.server.executor.arming import MAX_LOGS_PER_CHILD, SANDBOX_PREFIX, Armed, arm, disarm, sweep_dead_workers
from avmine.server.executor.child_results import run_logs
from avmine.server.executor.log_contexts import LogContexts, job_logs
from avmine.store.arrays import ANNOTATIONS_SOURCE

RAW_FOR_TESTS = "--raw-python-for-os-boundary-tests"
"""The worker's command-line switch for ``sandboxed_child._run_raw``; the executor never passes it."""


BUDGET_FLAG = "--memory-budget="
"""The worker's command-line option: bytes it may hold in loaded logs."""
UNEXPECTED_SIGNALS = (
    signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM, signal.SIGIO, signal.SIGURG,
    signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM,
)  # fmt: skip
"""Ignored by the worker: it is stopped by its job stream closing or by SIGKILL (its launcher turns SIGINT, SIGTERM
and SIGHUP into that), never by these; Python's SIGINT handler would otherwise end it with KeyboardInterrupt."""


def main(argv: list[str], identity: namespaces.Identity) -> None:
    """Serve jobs from stdin until it closes; the process is already in its namespaces (``launch``).

    Args:
        argv: ``CACHE_ROOT [SOURCE [LIMITS_JSON]] [--memory-budget=BYTES] [--raw-python-for-os-boundary-tests]``;
            SOURCE is the track source of jobs that name none.
        identity: what ``namespaces.enter_worker_namespaces`` returned.
    """
    for signum in UNEXPECTED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    raw = RAW_FOR_TESTS in argv
    budget = None
    for arg in argv:
        if arg.startswith(BUDGET_FLAG):
            budget = int(arg.removeprefix(BUDGET_FLAG))
    argv = [arg for arg in argv if arg != RAW_FOR_TESTS and not arg.startswith(BUDGET_FLAG)]
    contexts = LogContexts(Path(argv[0]), budget)
    source = argv[1] if len(argv) > 1 else ANNOTATIONS_SOURCE
    limits = sandbox.Limits(**json.loads(argv[2])) if len(argv) > 2 else sandbox.Limits()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but results goes to the protocol stream
    _, most = resource.getrlimit(resource.RLIMIT_NOFILE)  # every mapped array holds a descriptor
    resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))
    try:
        confinement = sandbox.prepare(identity)
    except sandbox.SandboxError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), file=out, flush=True)
        return
    set_active_source(source)
    compat.configure(**json.loads(os.environ.get("AVMINE_COMPAT", "{}")))
    sweep_dead_workers()
    base = Path(tempfile.gettempdir()) / f"{SANDBOX_PREFIX}{confinement.identity.host_pid}"
    base.mkdir(exist_ok=True)
    print(json.dumps({"ready": True, "pid": confinement.identity.host_pid}), file=out, flush=True)
    armed: Armed | None = None

    def relay(log_id: str, request: dict[str, Any]) -> dict[str, Any]:
        print(json.dumps({"vlm_request": request, "log_id": log_id}), file=out, flush=True)
        line = sys.stdin.readline()
        if not line:
            return {"error": "the executor closed the connection"}
        answer: dict[str, Any] = json.loads(line).get("vlm_answer") or {"error": "the executor sent no answer"}
        return answer

    def fresh() -> Armed:
        return arm(limits, base, confinement, contexts, raw)

    try:
        for line in sys.stdin:
            job = json.loads(line)
            if "memory" in job:  # what this worker holds, for operators and tests
                held = contexts.held_bytes()
                report = {"loaded_logs": len(contexts), "held_bytes": held, "budget_bytes": contexts.budget}
                print(json.dumps({"job_id": job.get("job_id"), **report}), file=out, flush=True)
                continue

            def emit(reply: dict[str, Any], job: dict[str, Any] = job) -> None:
                reply.update(job_id=job.get("job_id"))
                reply.setdefault("log_id", job.get("log_id"))
                print(json.dumps(reply), file=out, flush=True)

            finished = _serve(job, contexts, source, limits, armed, fresh, relay, emit)
            armed = None
            if finished is not None:  # answered first, reaped now
                disarm(finished)
            armed = fresh()  # after replying: the next program finds its sandbox ready
    finally:
        if armed is not None:
            disarm(armed)
        shutil.rmtree(base, ignore_errors=True)


def _serve(
    job: dict[str, Any],
    contexts: LogContexts,
    source: str,
    limits: sandbox.Limits,
    armed: Armed | None,
    fresh: Callable[[], Armed],
    relay: Callable[[str, dict[str, Any]], dict[str, Any]] | None,
    emit: Callable[[dict[str, Any]], None],
) -> Armed | None:
    """One job: load the logs it needs, run it on each (or just warm), ``emit`` one reply per log.

    Consumes ``armed``; returns the child still to be reaped, if any.
    """
    entries: list[dict[str, Any]] = job_logs(job, source) if "warm" not in job else [
        {"log_id": str(log_id), "source": str(job.get("source") or source), "cache_key": None} for log_id in job["warm"]
    ]  # fmt: skip
    if "warm" in job:
        try:
            for entry in entries:
                contexts.warm(entry["log_id"], entry["source"])
        except Exception as exc:
            emit({"status": "error", "error": f"the log could not be loaded: {type(exc).__name__}: {exc}"})
        else:
            emit({"warmed": True})
        if armed is not None:
            disarm(armed)
        return None
    while entries:
        group: list[dict[str, Any]] = []
        for entry in list(entries[:MAX_LOGS_PER_CHILD]):
            name = (entry["log_id"], entry["source"])
            keep = frozenset((e["log_id"], e["source"]) for e in group)
            try:
                contexts.warm(name[0], name[1], entry.get("cache_key"), keep)
                contexts.warm_map_masks_for(str(job.get("program", "")), name)
            except Exception as exc:  # a missing or corrupt cache: report it, keep serving
                entries.remove(entry)
                error = f"the log could not be loaded: {type(exc).__name__}: {exc}"
                emit({"status": "error", "error": error, "log_id": name[0]})
                continue
            if group and contexts.held_bytes() > contexts.budget:  # it stays loaded: the next group starts with it
                break
            group.append(entry)
            entries.remove(entry)
        while group:
            if armed is not None and armed.generation != contexts.generation:
                disarm(armed)  # it was forked before these logs were (re)loaded, or still holds dropped ones
                armed = None
            child_job = {**job, "logs": [{"log_id": e["log_id"], "source": e["source"]} for e in group]}
            child_job.pop("log_id", None)
            done, left = run_logs(
                child_job, [e["log_id"] for e in group], armed or fresh(), limits, relay,
                lambda log_id, result: emit({**result, "log_id": log_id}),
            )  # fmt: skip
            armed = None
            group = group[done:]
            if group or entries:
                if left is not None:
                    disarm(left)
            else:
                return left
    if armed is not None:
        disarm(armed)
    return None
