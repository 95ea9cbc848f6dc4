"""Databases written by earlier avmine versions open after an upgrade, without re-ingesting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from avmine.server.executor import Executor, LogSelection
from avmine.store import Store, ingest, logs_copy
from avmine.store.library import search_examples
from avmine.store.refine import refine
from avmine.store.runs import load_run
from avmine.store.schema import SCHEMA_VERSION, create_statement

from .conftest import SM_LOG, make_tracker_pickle

SCHEMA_V2 = Path(__file__).with_name("data") / "schema_v2.sql"
"""The previous release's schema, verbatim."""


def version_2_database(sm_log: Path, tmp_path: Path) -> Path:
    """A version-2 file holding one ingested log and a library example, and no cache folder."""
    current = tmp_path / "current.duckdb"
    with Store.open(current) as store:
        ingest(store, sm_log, split="val", progress=False)
    old = tmp_path / "old" / "v2.duckdb"
    old.parent.mkdir()
    con = duckdb.connect(str(old))
    code = "\n".join(line.split("--", 1)[0] for line in SCHEMA_V2.read_text().splitlines())
    for statement in filter(str.strip, code.split(";")):
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.execute(f"ATTACH '{current}' AS current (READ_ONLY)")
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'v2'").fetchall():
        if table != "meta":  # the columns version 2 had (run_results.trace came later)
            columns = ", ".join(str(c[0]) for c in con.execute(f"SELECT * FROM {table} LIMIT 0").description)
            con.execute(f"INSERT INTO {table} BY NAME SELECT {columns} FROM current.{table}")
    con.execute(
        "INSERT INTO examples VALUES ('e1', 'stopped car', 'output_scenario({}, description, log_dir, output_dir)',"
        " 0.9, '{}', '{}', now())"
    )
    con.close()
    return old


def test_a_version_2_database_opens_read_only_and_writable_with_its_data(sm_log: Path, tmp_path: Path) -> None:
    old = version_2_database(sm_log, tmp_path)
    stats = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(old), "stats"],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert stats.returncode == 0, stats.stderr  # a read-only command on the old file
    assert SM_LOG in stats.stdout
    with Store.open(old, read_only=True) as store:
        version = store.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version == (str(SCHEMA_VERSION),)
        assert store.query_df("SELECT * FROM agent_outcomes").empty  # the table version 3 added
        assert [e.prompt for e in search_examples(store, "stopped car")] == ["stopped car"]
    with Store.open(old) as store, Executor(store, workers=1) as executor:  # the caches are rebuilt
        execution = executor.run(
            "output_scenario(get_objects_of_category(log_dir, category='REGULAR_VEHICLE'), description, log_dir, "
            "output_dir)\n",
            "car",
            LogSelection(),
        )
        assert execution.status == "ok" and execution.results[0].scenario


def test_a_version_4_file_from_before_refined_sources_gets_the_kind_and_a_copy_with_provenance(
    sensor_log: Path, tmp_path: Path
) -> None:
    """Version 4 first kept refined sources as trackers, its kind check allowed no other, its SQL copy had no
    provenance; opened writable, such a file is rebuilt once, in place."""
    db = tmp_path / "v4.duckdb"
    make_tracker_pickle(sensor_log, tmp_path / "trk_tracks.pkl")
    with Store.open(db) as store:
        ingest(store, sensor_log, split="val", progress=False)
        ingest(store, tmp_path / "trk_tracks.pkl", source="trk", progress=False)
        refine(store, "trk", progress=False)
        store.con.execute("ALTER TABLE track_sources RENAME TO newer")
        store.con.execute(create_statement("track_sources").replace(", 'refined'", ""))
        store.con.execute(
            "INSERT INTO track_sources BY NAME SELECT * REPLACE "
            "(CASE kind WHEN 'refined' THEN 'tracker' ELSE kind END AS kind) FROM newer"
        )
        store.con.execute("DROP TABLE newer")
        old_copy = logs_copy.ensure(store)
    with duckdb.connect(str(old_copy)) as con:
        con.execute("DROP TABLE box_provenance")
        con.execute("DROP TABLE refinements")
    with Store.open(db) as store:
        kinds = dict(store.con.execute("SELECT source, kind FROM track_sources").fetchall())
        assert kinds == {"annotations": "annotations", "trk": "tracker", "trk-refined": "refined"}
        con = logs_copy.open_for_agents(store)
        try:
            provenance = con.execute("SELECT count(*) FROM box_provenance").fetchone()
            copied_kinds = dict(con.execute("SELECT source, kind FROM track_sources").fetchall())
        finally:
            con.close()
        assert provenance == store.con.execute("SELECT count(*) FROM box_provenance").fetchone() != (0,)
        assert copied_kinds == kinds
        refine(store, "trk", progress=False)  # the rebuilt check takes refined sources
        check = store.con.execute(
            "SELECT expression FROM duckdb_constraints() "
            "WHERE table_name = 'track_sources' AND constraint_type = 'CHECK'"
        ).fetchall()
        assert len(check) == 1 and "'refined'" in check[0][0]


def test_a_version_4_file_from_before_traces_gets_the_column_and_keeps_its_runs(sm_log: Path, tmp_path: Path) -> None:
    """Version 4 first stored run results without a trace: read-only such a file shows its runs without one;
    opened writable, it gains the column in place and records traces."""
    db = tmp_path / "v4.duckdb"
    program = "output_scenario(get_objects_of_category(log_dir, category='BUS'), description, log_dir, output_dir)\n"
    with Store.open(db) as store:
        ingest(store, sm_log, split="val", progress=False)
        with Executor(store, workers=1) as executor:
            before = executor.run(program, "bus", LogSelection())
        store.con.execute("ALTER TABLE run_results DROP COLUMN trace")
    with Store.open(db, read_only=True) as store:
        _, [old] = load_run(store, before.run_id)
        assert old.status == "ok" and old.trace is None
    with Store.open(db) as store:
        _, [old] = load_run(store, before.run_id)
        assert old.status == "ok" and old.trace is None
        with Executor(store, workers=1) as executor:
            after = executor.run(program + "\n", "bus", LogSelection())
        _, [new] = load_run(store, after.run_id)
        assert new.trace is not None and new.trace["steps"][0]["function"] == "get_objects_of_category"
