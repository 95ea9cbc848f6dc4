"""How much memory the executor's workers may hold in loaded logs, and how much a loaded log holds.

A worker keeps each log it ran on loaded (its context: the mapped arrays, the map and its
indexes) so that the next program on it starts at once. Series per box are memory-mapped from
the log's cache and shared by every process (``avmine.atomic.derived``); what stays in a worker's own
memory (chiefly the vector map and its indexes) is counted against a byte budget, split evenly
among the workers, and the least recently used logs are dropped beyond it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ENVIRONMENT = "AVMINE_MEMORY_BUDGET"
"""The budget for all workers together, unless ``--memory-budget`` says otherwise (e.g. ``2G``, ``512M``)."""
HOST_SHARE = 4
"""By default the workers together may hold a quarter of the host's memory (or of the container's limit)."""
MIN_BUDGET = 64 << 20
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_budget(text: str) -> int:
    """A byte count from text: ``2G``, ``1.5GiB``, ``512M``, ``800000000``.

    Raises:
        ValueError: not a size; the message says what is accepted.
    """
    match = _SIZE.match(text)
    if not match:
        raise ValueError(
            f"memory budget {text!r} is not a size: give bytes or a number with K, M, G or T (e.g. 2G, 512M)"
        )
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 1:
        raise ValueError(f"memory budget {text!r} is zero: give at least a few megabytes (e.g. 256M)")
    return value


def budget_option(text: str) -> int:
    """``--memory-budget``'s value (for argparse): a size such as ``2G``."""
    try:
        return parse_budget(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_budget_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--memory-budget`` to a command that runs programs."""
    parser.add_argument(
        "--memory-budget",
        type=budget_option,
        default=None,
        metavar="SIZE",
        help=f"memory the sandbox workers may hold in loaded logs, all together (e.g. 2G; default ${ENVIRONMENT}, "
        f"else 1/{HOST_SHARE} of this host's memory); the least recently used logs are dropped beyond it",
    )


def host_memory() -> int:
    """Physical memory, or the container's memory limit where that is smaller."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def default_budget() -> int:
    """The budget of all workers together when none is given: a share of the host's memory."""
    return max(MIN_BUDGET, host_memory() // HOST_SHARE)


def configured_budget(budget: int | str | None = None) -> int:
    """The budget given (bytes or text), else ``AVMINE_MEMORY_BUDGET``, else ``default_budget()``.

    Raises:
        ValueError: the given text or the environment variable is not a size.
    """
    if isinstance(budget, int):
        return budget
    if budget is not None:
        return parse_budget(budget)
    if os.environ.get(ENVIRONMENT):
        try:
            return parse_budget(os.environ[ENVIRONMENT])
        except ValueError as exc:
            raise ValueError(f"{ENVIRONMENT}: {exc}") from exc
    return default_budget()


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")
    ]  # fmt: skip


def _mallinfo() -> Any:
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc 2.33+: only what NumPy owns is counted
        return None
    function.restype = _MallInfo2
    return function


_MALLINFO = _mallinfo()
_BLOCK_BYTES = 48
"""A typical small Python object (pymalloc's blocks are counted, not their sizes)."""


def live_bytes() -> int:
    """Bytes this process has allocated and not freed (malloc's and Python's), 0 where unknown.

    Unlike the resident size, this falls when memory is freed and does not rise when freed memory
    is reused, so a difference measures what a loaded log holds.
    """
    if _MALLINFO is None:
        return 0
    info = _MALLINFO()
    return int(info.uordblks + info.hblkhd) + sys.getallocatedblocks() * _BLOCK_BYTES


def in_memory_bytes(holder: object) -> int:
    """Bytes of the NumPy arrays an object holds in its own memory (memory-mapped ones not counted)."""
    total = 0
    for value in vars(holder).values():
        if isinstance(value, np.ndarray) and not isinstance(value, np.memmap) and value.base is None:
            total += value.nbytes
    return total
