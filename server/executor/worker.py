"""A warm worker: loads the runtime and logs once, then runs each program in a fresh sandboxed fork.

The worker itself runs only trusted code. It reads one job per line (JSON) on stdin and writes
one result per line on stdout. For each job it forks; the child enters the sandbox
(``server.executor.sandbox``) and runs the program against the log's preloaded context; the
worker reads the child's result from a pipe (bounded), kills the child's whole process group at
the wall-clock limit, and reports.

    python -m server.executor.launch CACHE_ROOT [SOURCE [LIMITS_JSON]]
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import atomic
from atomic import compat
from atomic.context import LogContext, pin_context, set_active_source
from atomic.output import post_process_scenario
from atomic.program import ProgramError, prepare
from atomic.validation import ArgumentError
from server.executor import errors, messages, namespaces, policy, sandbox
from server.executor.safe_builtins import BoundedText, make_builtins, safe_module
from store.arrays import load_log_arrays
from vlm.program_functions import set_broker

_contexts: dict[str, tuple[str, LogContext]] = {}  # log id -> (cache key, context)
_generation = 0
"""Bumped whenever a context is loaded or replaced: an armed child forked before that lacks it."""
_MODULES = {name: safe_module(importlib.import_module(name)) for name in policy.ALLOWED_IMPORTS}
"""The modules programs may import, wrapped once here: nothing can be imported inside the sandbox."""
SANDBOX_PREFIX = "avmine-sandbox-"


def warm_context(cache_root: Path, log_id: str, source: str, key: str | None = None) -> LogContext:
    """Load a log once (again when its cache key changed) and compute everything a program may ask for.

    After this the sandboxed child needs no file: the arrays are mapped and the map is indexed.
    """
    global _generation
    loaded = _contexts.get(log_id)
    if loaded is None or (key is not None and loaded[0] != key):
        ctx = LogContext(load_log_arrays(cache_root / log_id, source))
        for name in (
            "smoothed_xyz_city", "velocity_city", "acceleration_city", "yaw_rate", "yaw_city", "rotation_city",
            "footprints_city", "footprints_ego", "is_stationary", "static_map", "map_index", "map_regions", "row_lane",
        ):  # fmt: skip
            getattr(ctx, name)
        _contexts[log_id] = (ctx.arrays.key, ctx)
        _generation += 1
    ctx = _contexts[log_id][1]
    if ctx.refresh_colors():  # `avmine colors` wrote new colours: a child armed before must not run with old ones
        _generation += 1
    return ctx


def _timed(name: str, func: Callable[..., Any], seconds: dict[str, float]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        except (ArgumentError, TypeError) as exc:
            errors.name_the_call(exc, name, func)
            raise
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


@dataclass
class Scope:
    """What a program runs with, built while the sandboxed child waits for its job."""

    namespace: dict[str, Any]
    stdout: BoundedText
    function_seconds: dict[str, float]
    outputs: list[Any]


def build_scope(limits: sandbox.Limits) -> Scope:
    """The program's namespace: timed atomic functions, wrapped modules, stripped builtins, output capture."""
    stdout = BoundedText(limits.stdout_chars)
    function_seconds: dict[str, float] = {}
    namespace: dict[str, Any] = {
        name: _timed(name, func, function_seconds) for name, func in atomic.program_namespace().items() if name != "np"
    }
    namespace.update(np=_MODULES["numpy"], output_dir=Path("/scratch"), __builtins__=make_builtins(stdout, _MODULES))
    return Scope(namespace, stdout, function_seconds, [])


def _run_program(job: dict[str, Any], ctx: LogContext, layers: sandbox.Layers, scope: Scope) -> dict[str, Any]:
    """Runs in the sandboxed child: the program and RefAV's post-processing. Returns the result document."""
    started = time.perf_counter()
    if layers.missing() and not job.get("allow_missing_layers"):
        return {"status": "error", "error": f"sandbox layers not active: {', '.join(layers.missing())}"}
    text = job["program"]
    stdout, function_seconds, outputs, namespace = scope.stdout, scope.function_seconds, scope.outputs, scope.namespace

    def output_scenario(scenario: Any, *args: Any, **kwargs: Any) -> None:
        post_process_scenario(scenario, ctx.log_dir)  # RefAV's post-processing, in place
        outputs.append(scenario)

    namespace.update(log_dir=ctx.log_dir, description=job["prompt"], output_scenario=output_scenario)
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


