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
            for good once it leaves them (REFAV_SPEC §2.14).
    """

    fix_pedestrian_crossing: bool = False


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
