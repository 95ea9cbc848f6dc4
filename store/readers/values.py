"""Numeric inputs: numbers (not text), finite, and within physical bounds, in SI units.

The bounds are wide enough for any real AV2 or RefAV file and catch corrupt data, another unit
or a wrong column early, with the file, the column and the row named:

==========================  ==============================  ====================================
quantity                    accepted                        why
==========================  ==============================  ====================================
position (x, y, z)          -1e6 .. 1e6 m                   AV2 city frames span tens of km
box size (l, w, h)          0 .. 100 m                      0 is RefAV's placeholder box
yaw                         -10 pi .. 10 pi rad             AV2 writes [-pi, pi]
quaternion component        -1.001 .. 1.001                 unit quaternions
tracker score               0 .. 1                          the AV2 tracking challenge's range
timestamp                   0 .. 4e18 ns, integer           nanoseconds since 1970 (to 2096)
ground-truth track id       0 .. 2^31 - 1, integer          an index into the log's tracks
==========================  ==============================  ====================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avmine.store.errors import IngestError

_REDO = "Fix or drop those entries and re-run the ingest; nothing was written."


@dataclass(frozen=True)
class Bound:
    """The accepted range of one quantity, and what to tell a person whose value is outside it."""

    what: str
    unit: str
    low: float
    high: float
    meaning: str
    integer: bool = False

    def range_text(self) -> str:
        """E.g. ``-1e+06 to 1e+06 m``."""
        return f"{self.low:g} to {self.high:g}{f' {self.unit}' if self.unit else ''}"


POSITION = Bound("a position", "m", -1e6, 1e6, "Positions are metres in the AV2 city or ego frame.")
SIZE = Bound("a box size", "m", 0.0, 100.0, "Box sizes are lengths in metres (length, width, height).")
YAW = Bound("a yaw", "rad", -10 * math.pi, 10 * math.pi, "Yaw is an angle in radians about the vertical.")
QUATERNION = Bound("a quaternion component", "", -1.001, 1.001, "Rotations are unit quaternions (qw, qx, qy, qz).")
SCORE = Bound("a tracker score", "", 0.0, 1.0, "Tracker scores are confidences between 0 and 1.")
TIMESTAMP = Bound(
    "a timestamp", "ns", 0, 4e18, "Timestamps are integer nanoseconds since 1970, as AV2 writes them.", integer=True
)
TRACK_ID = Bound(
    "a track id", "", 0, 2**31 - 1, "Ground-truth track ids are non-negative integer indices.", integer=True
)


def _shown(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def bound_problem(values: Any, bound: Bound) -> tuple[int | None, str] | None:
    """The first entry of ``values`` that breaks ``bound``: its index (None for a scalar) and a description.

    Multi-dimensional arrays are indexed by their first axis (the box).
    """
    array = np.asarray(values)

    def index(flat: int) -> int | None:
        return None if array.ndim == 0 else int(np.unravel_index(flat, array.shape)[0])

    if array.dtype.kind == "O":
        flat_values = array.ravel()
        not_numbers = [i for i, v in enumerate(flat_values) if not _is_number(v)]
        if not_numbers:
            first = flat_values[not_numbers[0]]
            return index(not_numbers[0]), f"holds {_shown(first)} ({type(first).__name__}), not a number"
        array = array.astype(np.float64)
    elif array.dtype.kind not in "iuf":
        kind = "text" if array.dtype.kind in "US" else f"{array.dtype.name}"
        first = _shown(array.ravel()[0]) if array.size else "nothing"
        return index(0), f"holds {kind} ({first}), not numbers"
    if bound.integer and array.dtype.kind not in "iu":
        return None, f"holds {array.dtype.name} values where {bound.what} must be an integer"
    as_float = array.astype(np.float64)
    bad = ~((as_float >= bound.low) & (as_float <= bound.high))
    if not bad.any():
        return None
    flat = int(np.flatnonzero(bad)[0])
    value = _shown(array.ravel()[flat])
    return index(flat), f"holds {value}, outside {bound.range_text()} (the accepted range for {bound.what})"


def checked_numbers(values: Any, bound: Bound, path: Path, where: str, key: str, per_box: bool = True) -> np.ndarray:
    """``values`` as a float64 array (int64 for integer bounds) once every entry is a number within ``bound``.

    Args:
        values: a scalar, list or array from a pickle.
        bound: the accepted range.
        path: the file, for the error.
        where: e.g. ``log L, frame 3``.
        key: the field, e.g. ``size``.
        per_box: the first axis indexes boxes (named in the error).

    Raises:
        IngestError: text, NaN or infinity, a non-integer where an integer is needed, or a value
            out of range.
    """
    found = bound_problem(values, bound)
    if found is not None:
        at, problem = found
        box = "" if at is None or not per_box else f" (box {at})"
        raise IngestError(path, f"{where}: '{key}'{box} {problem}.", f"{bound.meaning} {_REDO}")
    return np.asarray(values).astype(np.int64 if bound.integer else np.float64)


def checked_rows(
    values: Any, bound: Bound, path: Path, where: str, key: str, width: int, per_box: bool = True
) -> np.ndarray:
    """``checked_numbers`` shaped (N, width): one row of ``width`` numbers per box (or one row in all).

    Raises:
        IngestError: as ``checked_numbers``, or the values do not form rows of ``width``.
    """
    array = checked_numbers(values, bound, path, where, key, per_box)
    if array.size % width:
        raise IngestError(
            path,
            f"{where}: '{key}' has shape {array.shape}; expected (N, {width}), one row per box.",
            f"Every box needs {width} values there; fix the file and re-run the ingest.",
        )
    return array.reshape(-1, width)


def checked_scalar(value: Any, bound: Bound, path: Path, where: str, key: str) -> float:
    """One number within ``bound`` (e.g. a frame's timestamp); an int for integer bounds.

    Raises:
        IngestError: as ``checked_numbers``, or not exactly one value.
    """
    array = checked_numbers(value, bound, path, where, key)
    if array.size != 1:
        raise IngestError(
            path, f"{where}: '{key}' holds {array.size} values; it must be one.", f"{bound.meaning} {_REDO}"
        )
    return int(array.reshape(-1)[0]) if bound.integer else float(array.reshape(-1)[0])


def check_column(values: Any, bound: Bound, path: Path, column: str) -> None:
    """Check one column of a table file against ``bound``.

    Raises:
        IngestError: as ``checked_numbers``, naming the column and the row.
    """
    found = bound_problem(values, bound)
    if found is not None:
        at, problem = found
        row = "" if at is None else f" at row {at}"
        raise IngestError(path, f"has a bad value in column '{column}'{row}: it {problem}.", f"{bound.meaning} {_REDO}")
