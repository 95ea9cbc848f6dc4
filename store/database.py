"""The avmine database: one DuckDB file, its schema, and the per-log caches beside it."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shlex
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd
import pyarrow as pa

from avmine.store import cache
from avmine.store.arrays import ANNOTATIONS_SOURCE, LogArrays, load_log_arrays
from avmine.store.errors import (
    DamagedDatabaseError,
    DatabaseLockedError,
    NoDatabaseError,
    SchemaVersionError,
    StoreError,
    is_damage,
)
from avmine.store.logs_copy import STAMP_KEY as LOGS_COPY_STAMP_KEY
from avmine.store.paths import cache_root_for, resolve_db_path
from avmine.store.schema import (
    REFINED_KIND,
    SCHEMA_VERSION,
    TRACE_COLUMN,
    UNKEYED_IN_V4,
    create_statement,
    create_statements,
)

logger = logging.getLogger(__name__)


def missing_database_message(db_path: Path) -> str:
    """What to say when there is no database at ``db_path``, with commands that make one there."""
    db = shlex.quote(str(db_path))
    return (
        f"{db_path}: no avmine database here. Make one with `avmine --db {db} ingest PATH` (PATH: an AV2 log, "
        f"split or dataset directory), or build the demo database there: `avmine --db {db} demo`."
    )


def connect(db_path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to ``db_path``.

    Raises:
        DatabaseLockedError: another process has the file open for writing (or, for a writer, open at all).
        DamagedDatabaseError: the file is empty, truncated, damaged or not a DuckDB database.
    """
    try:
        return duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.Error as exc:
        if is_damage(exc):
            raise damaged(db_path, exc) from None
        if "Could not set lock" not in str(exc):
            raise
        holder = re.search(r"\(PID (\d+)\)", str(exc))
        raise DatabaseLockedError(db_path, int(holder.group(1)) if holder else None) from None


def damaged(db_path: Path, exc: BaseException) -> DamagedDatabaseError:
    """The error for a damaged database file, naming the folders its logs came from where it still says."""
    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            rows = con.execute("SELECT DISTINCT source_path FROM logs").fetchall()
        folders = sorted({shlex.quote(str(Path(row[0]).parent)) for row in rows if row[0]})
    except duckdb.Error:  # too damaged to say
        folders = []
    return DamagedDatabaseError(db_path, str(exc), folders or None)


def refuse_if_open(db_path: Path) -> None:
    """Make sure no process has ``db_path`` open, before it is deleted or replaced.

    Raises:
        DatabaseLockedError: a process (a server, a command) has it open.
    """
    try:
        connect(db_path, read_only=False).close()
    except (duckdb.Error, DamagedDatabaseError) as exc:  # not a database DuckDB can open: nobody holds it as one
        logger.debug("%s is not a database DuckDB opens (%s); nobody holds it", db_path, exc)


