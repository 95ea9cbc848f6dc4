"""Splits of demo-log copies: copies answer as their originals; ingest streams them in one transaction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avmine.store import Store, ingest, logs_copy
from avmine.store.errors import IngestError
from avmine.store.split_copier import DEMO_LOGS, copy_id, make_split

from .conftest import table_snapshot

LEFT_TURN = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
)


def avmine(db: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_copies_are_renamed_logs_of_the_demo(tmp_path: Path) -> None:
    logs = make_split(tmp_path / "val", 6)
    assert (
        [d.name for d in logs]
        == [copy_id(i) for i in range(6)]
        == [f"00000000-0000-0000-0000-00000000000{i + 1}" for i in range(6)]
    )
    original = DEMO_LOGS[4 % len(DEMO_LOGS)]
    copied = sorted(p.relative_to(logs[4]).as_posix() for p in logs[4].rglob("*"))
    assert copied == sorted(p.relative_to(original).as_posix().replace(original.name, logs[4].name)
                            for p in original.rglob("*"))  # fmt: skip
    assert any(original.name in name for name in (p.name for p in original.rglob("*")))  # some names carry the id
    for name in ("city_SE3_egovehicle.feather",):
        assert (logs[4] / name).read_bytes() == (original / name).read_bytes()


def test_copies_of_one_log_get_identical_answers_and_no_bar_goes_to_a_pipe(tmp_path: Path) -> None:
    make_split(tmp_path / "val", 6)
    db = tmp_path / "scale.duckdb"
    ingested = avmine(db, "ingest", str(tmp_path / "val"))
    assert ingested.returncode == 0, ingested.stderr
    assert "ingest:" not in ingested.stderr  # progress bars only on a terminal (tests/cli: the bar on one)
    assert "Ingested into" in ingested.stdout and "6 log(s)" in ingested.stdout
    program = tmp_path / "left.py"
    program.write_text(LEFT_TURN)
    ran = avmine(db, "exec", str(program), "--prompt", "vehicle turning left", "--split", "val", "--json")
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)["results"]
    assert sorted(results) == [copy_id(i) for i in range(6)]
    for i in (0, 1):  # copies 4 and 5 are of the same demo logs as copies 0 and 1
        assert results[copy_id(i)], f"copy {i} found nothing: the comparison would be empty"
        assert results[copy_id(i)] == results[copy_id(i + 4)]
    assert results[copy_id(0)] != results[copy_id(1)]  # different logs answer differently
    with Store.open(db, read_only=True) as store:
        counts = store.query_df("SELECT log_id, count(*) AS n FROM boxes GROUP BY log_id ORDER BY log_id")
    assert counts["n"].tolist()[:2] == counts["n"].tolist()[4:6]


def test_a_bad_log_among_many_leaves_the_database_and_the_sql_copy_unchanged(tmp_path: Path) -> None:
    logs = make_split(tmp_path / "val", 6)
    with Store.open(tmp_path / "scale.duckdb") as store:
        ingest(store, logs[0], split="val", progress=False)  # a database that already holds a log
        before = table_snapshot(store)
        copy_before = logs_copy.ensure(store)
        bad = next(logs[4].glob("*annotations*.feather"))
        bad.write_bytes(bad.read_bytes()[:1000])  # truncated, as a broken copy would be
        with pytest.raises(IngestError, match=copy_id(4)):
            ingest(store, tmp_path / "val", progress=False)
        assert table_snapshot(store) == before  # logs 0 to 3 were written before log 4 failed: all rolled back
        assert store.query_df("SELECT log_id FROM logs")["log_id"].tolist() == [copy_id(0)]
        assert logs_copy.ensure(store) == copy_before
        assert sorted(p.name for p in tmp_path.glob("scale.duckdb.logs-*")) == [copy_before.name]
        assert not list(store.cache_root.glob(".staging/*"))  # no staged cache left behind
        with logs_copy.open_for_agents(store) as con:
            assert con.execute("SELECT count(DISTINCT log_id) FROM boxes").fetchall() == [(1,)]


def test_a_second_ingest_updates_the_sql_copy_without_losing_earlier_logs(tmp_path: Path) -> None:
    logs = make_split(tmp_path / "val", 6)
    with Store.open(tmp_path / "scale.duckdb") as store:
        ingest(store, logs[0], split="val", progress=False)
        ingest(store, logs[1], split="val", progress=False)
        ingest(store, logs[0], split="val", progress=False)  # again: replaced, not duplicated
        main = store.query_df("SELECT log_id, count(*) AS n FROM boxes GROUP BY log_id ORDER BY log_id")
        with logs_copy.open_for_agents(store) as con:
            copied = con.execute("SELECT log_id, count(*) AS n FROM boxes GROUP BY log_id ORDER BY log_id").df()
            poses = con.execute("SELECT count(*) FROM ego_poses").fetchall()
        assert copied.equals(main) and main["log_id"].tolist() == [copy_id(0), copy_id(1)]
        assert poses == store.con.execute("SELECT count(*) FROM ego_poses").fetchall()


def test_map_features_from_the_pool_equal_those_computed_after_the_ingest(tmp_path: Path) -> None:
    from avmine.atomic.map_features import LANE_FILE
    from avmine.server.ingestion import ingest_and_prepare, prepare_logs

    logs = make_split(tmp_path / "val", 5)
    with Store.open(tmp_path / "pool.duckdb") as pooled, Store.open(tmp_path / "after.duckdb") as after:
        report = ingest_and_prepare(pooled, tmp_path / "val", progress=False, workers=2)  # more than 2: the pool
        ingest(after, tmp_path / "val", progress=False)
        prepare_logs(after, [("annotations", d.name) for d in logs], progress=False)
        assert report.logs == [d.name for d in logs]
        assert table_snapshot(pooled) == table_snapshot(after)
        for log in logs:
            stored = pooled.log_dir(log.name) / "boxes" / "annotations" / LANE_FILE
            expected = np.load(after.log_dir(log.name) / "boxes" / "annotations" / LANE_FILE)
            np.testing.assert_array_equal(np.load(stored), expected)
            assert (expected >= 0).any()
        assert not list(pooled.cache_root.glob(".staging/*"))  # nothing staged left (the empty folder goes too)


class FailingPreparation:
    """Work on staged sources that fails when the ingest waits for it."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, str, Path, Path]] = []
        self.cancelled = False

    def expect(self, sources: int) -> None:
        del sources

    def submit(self, log_id: str, source: str, box_dir: Path, map_dir: Path) -> None:
        assert (box_dir / "meta.json").is_file() and map_dir.is_dir()  # staged, not yet published
        self.submitted.append((log_id, source, box_dir, map_dir))

    def finish(self) -> None:
        raise RuntimeError("the map features of a log failed")

    def cancel(self) -> None:
        self.cancelled = True


def test_a_failed_preparation_undoes_the_ingest(tmp_path: Path) -> None:
    logs = make_split(tmp_path / "val", 3)
    with Store.open(tmp_path / "scale.duckdb") as store:
        ingest(store, logs[0], split="val", progress=False)  # a database that already holds a log
        before = table_snapshot(store)
        copy_before = logs_copy.ensure(store)
        preparation = FailingPreparation()
        with pytest.raises(RuntimeError, match="map features"):
            ingest(store, tmp_path / "val", progress=False, preparation=preparation)
        assert [s[0] for s in preparation.submitted] == [d.name for d in logs] and preparation.cancelled
        assert table_snapshot(store) == before and logs_copy.ensure(store) == copy_before
        assert not list(store.cache_root.glob(".staging/*"))  # nothing staged left (the empty folder goes too)
        assert not any((store.cache_root / d.name).exists() for d in logs[1:])
