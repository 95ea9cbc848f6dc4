"""Preparing and running a RefAV-style scenario program against one log.

A program is Python text that calls the atomic functions, with ``log_dir``, ``output_dir``
and ``description`` pre-bound, and ends with ``output_scenario(...)``. RefAV rewrites the text
with string edits; avmine works on the syntax tree instead:

* the answer may be wrapped in a Markdown fence: the last ```python block is the program;
* assignments to ``description`` are dropped, so the runner's description is the one used
  (RefAV deletes every line containing ``description =``, which also deletes variables such as
  ``ped_description = ...`` and later raises NameError; avmine does not);
* the program runs in one namespace dict, so helper functions, lambdas and comprehensions see
  the program's variables (under RefAV's separate globals and locals they raise NameError).

This module runs trusted code in-process (tests, benchmarks, the sandboxed worker's inner
loop); untrusted code goes through the executor, which runs this inside a sandbox.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)
MAX_PROGRAM_CHARS = 100_000
"""The longest program parsed (RefAV's programs are a few thousand characters): parsing stays under a second."""
MAX_NESTING = 200
"""The deepest syntax tree accepted: operators, calls and brackets nested in each other (RefAV's nest a few dozen).
Python's parser, compiler and the policy's tree walk recurse once per level: a chain of a few thousand
``a + b + ...`` ends them in RecursionError or MemoryError."""


class ProgramError(Exception):
    """The program text cannot be run (syntax error, no output_scenario call)."""


@dataclass(frozen=True)
class Output:
    """One ``output_scenario`` call: the scenario as passed (before post-processing)."""

    description: str
    scenario: Any


@dataclass
class ProgramRun:
    """What running a program on one log produced."""

    outputs: list[Output] = field(default_factory=list)
    stdout: str = ""
    error: str | None = None
    seconds: float = 0.0


def extract_code(text: str) -> str:
    """The program in an answer: the last fenced Python block, or the whole text if there is none."""
    blocks = _FENCE.findall(text)
    return str(blocks[-1]) if blocks else text


def _is_description_assignment(node: ast.stmt) -> bool:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return any(isinstance(t, ast.Name) and t.id == "description" for t in targets)


TYPOGRAPHIC_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
     "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}
)  # fmt: skip
"""Curly, low and prime quotes that word processors and chat front ends put in code, to their ASCII quote."""


def ascii_quotes(text: str) -> str:
    """The text with typographic quotes made ASCII (documented divergence: RefAV's examples have some).

    Every place a program enters avmine (tools, ``avmine exec``, library import, headless runs)
    applies this, so the program that is stored, hashed, shown and run is the same text.
    """
    return text.translate(TYPOGRAPHIC_QUOTES)


def normalise(text: str) -> str:
    """The program's code: the last fenced block, with typographic quotes made ASCII (documented divergence)."""
    return ascii_quotes(extract_code(text))


def prepare(text: str, check: Callable[[ast.Module], None] | None = None) -> ast.Module:
    """Parse a program and drop its top-level assignments to ``description``.

    Args:
        text: the program, or an answer holding it in a fenced block.
        check: called with the parsed tree before anything else is looked at (the sandbox's policy).

    Raises:
        ProgramError: a syntax error (with line, column and a caret), a program too long or nested too
            deeply, or no call to ``output_scenario``.
    """
    if len(text) > MAX_PROGRAM_CHARS:
        raise ProgramError(
            f"the program is too long ({len(text)} characters, limit {MAX_PROGRAM_CHARS}); "
            "scenario programs need a few thousand: use loops and helper functions instead of repeated code."
        )
    code = normalise(text)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        if exc.lineno is None:  # not at a place in the text, such as a null byte
            raise ProgramError(f"the program cannot be parsed: {exc.msg}") from exc
        line = (exc.text or "").rstrip("\n")[:200]
        caret = " " * min(max((exc.offset or 1) - 1 - (len(line) - len(line.lstrip())), 0), 200) + "^"
        raise ProgramError(
            f"syntax error on line {exc.lineno}, column {exc.offset}: {exc.msg}\n    {line.strip()}\n    {caret}"
        ) from exc
    except (RecursionError, MemoryError) as exc:  # the parser's own stack ran out
        raise ProgramError(_too_deep()) from exc
    except ValueError as exc:  # null bytes, on some Python versions
        raise ProgramError(f"the program cannot be parsed: {exc}") from exc
    if _depth(tree) > MAX_NESTING:
        raise ProgramError(_too_deep())
    if check is not None:
        check(tree)
    tree.body = [node for node in tree.body if not _is_description_assignment(node)]
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "output_scenario"
    ]
    if not calls:
        raise ProgramError("the program never calls output_scenario(scenario, description, log_dir, output_dir).")
    return tree


def _too_deep() -> str:
    return (
        f"the program is nested too deeply to parse (more than {MAX_NESTING} levels of operators, calls or "
        "brackets inside each other); split long expressions into several assignments."
    )


def _depth(tree: ast.AST) -> int:
    """The syntax tree's depth, found without recursion (a recursive walk fails where the tree is deep)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def run_program(
    text: str,
    namespace: Mapping[str, Any],
    log_dir: Path,
    description: str,
    output_dir: Path,
    on_output: Callable[[Any, str], None] | None = None,
) -> ProgramRun:
    """Run a program on one log in this process and capture what it outputs.

    Args:
        text: the program (or an answer holding it in a fenced block).
        namespace: the names a program sees (the atomic functions, ``np``); copied per run.
        log_dir: the log's cache directory.
        description: the prompt; bound as ``description``.
        output_dir: bound as ``output_dir``.
        on_output: called with (scenario, description) at each ``output_scenario`` call, after the
            run records it; this is where post-processing or writing happens.

    Returns:
        The captured outputs, printed text and the error (a traceback summary) if it failed.
    """
    run = ProgramRun()
    started = time.perf_counter()
    try:
        tree = prepare(text)
    except ProgramError as exc:
        run.error = str(exc)
        return run

    def output_scenario(scenario: Any, *args: Any, **kwargs: Any) -> None:
        # The runner's description always wins (RefAV rewrites the call to pass its own).
        run.outputs.append(Output(description=description, scenario=scenario))
        if on_output is not None:
            on_output(scenario, description)

    scope: dict[str, Any] = dict(namespace)
    scope.update(log_dir=log_dir, output_dir=output_dir, description=description, output_scenario=output_scenario)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(tree, "<program>", "exec"), scope)
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<program>"]
        where = f" (line {frames[-1].lineno})" if frames else ""
        run.error = f"{type(exc).__name__}{where}: {exc}"
    run.stdout = buffer.getvalue()
    run.seconds = time.perf_counter() - started
    return run
