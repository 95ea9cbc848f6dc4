"""The first sandbox layer: a program's syntax tree must stay inside what scenario programs need.

Checked before anything runs: imports only from an allow-list, no dunder names or attributes,
no calls to the builtins that reach the interpreter (open, exec, eval, ...), and no attributes
that read or write files through NumPy or paths. Later layers (stripped builtins, an OS sandbox)
hold even if this one is bypassed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

ALLOWED_IMPORTS = frozenset({"numpy", "math", "itertools", "functools", "collections", "statistics", "copy"})
"""Modules a program may import (RefAV programs import nothing; these are harmless helpers)."""
_ALLOWED = ", ".join(sorted(ALLOWED_IMPORTS))

FORBIDDEN_NAMES = frozenset(
    {
        "open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "input", "breakpoint",
        "help", "memoryview", "getattr", "setattr", "delattr", "classmethod", "staticmethod", "super", "type",
        "object", "dir", "id", "exit", "quit", "license", "credits", "copyright", "format",
    }
)  # fmt: skip
"""Builtins that reach the interpreter, the file system or object internals."""

FORBIDDEN_ATTRIBUTES = frozenset(
    {
        # NumPy file I/O and escape hatches
        "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile",
        "tofile", "fromregex", "memmap", "ctypeslib", "ctypes", "lib", "f2py", "distutils", "testing",
        "DataSource", "dump", "dumps", "frombuffer", "open_memmap",
        # str.format can walk attributes of its arguments ("{0.__globals__}") in a string built at run time
        "format", "format_map",
        # paths (log_dir and output_dir are pathlib.Path objects)
        "open", "read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob", "rglob", "walk",
        "parent", "parents", "resolve", "absolute", "expanduser", "home", "cwd", "unlink", "rmdir", "mkdir",
        "touch", "rename", "symlink_to", "hardlink_to", "readlink", "chmod", "lchmod", "stat",
        "lstat", "exists", "is_file", "is_dir", "samefile", "joinpath",
        # frames, generators and code objects
        "gi_frame", "gi_code", "ag_frame", "cr_frame", "f_back", "f_globals", "f_locals", "f_builtins",
        "tb_frame", "tb_next", "co_code", "func_globals", "mro",
    }
)  # fmt: skip
"""Attribute names a program may not use, on any object."""


_DUNDER = re.compile(r"__\w+__")


@dataclass(frozen=True)
class Violation:
    """One thing the policy refuses, with where it is."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class PolicyError(Exception):
    """The program uses something scenario programs may not; the message lists every violation."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        listing = "; ".join(str(v) for v in violations[:10])
        more = f" (and {len(violations) - 10} more)" if len(violations) > 10 else ""
        super().__init__(
            f"the program was not run: {listing}{more}. Scenario programs use the atomic functions, np and "
            "plain Python; they do not touch files, the network or the interpreter."
        )


def _where(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", -1) + 1


def check(tree: ast.Module) -> list[Violation]:
    """Every policy violation in a parsed program, in source order."""
    found: list[Violation] = []

    def refuse(node: ast.AST, message: str) -> None:
        line, column = _where(node)
        found.append(Violation(line, column, message))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_IMPORTS:
                    refuse(
                        node, f"import of {alias.name!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})"
                    )
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] not in ALLOWED_IMPORTS:
                refuse(
                    node, f"import from {node.module!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})"
                )
            for alias in node.names:
                if alias.name.startswith("_") or alias.name in FORBIDDEN_ATTRIBUTES:
                    refuse(node, f"importing {alias.name!r} is not allowed")
        elif isinstance(node, ast.Name):
            if node.id.startswith("__") or node.id in FORBIDDEN_NAMES:
                refuse(node, f"the name {node.id!r} is not available to scenario programs")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                refuse(node, f"attribute {node.attr!r}: names starting with an underscore are not accessible")
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                refuse(node, f"attribute {node.attr!r} reaches files or interpreter state and is not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # str.format fields can walk attributes (e.g. "{0.__class__}"): refuse private ones
            if "{" in node.value and ("._" in node.value or "[_" in node.value):
                refuse(node, "format strings may not reach private attributes")
            elif _DUNDER.search(node.value):  # update_wrapper(f, g, updated=("__globals__",)) and its kin
                refuse(node, "strings naming dunder attributes are not allowed (they only reach interpreter internals)")
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("__"):
            # __getattr__ can forge __array_interface__ and NumPy then reads any address
            refuse(node, f"defining {node.name!r}: dunder methods and classes are not allowed in scenario programs")
        elif isinstance(node, ast.arg | ast.FunctionDef | ast.AnnAssign):
            annotation = node.returns if isinstance(node, ast.FunctionDef) else node.annotation
            if annotation is not None and any(
                isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(annotation)
            ):  # typing evaluates string annotations (singledispatch().register) outside the policy
                refuse(node, "string annotations are not allowed; write the type itself or leave it out")
        elif isinstance(node, ast.MatchClass) and any(name.startswith("_") for name in node.kwd_attrs):
            refuse(node, "class patterns may not read private attributes")
        elif isinstance(node, ast.Global | ast.Nonlocal):
            refuse(node, "global and nonlocal declarations are not needed in scenario programs")
        elif isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            refuse(node, "async code is not supported in scenario programs")
    return sorted(found, key=lambda v: (v.line, v.column))


def enforce(tree: ast.Module) -> None:
    """Raise ``PolicyError`` listing every violation, if there is any."""
    violations = check(tree)
    if violations:
        raise PolicyError(violations)
