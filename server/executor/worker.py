"""A warm worker: loads the runtime and logs once, then runs each program in a fresh sandboxed fork.

The worker itself runs only trusted code. It reads one job per line (JSON) on stdin and writes
one result per line on stdout. For each job it forks; the child enters the sandbox
(``server.executor.sandbox``) and runs the program against the log's preloaded context; the
worker reads the child's result from a pipe (bounded), kills the child's whole process group at
the wall-clock limit, and reports.

    python -m server.executor.worker CACHE_ROOT [SOURCE]
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import socket  # noqa: F401  (imported before the sandbox: verify() needs it once files are gone)
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import atomic
from atomic import compat
from atomic.context import LogContext, pin_context, set_active_source
from atomic.output import post_process_scenario
from atomic.program import ProgramError, prepare
from server.executor import errors, policy, sandbox
from server.executor.safe_builtins import BoundedText, make_builtins, safe_module
from store.arrays import load_log_arrays

_contexts: dict[str, LogContext] = {}
_MODULES = {name: safe_module(importlib.import_module(name)) for name in policy.ALLOWED_IMPORTS}
"""The modules programs may import, wrapped once here: nothing can be imported inside the sandbox."""


def warm_context(cache_root: Path, log_id: str, source: str) -> LogContext:
    """Load a log once and compute everything a program may ask for, so the sandbox needs no files."""
    if log_id not in _contexts:
        ctx = LogContext(load_log_arrays(cache_root / log_id, source))
        for name in (
            "smoothed_xyz_city", "velocity_city", "acceleration_city", "yaw_rate", "yaw_city", "rotation_city",
            "footprints_city", "footprints_ego", "is_stationary", "static_map", "map_index", "map_regions", "row_lane",
        ):  # fmt: skip
            getattr(ctx, name)
        _contexts[log_id] = ctx
    return _contexts[log_id]


def _timed(name: str, func: Callable[..., Any], seconds: dict[str, float]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

    call.__name__ = func.__name__
    call.__wrapped__ = func  # type: ignore[attr-defined]  # scenario_not and reverse_relationship read signatures
    return call


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple | np.ndarray):
        return sorted(int(t) for t in value)
    return value


def _run_in_child(job: dict[str, Any], ctx: LogContext, mount_point: Path, limits: sandbox.Limits) -> dict[str, Any]:
    """Runs in the forked child: sandbox, program, post-processing. Returns the result document."""
    started = time.perf_counter()
    layers = sandbox.enter(mount_point, limits)
    if layers.missing() and not job.get("allow_missing_layers"):
        return {"status": "error", "error": f"sandbox layers not active: {', '.join(layers.missing())}"}
    text = job["program"]
    stdout = BoundedText(limits.stdout_chars)
    function_seconds: dict[str, float] = {}
    namespace: dict[str, Any] = {
        name: _timed(name, func, function_seconds) for name, func in atomic.program_namespace().items() if name != "np"
    }
    outputs: list[Any] = []

    def output_scenario(scenario: Any, *args: Any, **kwargs: Any) -> None:
        post_process_scenario(scenario, ctx.log_dir)  # RefAV's post-processing, in place
        outputs.append(scenario)

    namespace.update(
        np=_MODULES["numpy"],
        log_dir=ctx.log_dir,
        output_dir=Path("/scratch"),
        description=job["prompt"],
        output_scenario=output_scenario,
        __builtins__=make_builtins(stdout, _MODULES),
    )
    try:
        tree = prepare(text, check=policy.enforce)
        exec(compile(tree, errors.PROGRAM_FILE, "exec"), namespace)
    except (ProgramError, policy.PolicyError) as exc:
        return {"status": "error", "error": str(exc), "stdout": stdout.text(), "layers": layers.__dict__}
    except RecursionError:
        return {"status": "error", "error": "RecursionError: the program recursed too deeply", "stdout": stdout.text()}
    except MemoryError:
        return {
            "status": "error",
            "error": "MemoryError: the program exceeded its memory limit",
            "stdout": stdout.text(),
        }
    except BaseException as exc:  # the program's own error, whatever it raised
        message = errors.runtime_error(exc, text, namespace)
        return {"status": "error", "error": message, "stdout": stdout.text(), "layers": layers.__dict__}
    if not outputs:
        return {
            "status": "error",
            "error": "the program finished without calling output_scenario",
            "stdout": stdout.text(),
        }
    return {
        "status": "ok",
        "scenario": _jsonable(outputs[-1]),
        "stdout": stdout.text(),
        "function_seconds": function_seconds,
        "seconds": time.perf_counter() - started,
        "layers": layers.__dict__,
    }


def run_job(job: dict[str, Any], cache_root: Path, source: str) -> dict[str, Any]:
    """Run one program on one log in a sandboxed fork; never raises for anything the program does."""
    limits = sandbox.Limits(**job.get("limits", {}))
    started = time.perf_counter()
    try:
        ctx = warm_context(cache_root, job["log_id"], source)
    except FileNotFoundError as exc:
        return {"status": "error", "error": str(exc), "seconds": 0.0}
    mount_point = Path(tempfile.mkdtemp(prefix="avmine-sandbox-"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        try:
            pin_context(ctx.log_dir, ctx)
            document = _run_in_child(job, ctx, mount_point, limits)
            payload = json.dumps(document).encode()
            if len(payload) > limits.result_bytes:
                payload = json.dumps(
                    {
                        "status": "error",
                        "error": f"the result is too large ({len(payload)} bytes, limit "
                        f"{limits.result_bytes}); narrow the scenario",
                    }
                ).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException as exc:  # a failure before or after the program: report, never hang
            with contextlib.suppress(Exception), os.fdopen(write_end, "wb") as pipe:
                pipe.write(json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    size = 0
    deadline = started + limits.wall_seconds
    timed_out = too_large = False
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_end], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > limits.result_bytes + 4096:
            too_large = True
            break
        chunks.append(chunk)
    os.close(read_end)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    cpu_used = usage.ru_utime + usage.ru_stime
    shutil.rmtree(mount_point, ignore_errors=True)
    seconds = time.perf_counter() - started
    if timed_out:
        message = f"the program ran past its {limits.wall_seconds:g} s limit and was killed"
        return {"status": "timeout", "error": message, "seconds": seconds}
    if too_large:
        return {"status": "error", "error": f"the result exceeded {limits.result_bytes} bytes", "seconds": seconds}
    try:
        reply: dict[str, Any] = json.loads(b"".join(chunks))
    except json.JSONDecodeError:
        if cpu_used >= limits.cpu_seconds - 0.05:
            message = f"the program used up its CPU time limit ({limits.cpu_seconds} s) and was stopped"
            return {"status": "timeout", "error": message, "seconds": seconds}
        signalled = os.WIFSIGNALED(status)
        why = f"killed by signal {os.WTERMSIG(status)}" if signalled else f"exit status {os.WEXITSTATUS(status)}"
        return {"status": "error", "error": f"the program's process died ({why})", "seconds": seconds}
    reply["seconds"] = seconds
    return reply


def main(argv: list[str]) -> None:
    """Serve jobs from stdin until it closes."""
    cache_root = Path(argv[0])
    source = argv[1] if len(argv) > 1 else "annotations"
    set_active_source(source)
    compat.configure(**json.loads(os.environ.get("AVMINE_COMPAT", "{}")))
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but results goes to the protocol stream
    print(json.dumps({"ready": True, "pid": os.getpid()}), file=out, flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        if "warm" in job:
            for log_id in job["warm"]:
                with contextlib.suppress(FileNotFoundError):
                    warm_context(cache_root, log_id, source)
            print(json.dumps({"job_id": job.get("job_id"), "warmed": True}), file=out, flush=True)
            continue
        result = run_job(job, cache_root, source)
        result["job_id"] = job.get("job_id")
        result["log_id"] = job.get("log_id")
        print(json.dumps(result), file=out, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
