"""The avmine store: a DuckDB database of AV2 logs, boxes, ground truth and runs, with per-log array caches.

Names are imported lazily so that ``avmine.store.arrays`` (what sandboxed workers read) loads without
DuckDB, pandas or av2.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from avmine.store.arrays import ANNOTATIONS_SOURCE as ANNOTATIONS_SOURCE
    from avmine.store.arrays import LogArrays as LogArrays
    from avmine.store.arrays import load_log_arrays as load_log_arrays
    from avmine.store.database import Store as Store
    from avmine.store.database import open_store as open_store
    from avmine.store.errors import IngestError as IngestError
    from avmine.store.errors import StoreError as StoreError
    from avmine.store.ingestion import IngestReport as IngestReport
    from avmine.store.ingestion import ingest as ingest
    from avmine.store.prefilter import PrefilterConfig as PrefilterConfig

_EXPORTS = {
    "LogArrays": "avmine.store.arrays",
    "load_log_arrays": "avmine.store.arrays",
    "ANNOTATIONS_SOURCE": "avmine.store.arrays",
    "Store": "avmine.store.database",
    "open_store": "avmine.store.database",
    "IngestError": "avmine.store.errors",
    "StoreError": "avmine.store.errors",
    "IngestReport": "avmine.store.ingestion",
    "ingest": "avmine.store.ingestion",
    "PrefilterConfig": "avmine.store.prefilter",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")