def _run_raw(job: dict[str, Any], layers: sandbox.Layers) -> dict[str, Any]:
    """Tests of the OS boundary: the program gets Python as an escaped program would have it.

    What it leaves in ``result`` comes back as ``stdout`` (its repr); an exception as ``error``, with
    its errno as ``stdout``.
    """
    import builtins

    namespace: dict[str, Any] = {"__builtins__": builtins, "os": os, "result": None}
    try:
        exec(job["program"], namespace)
        outcome: dict[str, Any] = {"status": "ok", "scenario": {}, "stdout": repr(namespace["result"])}
    except BaseException as exc:
        outcome = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "stdout": str(getattr(exc, "errno", None)),
        }
    return {**outcome, "layers": layers.__dict__}


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
    os.closerange(previous + 1, 1 << 16)


def arm(limits: sandbox.Limits, base: Path, confinement: sandbox.Confinement, raw: bool = False) -> Armed:
    """Fork a child that enters the sandbox now and runs the one job it is later sent.

    ``raw`` (tests of the OS boundary only; set by the worker's command line, which neither a
    program nor the MCP server controls) runs the job with the real builtins and ``os``.
    """
    mount_point = Path(tempfile.mkdtemp(dir=base))
    job_read, job_write = os.pipe()
    result_read, result_write = os.pipe()
    ask_read, ask_write = os.pipe()
    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (job_write, result_read, ask_read, answer_write):
            os.close(fd)
        try:
            _keep_only((job_read, result_write, ask_write, answer_read))
            os.environ.clear()  # nothing of the server's environment (keys, tokens) stays reachable
            layers = sandbox.enter(mount_point, limits, confinement)
            set_broker(_pipe_broker(ask_write, answer_read))
            scope = build_scope(limits)
            with os.fdopen(job_read, "rb") as pipe:
                job = json.loads(pipe.read())
            ctx = _contexts[job["log_id"]][1]
            pin_context(ctx.log_dir, ctx)
            result = _run_raw(job, layers) if raw else _run_program(job, ctx, layers, scope)
            payload = json.dumps(result).encode()
            if len(payload) > limits.result_bytes:
                too_large = f"the result is too large ({len(payload)} bytes, limit {limits.result_bytes}); narrow it"
                payload = json.dumps({"status": "error", "error": too_large}).encode()
        except BaseException as exc:  # a failure around the program: report it, never hang
            payload = json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"}).encode()
        try:
            with os.fdopen(result_write, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    for fd in (job_read, result_write, ask_write, answer_read):
        os.close(fd)
    return Armed(pid, job_write, result_read, mount_point, _generation, ask_read, answer_write)


def _pipe_broker(asks: int, answers: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Runs in the child: a VLM request goes out as a JSON line; the answer comes back as one."""
    pending = bytearray()

    def ask(request: dict[str, Any]) -> dict[str, Any]:
        data = (json.dumps(request) + "\n").encode()
        while data:
            data = data[os.write(asks, data) :]
        while b"\n" not in pending:
            chunk = os.read(answers, 1 << 16)
            if not chunk:
                return {"error": "the worker closed the VLM channel"}
            pending.extend(chunk)
        line, _, rest = bytes(pending).partition(b"\n")
        pending[:] = rest
        answer: dict[str, Any] = json.loads(line)
        return answer

    return ask


def _sweep_dead_workers() -> None:
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


Relay = Callable[[dict[str, Any]], dict[str, Any]]
"""Passes a program's VLM request to the executor and returns its answer."""
MAX_VLM_CALLS = 50
"""VLM calls one program may make (each may ask about many views)."""


def run_job(
    job: dict[str, Any], armed: Armed, limits: sandbox.Limits, relay: Relay | None = None
) -> tuple[dict[str, Any], Armed | None]:
    """Hand a job to an armed child and collect its result; never raises for anything the program does.

    Returns:
        The result, and the child still to be reaped (None if it was reaped already): reaping a
        process that maps the warm runtime takes ~10 ms, so a result is answered first.
    """
    started = time.perf_counter()
    with contextlib.suppress(BrokenPipeError), os.fdopen(armed.jobs, "wb") as pipe:
        pipe.write(json.dumps(job).encode())
    chunks: list[bytes] = []
    size = 0
    deadline = started + limits.wall_seconds
    timed_out = too_large = False
    asked = bytearray()
    calls = 0
    watched = [armed.results, armed.asks]
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select(watched, [], [], remaining)
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
                answer = _answer(line, relay, calls, limits)
                deadline += time.perf_counter() - waited  # the VLM's time is not the program's
                with contextlib.suppress(OSError):
                    os.write(armed.answers, (json.dumps(answer) + "\n").encode())
            continue
        chunk = os.read(armed.results, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > limits.result_bytes + 4096:
            too_large = True
            break
        chunks.append(chunk)
    malformed = None
    if not (timed_out or too_large) and chunks:
        try:
            reply = messages.child_result(b"".join(chunks), limits)
            reply["seconds"] = time.perf_counter() - started
            return reply, armed
        except messages.MessageError as exc:  # cut off by its death (below), or forged by an escaped program
            malformed = str(exc)
    # no result: the program was stopped or its process died; reap it to learn how
    status, cpu_used = disarm(armed, grace=1.0 if malformed is not None else 0.0)
    seconds = time.perf_counter() - started
    if timed_out:
        message = f"the program ran past its {limits.wall_seconds:g} s limit and was killed"
        return {"status": "timeout", "error": message, "seconds": seconds}, None
    if too_large:
        return {
            "status": "error",
            "error": f"the result exceeded {limits.result_bytes} bytes",
            "seconds": seconds,
        }, None
    cpu_signal = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU
    if cpu_signal or cpu_used >= limits.cpu_seconds - 0.05:
        message = f"the program used up its CPU time limit ({limits.cpu_seconds} s) and was stopped"
        return {"status": "timeout", "error": message, "seconds": seconds}, None
    signalled = os.WIFSIGNALED(status)
    if malformed is not None and not signalled:
        return {"status": "error", "error": malformed, "seconds": seconds}, None
    why = f"killed by signal {os.WTERMSIG(status)}" if signalled else f"exit status {os.WEXITSTATUS(status)}"
    return {"status": "error", "error": f"the program's process died ({why})", "seconds": seconds}, None


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


RAW_FOR_TESTS = "--raw-python-for-os-boundary-tests"
"""The worker's command-line switch for ``_run_raw``; the executor never passes it."""


def main(argv: list[str], identity: namespaces.Identity) -> None:
    """Serve jobs from stdin until it closes; the process is already in its namespaces (``launch``).

    Args:
        argv: ``CACHE_ROOT [SOURCE [LIMITS_JSON]] [--raw-python-for-os-boundary-tests]``.
        identity: what ``namespaces.enter_worker_namespaces`` returned.
    """
    raw = RAW_FOR_TESTS in argv
    argv = [arg for arg in argv if arg != RAW_FOR_TESTS]
    cache_root = Path(argv[0])
    source = argv[1] if len(argv) > 1 else "annotations"
    limits = sandbox.Limits(**json.loads(argv[2])) if len(argv) > 2 else sandbox.Limits()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but results goes to the protocol stream
    try:
        confinement = sandbox.prepare(identity)
    except sandbox.SandboxError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), file=out, flush=True)
        return
    set_active_source(source)
    compat.configure(**json.loads(os.environ.get("AVMINE_COMPAT", "{}")))
    _sweep_dead_workers()
    base = Path(tempfile.gettempdir()) / f"{SANDBOX_PREFIX}{confinement.identity.host_pid}"
    base.mkdir(exist_ok=True)
    print(json.dumps({"ready": True, "pid": confinement.identity.host_pid}), file=out, flush=True)
    armed: Armed | None = None

    def relay(request: dict[str, Any]) -> dict[str, Any]:
        print(json.dumps({"vlm_request": request}), file=out, flush=True)
        line = sys.stdin.readline()
        if not line:
            return {"error": "the executor closed the connection"}
        answer: dict[str, Any] = json.loads(line).get("vlm_answer") or {"error": "the executor sent no answer"}
        return answer

    def fresh() -> Armed:
        return arm(limits, base, confinement, raw)

    try:
        for line in sys.stdin:
            job = json.loads(line)
            reply, finished = _serve(job, cache_root, source, limits, armed, fresh, relay)
            armed = None
            reply.update(job_id=job.get("job_id"), log_id=job.get("log_id"))
            print(json.dumps(reply), file=out, flush=True)
            if finished is not None:  # answered first, reaped now
                disarm(finished)
            armed = fresh()  # after replying: the next program finds its sandbox ready
    finally:
        if armed is not None:
            disarm(armed)
        shutil.rmtree(base, ignore_errors=True)


def _serve(
    job: dict[str, Any],
    cache_root: Path,
    source: str,
    limits: sandbox.Limits,
    armed: Armed | None,
    fresh: Callable[[], Armed],
    relay: Relay | None = None,
) -> tuple[dict[str, Any], Armed | None]:
    """One job: load the logs it needs, then run it (or just warm). Consumes ``armed``."""
    try:
        for log_id in job.get("warm") or [job["log_id"]]:
            warm_context(cache_root, log_id, source, job.get("cache_key"))
    except Exception as exc:  # a missing or corrupt cache: report it, keep serving
        if armed is not None:
            disarm(armed)
        return {"status": "error", "error": f"the log could not be loaded: {type(exc).__name__}: {exc}"}, None
    if armed is not None and armed.generation != _generation:
        disarm(armed)  # it was forked before these logs were (re)loaded
        armed = None
    if "warm" in job:
        if armed is not None:
            disarm(armed)
        return {"warmed": True}, None
    return run_job(job, armed or fresh(), limits, relay)
