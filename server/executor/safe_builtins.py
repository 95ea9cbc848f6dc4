"""The builtins and modules a sandboxed program sees: plain Python, np, and nothing that reaches the host.

The syntax policy already refuses the dangerous names; this layer makes sure they do not exist
at run time either, however a program reaches for them.
"""

from __future__ import annotations

import builtins
import io
import mmap
import types
from typing import Any

from avmine.server.executor.policy import ALLOWED_IMPORTS, FORBIDDEN_ATTRIBUTES

SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytes", "callable", "chr", "complex", "dict", "divmod",
    "enumerate", "filter", "float", "frozenset", "hash", "hex", "int", "isinstance", "issubclass",
    "iter", "len", "list", "map", "max", "min", "next", "oct", "ord", "pow", "range", "repr", "reversed",
    "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip", "True", "False", "None", "Ellipsis",
    "NotImplemented", "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError",
    "KeyError", "LookupError", "NameError", "OverflowError", "RuntimeError", "StopIteration", "TypeError",
    "ValueError", "ZeroDivisionError",
)  # fmt: skip


class BoundedText(io.StringIO):
    """A text sink that keeps at most ``limit`` characters and notes what it dropped.

    With a ``mirror`` (shared memory of ``printed_capacity(limit)`` bytes, see ``read_printed``), what it keeps
    is copied there as it is written, so that what a program printed survives its being killed.
    """

    def __init__(self, limit: int, mirror: mmap.mmap | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.dropped = 0
        self.mirror = mirror
        self.mirrored = 0
        if mirror is not None:
            mirror[:_LENGTH] = (0).to_bytes(_LENGTH, "little")

    def write(self, text: str) -> int:
        """Keep what fits; report the whole length so callers never retry."""
        room = self.limit - self.tell()
        if room > 0:
            kept = text[:room]
            super().write(kept)
            if self.mirror is not None:
                data = kept.encode(errors="replace")
                self.mirror[_LENGTH + self.mirrored : _LENGTH + self.mirrored + len(data)] = data
                self.mirrored += len(data)
                self.mirror[:_LENGTH] = self.mirrored.to_bytes(_LENGTH, "little")
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        """What was kept, with a note on what was cut."""
        note = f"\n[... {self.dropped} more characters of output dropped]" if self.dropped else ""
        return self.getvalue() + note


_LENGTH = 4
"""Bytes of the mirror's header: how many bytes of text follow."""


def printed_capacity(limit: int) -> int:
    """Bytes of shared memory a ``BoundedText`` of ``limit`` characters mirrors into (UTF-8: at most 4 a character)."""
    return _LENGTH + 4 * limit


def read_printed(mirror: mmap.mmap, limit: int) -> str:
    """What a killed program had printed, from its mirror (bounded: the program may have written anything there)."""
    length = min(int.from_bytes(mirror[:_LENGTH], "little"), len(mirror) - _LENGTH)
    return mirror[_LENGTH : _LENGTH + length].decode(errors="replace")[:limit]


class SafeModule(types.SimpleNamespace):
    """A module's public, non-module attributes (and allowed submodules, wrapped the same way); read-only.

    A program cannot change them: the logs of one call share the wrapped modules, and each log must
    see them as a fresh process would.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a program cannot change a module's attributes (tried to set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a program cannot change a module's attributes (tried to delete {name!r})")


_SUBMODULES = {"numpy": ("linalg", "random", "fft", "ma", "polynomial", "char", "rec", "emath")}
_ONLY = {"functools": frozenset({"reduce", "partial", "lru_cache", "cache", "cmp_to_key", "total_ordering"})}
"""Modules of which a program gets only these members: ``update_wrapper`` and ``wraps`` copy any
attribute named in a string (``__globals__``: a function's module globals), ``singledispatch``
evaluates string annotations through ``typing``."""


def safe_module(module: types.ModuleType) -> SafeModule:
    """Wrap a module so a program cannot walk from it to other modules (``os``, ``sys``, ...)."""
    allowed_submodules = _SUBMODULES.get(module.__name__, ())
    members: dict[str, Any] = {}
    only = _ONLY.get(module.__name__)
    for name in dir(module):
        if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES or (only is not None and name not in only):
            continue
        value = getattr(module, name, None)
        if isinstance(value, types.ModuleType):
            if name in allowed_submodules:
                members[name] = safe_module(value)
            continue
        members[name] = value
    return SafeModule(**members)


def make_builtins(stdout: BoundedText, modules: dict[str, SafeModule]) -> dict[str, Any]:
    """The ``__builtins__`` of a sandboxed program: safe names, a bounded print and allow-listed imports."""
    table: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
    table["print"] = _Print(stdout)
    table["__import__"] = _Import(modules)
    return table


class _Print:
    """``print`` into the bounded sink: an object, not a function, so it carries no ``__globals__``."""

    __slots__ = ("_stdout",)

    def __init__(self, stdout: BoundedText) -> None:
        self._stdout = stdout

    def __call__(self, *args: Any, sep: str | None = " ", end: str | None = "\n", **_: Any) -> None:
        text = (sep if sep is not None else " ").join(str(a) for a in args) + (end if end is not None else "\n")
        self._stdout.write(text)


class _Import:
    """``import`` of the wrapped, allow-listed modules only (an object without ``__globals__``)."""

    __slots__ = ("_modules",)

    def __init__(self, modules: dict[str, SafeModule]) -> None:
        self._modules = modules

    def __call__(
        self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> SafeModule:
        root = name.split(".")[0]
        if level or root not in ALLOWED_IMPORTS or root not in self._modules:
            raise ImportError(f"import of {name!r} is not allowed (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})")
        return self._modules[root]
