"""Ingest followed by the runtime's per-box map features, as every entry point should do it.

The store cannot import the atomic runtime (it sits below it), so the step that computes map
features for freshly ingested boxes lives here, above both.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from atomic.context import active_source, set_active_source
from atomic.map_features import precompute
from server.executor import cluster
from store import IngestReport, PrefilterConfig, Store, ingest
from store.prefilter import REFAV_PREFILTER


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
        for source, log_id in tqdm(list(sources), desc="map features", unit="log", disable=not progress, leave=False):
            set_active_source(source)
            store.load_arrays(log_id, source)  # makes sure the cache is current first
            precompute(store.log_dir(log_id))
    finally:
        set_active_source(previous)


def ingest_and_prepare(
    store: Store,
    path: Path | str,
    *,
    split: str | None = None,
    source: str | None = None,
    prefilter: PrefilterConfig = REFAV_PREFILTER,
    progress: bool = True,
) -> IngestReport:
    """``store.ingest`` then the map features of every track source it wrote."""
    report = ingest(store, path, split=split, source=source, prefilter=prefilter, progress=progress)
    prepare_logs(store, [(s, log_id) for s, log_id, *_ in report.sources], progress=progress)
    return report
