"""The avmine store: a DuckDB database of AV2 logs, boxes, ground truth and runs, with per-log array caches.

Names are imported lazily so that ``store.arrays`` (what sandboxed workers read) loads without
DuckDB, pandas or av2.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.arrays import ANNOTATIONS_SOURCE as ANNOTATIONS_SOURCE
    from store.arrays import LogArrays as LogArrays
    from store.arrays import load_log_arrays as load_log_arrays
    from store.database import Store as Store
    from store.database import open_store as open_store
    from store.errors import IngestError as IngestError
    from store.errors import StoreError as StoreError
    from store.ingestion import IngestReport as IngestReport
    from store.ingestion import ingest as ingest
    from store.prefilter import PrefilterConfig as PrefilterConfig

_EXPORTS = {
    "LogArrays": "store.arrays",
    "load_log_arrays": "store.arrays",
    "ANNOTATIONS_SOURCE": "store.arrays",
    "Store": "store.database",
    "open_store": "store.database",
    "IngestError": "store.errors",
    "StoreError": "store.errors",
    "IngestReport": "store.ingestion",
    "ingest": "store.ingestion",
    "PrefilterConfig": "store.prefilter",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")
