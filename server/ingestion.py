"""Ingest followed by the runtime's per-box map features, as every entry point should do it.

The store cannot import the atomic runtime (it sits below it), so the step that computes map
features for freshly ingested boxes lives here, above both. ``avmine ingest`` computes them while
the ingest goes on: each source, once staged, goes to a small pool of processes (one per CPU)
while this process goes on writing the next log in the ingest's one transaction.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from atomic.context import active_source, set_active_source
from atomic.map_features import precompute, precompute_staged
from store import IngestReport, PrefilterConfig, Store, ingest
from store.prefilter import REFAV_PREFILTER

INLINE_SOURCES = 2
"""An ingest of at most this many sources computes their map features in this process: starting a pool
(importing the runtime) costs more than their whole map-features pass."""


def prepare_logs(store: Store, sources: Iterable[tuple[str, str]], progress: bool = True) -> None:
    """Compute and store the map features of each (source, log_id)."""
    previous = active_source()
    try:
        for source, log_id in tqdm(list(sources), desc="map features", unit="log", disable=not progress, leave=False):
            set_active_source(source)
            store.load_arrays(log_id, source)  # makes sure the cache is current first
            precompute(store.log_dir(log_id))
    finally:
        set_active_source(previous)


class MapFeaturePool:
    """``store.ingestion.Preparation``: map features of each staged source, in worker processes.

    Once more than ``inline`` sources are expected, a pool of ``workers`` processes is started in
    the background (forked from a server that imports the runtime once, which takes seconds);
    sources staged meanwhile wait for it, so the ingest never does. A small ingest computes its
    map features here, at once. Only paths cross between processes: memory stays one log per worker.
    """

    def __init__(self, workers: int | None = None, inline: int = INLINE_SOURCES, progress: bool = False) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.inline = inline
        self.progress = progress
        self.expected = 0
        self.pool: ProcessPoolExecutor | None = None
        self.starter: threading.Thread | None = None
        self.ready = threading.Event()
        self.pending: list[tuple[str, str, Path, Path]] = []
        self.futures: list[Future[None]] = []

    def expect(self, sources: int) -> None:
        """Start the pool in the background once more sources are coming than are computed here."""
        self.expected += sources
        if self.expected > self.inline and self.starter is None:
            self.starter = threading.Thread(target=self._start, daemon=True)
            self.starter.start()

    def _start(self) -> None:
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["atomic.map_features"])
            pool = ProcessPoolExecutor(self.workers, mp_context=context)
            for future in [pool.submit(os.getpid) for _ in range(self.workers)]:  # every worker forked, ready
                future.result()
            self.pool = pool
        finally:
            self.ready.set()  # without a pool (it could not start) the sources are computed here

    def submit(self, log_id: str, source: str, box_dir: Path, map_dir: Path) -> None:
        """Compute one staged source's map features now, or queue them for the pool."""
        if self.starter is None:
            precompute_staged(log_id, source, box_dir, map_dir)
            return
        self.pending.append((log_id, source, box_dir, map_dir))
        if self.ready.is_set():
            self._drain()

    def _drain(self) -> None:
        """Hand the waiting sources to the pool (or compute them here without one); raise a finished failure."""
        pending, self.pending = self.pending, []
        for task in pending:
            if self.pool is None:
                precompute_staged(*task)
            else:
                self.futures.append(self.pool.submit(precompute_staged, *task))
        for future in [f for f in self.futures if f.done()]:
            future.result()
        self.futures = [f for f in self.futures if not f.done()]

    def finish(self) -> None:
        """Wait for every source; raise the first failure."""
        try:
            self.ready.wait()
            self._drain()
            for future in tqdm(self.futures, desc="map features", unit="log", disable=not self.progress, leave=False):
                future.result()
        finally:
            self.close()

    def cancel(self) -> None:
        """Drop the queued sources, wait for those running."""
        self.pending.clear()
        self._stop(cancel=True)

    def close(self) -> None:
        """Stop the pool's processes."""
        self._stop(cancel=False)

    def _stop(self, cancel: bool) -> None:
        if self.starter is not None:
            self.ready.wait()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
            self.pool = None


def ingest_and_prepare(
    store: Store,
    path: Path | str,
    *,
    split: str | None = None,
    source: str | None = None,
    prefilter: PrefilterConfig = REFAV_PREFILTER,
    progress: bool = True,
    workers: int | None = None,
) -> IngestReport:
    """``store.ingest`` with the map features of every track source it writes, computed alongside.

    Args:
        workers: processes that compute map features (default: one per CPU).
    """
    pool = MapFeaturePool(workers, progress=progress)
    try:
        return ingest(store, path, split=split, source=source, prefilter=prefilter, progress=progress, preparation=pool)
    finally:
        pool.close()
