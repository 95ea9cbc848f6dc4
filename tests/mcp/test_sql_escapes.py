"""Escapes from query_logs: labels, files, URLs, other databases, extensions and settings stay out of reach.

Each attempt runs twice: through ``run_query`` (the friendly filter, then the connection) and
straight on the agents' connection with no filter at all, which is the security boundary. A
canary written into every label table and into files on disk must never come back.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from avmine.server.mcp.sql import QueryRefusedError, run_query
from avmine.store import Store, ingest, logs_copy
from avmine.store.database import now
from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.refine import refine

CANARY = "canary-8d1f0c3e-label-secret"


@dataclass(frozen=True)
class Target:
    store: Store
    files: dict[str, str]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Two demo logs with ground truth, the canary in every label table and in files beside them."""
    root = tmp_path_factory.mktemp("escapes")
    store = Store.open(root / "labelled.duckdb")
    ingest(store, SCENARIO_MINING_DIR, split="val", progress=False)
    refine(store, "annotations", "refined", progress=False)  # refinements and box_provenance hold rows too
    log_id = str(store.con.execute("SELECT min(log_id) FROM logs").fetchone()[0])  # type: ignore[index]
    con = store.con
    con.execute("INSERT INTO ground_truth (log_id, prompt, timestamp_ns, track_uuid, label) "
                "VALUES (?, ?, 1, ?, 'REFERRED')", [log_id, CANARY, CANARY])  # fmt: skip
    con.execute("INSERT INTO gt_frames (log_id, prompt, timestamp_ns, frame_index, source_path) "
                "VALUES (?, ?, 1, 0, ?)", [log_id, CANARY, CANARY])  # fmt: skip
    con.execute("INSERT INTO log_prompt_pairs VALUES (?, ?, 'val')", [log_id, CANARY])
    con.execute("INSERT INTO runs (run_id, created_at, prompt, program, source, log_selection, status) "
                "VALUES (?, ?, ?, ?, 'annotations', '[]', 'done')", [CANARY, now(), CANARY, CANARY])  # fmt: skip
    con.execute("INSERT INTO examples (example_id, prompt, program, created_at) VALUES (?, ?, ?, ?)",
                [CANARY, CANARY, CANARY, now()])  # fmt: skip
    con.execute("INSERT INTO vlm_cache VALUES ('m', ?, 'h', ?, ?, ?)", [CANARY, CANARY, CANARY, now()])
    with store.transaction():  # the copy as an ingest would write it, after the canary went in
        stamp = logs_copy.new_stamp(store)
    logs_copy.write(store, stamp)
    secret = pd.DataFrame({"label": [CANARY]})
    files = {
        "csv": str(root / "secret.csv"),
        "json": str(root / "secret.json"),
        "parquet": str(root / "secret.parquet"),
        "labels_db": str(root / "labels.duckdb"),
        "main_db": str(store.path),
        "out": str(root / "out.csv"),
    }
    secret.to_csv(files["csv"], index=False)
    Path(files["json"]).write_text(json.dumps([{"label": CANARY}]))
    secret.to_parquet(files["parquet"])
    with duckdb.connect(files["labels_db"]) as other:
        other.execute("CREATE TABLE ground_truth AS SELECT ? AS label", [CANARY])
    yield Target(store, files)
    store.close()


FILES = "file system operations are disabled by configuration"
LOCKED = "the configuration has been locked"
EXTENSIONS = "Loading external extensions is disabled through configuration"
SHADOWED = "SELECT * FROM (WITH {name} AS (SELECT 1 AS x) SELECT x FROM {name}) AS shadow, {name}"

