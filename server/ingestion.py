"""Ingest followed by the runtime's per-box map features, as every entry point should do it.

The store cannot import the atomic runtime (it sits below it), so the step that computes map
features for freshly ingested boxes lives here, above both. ``avmine ingest`` computes them while
the ingest goes on: each source, once staged, goes to a small pool of processes (one per CPU, at most four)
while this process goes on writing the next log in the ingest's one transaction.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from avmine.atomic.context import active_source, set_active_source
from avmine.atomic.map_features import precompute, precompute_staged
from avmine.server.executor import cluster
from avmine.server.executor.namespaces import die_with_parent
from avmine.store import IngestReport, PrefilterConfig, Store, ingest
from avmine.store.prefilter import REFAV_PREFILTER
from avmine.store.progress import bar as progress_bar

MAX_WORKERS = 4
"""Most pool processes by default: their work per log is less than the ingest's own, so a few keep up, and
each forked process slowly copies pages of the ingest's memory."""
INLINE_SOURCES = 2
"""An ingest of at most this many sources computes their map features in this process (no pool)."""


def prepare_logs(store: Store, sources: Iterable[tuple[str, str]], progress: bool = True) -> None:
    """Compute and store the map features of each (source, log_id), on the cluster's nodes where one was chosen."""
    backend = cluster.selected_backend()
    if backend is not None:
        pairs = list(sources)
        for source, log_id in pairs:  # the caches current first: only this process reads the database
            store.load_arrays(log_id, source)
        backend.precompute([(str(store.log_dir(log_id)), source) for source, log_id in pairs])
        return
    previous = active_source()
    try:
        for source, log_id in progress_bar(
            list(sources), wanted=progress, desc="map features", unit="log", leave=False
        ):
            set_active_source(source)
            store.load_arrays(log_id, source)  # makes sure the cache is current first
            precompute(store.log_dir(log_id))
    finally:
        set_active_source(previous)


def _start_worker(parent: int) -> None:
    """A map-feature worker dies with the ingest and leaves Ctrl-C to it (the ingest stops the pool and says so)."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # forked while the ingest held it back


class MapFeaturePool:
    """``avmine.store.ingestion.Preparation``: map features of each staged source, in worker processes.

    Once more than ``inline`` sources are expected, ``workers`` processes are forked from this one
    (which has the runtime imported: they start at once) and each staged source goes to them while
    the ingest writes the next. They run only the map features (NumPy, av2's map), never the
    database, exit without running this process's clean-up, and die with it (a parent-death signal).
    A small ingest computes its map features here, at once. Only paths cross between processes:
    memory stays one log per worker.
    """

    def __init__(self, workers: int | None = None, inline: int = INLINE_SOURCES, progress: bool = False) -> None:
        self.workers = max(1, workers or min(os.cpu_count() or 1, MAX_WORKERS))
        self.inline = inline
        self.progress = progress
        self.expected = 0
        self.pool: ProcessPoolExecutor | None = None
        self.futures: list[Future[None]] = []

    def expect(self, sources: int) -> None:
        """Start the pool once more sources are coming than are computed here."""
        self.expected += sources
        if self.expected > self.inline and self.pool is None:
            # forked while the ingest holds little memory; every worker at once (a fork pool starts them all)
            # they die with this process (even by SIGKILL) instead of waiting on their job pipe for good;
            # forked from the thread that runs the ingest and shuts the pool down, as the signal requires
            # SIGINT is held back while they start: a Ctrl-C then reaches the ingest alone, once they ignore it
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self.pool = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("fork"),
                    initializer=_start_worker, initargs=(os.getpid(),),
                )  # fmt: skip
                self.pool.submit(os.getpid).result()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def submit(self, log_id: str, source: str, box_dir: Path, map_dir: Path) -> None:
        """Compute one staged source's map features now, or queue them in the pool."""
        if self.pool is None:
            precompute_staged(log_id, source, box_dir, map_dir)
            return
        self.futures.append(self.pool.submit(precompute_staged, log_id, source, box_dir, map_dir))
        for future in [f for f in self.futures if f.done()]:
            future.result()  # a failure stops the ingest now
        self.futures = [f for f in self.futures if not f.done()]

    def finish(self) -> None:
        """Wait for every queued source; raise the first failure."""
        try:
            for future in progress_bar(
                self.futures, wanted=self.progress, desc="map features", unit="log", leave=False
            ):
                future.result()
        finally:
            self.close()

    def cancel(self) -> None:
        """Drop the queued sources, wait for those running."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        """Stop the pool's processes."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
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
    move_split: bool = False,
) -> IngestReport:
    """``store.ingest`` with the map features of every track source it writes, computed alongside.

    Args:
        workers: processes that compute map features (default: one per CPU, at most ``MAX_WORKERS``).
    """
    pool = MapFeaturePool(workers, progress=progress)
    try:
        return ingest(
            store,
            path,
            split=split,
            source=source,
            prefilter=prefilter,
            progress=progress,
            preparation=pool,
            move_split=move_split,
        )
    finally:
        pool.close()
