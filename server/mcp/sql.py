"""Read-only SQL over the log tables for agents: one SELECT, allowed tables only, bounded size, rows, bytes and time.

The security boundary is the connection, not this module's checks: queries run on the
label-free copy of the log tables (``avmine.store.logs_copy``), opened read-only with external access
off and its settings locked, so ground truth, runs, files, URLs and extensions do not exist
for them. ``check_query`` is a friendly first filter that explains what is allowed; parsing
and running share one time limit, and the query text is bounded so that parsing is too.

Each query runs in a process of its own (``avmine.server.mcp.query_process``) with a bounded address space:
DuckDB's ``memory_limit`` covers its buffers but not the strings an expression builds (25 rows of
``repeat('x', 40000000)`` took the server from 0.35 to 2.48 GB), so only the process's own limit bounds them,
and the server's memory never grows with a query. Rows are fetched a few at a time and the fetch stops at
``max_rows`` or ``max_bytes`` of JSON.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from avmine.store import logs_copy
from avmine.store.errors import StoreError
from avmine.store.processes import alive

if TYPE_CHECKING:
    from avmine.store.database import Store

QUERYABLE_TABLES = logs_copy.LOG_TABLES
"""What agents may query: the logs' contents, never labels (ground_truth, gt_frames) or runs."""

MAX_QUERY_CHARS = 20_000
"""Longer queries are refused before parsing (parsing time grows with length: 2 MB took seconds)."""


MAX_REPLY_BYTES = 20_000
"""JSON bytes of the rows of one reply (what a client's limits allow; see ``avmine.server.mcp.paging``)."""
MAX_VALUE_CHARS = 2_000
"""Longer text values are cut (saying so) so that a wide row still fits a reply."""
FETCH_BATCH = 8
"""Rows fetched at a time: a batch of huge rows is never all in memory."""
STARTUP_S = 30.0
"""What the query's process may take to start, on top of the query's time limit."""


class QueryRefusedError(StoreError):
    """The query is not allowed; the message says why and what is."""


@dataclass(frozen=True)
class QueryResult:
    """Rows of a query, at most ``max_rows`` of them."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def _relations(node: Any, tables: list[tuple[str, str, str]], functions: list[str], ctes: set[str]) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "BASE_TABLE":
            tables.append(
                (str(node.get("catalog_name", "")), str(node.get("schema_name", "")), str(node["table_name"]))
            )
        elif kind == "TABLE_FUNCTION":
            functions.append(str(node.get("function", {}).get("function_name", "?")))
        for entry in node.get("cte_map", {}).get("map", []) if isinstance(node.get("cte_map"), dict) else []:
            ctes.add(str(entry.get("key")))
        for value in node.values():
            _relations(value, tables, functions, ctes)
    elif isinstance(node, list):
        for value in node:
            _relations(value, tables, functions, ctes)


def check_length(sql: str) -> None:
    """Refuse a query too long to parse quickly.

    Raises:
        QueryRefusedError: saying how long it is and what to do.
    """
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRefusedError(
            f"the query is {len(sql):,} characters long; at most {MAX_QUERY_CHARS:,} are allowed. "
            "Aggregate or join in SQL instead of listing values in the query."
        )


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT over the queryable tables (and its own CTEs).

    A friendly filter with clear messages; the connection ``run_query`` uses is what keeps
    labels and files out of reach.

    Raises:
        QueryRefusedError: with what was wrong and what is allowed.
    """
    allowed = ", ".join(QUERYABLE_TABLES)
    check_length(sql)
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefusedError(f"the query does not parse: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(str(s.type).split(".")[-1] for s in statements) or "nothing"
        raise QueryRefusedError(f"only one SELECT statement is allowed (got: {kinds}).")
    tables: list[tuple[str, str, str]] = []
    functions: list[str] = []
    ctes: set[str] = set()
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])  # type: ignore[index]
        if tree.get("error"):
            raise QueryRefusedError(f"the query does not parse: {tree.get('error_message', 'syntax error')}")
        _relations(tree, tables, functions, ctes)
    except RecursionError as exc:
        raise QueryRefusedError("the query is nested too deeply; flatten its subqueries.") from exc
    if functions:
        raise QueryRefusedError(
            f"table functions are not allowed ({', '.join(functions)}); query the tables: {allowed}."
        )
    for catalog, schema, table in tables:
        if table in ctes and not catalog and not schema:
            continue
        if catalog or schema not in ("", "main") or table not in QUERYABLE_TABLES:
            name = ".".join(p for p in (catalog, schema, table) if p)
            raise QueryRefusedError(f"the table {name!r} is not queryable; the tables are: {allowed}.")


