"""The label-free copy of the log tables: the only database agents' SQL (``query_logs``) can open.

It is a separate DuckDB file beside the database, ``<db file>.logs-<stamp>.duckdb``, holding
the log tables and nothing else: no ground truth, no runs, no examples, no agent sessions, no
VLM cache. It is a separate file because one process cannot open the same DuckDB file twice
with different settings, and agents' connections need settings that the store's must not have:
``open_for_agents`` opens it read-only with external access (files, URLs, ``ATTACH``,
extensions) off and the configuration locked, so that nothing a query says can reach further.

Consistency: every ingest commits a new stamp in the database's ``meta`` table and then publishes
the copy named by that stamp (written to a temporary file, then renamed). An ingest streams its
copy (``StreamedCopy``): it starts from a file copy of the current copy and applies the ingest's
own deletes and inserts, log by log, so its cost is that of the data it ingests, not of a rewrite
of everything. A copy whose name is
not the committed stamp is stale (the process died between the two steps, or the database was
copied without it); ``ensure`` rebuilds it from the database before anyone reads it. The name
changes with every write because DuckDB keeps one instance per open file path: a query still
running on the old copy keeps it, new queries open the new one.

A copy being written is ``<db file>.logs-next-<host>-<pid>-<random>.duckdb.tmp`` (and DuckDB's
``.wal`` beside it). Every writer, as it starts, removes those its own machine's dead processes
left (an ingest killed by SIGKILL) and never one whose writer is alive or on another machine.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from avmine.store.errors import StoreError
from avmine.store.processes import alive

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from avmine.store.database import Store

LOG_TABLES = ("logs", "maps", "track_sources", "boxes", "ego_poses", "prompts", "refinements", "box_provenance")
"""What the copy holds: the logs' contents and how refined sources were made from them (``refinements``,
``box_provenance``: derived from boxes alone), never labels (ground_truth, gt_frames), runs or sessions."""

PATH_COLUMNS = {"logs": "source_path", "maps": "source_path", "track_sources": "source_path", "prompts": "source_path"}
"""Columns that name files on the host: the copy keeps only their last part (the log folder's or file's name), so
no query learns where the user keeps data (home folders, user names)."""
FORMAT = "v2"
"""The copy's layout, in its file name: a copy of another layout (one with host paths) is rebuilt before use."""

STAMP_KEY = "logs_copy_stamp"
"""The ``meta`` key naming the copy that matches the committed database."""

AGENT_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,  # no files, URLs, ATTACH, COPY TO, INSTALL or LOAD
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,  # SET / RESET / PRAGMA cannot undo the above
    "memory_limit": "512MB",  # DuckDB's buffers; the query process's address space bounds the rest
    "threads": 2,
    "max_temp_directory_size": "1GiB",
}
"""DuckDB settings of every connection ``open_for_agents`` returns (with its own temporary, secret and home
folders, which DuckDB would otherwise place under the user's home)."""

_write_lock = threading.RLock()


def copy_path(db_path: Path, stamp: str) -> Path:
    """The copy of ``db_path`` written under ``stamp``."""
    return db_path.with_name(f"{db_path.name}.logs-{FORMAT}-{stamp}.duckdb")


def committed_stamp(store: Store) -> str | None:
    """The stamp of the copy that matches the committed database, if one was ever written."""
    row = store.con.execute("SELECT value FROM meta WHERE key = ?", [STAMP_KEY]).fetchone()
    return str(row[0]) if row else None


def new_stamp(store: Store) -> str:
    """Record a new stamp in ``meta``; call it inside the transaction that changes the log tables."""
    stamp = uuid.uuid4().hex[:16]
    record_stamp(store, stamp)
    return stamp


def record_stamp(store: Store, stamp: str) -> None:
    """Make ``stamp`` the committed copy's name in ``meta`` (inside the caller's transaction)."""
    store.con.execute("DELETE FROM meta WHERE key = ?", [STAMP_KEY])
    store.con.execute("INSERT INTO meta VALUES (?, ?)", [STAMP_KEY, stamp])


