"""Read-only SQL over the log tables for agents: one SELECT, allowed tables only, bounded rows and time.

Ground truth is not among the tables a query may name, table functions (which read files) are
refused, and every statement but a single SELECT is refused before it runs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import duckdb

from store.database import Store
from store.errors import StoreError

QUERYABLE_TABLES = ("logs", "maps", "track_sources", "boxes", "ego_poses", "prompts")
"""What agents may query: the logs' contents, never labels (ground_truth, gt_frames) or runs."""


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

    Raises:
        QueryRefusedError: with what was wrong and what is allowed.
    """
    allowed = ", ".join(QUERYABLE_TABLES)
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefusedError(f"the query does not parse: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(str(s.type).split(".")[-1] for s in statements) or "nothing"
        raise QueryRefusedError(f"only one SELECT statement is allowed (got: {kinds}).")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])  # type: ignore[index]
    if tree.get("error"):
        raise QueryRefusedError(f"the query does not parse: {tree.get('error_message', 'syntax error')}")
    tables: list[tuple[str, str, str]] = []
    functions: list[str] = []
    ctes: set[str] = set()
    _relations(tree, tables, functions, ctes)
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


def run_query(store: Store, sql: str, max_rows: int = 200, timeout_s: float = 10.0) -> QueryResult:
    """Run an agent's read-only query.

    Raises:
        QueryRefusedError: not allowed, failed, or ran past ``timeout_s`` (then interrupted).
    """
    cursor = store.con.cursor()
    try:
        check_query(cursor, sql)
        timer = threading.Timer(timeout_s, cursor.interrupt)
        timer.start()
        try:
            cursor.execute(sql)
            rows = cursor.fetchmany(max_rows + 1)
        except duckdb.InterruptException as exc:
            raise QueryRefusedError(f"the query ran past {timeout_s:g} s and was stopped; narrow it.") from exc
        except duckdb.Error as exc:
            raise QueryRefusedError(f"the query failed: {exc}") from exc
        finally:
            timer.cancel()
        columns = [d[0] for d in cursor.description or []]
        return QueryResult(columns, [list(r) for r in rows[:max_rows]], truncated=len(rows) > max_rows)
    finally:
        cursor.close()


def describe_tables(store: Store) -> str:
    """The queryable tables and their columns, as text."""
    rows = store.con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_name IN (SELECT unnest(?)) ORDER BY table_name, ordinal_position",
        [list(QUERYABLE_TABLES)],
    ).fetchall()
    lines: list[str] = []
    current = None
    for table, column, kind in rows:
        if table != current:
            lines.append(f"{table}:")
            current = table
        lines.append(f"  {column} {kind}")
    return "\n".join(lines)
