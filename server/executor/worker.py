"""A warm worker: loads the runtime and logs once, then runs each program in a fresh sandboxed fork.

The worker itself runs only trusted code. It reads one job per line (JSON) on stdin and writes
one result per log per line on stdout. A job is one program over one or more logs; for each job
it forks a child that enters the sandbox (``server.executor.sandbox``) and runs the program on
each log in turn, against the logs' preloaded contexts, each log with fresh globals, its own CPU
time limit and its own result line. The worker reads those lines from a pipe (bounded), kills the
child's whole process group when a log passes the wall-clock limit, and goes on with the job's
remaining logs in a fresh child. Programs of different jobs never share a child.

Loaded logs are kept by (log, source), least recently used first, within a byte budget.

    python -m server.executor.launch CACHE_ROOT [SOURCE [LIMITS_JSON]] [--memory-budget=BYTES]
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import json
import math
import os
import resource
import select
import shutil
import signal
import socket  # noqa: F401  (imported before the sandbox: verify() needs it once files are gone)
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import atomic
from atomic import compat, derived
from atomic.context import LogContext, clear_pins, pin_context, set_active_source
from atomic.functions.map import warm_map_masks
from atomic.output import post_process_scenario
from atomic.program import ProgramError, prepare
from atomic.validation import ArgumentError
from server.executor import errors, memory, messages, namespaces, policy, sandbox
from server.executor.safe_builtins import BoundedText, make_builtins, safe_module
from store.arrays import load_log_arrays
from vlm.program_functions import set_broker


@dataclass
class Loaded:
    """A log's context as this worker holds it."""

    key: str
    """The cache key it was loaded for: a re-ingested log is loaded again."""
    ctx: LogContext
    nbytes: int
    """Memory it holds in this process (what is memory-mapped is not counted: the page cache shares it)."""
    map_masks: bool = False
    """The default map masks are computed (``warm_map_masks``): every child forked since inherits them."""


_contexts: OrderedDict[tuple[str, str], Loaded] = OrderedDict()
"""(log id, source) -> loaded context, least recently used first."""
_budget = [memory.default_budget()]
"""Bytes this worker may hold in loaded contexts; the least recently used are dropped beyond it."""
_generation = 0
"""Bumped whenever a context is loaded, replaced or dropped: an armed child forked before that is stale
(it lacks the context, or holds memory the worker gave back)."""
_MODULES = {name: safe_module(importlib.import_module(name)) for name in policy.ALLOWED_IMPORTS}
"""The modules programs may import, wrapped once here: nothing can be imported inside the sandbox."""
SANDBOX_PREFIX = "avmine-sandbox-"
MAX_LOGS_PER_CHILD = 64
"""Logs one sandboxed child runs at most (its CPU hard limit covers this many)."""
_WARMED = (
    "smoothed_xyz_city", "velocity_city", "acceleration_city", "yaw_rate", "yaw_city", "rotation_city",
    "footprints_city", "footprints_ego", "is_stationary", "static_map", "map_index", "map_regions", "row_lane",
)  # fmt: skip


def warm_context(
    cache_root: Path, log_id: str, source: str, key: str | None = None, keep: frozenset[tuple[str, str]] = frozenset()
) -> LogContext:
    """Load a log once (again when its cache key changed) and compute everything a program may ask for.

    After this the sandboxed child needs no file: the arrays are mapped and the map is indexed.
    Per-row series come from the log's derived cache (``atomic.derived``), computed and stored
    there by the first process that needs them, so every worker maps one copy. Contexts beyond
    the byte budget are dropped, least recently used first, except those in ``keep``.
    """
    global _generation
    loaded = _contexts.get((log_id, source))
    if loaded is None or (key is not None and loaded.key != key):
        if loaded is not None:
            del _contexts[(log_id, source)]
        before = memory.live_bytes()
        ctx = LogContext(load_log_arrays(cache_root / log_id, source))
        derived.attach(ctx)
        for name in _WARMED:
            getattr(ctx, name)
        derived.store(ctx)
        loaded = Loaded(ctx.arrays.key, ctx, max(memory.live_bytes() - before, memory.in_memory_bytes(ctx)))
        _generation += 1
    _contexts[(log_id, source)] = loaded
    _contexts.move_to_end((log_id, source))
    _evict(keep | {(log_id, source)})
    if loaded.ctx.refresh_colors():  # `avmine colors` wrote new colours: an armed child must not run with old ones
        _generation += 1
    return loaded.ctx