def _interrupt(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # the query finished and its connection closed as the timer fired
        con.interrupt()


def execute_bounded(
    con: duckdb.DuckDBPyConnection, sql: str, max_rows: int, max_bytes: int, timeout_s: float
) -> QueryResult:
    """Check and run ``sql`` on ``con``, fetching a few rows at a time up to ``max_rows`` and ``max_bytes``.

    Raises:
        QueryRefusedError: not allowed, failed, or ran past ``timeout_s`` (then interrupted).
    """
    too_long = f"the query ran past {timeout_s:g} s and was stopped; narrow it."
    deadline = time.monotonic() + timeout_s
    timer = threading.Timer(timeout_s, _interrupt, [con])
    timer.start()
    try:
        check_query(con, sql)
        if time.monotonic() >= deadline:
            raise QueryRefusedError(too_long)
        con.execute(sql)
        columns = [d[0] for d in con.description or []]
        rows: list[list[Any]] = []
        size, truncated = 0, False
        while not truncated and (batch := con.fetchmany(FETCH_BATCH)):
            for raw in batch:
                row = [_bounded_value(value) for value in raw]
                size += len(json.dumps(row, default=str))
                if len(rows) == max_rows or (rows and size > max_bytes):
                    truncated = True
                    break
                rows.append(row)
        return QueryResult(columns, rows, truncated)
    except duckdb.InterruptException as exc:
        raise QueryRefusedError(too_long) from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryRefusedError(
            "the query needed more memory than a query may use; aggregate, filter or select fewer or shorter columns."
        ) from exc
    except duckdb.PermissionException as exc:
        raise QueryRefusedError(
            f"the query failed: {exc}. Only the log tables are reachable: no files, URLs, databases or extensions."
        ) from exc
    except duckdb.Error as exc:
        raise QueryRefusedError(f"the query failed: {exc}") from exc
    finally:
        timer.cancel()


def _bounded_value(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + f" [... {len(value) - MAX_VALUE_CHARS:,} characters cut]"
    return value


def run_query(
    store: Store, sql: str, max_rows: int = 200, timeout_s: float = 10.0, max_bytes: int = MAX_REPLY_BYTES
) -> QueryResult:
    """Run an agent's read-only query on the label-free copy of the log tables, in a process of its own.

    Checking and running share ``timeout_s``; the process has a bounded address space and is killed past
    ``timeout_s`` plus its start-up.

    Raises:
        QueryRefusedError: not allowed, failed, ran past ``timeout_s``, or its process ran out of memory.
    """
    check_length(sql)  # at once, without starting a process
    parent = _private_parent(store)
    _remove_left_behind(store, parent)
    prefix = f".{store.path.name}.sql-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as folder:
        copy = logs_copy.link_for_agents(store, Path(folder))  # before the clock: rebuilding is not the query's time
        request = {"copy": str(copy), "folder": folder, "sql": sql, "max_rows": max_rows, "max_bytes": max_bytes,
                   "timeout_s": timeout_s}  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "avmine.server.mcp.query_process"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=folder,
            env={name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL") if name in os.environ},
        )  # fmt: skip
        try:
            out, err = process.communicate(json.dumps(request).encode(), timeout=timeout_s + STARTUP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise QueryRefusedError(f"the query ran past {timeout_s:g} s and was stopped; narrow it.") from None
    lines = out.decode("utf-8", "replace").strip().splitlines()
    reply = json.loads(lines[-1]) if lines else {}
    if "error" in reply:
        raise QueryRefusedError(str(reply["error"]))
    if "rows" not in reply:
        raise QueryRefusedError(
            f"the query's process ended without an answer (exit {process.returncode}, most likely out of memory: "
            f"{err.decode('utf-8', 'replace').strip()[-300:] or 'no message'}); aggregate, filter or select fewer "
            "or shorter columns."
        )
    return QueryResult(list(reply["columns"]), list(reply["rows"]), bool(reply["truncated"]))


def _remove_left_behind(store: Store, parent: str | None) -> None:
    """Remove query folders of processes that died mid-query (each holds a link to an old copy of the logs)."""
    for folder in Path(parent or tempfile.gettempdir()).glob(f".{glob.escape(store.path.name)}.sql-*-*"):
        pid = folder.name.rsplit(".sql-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _private_parent(store: Store) -> str | None:
    """Beside the database (so the copy can be hard-linked there), else the system's temporary folder."""
    return str(store.path.parent) if os.access(store.path.parent, os.W_OK) else None


def describe_tables(store: Store) -> str:
    """The queryable tables and their columns, as text."""
    con = logs_copy.open_for_agents(store)
    try:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_name IN (SELECT unnest(?)) ORDER BY table_name, ordinal_position",
            [list(QUERYABLE_TABLES)],
        ).fetchall()
    finally:
        con.close()
    lines: list[str] = []
    current = None
    for table, column, kind in rows:
        if table != current:
            lines.append(f"{table}:")
            current = table
        lines.append(f"  {column} {kind}")
    return "\n".join(lines)