# (query, error on the agents' connection alone, error through run_query)
ESCAPES = [
    ("SELECT * FROM read_csv('/etc/passwd')", FILES, "table functions are not allowed (read_csv)"),
    ("SELECT * FROM read_csv('{csv}')", FILES, "table functions are not allowed (read_csv)"),
    ("SELECT * FROM '{csv}'", FILES, "is not queryable"),
    ("SELECT * FROM read_parquet('{parquet}')", FILES, "table functions are not allowed (read_parquet)"),
    ("SELECT * FROM '{parquet}'", FILES, "is not queryable"),
    ("SELECT * FROM read_json('{json}')", FILES, "table functions are not allowed (read_json)"),
    ("SELECT * FROM read_text('{csv}')", FILES, "table functions are not allowed (read_text)"),
    ("SELECT * FROM glob('/etc/*')", FILES, "table functions are not allowed (glob)"),
    ("SELECT * FROM 'http://127.0.0.1:9/labels.parquet'", FILES, "is not queryable"),
    ("SELECT * FROM read_csv('https://example.com/labels.csv')", FILES, "table functions are not allowed"),
    ("ATTACH '{labels_db}' AS other", FILES, "only one SELECT statement is allowed (got: ATTACH)"),
    # the database is open in this process (as in the server), so DuckDB names that conflict first
    ("ATTACH '{main_db}' AS other (READ_ONLY)", "already attached", "only one SELECT statement is allowed"),
    ("INSTALL httpfs", FILES, "only one SELECT statement is allowed (got: LOAD)"),
    ("LOAD httpfs", EXTENSIONS, "only one SELECT statement is allowed (got: LOAD)"),
    ("SET enable_external_access = true", LOCKED, "only one SELECT statement is allowed (got: SET)"),
    ("RESET lock_configuration", LOCKED, "only one SELECT statement is allowed"),
    ("PRAGMA memory_limit = '100GB'", LOCKED, "only one SELECT statement is allowed (got: SET)"),
    ("COPY boxes TO '{out}'", FILES, "only one SELECT statement is allowed (got: COPY)"),
    ("COPY (SELECT 1) TO '{out}' (FORMAT parquet)", FILES, "only one SELECT statement is allowed"),
    ("CREATE TABLE leak AS SELECT 1", "read-only mode", "only one SELECT statement is allowed (got: CREATE)"),
    ("SELECT * FROM ground_truth", "Table with name ground_truth does not exist", "'ground_truth' is not queryable"),
    ("SELECT * FROM gt_frames", "Table with name gt_frames does not exist", "'gt_frames' is not queryable"),
    ("SELECT * FROM runs", "Table with name runs does not exist", "'runs' is not queryable"),
    ("SELECT * FROM examples", "Table with name examples does not exist", "'examples' is not queryable"),
    ("SELECT * FROM vlm_cache", "Table with name vlm_cache does not exist", "'vlm_cache' is not queryable"),
    # the review's finding: a CTE of the same name let the filter pass the real table in another scope
    *[
        (SHADOWED.format(name=name), f"Table with name {name} does not exist", f"Table with name {name} does not exist")
        for name in ("ground_truth", "gt_frames", "runs")
    ],
]


@pytest.mark.parametrize(("sql", "connection_error", "tool_error"), ESCAPES)
def test_the_agents_connection_alone_refuses(target: Target, sql: str, connection_error: str, tool_error: str) -> None:
    con = logs_copy.open_for_agents(target.store)
    try:
        with pytest.raises(duckdb.Error) as info:
            con.execute(sql.format(**target.files)).fetchall()
        assert connection_error in str(info.value)
        assert CANARY not in str(info.value)
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
    finally:
        con.close()
    assert not Path(target.files["out"]).exists()


@pytest.mark.parametrize(("sql", "connection_error", "tool_error"), ESCAPES)
def test_run_query_refuses_with_a_clear_error(target: Target, sql: str, connection_error: str, tool_error: str) -> None:
    with pytest.raises(QueryRefusedError) as info:
        run_query(target.store, sql.format(**target.files))
    assert tool_error in str(info.value)
    assert CANARY not in str(info.value)


