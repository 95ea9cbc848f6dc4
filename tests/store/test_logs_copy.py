"""The label-free copy of the log tables that agents' SQL reads: its contents, kept by ingest, rebuilt when stale."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pytest

from avmine.store import Store, StoreError, ingest, logs_copy
from avmine.store.demo import DEMO_GROUND_TRUTH
from avmine.store.refine import refine

from .conftest import make_tracker_pickle

LABEL_TABLES = ("ground_truth", "gt_frames", "log_prompt_pairs", "runs", "run_results", "examples", "agent_sessions",
                "agent_outcomes", "final_programs", "prompt_expectations", "vlm_cache", "meta")  # fmt: skip


def copy_tables(path: Path) -> dict[str, int]:
    """Every table of a copy file (any catalog, any schema) with its row count."""
    with duckdb.connect(str(path), read_only=True, config=logs_copy.AGENT_CONFIG) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]) for name in names}  # type: ignore[index]


def main_counts(store: Store) -> dict[str, int]:
    return {t: int(store.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in logs_copy.LOG_TABLES}  # type: ignore[index]


def current_copy(store: Store) -> Path:
    stamp = logs_copy.committed_stamp(store)
    assert stamp is not None
    return logs_copy.copy_path(store.path, stamp)


def test_ingest_writes_the_log_tables_and_no_labels(store: Store, sm_log: Path) -> None:
    ingest(store, sm_log, split="val", progress=False)
    ingest(store, DEMO_GROUND_TRUTH, split="val", progress=False)
    assert store.con.execute("SELECT count(*) FROM ground_truth").fetchone()[0] > 0  # type: ignore[index]
    path = current_copy(store)
    assert path.is_file()  # written by the ingest itself, before anything read it
    tables = copy_tables(path)
    assert sorted(tables) == sorted(logs_copy.LOG_TABLES)
    assert not set(tables) & set(LABEL_TABLES)
    assert tables == main_counts(store) and tables["boxes"] > 0 and tables["prompts"] > 0
    assert [p.name for p in store.path.parent.glob("*.logs-*")] == [path.name]  # older copies removed


def test_tracker_ingest_replaces_the_copy(store: Store, sensor_log: Path, tmp_path: Path) -> None:
    ingest(store, sensor_log, progress=False)
    first = current_copy(store)
    make_tracker_pickle(sensor_log, tmp_path / "tracker.pkl")
    ingest(store, tmp_path / "tracker.pkl", source="tracker", progress=False)
    second = current_copy(store)
    assert second != first and not first.exists()
    with duckdb.connect(str(second), read_only=True, config=logs_copy.AGENT_CONFIG) as con:
        sources = con.execute("SELECT DISTINCT source FROM boxes ORDER BY source").fetchall()
    assert sources == [("annotations",), ("tracker",)]
    assert copy_tables(second) == main_counts(store)


def test_copy_missing_after_a_crash_is_rebuilt_on_next_open(store: Store, sm_log: Path) -> None:
    """The process dies between the ingest's commit and the copy's write; the next reader rebuilds it."""
    ingest(store, sm_log, split="val", progress=False)
    old = current_copy(store)
    db = store.path
    store.close()
    script = textwrap.dedent(
        f"""
        import os
        from avmine.store import Store, ingest, logs_copy
        logs_copy.StreamedCopy.publish = lambda *args: os._exit(9)
        ingest(Store.open({str(db)!r}), {str(sm_log)!r}, split="train", progress=False, move_split=True)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 9, result.stderr
    with Store.open(db) as reopened:
        assert reopened.query_df("SELECT split FROM logs")["split"].tolist() == ["train"]  # the commit held
        assert not current_copy(reopened).exists() and old.exists()  # stale: the copy is the pre-crash one
        con = logs_copy.open_for_agents(reopened)
        try:
            assert con.execute("SELECT split FROM logs").fetchall() == [("train",)]
        finally:
            con.close()
        assert current_copy(reopened).is_file() and not old.exists()
        assert copy_tables(current_copy(reopened)) == main_counts(reopened)


def test_read_only_store_with_a_stale_copy_says_how_to_rebuild(store: Store, sm_log: Path) -> None:
    ingest(store, sm_log, split="val", progress=False)
    current_copy(store).unlink()
    store.close()
    with (
        Store.open(store.path, read_only=True) as reader,
        pytest.raises(StoreError, match="Open the database writable"),
    ):
        logs_copy.open_for_agents(reader)
    with Store.open(store.path) as writer:
        logs_copy.open_for_agents(writer).close()
        assert copy_tables(current_copy(writer)) == main_counts(writer)


def test_readers_during_ingests_always_open_a_whole_copy(store: Store, sm_log: Path) -> None:
    """As in the server: threads query while another ingests; every reader opens a complete, current-or-older copy."""
    ingest(store, sm_log, split="val", progress=False)
    expected = main_counts(store)["boxes"]
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                con = logs_copy.open_for_agents(store)
                try:
                    seen.append(int(con.execute("SELECT count(*) FROM boxes").fetchone()[0]))  # type: ignore[index]
                finally:
                    con.close()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for split in ("train", "val"):
            ingest(store, sm_log, split=split, progress=False, move_split=True)
    finally:
        done.set()
        for reader in readers:
            reader.join(timeout=60)
    assert not errors and seen and set(seen) == {expected}
    assert copy_tables(current_copy(store)) == main_counts(store)


def test_refinement_writes_its_provenance_to_the_copy_and_a_tracker_ingested_over_it_removes_it(
    store: Store, sensor_log: Path, tmp_path: Path
) -> None:
    ingest(store, sensor_log, progress=False)
    make_tracker_pickle(sensor_log, tmp_path / "tracker.pkl", drop_frame=5)
    ingest(store, tmp_path / "tracker.pkl", source="tracker", progress=False)
    refine(store, "tracker", "refined", progress=False)
    tables = copy_tables(current_copy(store))
    assert tables == main_counts(store) and tables["box_provenance"] > 0 and tables["refinements"] == 1
    with duckdb.connect(str(current_copy(store)), read_only=True, config=logs_copy.AGENT_CONFIG) as con:
        kinds = dict(con.execute("SELECT source, kind FROM track_sources").fetchall())
        filled = con.execute("SELECT count(*) FROM box_provenance WHERE interpolated").fetchone()
    assert kinds == {"annotations": "annotations", "tracker": "tracker", "refined": "refined"}
    assert filled is not None and filled[0] > 0  # the dropped frame, interpolated
    ingest(store, tmp_path / "tracker.pkl", source="refined", progress=False)  # a tracker now holds the name
    tables = copy_tables(current_copy(store))
    assert tables == main_counts(store) and tables["box_provenance"] == tables["refinements"] == 0
