"""Dropping every capability a sandboxed process holds, for good.

In a new user namespace the process that created it holds every capability there, and a root
worker's fork holds them all on the host; a program must run with none. This empties the bounding,
ambient, permitted, effective and inheritable sets and locks the secure bits, so neither a change
of user nor running a file (which the syscall filter forbids anyway) can give any back.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_KEEP_CAPS_LOCKED = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7
LOCKED_SECUREBITS = (
    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED
    | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
)  # fmt: skip
"""uid 0 gains nothing by being uid 0, keep-caps stays off, no ambient capability can be raised: all locked."""
_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


class _Header(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _Data(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


def last_capability() -> int:
    """The highest capability number this kernel knows (read before the private root hides /proc)."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 63


def _fail(what: str) -> OSError:
    errno = ctypes.get_errno()
    return OSError(errno, f"{what} failed: {os.strerror(errno)}")


def lock_down(last_cap: int) -> None:
    """Empty the bounding set and lock the secure bits; needs CAP_SETPCAP, so call before a change of user."""
    for cap in range(last_cap + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise _fail(f"dropping capability {cap} from the bounding set")
    if _libc.prctl(PR_SET_SECUREBITS, LOCKED_SECUREBITS, 0, 0, 0) != 0:
        raise _fail("locking the secure bits")


def drop_all() -> None:
    """Empty the ambient, permitted, effective and inheritable sets of this process."""
    if _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        raise _fail("clearing ambient capabilities")
    header = _Header(_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("capset")


def holds_none(last_cap: int) -> bool:
    """Whether this process holds no capability at all, in any set, the bounding set included."""
    header = _Header(_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        return False
    if any(d.effective or d.permitted or d.inheritable for d in data):
        return False
    return all(_libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0 for cap in range(last_cap + 1))
