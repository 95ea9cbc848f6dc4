"""Preparing a RefAV-style scenario program to run against a log.

A program is Python text that calls the atomic functions, with ``log_dir``, ``output_dir``
and ``description`` pre-bound, and ends with ``output_scenario(...)``. RefAV rewrites the text
with string edits; avmine works on the syntax tree instead:

* the answer may be wrapped in a Markdown fence: the last ```python block is the program;
* assignments to ``description`` are dropped, so the runner's description is the one used
  (RefAV deletes every line containing ``description =``, which also deletes variables such as
  ``ped_description = ...`` and later raises NameError; avmine does not);
* the program runs in one namespace dict, so helper functions, lambdas and comprehensions see
  the program's variables (under RefAV's separate globals and locals they raise NameError).

This module prepares the text; ``avmine.atomic.runner`` runs it on a log, for the executor's sandboxed
child and for trusted in-process callers alike.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)
MAX_PROGRAM_CHARS = 100_000
"""The longest program parsed (RefAV's programs are a few thousand characters): parsing stays under a second."""
MAX_NESTING = 200
"""The deepest syntax tree accepted: operators, calls and brackets nested in each other (RefAV's nest a few dozen).
Python's parser, compiler and the policy's tree walk recurse once per level: a chain of a few thousand
``a + b + ...`` ends them in RecursionError or MemoryError."""


class ProgramError(Exception):
    """The program text cannot be run (syntax error, no output_scenario call)."""


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
