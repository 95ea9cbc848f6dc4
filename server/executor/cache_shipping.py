"""Per-log caches for nodes that do not share the head's cache folder: shipped once per node through Ray's object store.

The head packs a log's cache folder (``<db>.cache/<log_id>/``) into one object per cache key
(``Shipments``); a node's relay actor unpacks it into a node-local folder before the first job that
needs it (``unpack``) and keeps it there, marked with the key, until the log is re-ingested.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any

import ray

LOCAL_VARIABLE = "AVMINE_RAY_LOCAL_CACHES"
"""Set (to anything) in a node's environment: its workers use shipped caches even where the head's path exists."""
MARKER = ".shipped"


def local_root(cache_root: str) -> Path:
    """The node-local folder that holds shipped caches of the head's ``cache_root``."""
    digest = hashlib.sha256(cache_root.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"avmine-caches-{digest}"


def ships(cache_root: str) -> bool:
    """Whether this node needs caches shipped: it cannot see the head's folder, or was told to keep its own."""
    return bool(os.environ.get(LOCAL_VARIABLE)) or not Path(cache_root).is_dir()


class Shipments:
    """The head's packed log caches, one object per (log, cache key), put into the object store on first use."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def ref(self, cache_root: str, log_id: str, cache_key: str) -> Any:
        """The object holding the log's cache folder as it is now (packed once per cache key; "": any key)."""
        with self._lock:
            if not cache_key:
                cache_key = next((k for logged, k in self._objects if logged == log_id), "")
            key = (log_id, cache_key)
            if key not in self._objects:
                for old in [k for k in self._objects if k[0] == log_id]:  # re-ingested: the old copy goes
                    del self._objects[old]
                packed = io.BytesIO()
                with tarfile.open(fileobj=packed, mode="w") as tar:
                    tar.add(Path(cache_root) / log_id, arcname=log_id)
                self._objects[key] = ray.put(packed.getvalue())
            return self._objects[key]


def unpack(root: Path, log_id: str, cache_key: str, packed: Any) -> None:
    """Make ``root/log_id`` the shipped cache of that key (fetched from the object store unless already there).

    An empty ``cache_key`` takes any copy already there. The node's workers unpack one at a time (a lock file).
    """
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _unpack(root, log_id, cache_key, packed)


def _unpack(root: Path, log_id: str, cache_key: str, packed: Any) -> None:
    target = root / log_id
    marker = target / MARKER
    if marker.is_file() and (not cache_key or marker.read_text() == cache_key):
        return
    data = ray.get(packed)
    incoming = Path(tempfile.mkdtemp(prefix=f".{log_id}.", dir=root))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(incoming, filter="data")  # only plain files and folders under the target
    (incoming / log_id / MARKER).write_text(cache_key)
    if target.exists():
        shutil.rmtree(target)
    (incoming / log_id).rename(target)
    shutil.rmtree(incoming, ignore_errors=True)
