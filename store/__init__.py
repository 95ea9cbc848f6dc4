"""The avmine store: a DuckDB database of AV2 logs, boxes, ground truth and runs, with per-log array caches."""

from store.cache import LogArrays, load_log_arrays
from store.database import ANNOTATIONS_SOURCE, Store, open_store
from store.errors import IngestError, StoreError
from store.ingest import IngestReport, ingest
from store.prefilter import PrefilterConfig

__all__ = [
    "ANNOTATIONS_SOURCE",
    "IngestError",
    "IngestReport",
    "LogArrays",
    "PrefilterConfig",
    "Store",
    "StoreError",
    "ingest",
    "load_log_arrays",
    "open_store",
]