def _partial_path(db_path: Path) -> Path:
    """A new name for a copy being written, naming this machine and process (see ``remove_dead_writers``)."""
    return db_path.with_name(
        f"{db_path.name}.logs-next-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.duckdb.tmp"
    )


_PARTIAL = re.compile(r"\.logs-next-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}\.duckdb\.tmp(\.wal)?")


def remove_dead_writers(db_path: Path) -> list[Path]:
    """Remove the copies (and their WAL) that writers on this machine left when they died; returns them.

    A copy whose process is alive, or that another machine writes (a shared folder), is kept. A
    dead writer's pid reused by a new process keeps its file until that process ends too.
    """
    removed = []
    host = socket.gethostname()
    for path in db_path.parent.glob(glob.escape(db_path.name) + ".logs-next-*.duckdb.tmp*"):
        match = _PARTIAL.fullmatch(path.name.removeprefix(db_path.name))
        if match is not None and match["host"] == host and not alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write(store: Store, stamp: str) -> Path:
    """Write the copy of the committed log tables under ``stamp`` and remove older copies.

    Returns the copy's path; when a reader already rebuilt a newer copy since ``stamp`` was
    committed, that one's, without writing.

    Raises:
        OSError, duckdb.Error: the file could not be written (nothing is half-written in its place).
    """
    target = copy_path(store.path, stamp)
    remove_dead_writers(store.path)
    partial = _partial_path(store.path)
    alias = f"avmine_logs_copy_{uuid.uuid4().hex[:8]}"
    quoted = str(partial).replace("'", "''")
    with _write_lock:
        current = committed_stamp(store)
        if current != stamp and current is not None and copy_path(store.path, current).is_file():
            return copy_path(store.path, current)  # a reader rebuilt it after this stamp's commit: it is newer
        store.con.execute(f"ATTACH '{quoted}' AS {alias}")
        try:
            try:
                with store.transaction() as con:
                    for table in LOG_TABLES:
                        con.execute(f"CREATE TABLE {alias}.{table} AS SELECT {_columns(table)} FROM main.{table}")
                store.con.execute(f"CHECKPOINT {alias}")
            finally:
                store.con.execute(f"DETACH {alias}")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
            partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        _remove_older(target, store.path)
    return target


def _columns(table: str) -> str:
    """The select list that copies ``table`` with its host path cut to the last part."""
    column = PATH_COLUMNS.get(table)
    return f"* REPLACE (regexp_replace({column}, '^.*/', '') AS {column})" if column else "*"


def _remove_older(target: Path, db_path: Path) -> None:
    """Remove published copies other than ``target`` (never a copy another writer is writing)."""
    prefix = glob.escape(db_path.name) + ".logs-"
    for old in [*target.parent.glob(prefix + "*.duckdb"), *target.parent.glob(prefix + "*.duckdb.wal")]:
        if old != target and not old.name.startswith(db_path.name + ".logs-next-"):
            old.unlink(missing_ok=True)  # a query still reading an old copy keeps its open file


STREAM_MEMORY_LIMIT = "128MB"
"""DuckDB's memory limit for a streamed copy's connection: uncommitted rows past it spill to disk."""


