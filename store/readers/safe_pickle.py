"""Reading pickles without running their code: an unpickler that builds only data.

A pickle names the functions it calls while loading; ``pickle.load`` imports and calls whatever
it names, so a crafted file runs ``os.system`` as the user who reads it. RefAV's formats hold only
built-in containers and NumPy arrays, dtypes and scalars (AV2 tracker outputs
``{log_id: [frame, ...]}``, ground truth and predictions ``{(log_id, prompt): [frame, ...]}``), so
this unpickler resolves exactly those names and refuses every other one before anything is
imported or called. No pandas object is needed by any of these formats, so none is allowed.

Allowed names: the containers ``dict``, ``list``, ``tuple``, ``set``, ``frozenset``,
``bytearray``, ``complex`` (also as ``__builtin__`` in Python 2 pickles), ``collections.OrderedDict``
and ``collections.defaultdict``; ``numpy.ndarray`` and ``numpy.dtype``; NumPy's reconstructors
``_reconstruct`` and ``scalar`` (``numpy.core.multiarray`` and ``numpy._core.multiarray``) and
``_frombuffer`` (``numpy.core.numeric`` and ``numpy._core.numeric``, protocol 5); and
``_codecs.encode`` for Latin-1 only (how protocol 2 stores bytes).

Bounded work: a small file must not build a huge object (``bytearray(3 * 10**9)`` is a 102-byte pickle). What
the allowed names may allocate beyond the file's own bytes is bounded by the file's size plus
``ALLOCATION_SLACK`` (``bytearray(n)``, an array's shape times its item size); containers are built only from
containers (``list(b"...")`` would turn each byte into an object); every array's state is checked against its
shape before NumPy reads it (NumPy trusts it, and reads past the end of a short object list). The result may
nest at most ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import collections
import math
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a class or function outside the allowed data types; nothing of it was run."""

    def __init__(self, path: Path | str, module: str, name: str) -> None:
        self.path = Path(path)
        self.refused = f"{module}.{name}"
        super().__init__(
            f"{self.path} was not unpickled: it asks for '{self.refused}', which is not one of the data "
            "types of RefAV's pickle formats (built-in containers, NumPy arrays, dtypes and scalars). "
            "Loading it could run code, so nothing of it was run. Only read pickles from sources you "
            "trust; re-save the data as plain dicts, lists and NumPy arrays."
        )


ALLOCATION_SLACK = 64 << 20
"""Bytes the allowed constructors may allocate beyond the file's size (RefAV's pickles need none)."""
MAX_DEPTH = 64
"""Nesting of the unpickled containers: RefAV's formats nest four levels."""


