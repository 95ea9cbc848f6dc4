"""Read-only SQL for agents: the log tables only, one SELECT, bounded rows and time, no labels, no files."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from avmine.server.mcp.sql import MAX_QUERY_CHARS, QueryRefusedError, describe_tables, run_query
from avmine.store import Store


def test_selects_over_log_tables_work(demo_store: Store) -> None:
    result = run_query(
        demo_store,
        "WITH cars AS (SELECT * FROM boxes WHERE category = 'REGULAR_VEHICLE') "
        "SELECT log_id, count(DISTINCT track_uuid) AS n FROM cars GROUP BY log_id ORDER BY log_id",
    )
    assert result.columns == ["log_id", "n"] and len(result.rows) == 4 and not result.truncated
    limited = run_query(demo_store, "SELECT * FROM boxes", max_rows=10)
    assert len(limited.rows) == 10 and limited.truncated


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM ground_truth", "the table 'ground_truth' is not queryable"),
        ("SELECT * FROM boxes WHERE log_id IN (SELECT log_id FROM gt_frames)", "'gt_frames' is not queryable"),
        ("SELECT * FROM main.runs", "'main.runs' is not queryable"),
        ("SELECT * FROM information_schema.tables", "'information_schema.tables' is not queryable"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table functions are not allowed (read_csv)"),
        ("SELECT * FROM duckdb_settings()", "table functions are not allowed"),
        ("DELETE FROM boxes", "only one SELECT statement is allowed (got: DELETE)"),
        ("SELECT 1; DROP TABLE boxes", "only one SELECT statement is allowed"),
        ("SET enable_external_access = true", "only one SELECT statement is allowed (got: SET)"),
        ("COPY boxes TO '/tmp/x.csv'", "only one SELECT statement is allowed"),
        ("SELEC 1", "does not parse"),
    ],
)
def test_refused_queries_say_why(demo_store: Store, sql: str, message: str) -> None:
    with pytest.raises(QueryRefusedError) as info:
        run_query(demo_store, sql)
    assert message in str(info.value)
    assert demo_store.query_df("SELECT count(*) AS n FROM boxes")["n"][0] > 0  # nothing was changed


def test_long_queries_are_interrupted(demo_store: Store) -> None:
    with pytest.raises(QueryRefusedError, match=r"ran past 0\.5 s and was stopped"):
        run_query(demo_store, "SELECT count(*) FROM boxes a, boxes b, boxes c", timeout_s=0.5)


def in_list_query(chars: int) -> str:
    """A long but legal query: a track filter listing many timestamps."""
    head, tail = "SELECT count(*) AS n FROM boxes WHERE timestamp_ns IN (", ")"
    values = ",".join(str(10**15 + i) for i in range((chars - len(head) - len(tail)) // 17))
    return head + values + tail


def test_huge_queries_are_refused_before_parsing(demo_store: Store) -> None:
    """The review's 2 MB query spent 32 s in checks outside the time limit; now it is refused at once."""
    sql = in_list_query(2_000_000)
    assert len(sql) > 1_999_000
    started = time.perf_counter()
    with pytest.raises(QueryRefusedError, match=f"is {len(sql):,} characters long; at most 20,000 are allowed"):
        run_query(demo_store, sql)
    assert time.perf_counter() - started < 1.0


def test_checking_counts_against_the_time_limit(demo_store: Store) -> None:
    sql = in_list_query(MAX_QUERY_CHARS)
    assert MAX_QUERY_CHARS - 17 < len(sql) <= MAX_QUERY_CHARS
    assert run_query(demo_store, sql).rows == [[0]]  # the longest allowed query is checked within 10 s
    with pytest.raises(QueryRefusedError, match=r"ran past 0\.005 s and was stopped"):
        run_query(demo_store, sql, timeout_s=0.005)  # checking alone takes longer than that


def test_schema_lists_only_queryable_tables(demo_store: Store) -> None:
    schema = describe_tables(demo_store)
    assert "boxes:" in schema and "tx_city_m DOUBLE" in schema
    assert "ground_truth" not in schema and "gt_frames" not in schema


def test_folders_of_queries_whose_server_died_are_removed(demo_store: Store) -> None:
    """A server killed mid-query leaves its query folder (a hard link to an old copy); the next query removes it."""
    dead = demo_store.path.parent / f".{demo_store.path.name}.sql-999999999-left"  # above any pid_max
    live = demo_store.path.parent / f".{demo_store.path.name}.sql-{os.getpid()}-running"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "logs.duckdb").write_bytes(b"an old copy")
    try:
        assert run_query(demo_store, "SELECT count(*) > 0 FROM logs").rows == [[True]]
        assert not dead.exists() and (live / "logs.duckdb").exists()  # a running query's folder stays
    finally:
        shutil.rmtree(live, ignore_errors=True)
