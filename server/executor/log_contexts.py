"""The logs a worker holds loaded, warm for the sandboxed children it forks, within a byte budget.

A log's context (its mapped arrays, the map and its indexes, the per-row series) is loaded once
in the worker and inherited by every child forked after; logs are kept by (log, source), least
recently used first, and dropped beyond the budget. ``generation`` changes whenever what a child
would inherit changes: a child armed before that is stale and forked again.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avmine.atomic import derived
from avmine.atomic.context import LogContext
from avmine.atomic.functions import map_mask_functions
from avmine.atomic.functions.map import warm_map_masks
from avmine.server.executor import memory
from avmine.store.arrays import load_log_arrays

_WARMED = (
    "smoothed_xyz_city", "velocity_city", "acceleration_city", "yaw_rate", "yaw_city", "rotation_city",
    "footprints_city", "footprints_ego", "is_stationary", "static_map", "map_index", "map_regions", "row_lane",
)  # fmt: skip


@dataclass
class Loaded:
    """A log's context as this worker holds it."""

    key: str
    """The cache key it was loaded for: a re-ingested log is loaded again."""
    ctx: LogContext
    nbytes: int
    """Memory it holds in this process (what is memory-mapped is not counted: the page cache shares it)."""
    map_masks: bool = False
    """The default map masks are computed (``warm_map_masks``): every child forked since inherits them."""


def job_logs(job: dict[str, Any], default_source: str) -> list[dict[str, Any]]:
    """A job's logs as ``{"log_id", "source", "cache_key"}``: its ``logs``, or its one ``log_id``."""
    source = str(job.get("source") or default_source)
    entries = job.get("logs") or [{"log_id": job["log_id"], "cache_key": job.get("cache_key")}]
    return [{"log_id": str(e["log_id"]), "source": source, "cache_key": e.get("cache_key")} for e in entries]


class LogContexts:
    """The worker's loaded logs: (log id, source) -> ``Loaded``, least recently used first."""

    def __init__(self, cache_root: Path, budget: int | None = None) -> None:
        self.cache_root = cache_root
        self.budget = memory.default_budget() if budget is None else budget
        """Bytes this worker may hold in loaded contexts; the least recently used are dropped beyond it."""
        self.generation = 0
        """Bumped whenever a context is loaded, replaced or dropped: an armed child forked before that is stale
        (it lacks the context, or holds memory the worker gave back)."""
        self._loaded: OrderedDict[tuple[str, str], Loaded] = OrderedDict()

    def __len__(self) -> int:
        return len(self._loaded)

    def __getitem__(self, name: tuple[str, str]) -> Loaded:
        return self._loaded[name]

    def warm(
        self, log_id: str, source: str, key: str | None = None, keep: frozenset[tuple[str, str]] = frozenset()
    ) -> LogContext:
        """Load a log once (again when its cache key changed) and compute everything a program may ask for.

        After this the sandboxed child needs no file: the arrays are mapped and the map is indexed.
        Per-row series come from the log's derived cache (``avmine.atomic.derived``), computed and stored
        there by the first process that needs them, so every worker maps one copy. Contexts beyond
        the byte budget are dropped, least recently used first, except those in ``keep``.
        """
        loaded = self._loaded.get((log_id, source))
        if loaded is None or (key is not None and loaded.key != key):
            if loaded is not None:
                del self._loaded[(log_id, source)]
            before = memory.live_bytes()
            ctx = LogContext(load_log_arrays(self.cache_root / log_id, source))
            derived.attach(ctx)
            for name in _WARMED:
                getattr(ctx, name)
            derived.store(ctx)
            loaded = Loaded(ctx.arrays.key, ctx, max(memory.live_bytes() - before, memory.in_memory_bytes(ctx)))
            self.generation += 1
        self._loaded[(log_id, source)] = loaded
        self._loaded.move_to_end((log_id, source))
        self._evict(keep | {(log_id, source)})
        if loaded.ctx.refresh_colors():  # `avmine colors` wrote new colours: an armed child must not run with old ones
            self.generation += 1
        return loaded.ctx

    def warm_map_masks_for(self, program: str, name: tuple[str, str]) -> None:
        """Compute a log's default map masks once, when a program names a function that reads them.

        Only then: a program that does not need them (most) would pay for them (ray casting, a few
        hundred ms a log) on every cold log. Those functions are declared ``uses_map_masks``.
        """
        loaded = self._loaded[name]
        if not loaded.map_masks and any(function in program for function in map_mask_functions()):
            warm_map_masks(loaded.ctx)
            loaded.map_masks = True
            self.generation += 1  # a child armed before lacks them: it is forked again

    def _evict(self, keep: frozenset[tuple[str, str]] | set[tuple[str, str]]) -> None:
        """Drop least recently used contexts (not in ``keep``) until the rest fit the budget."""
        over = self.held_bytes() - self.budget
        for name in [name for name in self._loaded if name not in keep]:
            if over <= 0:
                break
            over -= self._loaded.pop(name).nbytes
            self.generation += 1  # an armed child still holds the dropped context's memory: it is re-forked
        if over < 0:
            return
        gc.collect()

    def held_bytes(self) -> int:
        """Memory held by this worker's loaded contexts."""
        return sum(loaded.nbytes for loaded in self._loaded.values())