class PickleTooLargeError(pickle.UnpicklingError):
    """A pickle asks for more than its own size justifies, or for a structure RefAV's formats never have."""

    def __init__(self, path: Path | str, what: str) -> None:
        super().__init__(
            f"{path} was not unpickled: {what}. RefAV's pickle formats (dicts and lists of NumPy arrays of numbers "
            "and text) never need that, so the file is crafted or corrupt; re-create it from its source."
        )


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it (bytes as Latin-1 text), and nothing else."""
    if encoding not in ("latin1", "latin-1") or errors != "strict" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode is allowed only for Latin-1 text, not {encoding!r}")
    return text.encode("latin-1")


def _numpy_reconstructors() -> dict[str, Callable[..., Any]]:
    # Taken from NumPy's own reduce output rather than imported by path: numpy.core is a
    # deprecated alias in NumPy 2, and this works under either name and either major version.
    reduced: dict[str, Any] = {
        "_reconstruct": np.zeros(1).__reduce__(),
        "scalar": np.float64(0).__reduce__(),
        "_frombuffer": np.zeros(1).__reduce_ex__(5),
    }
    return {name: value[0] for name, value in reduced.items()}


def _allowed() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {}
    for builtins_name in ("builtins", "__builtin__"):
        for kind in (dict, list, tuple, set, frozenset, bytearray, complex):
            allowed[(builtins_name, kind.__name__)] = kind
    allowed[("collections", "OrderedDict")] = collections.OrderedDict
    allowed[("collections", "defaultdict")] = collections.defaultdict
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    numpy_functions = _numpy_reconstructors()
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = numpy_functions["_reconstruct"]
        allowed[(f"{package}.multiarray", "scalar")] = numpy_functions["scalar"]
        allowed[(f"{package}.numeric", "_frombuffer")] = numpy_functions["_frombuffer"]
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


ALLOWED = _allowed()
"""(module, name) -> the object a pickle may refer to by that name."""

_CONTAINER_ARGUMENTS = (list, tuple, set, frozenset, dict)
"""What a container constructor may be given: another container (as protocol 2 writes sets), never text or an
array whose every element would become an object."""


class _CheckedArray(np.ndarray):
    """Arrays while they are unpickled: their state is checked before NumPy reads it (see ``_check_state``)."""

    unpickler: RestrictedUnpickler | None = None

    def __new__(cls, shape: Any, dtype: Any = float, *args: Any) -> _CheckedArray:
        """``numpy.ndarray(shape, dtype, ...)`` called by a pickle: charged like any allocation."""
        if cls.unpickler is not None:
            cls.unpickler._charge(_size(cls.unpickler.path, shape, np.dtype(dtype)), "an array")
        return super().__new__(cls, shape, dtype, *args)

    def __setstate__(self, state: Any) -> None:
        _check_state(self.unpickler, state)
        super().__setstate__(state)


def _check_state(unpickler: RestrictedUnpickler | None, state: Any) -> None:
    """An array's pickled state (version, shape, dtype, Fortran order, data) must describe exactly its data.

    NumPy trusts it: an object array whose list is shorter than its shape reads past the list (a crash).
    """
    path = unpickler.path if unpickler else "the pickle"
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise PickleTooLargeError(path, "an array's state is not NumPy's (version, shape, dtype, order, data)")
    shape, dtype, data = state[-4], state[-3], state[-1]
    if not isinstance(dtype, np.dtype):
        raise PickleTooLargeError(path, f"an array's dtype is a {type(dtype).__name__}")
    if dtype.hasobject:
        if dtype != np.dtype(object):
            raise PickleTooLargeError(path, f"an array has the dtype {dtype}, records holding Python objects")
        fits = type(data) is list and len(data) == _size(path, shape, np.dtype(np.uint8))
    else:
        fits = isinstance(data, bytes | bytearray) and len(data) == _size(path, shape, dtype)
    if not fits:
        raise PickleTooLargeError(path, f"an array of shape {shape} and dtype {dtype} does not come with its data")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in ``ALLOWED``; it never imports a module."""

    def __init__(self, file: BinaryIO, path: Path | str, budget: int) -> None:
        super().__init__(file)
        self.path = path
        self.budget = budget
        """Bytes the allowed constructors may still allocate."""
        checked: type[_CheckedArray] = type("_CheckedArray", (_CheckedArray,), {"unpickler": self})
        self.guarded: dict[Any, Any] = {
            bytearray: self._bytearray,
            np.ndarray: checked,
            **{kind: self._container(kind) for kind in _CONTAINER_ARGUMENTS},
        }
        self._reconstruct = ALLOWED[("numpy.core.multiarray", "_reconstruct")]
        self.guarded[self._reconstruct] = self._reconstructed
        self.original = {guard: found for found, guard in self.guarded.items()}
        self.guarded[collections.defaultdict] = self._defaultdict
        self.checked: type[_CheckedArray] = checked

    def find_class(self, module: str, name: str) -> Any:
        """The allowed object for ``module.name``, with its arguments bounded.

        Raises:
            UnsafePickleError: any other name.
        """
        try:
            found = ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(self.path, module, name) from None
        return self.guarded.get(found, found)

    def _charge(self, size: int, what: str) -> None:
        if size > self.budget:
            raise PickleTooLargeError(self.path, f"{what} asks for {size:,} bytes, more than the file can justify")
        self.budget -= size

    def _bytearray(self, *args: Any) -> bytearray:
        if args and isinstance(args[0], int):
            self._charge(args[0], f"bytearray({args[0]})")
        return bytearray(*args)

    def _container(self, kind: type) -> Callable[..., Any]:
        def build(*args: Any) -> Any:
            if args and not isinstance(args[0], _CONTAINER_ARGUMENTS):
                raise PickleTooLargeError(self.path, f"{kind.__name__}() is built from a {type(args[0]).__name__}")
            return kind(*args)

        return build

    def _defaultdict(self, factory: Any = None, *args: Any) -> collections.defaultdict[Any, Any]:
        return collections.defaultdict(self.original.get(factory, factory), *args)  # list, not its guard

    def _reconstructed(self, subtype: Any, shape: Any, dtype: Any) -> Any:
        if subtype is not self.checked:
            raise PickleTooLargeError(self.path, f"an array is rebuilt as {subtype!r}, not numpy.ndarray")
        made = np.dtype(dtype)
        self._charge(_size(self.path, shape, made), "an array")
        return self._reconstruct(self.checked, shape, made)


def _size(path: Path | str, shape: Any, dtype: np.dtype[Any]) -> int:
    """Bytes of an array of ``shape`` and ``dtype``; a shape that is not a tuple of sizes is refused."""
    dims = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) and d >= 0 for d in dims):
        raise PickleTooLargeError(path, f"an array's shape {shape!r} is not a tuple of sizes")
    return math.prod(dims) * dtype.itemsize


def _plain(value: Any, path: Path | str, done: dict[int, tuple[Any, Any]], depth: int = 0) -> Any:
    """``value`` with every checked array made a plain ``numpy.ndarray`` again; refuses nesting past ``MAX_DEPTH``.

    ``done`` holds the containers already seen (by id, with the original kept alive so that no id is reused),
    and what each became, so shared and cyclic references are visited once and
    a pickle of 64 lists each referring twice to the next costs 64 steps, not 2**64.
    """
    if isinstance(value, _CheckedArray):
        return value.view(np.ndarray)
    if not isinstance(value, dict | list | tuple):
        return value
    if depth >= MAX_DEPTH:
        raise PickleTooLargeError(path, f"its containers nest more than {MAX_DEPTH} levels deep")
    if not value:
        return value
    if id(value) in done:
        return done[id(value)][1]
    done[id(value)] = (value, value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _plain(value[key], path, done, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _plain(item, path, done, depth + 1)
    else:
        rebuilt = tuple(_plain(item, path, done, depth + 1) for item in value)
        done[id(value)] = (value, rebuilt)
        return rebuilt
    return value


def load_pickle(path: Path | str) -> Any:
    """Unpickle a file of RefAV's formats, building only allowed data types, with bounded work.

    Raises:
        UnsafePickleError: the file names a class or function outside ``ALLOWED``.
        PickleTooLargeError: it asks to allocate more than its size justifies, or holds object arrays or
            containers nested more than ``MAX_DEPTH`` levels deep.
        pickle.UnpicklingError, EOFError, ValueError, ...: the file is not a valid pickle.
        OSError: the file cannot be opened.
    """
    with Path(path).open("rb") as f:
        budget = os.fstat(f.fileno()).st_size + ALLOCATION_SLACK
        loaded = RestrictedUnpickler(f, path, budget).load()
    return _plain(loaded, path, {})