class StreamedCopy:
    """The next copy, written alongside one ingest: the current copy plus the ingest's own writes.

    Open it before the ingest's transaction (it may rebuild a stale copy first), mirror every
    delete and insert on the log tables with ``execute`` and ``insert``, then ``commit`` inside the
    ingest's transaction (after its new stamp) and ``publish`` after the database committed; on
    failure ``discard``. Until ``publish`` it is a temporary file nobody reads.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        base = ensure(store)
        remove_dead_writers(store.path)
        self.partial = _partial_path(store.path)
        shutil.copyfile(base, self.partial)
        self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(
            str(self.partial), config={"memory_limit": STREAM_MEMORY_LIMIT}
        )
        self._con.execute("BEGIN TRANSACTION")

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the streamed copy of the log tables was already committed or discarded")
        return self._con

    def execute(self, sql: str, params: list[object]) -> None:
        """Run a statement on the copy (a delete of rows the ingest replaces)."""
        self._open().execute(sql, params)

    def insert(self, table: str, rows: pd.DataFrame | pa.Table) -> None:
        """Append rows to a log table of the copy, matching columns by name."""
        if table in LOG_TABLES and len(rows):
            con = self._open()
            con.register("_avmine_copy_insert", rows)
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _avmine_copy_insert")
            finally:
                con.unregister("_avmine_copy_insert")

    def commit(self) -> None:
        """Cut host paths to their last part, commit and close the copy's file (still under its temporary name)."""
        con = self._open()
        for table, column in PATH_COLUMNS.items():  # rows came by name from the ingest, full paths included
            con.execute(f"UPDATE {table} SET {column} = regexp_replace({column}, '^.*/', '') WHERE {column} LIKE '%/%'")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        con.close()
        self._con = None

    def publish(self, stamp: str) -> Path:
        """Give the committed copy the name of ``stamp`` (committed in the database) and remove older copies.

        Returns the current copy's path: this one, or a newer one a later write already published.
        """
        target = copy_path(self._store.path, stamp)
        with _write_lock:
            current = committed_stamp(self._store)
            if current != stamp and current is not None and copy_path(self._store.path, current).is_file():
                self.partial.unlink(missing_ok=True)
                return copy_path(self._store.path, current)
            self.partial.replace(target)
            _remove_older(target, self._store.path)
        return target

    def discard(self) -> None:
        """Drop the copy (the ingest failed); safe to call more than once."""
        if self._con is not None:
            self._con.close()
            self._con = None
        self.partial.unlink(missing_ok=True)
        self.partial.with_name(self.partial.name + ".wal").unlink(missing_ok=True)


def ensure(store: Store) -> Path:
    """The current copy's path, rebuilding the copy first if it is missing or stale.

    Raises:
        StoreError: the copy is stale and the store is open read-only, so it cannot be rebuilt.
    """
    with _write_lock:
        stamp = committed_stamp(store)
        if stamp is not None and copy_path(store.path, stamp).is_file():
            return copy_path(store.path, stamp)
        if store.read_only:
            raise StoreError(
                f"{store.path}: the copy of the log tables that SQL queries read is missing or stale. "
                "Open the database writable once (e.g. `avmine serve` or `avmine ingest`) to rebuild it."
            )
        # the copy first, the stamp after: a table that cannot be read (a damaged file) fails before anything
        # is written to the database
        stamp = uuid.uuid4().hex[:16]
        target = write(store, stamp)
        with store.transaction():
            record_stamp(store, stamp)
        return target


def agent_config(folder: Path) -> dict[str, str | bool | int | float | list[str]]:
    """``AGENT_CONFIG`` with DuckDB's temporary, secret, extension and home folders inside ``folder``."""
    return AGENT_CONFIG | {
        "temp_directory": str(folder / "spill"),
        "secret_directory": str(folder / "secrets"),
        "extension_directory": str(folder / "extensions"),
        "home_directory": str(folder),
    }


def connect_for_agents(copy: Path, folder: Path | None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``copy`` with external access off and settings locked (``agent_config``).

    Without ``folder``, DuckDB's folders stay its defaults (beside the copy, and under the home folder).
    """
    return duckdb.connect(str(copy), read_only=True, config=agent_config(folder) if folder else AGENT_CONFIG)


def link_for_agents(store: Store, folder: Path) -> Path:
    """The current copy, linked into ``folder`` so that a later ingest removing it cannot pull it from a query.

    Where the file system has no hard links, the copy itself (a query starting as an ingest publishes may then
    fail once and be run again).
    """
    with _write_lock:
        current = ensure(store)
        linked = folder / "logs.duckdb"
        try:
            os.link(current, linked)
        except OSError:
            return current
        return linked


def open_for_agents(store: Store, folder: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A new read-only connection to the current copy with external access off and settings locked.

    The caller closes it. Nothing but the log tables exists there, and no statement can open
    a file, a URL, another database or an extension, or change these settings.
    """
    with _write_lock:  # a concurrent write removes older copies: connect before it can
        return connect_for_agents(ensure(store), folder)
