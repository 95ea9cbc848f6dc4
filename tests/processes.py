"""Looking at a process's descendants from a test (through /proc)."""

from __future__ import annotations

from pathlib import Path


def descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid``, children first."""
    found, frontier = [], [pid]
    while frontier:
        for task in Path(f"/proc/{frontier.pop()}/task").glob("*/children"):
            kids = [int(k) for k in task.read_text().split()]
            found += kids
            frontier += kids
    return found


def exited(pid: int) -> bool:
    """Whether a process is gone: no such process, or a zombie left for whoever adopted it to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