def now() -> dt.datetime:
    """The current time, as stored in ``*_at`` columns (UTC, naive)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


MAPPED_LOGS = 1024
"""How many logs' memory-mapped arrays a ``Store`` keeps (the mappings, not copies: about 21 files a log)."""


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    """A file's identity and version (inode, change time, size), or None when it is missing."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class Store:
    """An open avmine database.

    One process writes (the CLI or the server); sandboxed workers read only the
    per-log caches under ``cache_root``. Use as a context manager or call ``close``.
    """

    def __init__(self, db_path: Path, read_only: bool = False, create: bool = True) -> None:
        self.path = db_path
        self.cache_root = cache_root_for(db_path)
        self.read_only = read_only
        self.generation = 0
        """Bumped by every ingest through this object, so callers can cache what depends on the logs."""
        if (read_only or not create) and not db_path.is_file():
            raise NoDatabaseError(missing_database_message(db_path))
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._root = connect(db_path, read_only)
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._mapped: OrderedDict[tuple[str, str], tuple[tuple[int, int, int], LogArrays]] = OrderedDict()
        self._mapped_lock = threading.Lock()
        if not read_only:
            self._ensure_schema()
            cache.recover(self.cache_root, self.committed_cache_keys())
        else:
            version = self._version()
            if version is not None and version < SCHEMA_VERSION:  # made by an earlier avmine: migrate it once
                self._root.close()
                Store(db_path).close()
                self._root = connect(db_path, read_only=True)
            self._check_version()

    @classmethod
    def open(cls, db: str | Path | None = None, read_only: bool = False, create: bool = True) -> Store:
        """Open the database at ``db`` (else ``$AVMINE_DB``, else the user data dir).

        A missing file is created (empty) only when ``create`` and not ``read_only``; otherwise it
        raises ``NoDatabaseError``, whose message says how to make one.
        """
        return cls(resolve_db_path(db), read_only=read_only, create=create)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's connection to the database.

        A DuckDB connection must not be used by two threads at once (the MCP server runs tools in a
        thread pool), so every other thread gets its own cursor on the same database.
        """
        if threading.get_ident() == self._owner:
            return self._root
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._root.cursor()
            self._cursors.append(cursor)
        return cursor

    def log_directory(self, log_id: str) -> Path | None:
        """The directory a log was ingested from (where its camera images are), if it still exists."""
        row = self.con.execute("SELECT source_path FROM logs WHERE log_id = ?", [log_id]).fetchone()
        path = Path(row[0]) if row else None
        return path if path is not None and path.is_dir() else None

    def close(self) -> None:
        """Close the connection and every thread's cursor."""
        for cursor in self._cursors:
            cursor.close()
        self._root.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _version(self) -> int | None:
        exists = self.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()
        if not exists or exists[0] == 0:
            return None
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    def _check_version(self, writable: bool = False) -> None:
        version = self._version()
        if writable and version is not None and version < SCHEMA_VERSION:
            return  # an older file: _ensure_schema migrates it
        if version is not None and version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path}: database schema version {version}, this avmine reads version "
                f"{SCHEMA_VERSION}. Re-ingest into a new file (`avmine --db NEW.duckdb ingest PATH`) "
                "or use the avmine version that wrote it."
            )

    def _ensure_schema(self) -> None:
        self._check_version(writable=True)
        version = self._version()
        if version is None or version < SCHEMA_VERSION:
            # every statement is CREATE ... IF NOT EXISTS: re-running them adds what newer versions added;
            # dropping the SQL copy's stamp has it rebuilt with the new columns
            with self.transaction():
                for statement in create_statements():
                    self.con.execute(statement)
                if version is not None and version < 4:
                    self._drop_v3_primary_keys()
                self.con.execute("DELETE FROM meta WHERE key IN ('schema_version', ?)", [LOGS_COPY_STAMP_KEY])
                self.con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        self._allow_refined_kind()
        self._add_trace_column()

    def _add_trace_column(self) -> None:
        """Add ``run_results.trace`` once where a version-4 file predates it (runs are not in the SQL copy)."""
        table, column, kind = TRACE_COLUMN
        present = self.con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
        ).fetchone()
        if present and present[0]:
            return
        with self.transaction():
            self.con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _allow_refined_kind(self) -> None:
        """Rebuild ``track_sources`` once where its kind check predates refined sources.

        That is a file of version 4 written before them, or one just migrated; the sources avmine refine
        made are re-kinded.
        """
        check = self.con.execute(
            "SELECT expression FROM duckdb_constraints() "
            "WHERE table_name = 'track_sources' AND constraint_type = 'CHECK'"
        ).fetchone()
        if check is None or f"'{REFINED_KIND}'" in str(check[0]):
            return
        with self.transaction():
            self.con.execute("ALTER TABLE track_sources RENAME TO track_sources_before_refined")
            self.con.execute(create_statement("track_sources"))
            self.con.execute("INSERT INTO track_sources BY NAME SELECT * FROM track_sources_before_refined")
            self.con.execute("DROP TABLE track_sources_before_refined")
            self.con.execute(
                "UPDATE track_sources SET kind = ? WHERE (source, log_id) IN (SELECT source, log_id FROM refinements)",
                [REFINED_KIND],
            )
            # the SQL copy is rebuilt from the new table (and gains the refinement tables it now holds)
            self.con.execute("DELETE FROM meta WHERE key = ?", [LOGS_COPY_STAMP_KEY])

    def _drop_v3_primary_keys(self) -> None:
        for table in UNKEYED_IN_V4:  # DuckDB cannot drop a primary key: the table is rebuilt without it
            keyed = self.con.execute(
                "SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                [table],
            ).fetchone()
            if keyed and keyed[0]:
                self.con.execute(f"ALTER TABLE {table} RENAME TO {table}_keyed")
                self.con.execute(create_statement(table))
                self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {table}_keyed")
                self.con.execute(f"DROP TABLE {table}_keyed")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block in one transaction: all of it commits, or none of it."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def insert(self, table: str, frame: pd.DataFrame | pa.Table) -> None:
        """Append a frame's (or an Arrow table's) rows to a table, matching columns by name."""
        if len(frame) == 0:
            return
        self.con.register("_avmine_insert", frame)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _avmine_insert")
        finally:
            self.con.unregister("_avmine_insert")

    def committed_cache_keys(self) -> set[str]:
        """Cache keys named by committed rows (the caches that may be published)."""
        rows = self.con.execute("SELECT cache_key FROM logs UNION ALL SELECT cache_key FROM track_sources").fetchall()
        return {str(r[0]) for r in rows}

    def log_dir(self, log_id: str) -> Path:
        """The cached log directory that programs receive as ``log_dir``."""
        return cache.log_cache_dir(self.cache_root, log_id)

    def query_df(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        """Run a query and return its rows as a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def ensure_caches(self, log_ids: list[str], source: str = ANNOTATIONS_SOURCE) -> dict[str, str]:
        """Make sure the cached arrays of these logs match the database, rebuilding stale ones.

        Cheap when they are current: one query and one small file read per log.

        Returns:
            Each log's cache key: it changes whenever the log's boxes are re-ingested.
        """
        rows = self.con.execute(
            "SELECT log_id, cache_key FROM track_sources WHERE source = ? AND log_id IN (SELECT unnest(?))",
            [source, log_ids],
        ).fetchall()
        for log_id, key in rows:
            self.ensure_log_cache(str(log_id))
            if not cache.is_current(self.log_dir(str(log_id)) / "boxes" / source / "meta.json", str(key)):
                self.load_arrays(str(log_id), source)
        return {str(log_id): str(key) for log_id, key in rows}

    def ensure_log_cache(self, log_id: str) -> None:
        """Make sure a log's cached poses, map and calibration match the database, rebuilding them if not.

        Poses come from the database; the map and calibration from where the log was ingested
        (the database keeps their summary, not the files).

        Raises:
            StoreError: the part is missing or stale and the log's map files are no longer where it was
                ingested from (the message names the files and the ways out).
        """
        row = self.con.execute(
            "SELECT l.cache_key, l.split, l.city, l.source_path, l.has_calibration, m.source_path "
            "FROM logs AS l LEFT JOIN maps AS m USING (log_id) WHERE l.log_id = ?",
            [log_id],
        ).fetchone()
        part = self.log_dir(log_id) / "log"
        if row is None or (
            cache.is_current(part / "log.json", str(row[0])) and any(part.glob(f"map/{cache.MAP_ARCHIVE_GLOB}"))
        ):
            return
        key, split, city, log_source, has_calibration, map_source = row
        map_dir = Path(map_source) if map_source else Path(log_source) / "map"
        if not any(map_dir.glob(cache.MAP_ARCHIVE_GLOB)):
            raise StoreError(
                f"log {log_id}: its cache ({part}) is missing or out of date, and its map cannot be rebuilt: "
                f"{map_dir}, where it was ingested from, holds no {cache.MAP_ARCHIVE_GLOB}. The database keeps "
                f"boxes and poses but not map files. Copy the cache folder {self.cache_root} along with the "
                f"database, or put the log's map folder back at {map_dir} (log_map_archive_*.json, "
                "*_ground_height_surface____*.npy, *___img_Sim2_city.json), or ingest the log again: "
                f"`avmine --db {self.path} ingest LOG_DIR`."
            )
        calibration = Path(log_source) / "calibration"  # cameras fall back to the standard rig without it
        poses = self.query_df("SELECT * FROM ego_poses WHERE log_id = ? ORDER BY timestamp_ns", [log_id])
        meta = {"log_id": log_id, "split": split, "city": city}
        staged = cache.stage_log(
            self.cache_root,
            str(key),
            log_id,
            poses,
            map_dir,
            calibration if has_calibration and calibration.is_dir() else None,
            meta,
        )
        cache.publish(self.cache_root, [staged])

    def load_arrays(self, log_id: str, source: str = ANNOTATIONS_SOURCE) -> LogArrays:
        """Memory-map a log's boxes, rebuilding the cache from the database if it is stale or missing.

        The arrays of the last ``MAPPED_LOGS`` calls are kept while their cache files stay the same (a
        re-ingest replaces the boxes' directory, so its ``meta.json`` is a new file): diagnostics of a
        run over a whole split map each log once per server, not once per run.

        Raises:
            StoreError: the log or the source is not in the database.
        """
        meta = self.log_dir(log_id) / "boxes" / source / "meta.json"
        stamp = _file_stamp(meta)
        with self._mapped_lock:
            hit = self._mapped.get((log_id, source))
            if hit is not None and stamp is not None and hit[0] == stamp:
                self._mapped.move_to_end((log_id, source))
                return hit[1]
        arrays = self._load_arrays(log_id, source)
        stamp = _file_stamp(meta)
        if stamp is not None:
            with self._mapped_lock:
                self._mapped[(log_id, source)] = (stamp, arrays)
                while len(self._mapped) > MAPPED_LOGS:
                    self._mapped.popitem(last=False)
        return arrays

    def _load_arrays(self, log_id: str, source: str) -> LogArrays:
        row = self.con.execute(
            "SELECT cache_key, ego_uuid, has_score, kind FROM track_sources WHERE log_id = ? AND source = ?",
            [log_id, source],
        ).fetchone()
        if row is None:
            known = self.query_df("SELECT DISTINCT source FROM track_sources WHERE log_id = ?", [log_id])
            raise StoreError(
                f"log {log_id} has no track source '{source}' in {self.path} "
                f"(it has: {', '.join(known['source']) or 'none'}). Ingest it with `avmine ingest`."
            )
        self.ensure_log_cache(log_id)
        try:
            if cache.is_current(self.log_dir(log_id) / "boxes" / source / "meta.json", str(row[0])):
                return load_log_arrays(self.log_dir(log_id), source)
        except (OSError, ValueError, KeyError):  # missing, truncated or corrupt: rebuilt from the database
            pass
        self._rebuild_boxes_cache(log_id, source, str(row[0]), str(row[1]), bool(row[2]), str(row[3]))
        return load_log_arrays(self.log_dir(log_id), source)

    def _rebuild_boxes_cache(
        self, log_id: str, source: str, key: str, ego_uuid: str, has_score: bool, kind: str
    ) -> None:
        boxes = self.query_df(
            "SELECT * FROM boxes WHERE log_id = ? AND source = ? ORDER BY track_index, timestamp_ns",
            [log_id, source],
        )
        poses = self.query_df("SELECT * FROM ego_poses WHERE log_id = ? ORDER BY timestamp_ns", [log_id])
        meta = {"log_id": log_id, "source": source, "ego_uuid": ego_uuid, "has_score": has_score, "kind": kind}
        staged = cache.stage_boxes(self.cache_root, key, boxes, poses, meta)
        cache.publish(self.cache_root, [staged])


def open_store(db: str | Path | None = None, read_only: bool = False) -> Store:
    """Open (creating if needed) the avmine database; see ``Store.open``."""
    return Store.open(db, read_only=read_only)
