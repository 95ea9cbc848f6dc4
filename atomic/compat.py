"""Switches between RefAV's exact behaviour (the default) and fixes of its bugs.

Defaults reproduce RefAV, so programs give RefAV's answers; each switch turns one documented
bug fix on. Workers inherit the switches of the process that configured them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Compat:
    """Which RefAV bugs are fixed (all False: behave exactly as RefAV).

    Attributes:
        fix_pedestrian_crossing: at_pedestrian_crossing tests every timestamp against every
            crossing. RefAV overwrites its list of crossings inside its loop, so after the first
            timestamp an object is only tested against crossings it already overlapped and is lost
            for good once it leaves them (``refAV/atomic_functions.py: at_pedestrian_crossing``).
        fix_relative_yaw_alignment: see the attribute's note.
    """

    fix_pedestrian_crossing: bool = False
    fix_relative_yaw_alignment: bool = False
    """following and at_stop_sign measure an object's heading relative to another's box at the
    same timestamp. RefAV takes the other's box by row position over all its rows instead, which
    is a different timestamp when the other was seen first (``refAV/utils.py: get_nth_yaw_deriv``)."""


_current = Compat()


def current() -> Compat:
    """The switches in force."""
    return _current


def configure(**switches: bool) -> Compat:
    """Set switches by name (e.g. ``configure(fix_pedestrian_crossing=True)``); returns the previous ones.

    Raises:
        TypeError: an unknown switch name.
    """
    global _current
    previous = _current
    _current = dataclasses.replace(_current, **switches)
    return previous
