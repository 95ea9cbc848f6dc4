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
"""

from __future__ import annotations

import collections
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


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in ``ALLOWED``; it never imports a module."""

    def __init__(self, file: BinaryIO, path: Path | str) -> None:
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        """The allowed object for ``module.name``.

        Raises:
            UnsafePickleError: any other name.
        """
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(self.path, module, name) from None

    def persistent_load(self, pid: Any) -> Any:
        """Persistent ids reach outside the file; the formats never use them.

        Raises:
            pickle.UnpicklingError: always.
        """
        raise pickle.UnpicklingError(f"{self.path} uses persistent ids, which RefAV's pickle formats never do")


def load_pickle(path: Path | str) -> Any:
    """Unpickle a file of RefAV's formats, building only allowed data types.

    Raises:
        UnsafePickleError: the file names a class or function outside ``ALLOWED``.
        pickle.UnpicklingError, EOFError, ValueError, ...: the file is not a valid pickle.
        OSError: the file cannot be opened.
    """
    with Path(path).open("rb") as f:
        return RestrictedUnpickler(f, path).load()
