"""Splits of any size made of the demo logs, for scale tests and benchmarks.

``make_split(out, n)`` writes ``n`` AV2-layout log directories under ``out``: log ``i`` is a copy
of demo log ``i % 4`` (in ``DEMO_LOGS`` order) under the log id ``UUID(int=i + 1)``, with the
files whose names carry the log id (the map's ``log_map_archive_*``, ground height and Sim2
files) renamed to match. Box data, poses and map contents are byte-for-byte the originals', so a
program's answer on a copy equals its answer on the original. 150 copies hold about as many
boxes (1.9 M) as a real AV2 val or test split.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from avmine.store.demo import SCENARIO_MINING_DIR, SENSOR_DIR

DEMO_LOGS: tuple[Path, ...] = tuple(
    sorted(p for d in (SCENARIO_MINING_DIR, SENSOR_DIR) for p in d.iterdir() if p.is_dir())
)
"""The demo's four log directories; copy ``i`` is of ``DEMO_LOGS[i % 4]``."""


def copy_id(i: int) -> str:
    """The log id of copy ``i``: ``00000000-0000-0000-0000-{i + 1:012x}``."""
    return str(uuid.UUID(int=i + 1))


def original_of(i: int) -> Path:
    """The demo log directory that copy ``i`` copies."""
    return DEMO_LOGS[i % len(DEMO_LOGS)]


def copy_log(original: Path, log_dir: Path) -> None:
    """Copy one log directory to ``log_dir``, renaming files that carry the original's log id."""
    old_id, new_id = original.name, log_dir.name
    for source in sorted(original.rglob("*")):
        target = log_dir / Path(*(part.replace(old_id, new_id) for part in source.relative_to(original).parts))
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def make_split(out: Path, num_logs: int) -> list[Path]:
    """Write ``num_logs`` copies of the demo logs into the split directory ``out`` (created if missing).

    Copies already there are left as they are, so a split can be grown.

    Returns:
        The log directories, copy 0 first.

    Raises:
        ValueError: ``num_logs`` is not positive.
    """
    if num_logs < 1:
        raise ValueError(f"num_logs must be at least 1, not {num_logs}")
    out.mkdir(parents=True, exist_ok=True)
    logs = []
    for i in range(num_logs):
        log_dir = out / copy_id(i)
        if not log_dir.is_dir():
            partial = out / f".{copy_id(i)}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            copy_log(original_of(i), partial / copy_id(i))
            (partial / copy_id(i)).rename(log_dir)
            shutil.rmtree(partial, ignore_errors=True)
        logs.append(log_dir)
    return logs
