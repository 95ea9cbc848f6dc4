"""A database moved or copied without its ``<db>.cache/`` folder, or with a cache of an older format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avmine.server.executor import Executor, LogSelection
from avmine.store import Store, StoreError, ingest
from avmine.store.cache import CACHE_FORMAT

from .conftest import SM_LOG

PROGRAM = (
    "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
    "output_scenario(in_drivable_area(cars, log_dir), description, log_dir, output_dir)\n"
)  # reads the boxes and the vector map


def found(store: Store) -> dict[str, object]:
    with Executor(store, workers=1) as executor:
        execution = executor.run(PROGRAM, "car in the drivable area", LogSelection())
    assert execution.status == "ok", [r.error for r in execution.results]
    return {r.log_id: r.scenario for r in execution.results}


def test_a_database_copied_without_its_cache_rebuilds_it_and_answers_the_same(sm_log: Path, tmp_path: Path) -> None:
    original = tmp_path / "a" / "mine.duckdb"
    with Store.open(original) as store:
        ingest(store, sm_log, split="val", progress=False)
        before = found(store)
    assert before[SM_LOG]  # the program finds cars
    copy = tmp_path / "b" / "mine.duckdb"
    copy.parent.mkdir()
    shutil.copy(original, copy)  # the database alone, no mine.duckdb.cache/
    with Store.open(copy) as store:
        assert found(store) == before
    rebuilt = copy.with_name("mine.duckdb.cache") / SM_LOG
    assert any((rebuilt / "log" / "map").glob("log_map_archive_*.json"))
    assert (rebuilt / "boxes" / "annotations" / "meta.json").is_file()


def test_a_cache_of_another_format_is_rebuilt(sm_log: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "mine.duckdb") as store:
        ingest(store, sm_log, split="val", progress=False)
        parts = [
            store.log_dir(SM_LOG) / "log" / "log.json",
            store.log_dir(SM_LOG) / "boxes" / "annotations" / "meta.json",
        ]
        for part in parts:  # as an older avmine would have written them
            part.write_text(json.dumps(json.loads(part.read_text()) | {"format": CACHE_FORMAT - 1}))
        (store.log_dir(SM_LOG) / "boxes" / "annotations" / "xyz_city.npy").write_bytes(b"old layout")
        store.ensure_caches([SM_LOG])
        assert [json.loads(part.read_text())["format"] for part in parts] == [CACHE_FORMAT, CACHE_FORMAT]
        assert store.load_arrays(SM_LOG).xyz_city.shape[1] == 3


def test_without_cache_or_source_files_the_error_names_what_to_copy(sm_log: Path, tmp_path: Path) -> None:
    db = tmp_path / "mine.duckdb"
    with Store.open(db) as store:
        ingest(store, sm_log, split="val", progress=False)
    shutil.rmtree(tmp_path / "mine.duckdb.cache")
    shutil.rmtree(sm_log / "map")  # the dataset is gone too
    with Store.open(db) as store, pytest.raises(StoreError) as raised:
        store.ensure_caches([SM_LOG])
    message = str(raised.value)
    assert f"{sm_log / 'map'}" in message and "log_map_archive_*.json" in message
    assert str(tmp_path / "mine.duckdb.cache") in message and f"avmine --db {db} ingest" in message
    shutil.copytree(
        Path(__file__).parents[2] / "store" / "demo_data" / "scenario_mining" / SM_LOG / "map", sm_log / "map"
    )
    with Store.open(db) as store:  # the map back where it was ingested from: rebuilt
        assert store.ensure_caches([SM_LOG]) and store.load_arrays(SM_LOG).num_tracks > 0