MAP_MASK_FUNCTIONS = ("in_drivable_area", "near_intersection", "at_pedestrian_crossing")
"""Functions whose per-box masks (ray casting, a few hundred ms a log) the worker computes before forking."""


def warm_map_masks_for(program: str, loaded: Loaded) -> None:
    """Compute a log's default map masks once, when a program names a function that reads them.

    Only then: a program that does not need them (most) would pay for them on every cold log.
    """
    global _generation
    if not loaded.map_masks and any(name in program for name in MAP_MASK_FUNCTIONS):
        warm_map_masks(loaded.ctx)
        loaded.map_masks = True
        _generation += 1  # a child armed before lacks them: it is forked again


def _evict(keep: frozenset[tuple[str, str]] | set[tuple[str, str]]) -> None:
    """Drop least recently used contexts (not in ``keep``) until the rest fit the budget."""
    global _generation
    over = held_bytes() - _budget[0]
    for name in [name for name in _contexts if name not in keep]:
        if over <= 0:
            break
        over -= _contexts.pop(name).nbytes
        _generation += 1  # an armed child still holds the dropped context's memory: it is re-forked
    if over < 0:
        return
    gc.collect()


def held_bytes() -> int:
    """Memory held by this worker's loaded contexts."""
    return sum(loaded.nbytes for loaded in _contexts.values())


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


Compiled = Any
"""A program's code object, or the ProgramError/PolicyError that preparing it raised."""


def compile_program(text: str) -> Compiled:
    """Parse, check and compile a program once per child; its logs each run the code with fresh globals."""
    try:
        return compile(prepare(text, check=policy.enforce), errors.PROGRAM_FILE, "exec")
    except (ProgramError, policy.PolicyError) as exc:
        return exc


def _run_program(
    job: dict[str, Any], ctx: LogContext, layers: sandbox.Layers, scope: Scope, code: Compiled = None
) -> dict[str, Any]:
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
        code = compile_program(text) if code is None else code
        if isinstance(code, Exception):
            raise code
        exec(code, namespace)
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


def job_logs(job: dict[str, Any], default_source: str) -> list[dict[str, Any]]:
    """A job's logs as ``{"log_id", "source", "cache_key"}``: its ``logs``, or its one ``log_id``."""
    source = str(job.get("source") or default_source)
    entries = job.get("logs") or [{"log_id": job["log_id"], "cache_key": job.get("cache_key")}]
    return [{"log_id": str(e["log_id"]), "source": source, "cache_key": e.get("cache_key")} for e in entries]


@dataclass
class _Fresh:
    """Process-wide state a program may change that each log must start from as a fresh fork has it."""

    random_state: Any = field(default_factory=np.random.get_state)
    print_options: Any = field(default_factory=np.get_printoptions)
    float_errors: Any = field(default_factory=np.geterr)

    def restore(self) -> None:
        np.random.set_state(self.random_state)
        np.set_printoptions(**self.print_options)
        np.seterr(**self.float_errors)


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_logs(job: dict[str, Any], layers: sandbox.Layers, limits: sandbox.Limits, raw: bool, result: int) -> None:
    """Runs in the sandboxed child: the job's program on each of its logs, one result line per log.

    Each log gets fresh globals, builtins and output capture, NumPy's global state as the child
    started with it, its own CPU time limit (the soft limit, reset before each log), and the
    memory its context computed on the way is given back before the next log.
    """
    fresh = _Fresh()
    code = None if raw else compile_program(job["program"])
    gc.freeze()  # the warm runtime's objects: collections after each log only look at the program's
    for index, entry in enumerate(job_logs(job, "annotations")):
        if index:  # the first log has the limit set on entering; each later one from where the last left off
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]  # (whole seconds: a later log gets up to 1 s more)
            soft = math.ceil(_cpu_used()) + limits.cpu_seconds
            resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard), hard))
        try:
            loaded = _contexts[(entry["log_id"], entry["source"])]
            ctx = loaded.ctx
            mark = ctx.mark()
            fresh.restore()
            set_active_source(entry["source"])
            clear_pins()
            pin_context(ctx.log_dir, ctx)
            outcome = _run_raw(job, layers) if raw else _run_program(job, ctx, layers, build_scope(limits), code)
            payload = json.dumps(outcome).encode()
            if len(payload) > limits.result_bytes:
                too_large = f"the result is too large ({len(payload)} bytes, limit {limits.result_bytes}); narrow it"
                payload = json.dumps({"status": "error", "error": too_large}).encode()
            del outcome
            ctx.forget_since(mark)
        except BaseException as exc:  # a failure around the program: report it, never hang
            payload = json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"}).encode()
        gc.collect()
        payload += b"\n"  # json.dumps writes no newline: one line per log
        while payload:
            payload = payload[os.write(result, payload) :]


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
    os.closerange(previous + 1, max(1 << 16, resource.getrlimit(resource.RLIMIT_NOFILE)[0]))


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
            layers = sandbox.enter(mount_point, limits, confinement, runs=MAX_LOGS_PER_CHILD)
            set_broker(_pipe_broker(ask_write, answer_read))
            with os.fdopen(job_read, "rb") as pipe:
                job = json.loads(pipe.read())
            _run_logs(job, layers, limits, raw, result_write)
        except BaseException as exc:  # a failure around the programs: report it, never hang
            payload = json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"}).encode()
            with contextlib.suppress(OSError):
                os.write(result_write, payload + b"\n")
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
    with contextlib.suppress(BrokenPipeError), os.fdopen(armed.jobs, "wb") as pipe:
        pipe.write(json.dumps(job).encode())
    pending = bytearray()
    scanned = 0
    done = 0
    deadline = started + limits.wall_seconds
    timed_out = too_large = ended = False
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
    while done < len(logs) and malformed is None:
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
                with contextlib.suppress(OSError):
                    os.write(armed.answers, (json.dumps(reply) + "\n").encode())
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
    answer(logs[done], _failure(status, cpu_used if first else 0.0, seconds, limits, timed_out, too_large, malformed))
    return done + 1, None


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