def test_only_the_log_tables_exist_and_none_holds_the_canary(target: Target) -> None:
    con = logs_copy.open_for_agents(target.store)
    try:
        tables = con.execute("SELECT database_name, schema_name, table_name FROM duckdb_tables()").fetchall()
        assert sorted(t for _, _, t in tables) == sorted(logs_copy.LOG_TABLES)
        attached = con.execute("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall()
        databases = {r[0] for r in attached}
        assert databases == {db for db, _, _ in tables} and len(databases) == 1  # the copy, nothing attached
        for table in logs_copy.LOG_TABLES:
            hits = con.execute(f"SELECT count(*) FROM {table} WHERE contains({table}::VARCHAR, ?)", [CANARY])
            assert hits.fetchone() == (0,)
    finally:
        con.close()
    for table in logs_copy.LOG_TABLES:
        result = run_query(target.store, f"SELECT * FROM {table}", max_rows=1000)
        assert result.rows and CANARY not in json.dumps(result.rows, default=str)
    assert target.store.con.execute("SELECT count(*) FROM ground_truth WHERE prompt = ?", [CANARY]).fetchone() == (1,)


def test_no_setting_or_column_names_a_host_path(target: Target) -> None:
    """The review read ``current_setting('temp_directory')`` and ``prompts.source_path``: where the user keeps
    data (home folder, dataset folder) shows in no setting and no column a query can read."""
    host = [str(Path.home()), str(SCENARIO_MINING_DIR)]
    with duckdb.connect(config={"autoload_known_extensions": False}) as plain:  # a query's process loads none
        names = [str(r[0]) for r in plain.execute("SELECT name FROM duckdb_settings()").fetchall()]
        names = [name for name in names if not name.startswith(("parquet_", "binary_as_string", "disable_parquet"))]
    calls = ", ".join(f"current_setting('{name}')::VARCHAR" for name in names)
    result = run_query(target.store, f"SELECT {calls}")
    values = dict(zip(names, result.rows[0], strict=True))
    assert not [name for name, value in values.items() if any(h in str(value) for h in host)], values
    assert ".sql-" in str(values["temp_directory"]) and str(values["max_temp_directory_size"]) != "0 bytes"
    assert str(values["threads"]) == "2" and "MiB" in str(values["memory_limit"])
    for table, column in logs_copy.PATH_COLUMNS.items():
        found = run_query(target.store, f"SELECT DISTINCT {column} FROM {table}", max_rows=1000)
        assert found.rows and all("/" not in str(value) for (value,) in found.rows), (table, found.rows)
    paths = target.store.con.execute("SELECT source_path FROM prompts UNION ALL SELECT source_path FROM logs")
    assert all(str(SCENARIO_MINING_DIR) in p for (p,) in paths.fetchall())  # the database itself keeps them


MEASURE = """
import json, resource, sys
from pathlib import Path
from avmine.server.mcp.sql import QueryRefusedError, run_query
from avmine.store import Store
with Store.open(Path(sys.argv[1])) as store:
    run_query(store, "SELECT 1")  # imports and the copy, before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        result = run_query(store, sys.argv[2], max_rows=1000)
        said = {"rows": len(result.rows), "truncated": result.truncated, "bytes": len(json.dumps(result.rows))}
    except QueryRefusedError as exc:
        said = {"error": str(exc)}
    said["grew_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps(said))
"""


REFUSED_HUGE = r"needed more memory than a query may use|ran past 10 s"
"""Which comes first depends on the machine's speed; either way the query's process stops it."""


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # the review's query: 25 rows of 40 MB took the server from 0.35 to 2.48 GB
        ("SELECT repeat('x', 40000000) AS big FROM boxes LIMIT 25", REFUSED_HUGE),
        ("SELECT repeat('x', 40000000) AS big FROM boxes", REFUSED_HUGE),
        ("SELECT repeat('x', 100000) AS wide, * FROM boxes", "truncated"),
    ],
)
def test_huge_rows_never_reach_the_servers_memory(db: Path, sql: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(db), sql], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["grew_kib"] < 100 * 1024, said  # the query's process holds the rows, never the server
    if expected == "truncated":
        assert said["truncated"] and 0 < said["rows"] < 1000 and said["bytes"] <= 25_000, said
    else:
        assert re.search(expected, said["error"]), said


def test_long_values_are_cut_saying_so(target: Target) -> None:
    result = run_query(target.store, "SELECT repeat('x', 100000) AS wide FROM logs")
    value = result.rows[0][0]
    assert value.startswith("x" * 2000) and value.endswith(" [... 98,000 characters cut]")
