"""The one program runner: a scenario program on one log, as the sandboxed worker and in-process callers run it.

Both the executor's sandboxed child (``avmine.server.executor.sandboxed_child``) and trusted in-process callers
(``run_program``: tests that look inside a run, benchmarks) go through ``run_on_log``: the same
namespace binding, output capture, RefAV's post-processing at each ``output_scenario`` call,
function timing and error formatting. They differ only in what they hand it: the sandbox gives
wrapped modules, stripped builtins and a bounded ``print``; in-process callers the real ones.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

from avmine.atomic.output import post_process_scenario
from avmine.atomic.program import ProgramError, normalise, prepare
from avmine.atomic.program_errors import PROGRAM_FILE, name_the_call, runtime_error
from avmine.atomic.trace import Trace, parameter_names
from avmine.atomic.validation import ArgumentError

NO_OUTPUT = "the program finished without calling output_scenario"


@dataclass(frozen=True)
class Compiled:
    """A program prepared once for all the logs it runs on."""

    text: str
    """The code that runs (the last fenced block, quotes made ASCII): tracebacks quote its lines."""
    code: CodeType | None
    error: str | None = None
    """Why it cannot run (a syntax error, a refused construct, no ``output_scenario``); then ``code`` is None."""


def compile_program(text: str, check: Callable[[Any], None] | None = None) -> Compiled:
    """Parse, check and compile a program; an unrunnable one comes back with its error instead of raising.

    Args:
        text: the program, or an answer holding it in a fenced block.
        check: called with the parsed tree (the sandbox's policy); it refuses a program by raising ProgramError.
    """
    code_text = normalise(text)
    try:
        return Compiled(code_text, compile(prepare(text, check=check), PROGRAM_FILE, "exec"))
    except ProgramError as exc:
        return Compiled(code_text, None, str(exc))
    except SyntaxError as exc:  # what only the compiler sees, such as `return` outside a function
        return Compiled(code_text, None, f"syntax error on line {exc.lineno}: {exc.msg}")


def timed(
    name: str, func: Callable[..., Any], seconds: dict[str, float], trace: Trace | None = None
) -> Callable[..., Any]:
    """``func`` adding its time to ``seconds[name]``; an argument error it raises names ``name``, the call written.

    With ``trace``, each call not made inside another traced call is a step of it; a function it returns
    (``scenario_not(f)``) is traced too, as ``name(f)``, its time left to ``f``'s own (counted once).
    """
    parameters = parameter_names(func) if trace is not None else []

    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        if trace is not None:
            trace.depth += 1
        try:
            result = func(*args, **kwargs)
        except (ArgumentError, TypeError) as exc:
            name_the_call(exc, name, func)
            raise
        finally:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
            if trace is not None:
                trace.depth -= 1
        if trace is not None and not trace.depth:
            if callable(result) and args:
                inner = getattr(args[0], "__name__", "function")
                return timed(f"{name}({inner})", result, {}, trace)
            trace.record(name, parameters, args, kwargs, result)
        return result

    call.__name__ = func.__name__
    call.__wrapped__ = func  # type: ignore[attr-defined]  # scenario_not and reverse_relationship read signatures
    return call


@dataclass
class Scope:
    """What one run of a program on one log starts from: fresh for every log."""

    namespace: dict[str, Any]
    """The names the program sees (functions, ``np``, ``output_dir``, ``__builtins__``); the runner adds the rest."""
    stdout: Callable[[], str]
    """What the program printed so far."""
    function_seconds: dict[str, float] = field(default_factory=dict)
    """Filled by the functions of ``namespace`` that were wrapped with ``timed``."""
    trace: Trace = field(default_factory=Trace)
    """Filled by the functions of ``namespace`` that were wrapped with ``timed`` and this trace."""


@dataclass
class LogRun:
    """What a program did on one log."""

    outputs: list[Any] = field(default_factory=list)
    """The scenario of each ``output_scenario`` call, post-processed (RefAV's answer is the last)."""
    raw_outputs: list[Any] = field(default_factory=list)
    """The same before post-processing, kept only when asked (``keep_raw``: tests that look inside)."""
    stdout: str = ""
    error: str | None = None
    trace: dict[str, Any] = field(default_factory=dict)
    """What each atomic call of the program kept (``avmine.atomic.trace``)."""
    function_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def scenario(self) -> Any:
        """The program's answer: its last output (None when it failed)."""
        return self.outputs[-1] if self.outputs and self.error is None else None


def run_on_log(program: Compiled, scope: Scope, log_dir: Path, description: str, keep_raw: bool = False) -> LogRun:
    """Run a compiled program on one log in this process; never raises for anything the program does.

    Binds ``log_dir``, ``description`` and ``output_scenario`` (which post-processes each scenario in
    place, as RefAV's does, and records it). The runner's description wins over the program's.
    """
    started = time.perf_counter()
    run = LogRun(function_seconds=scope.function_seconds)
    namespace = scope.namespace

    def output_scenario(scenario: Any, *args: Any, **kwargs: Any) -> None:
        if keep_raw:
            run.raw_outputs.append(copy.deepcopy(scenario))
        post_process_scenario(scenario, log_dir)  # RefAV's post-processing, in place
        run.outputs.append(scenario)

    namespace.update(log_dir=log_dir, description=description, output_scenario=output_scenario)
    if program.code is None:
        run.error = program.error
    else:
        try:
            exec(program.code, namespace)
        except RecursionError:
            run.error = "RecursionError: the program recursed too deeply"
        except MemoryError:
            run.error = "MemoryError: the program exceeded its memory limit"
        except BaseException as exc:  # the program's own error, whatever it raised
            run.error = runtime_error(exc, program.text, namespace)
        else:
            if not run.outputs:
                run.error = NO_OUTPUT
    run.stdout = scope.stdout()
    run.trace = scope.trace.as_json()
    run.seconds = time.perf_counter() - started
    return run


def run_program(
    text: str, namespace: Mapping[str, Any], log_dir: Path, description: str, output_dir: Path, keep_raw: bool = False
) -> LogRun:
    """Run a program on one log in this process with Python's own builtins: trusted code only.

    For tests that look inside a run and for benchmarks; agents' programs go through the executor
    (``avmine.server.executor``), whose sandboxed child runs them through ``run_on_log`` just the same.

    Args:
        text: the program (or an answer holding it in a fenced block).
        namespace: the names a program sees (``atomic.program_namespace()``); its functions are timed.
        log_dir: the log's cache directory.
        description: the prompt; bound as ``description``.
        output_dir: bound as ``output_dir``.
        keep_raw: also keep each output before post-processing (``LogRun.raw_outputs``).
    """
    seconds: dict[str, float] = {}
    trace = Trace()
    scope = {
        name: timed(name, value, seconds, trace) if callable(value) else value for name, value in namespace.items()
    }
    scope["output_dir"] = output_dir
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        return run_on_log(
            compile_program(text), Scope(scope, printed.getvalue, seconds, trace), log_dir, description, keep_raw
        )