RAW_FOR_TESTS = "--raw-python-for-os-boundary-tests"
"""The worker's command-line switch for ``_run_raw``; the executor never passes it."""


BUDGET_FLAG = "--memory-budget="
"""The worker's command-line option: bytes it may hold in loaded logs."""


def main(argv: list[str], identity: namespaces.Identity) -> None:
    """Serve jobs from stdin until it closes; the process is already in its namespaces (``launch``).

    Args:
        argv: ``CACHE_ROOT [SOURCE [LIMITS_JSON]] [--memory-budget=BYTES] [--raw-python-for-os-boundary-tests]``;
            SOURCE is the track source of jobs that name none.
        identity: what ``namespaces.enter_worker_namespaces`` returned.
    """
    raw = RAW_FOR_TESTS in argv
    for arg in argv:
        if arg.startswith(BUDGET_FLAG):
            _budget[0] = int(arg.removeprefix(BUDGET_FLAG))
    argv = [arg for arg in argv if arg != RAW_FOR_TESTS and not arg.startswith(BUDGET_FLAG)]
    cache_root = Path(argv[0])
    source = argv[1] if len(argv) > 1 else "annotations"
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
    _sweep_dead_workers()
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
        return arm(limits, base, confinement, raw)

    try:
        for line in sys.stdin:
            job = json.loads(line)
            if "memory" in job:  # what this worker holds, for operators and tests
                report = {"loaded_logs": len(_contexts), "held_bytes": held_bytes(), "budget_bytes": _budget[0]}
                print(json.dumps({"job_id": job.get("job_id"), **report}), file=out, flush=True)
                continue

            def emit(reply: dict[str, Any], job: dict[str, Any] = job) -> None:
                reply.update(job_id=job.get("job_id"))
                reply.setdefault("log_id", job.get("log_id"))
                print(json.dumps(reply), file=out, flush=True)

            finished = _serve(job, cache_root, source, limits, armed, fresh, relay, emit)
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
    cache_root: Path,
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
                warm_context(cache_root, entry["log_id"], entry["source"])
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
                warm_context(cache_root, name[0], name[1], entry.get("cache_key"), keep)
                warm_map_masks_for(str(job.get("program", "")), _contexts[name])
            except Exception as exc:  # a missing or corrupt cache: report it, keep serving
                entries.remove(entry)
                error = f"the log could not be loaded: {type(exc).__name__}: {exc}"
                emit({"status": "error", "error": error, "log_id": name[0]})
                continue
            if group and held_bytes() > _budget[0]:  # it stays loaded: the next group starts with it
                break
            group.append(entry)
            entries.remove(entry)
        while group:
            if armed is not None and armed.generation != _generation:
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
