"""Read-only SQL over the log tables for agents: one SELECT, allowed tables only, bounded size, rows and time.

The security boundary is the connection, not this module's checks: queries run on the
label-free copy of the log tables (``avmine.store.logs_copy``), opened read-only with external access
off and its settings locked, so ground truth, runs, files, URLs and extensions do not exist
for them. ``check_query`` is a friendly first filter that explains what is allowed; parsing
and running share one time limit, and the query text is bounded so that parsing is too.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from avmine.store import logs_copy
from avmine.store.database import Store
from avmine.store.errors import StoreError

QUERYABLE_TABLES = logs_copy.LOG_TABLES
"""What agents may query: the logs' contents, never labels (ground_truth, gt_frames) or runs."""

MAX_QUERY_CHARS = 20_000
"""Longer queries are refused before parsing (parsing time grows with length: 2 MB took seconds)."""


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


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT over the queryable tables (and its own CTEs).

    A friendly filter with clear messages; the connection ``run_query`` uses is what keeps
    labels and files out of reach.

    Raises:
        QueryRefusedError: with what was wrong and what is allowed.
    """
    allowed = ", ".join(QUERYABLE_TABLES)
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRefusedError(
            f"the query is {len(sql):,} characters long; at most {MAX_QUERY_CHARS:,} are allowed. "
            "Aggregate or join in SQL instead of listing values in the query."
        )
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


def run_query(store: Store, sql: str, max_rows: int = 200, timeout_s: float = 10.0) -> QueryResult:
    """Run an agent's read-only query on the label-free copy of the log tables.

    Checking and running share ``timeout_s``.

    Raises:
        QueryRefusedError: not allowed, failed, or ran past ``timeout_s`` (then interrupted).
    """
    too_long = f"the query ran past {timeout_s:g} s and was stopped; narrow it."
    con = logs_copy.open_for_agents(store)  # before the clock: rebuilding a stale copy is not the query's time
    deadline = time.monotonic() + timeout_s
    timer = threading.Timer(timeout_s, _interrupt, [con])
    timer.start()
    try:
        check_query(con, sql)
        if time.monotonic() >= deadline:
            raise QueryRefusedError(too_long)
        con.execute(sql)
        rows = con.fetchmany(max_rows + 1)
        columns = [d[0] for d in con.description or []]
        return QueryResult(columns, [list(r) for r in rows[:max_rows]], truncated=len(rows) > max_rows)
    except duckdb.InterruptException as exc:
        raise QueryRefusedError(too_long) from exc
    except duckdb.PermissionException as exc:
        raise QueryRefusedError(
            f"the query failed: {exc}. Only the log tables are reachable: no files, URLs, databases or extensions."
        ) from exc
    except duckdb.Error as exc:
        raise QueryRefusedError(f"the query failed: {exc}") from exc
    finally:
        timer.cancel()
        con.close()


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
