"""The executor and its workers survive what a program, a re-ingest or a corrupt cache throws at them."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pandas as pd

from avmine.server.executor import Executor, Limits, LogSelection
from avmine.server.executor.arming import _keep_only
from avmine.server.ingestion import ingest_and_prepare
from avmine.store import Store
from avmine.store.demo import SCENARIO_MINING_DIR, SENSOR_DIR
from avmine.store.runs import load_run

from .conftest import LOG

COUNT = (
    "objects = get_objects_of_category(log_dir, category='ANY')\n"
    "output_scenario(objects, description, log_dir, output_dir)\n"
)
OTHER_LOG = "7fab2350-7eaf-3b7e-a39d-6937a4c1bede"


def test_text_that_cannot_be_stored_does_not_stop_recording(executor: Executor, canary_store: Store) -> None:
    odd = executor.run("print(chr(0xD800))\n" + COUNT, "odd text", LogSelection(logs=(LOG,)))
    after = executor.run(COUNT + "# next\n", "after", LogSelection(logs=(LOG,)))
    executor.flush()  # returns: the recorder is alive
    for execution in (odd, after):
        record, results = load_run(canary_store, execution.run_id)
        assert record["status"] == "ok" and results[0].status == "ok"


def test_reingested_logs_are_reloaded_by_warm_workers(tmp_path: Path) -> None:
    log_dir = tmp_path / "sm" / LOG
    shutil.copytree(SCENARIO_MINING_DIR / LOG, log_dir)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest_and_prepare(store, log_dir, progress=False)
        with Executor(store, workers=1, limits=Limits(wall_seconds=30)) as executor:
            before = executor.run(COUNT, "all", LogSelection(logs=(LOG,)))
            annotations = pd.read_feather(log_dir / "annotations_with_ego.feather")
            keep = annotations["track_uuid"].isin(annotations["track_uuid"].unique()[:5])
            annotations[keep | (annotations["category"] == "EGO_VEHICLE")].reset_index(drop=True).to_feather(
                log_dir / "annotations_with_ego.feather"
            )
            ingest_and_prepare(store, log_dir, progress=False)
            after = executor.run(COUNT, "all", LogSelection(logs=(LOG,)))
    assert len(before.results[0].scenario or {}) == 120
    assert len(after.results[0].scenario or {}) == 6  # five tracks and the ego: the new data, not a re-use


def test_a_corrupt_cache_is_reported_quickly_and_the_worker_keeps_serving(tmp_path: Path) -> None:
    for log in (LOG, OTHER_LOG):
        source = SCENARIO_MINING_DIR / log if log == LOG else SENSOR_DIR / log
        shutil.copytree(source, tmp_path / "val" / log)
    with Store.open(tmp_path / "db.duckdb") as store:
        ingest_and_prepare(store, tmp_path / "val", progress=False)
        (store.log_dir(OTHER_LOG) / "boxes" / "annotations" / "xyz_city.npy").write_bytes(b"garbage")
        with Executor(store, workers=1, limits=Limits(wall_seconds=20)) as executor:
            started = time.perf_counter()
            broken = executor.run(COUNT, "all", LogSelection(logs=(OTHER_LOG,)))
            assert time.perf_counter() - started < 10
            assert "the log could not be loaded" in (broken.results[0].error or "")
            fine = executor.run(COUNT, "all", LogSelection(logs=(LOG,)))
            assert fine.status == "ok"
    # every sandbox directory left belongs to a live worker (the other tests' executor): none leaked
    leftovers = Path(tempfile.gettempdir()).glob("avmine-sandbox-*")
    assert all(Path(f"/proc/{path.name.removeprefix('avmine-sandbox-')}").exists() for path in leftovers)


def test_a_sandboxed_child_keeps_only_its_own_pipes() -> None:
    keep_read, keep_write = os.pipe()
    other_read, other_write = os.pipe()
    status_read, status_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        _keep_only((keep_read, keep_write, status_write))
        report = []
        for fd in (other_read, other_write):
            try:
                os.fstat(fd)
                report.append("open")
            except OSError:
                report.append("closed")
        stdio = os.fstat(1)
        report.append("devnull" if stat.S_ISCHR(stdio.st_mode) and stdio.st_rdev == os.makedev(1, 3) else "other")
        os.write(status_write, ",".join(report).encode())
        os._exit(0)
    os.close(status_write)
    os.waitpid(pid, 0)
    assert os.read(status_read, 100).decode() == "closed,closed,devnull"
