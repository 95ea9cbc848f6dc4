"""What a sandboxed child runs: a job's program on each of its logs, one result line per log.

The program itself runs through ``avmine.atomic.runner`` (the runner in-process callers use too); this
module gives it the sandbox's namespace (timed functions, wrapped modules, stripped builtins,
bounded output), refuses to run where a sandbox layer is missing, resets what a program may have
changed between logs, and writes each log's result document to the result pipe.
"""

from __future__ import annotations

import ast
import gc
import importlib
import json
import math
import mmap
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avmine import atomic
from avmine.atomic.context import LogContext, clear_pins, pin_context, set_active_source
from avmine.atomic.program import ProgramError
from avmine.atomic.runner import Compiled, Scope, compile_program, run_on_log, timed
from avmine.atomic.trace import Trace
from avmine.server.executor import policy, sandbox
from avmine.server.executor.log_contexts import LogContexts, job_logs
from avmine.server.executor.safe_builtins import BoundedText, make_builtins, safe_module
from avmine.store.arrays import ANNOTATIONS_SOURCE

_MODULES = {name: safe_module(importlib.import_module(name)) for name in policy.ALLOWED_IMPORTS}
"""The modules programs may import, wrapped once here: nothing can be imported inside the sandbox."""


def build_scope(limits: sandbox.Limits, printed: mmap.mmap | None = None) -> Scope:
    """The program's namespace: timed, traced atomic functions, wrapped modules, stripped builtins, output capture.

    ``printed``: shared memory the output is mirrored into as it is printed (read by the worker if the program is
    killed).
    """
    stdout = BoundedText(limits.stdout_chars, printed)
    function_seconds: dict[str, float] = {}
    trace = Trace()
    namespace: dict[str, Any] = {
        name: timed(name, func, function_seconds, trace)
        for name, func in atomic.program_namespace().items()
        if name != "np"
    }
    namespace.update(np=_MODULES["numpy"], output_dir=Path("/scratch"), __builtins__=make_builtins(stdout, _MODULES))
    return Scope(namespace, stdout.text, function_seconds, trace)


def _enforce_policy(tree: ast.Module) -> None:
    try:
        policy.enforce(tree)
    except policy.PolicyError as exc:
        raise ProgramError(str(exc)) from exc


def compile_checked(text: str) -> Compiled:
    """Parse, check against the policy and compile a program once per child; its logs each run it afresh."""
    return compile_program(text, check=_enforce_policy)


def scenario_document(value: Any) -> Any:
    """A scenario as the result line carries it: string keys, sorted integer timestamps."""
    if isinstance(value, dict):
        return {str(k): scenario_document(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple | np.ndarray):
        return sorted(int(t) for t in value)
    return value


def run_log(
    job: dict[str, Any], ctx: LogContext, layers: sandbox.Layers, scope: Scope, program: Compiled
) -> dict[str, Any]:
    """The program on one log, with RefAV's post-processing; returns the result document."""
    if layers.missing() and not job.get("allow_missing_layers"):
        return {"status": "error", "error": f"sandbox layers not active: {', '.join(layers.missing())}"}
    run = run_on_log(program, scope, ctx.log_dir, job["prompt"])
    if run.error is not None:
        failed = {"status": "error", "error": run.error, "stdout": run.stdout, "trace": run.trace}
        return {**failed, "layers": layers.__dict__}
    return {
        "status": "ok",
        "scenario": scenario_document(run.scenario),
        "stdout": run.stdout,
        "trace": run.trace,
        "function_seconds": run.function_seconds,
        "seconds": run.seconds,
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


def run_job_logs(
    job: dict[str, Any],
    contexts: LogContexts,
    layers: sandbox.Layers,
    limits: sandbox.Limits,
    raw: bool,
    result: int,
    printed: mmap.mmap | None = None,
) -> None:
    """Runs in the sandboxed child: the job's program on each of its logs, one result line per log.

    Each log gets fresh globals, builtins and output capture, NumPy's global state as the child
    started with it, its own CPU time limit (the soft limit, reset before each log), and the
    memory its context computed on the way is given back before the next log.
    """
    fresh = _Fresh()
    program = None if raw else compile_checked(job["program"])
    gc.freeze()  # the warm runtime's objects: collections after each log only look at the program's
    for index, entry in enumerate(job_logs(job, ANNOTATIONS_SOURCE)):
        if index:  # the first log has the limit set on entering; each later one from where the last left off
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]  # (whole seconds: a later log gets up to 1 s more)
            soft = math.ceil(_cpu_used()) + limits.cpu_seconds
            resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard), hard))
        try:
            ctx = contexts[(entry["log_id"], entry["source"])].ctx
            mark = ctx.mark()
            fresh.restore()
            set_active_source(entry["source"])
            clear_pins()
            pin_context(ctx.log_dir, ctx)
            if program is None:
                outcome = _run_raw(job, layers)
            else:
                outcome = run_log(job, ctx, layers, build_scope(limits, printed), program)
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


def pipe_broker(asks: int, answers: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
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
