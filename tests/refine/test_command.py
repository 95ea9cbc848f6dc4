"""``avmine refine`` on a real database: provenance, idempotence, and bad input that changes nothing."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avmine.store import Store, ingest
from avmine.store.demo import SENSOR_DIR
from avmine.store.refine import STEPS, RefineParams, refine
from avmine.store.refine.params import RefineError
from tests.store.conftest import SENSOR_LOG, make_tracker_pickle, table_snapshot


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one sensor log, a tracker source 'trk' made from its annotations, and one without tracks."""
    tmp_path = tmp_path_factory.mktemp("template")
    log = tmp_path / "val" / SENSOR_LOG
    shutil.copytree(SENSOR_DIR / SENSOR_LOG, log)
    data = make_tracker_pickle(log, tmp_path / "trk_tracks.pkl")
    empty = {SENSOR_LOG: [{**frame, **{k: v[:0] for k, v in frame.items() if k != "timestamp_ns"}}
                          for frame in data[SENSOR_LOG]]}  # fmt: skip
    (tmp_path / "empty_tracks.pkl").write_bytes(pickle.dumps(empty))
    path = tmp_path / "db.duckdb"
    with Store.open(path) as store:
        ingest(store, log, split="val", progress=False)
        ingest(store, tmp_path / "trk_tracks.pkl", source="trk", progress=False)
        ingest(store, tmp_path / "empty_tracks.pkl", source="empty", progress=False)
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template database and its caches."""
    shutil.copy(template, tmp_path / template.name)
    cache = template.with_name(f"{template.name}.cache")
    if cache.is_dir():
        shutil.copytree(cache, tmp_path / cache.name)
    return tmp_path / template.name


def avmine(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_command_writes_a_source_whose_every_box_names_its_origin(db: Path) -> None:
    done = avmine(db, "refine", "--source", "trk", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "Refined 'trk' into 'trk-refined'" in done.stdout and SENSOR_LOG in done.stdout
    with Store.open(db, read_only=True) as store:
        counts = store.query_df(
            "SELECT source, num_boxes FROM track_sources WHERE source LIKE 'trk%' ORDER BY source"
        ).set_index("source")["num_boxes"]
        refined_boxes = store.query_df("SELECT * FROM boxes WHERE source = 'trk-refined' AND category <> 'EGO_VEHICLE'")
        provenance = store.query_df("SELECT * FROM box_provenance WHERE source = 'trk-refined'")
        assert len(provenance) == len(refined_boxes) > 0
        # every box that is not interpolated is a box of the parent at the same time
        orphans = store.query_df(
            "SELECT count(*) AS n FROM box_provenance p LEFT JOIN boxes b ON b.source = 'trk' "
            "AND b.log_id = p.log_id AND b.track_uuid = p.parent_track_uuid AND b.timestamp_ns = p.timestamp_ns "
            "WHERE p.source = 'trk-refined' AND NOT p.interpolated AND b.track_uuid IS NULL"
        )
        assert orphans["n"][0] == 0
        assert provenance["parent_track_uuid"].isna().sum() == provenance["interpolated"].sum()
        made = store.query_df("SELECT parent_source, steps FROM refinements WHERE source = 'trk-refined'")
        assert made.to_dict("records") == [{"parent_source": "trk", "steps": '["yaw", "split", "vote", "reconnect", '
                                            '"backward", "ghosts", "interpolate", "smooth"]'}]  # fmt: skip
        arrays = store.load_arrays(SENSOR_LOG, "trk-refined")  # the cache a program reads
        assert len(arrays.row_track) == counts["trk-refined"]
        assert abs(counts["trk-refined"] - counts["trk"]) < 0.05 * counts["trk"]


@pytest.mark.parametrize(("smoother", "q99_m"), [("imm", 0.15), ("cv", 0.1)])
def test_refining_a_refined_source_changes_nothing_material(db: Path, smoother: str, q99_m: float) -> None:
    params = RefineParams(smoother=smoother)
    with Store.open(db) as store:
        first = refine(store, "trk", "once", params=params, progress=False)
        second = refine(store, "once", "twice", params=params, progress=False)
        counts = second.logs[SENSOR_LOG]
        assert (counts.splits, counts.forward_joins, counts.backward_joins, counts.ghosts_removed) == (0, 0, 0, 0)
        assert counts.yaw_flips == 0 and counts.interpolated == 0
        assert counts.tracks_after == first.logs[SENSOR_LOG].tracks_after
        moved = store.query_df("SELECT moved_m FROM box_provenance WHERE source = 'twice'")["moved_m"]
        # smoothing a smoothed track moves it a little again (a smoother is not a projection)
        # the IMM's modes are re-estimated on the smoothed track, so a second pass moves turns a little more
        assert moved.mean() < 0.02 and moved.quantile(0.99) < q99_m, moved.describe()
        assert first.seconds_per_log < 1.0


def test_rerunning_replaces_the_refinement_and_never_another_source(db: Path) -> None:
    with Store.open(db) as store:
        refine(store, "trk", progress=False)
        before = table_snapshot(store)
        refine(store, "trk", progress=False)
        assert table_snapshot(store) == before
        with pytest.raises(RefineError, match="was not made by avmine refine"):
            refine(store, "empty", "trk", progress=False)


BAD_INPUT = [
    ({"source": "nope"}, "no track source 'nope'.*it has: annotations, empty, trk"),
    ({"source": "empty"}, "no tracks besides the ego"),
    ({"source": "trk", "params": ["gate_base_m=-1"]}, r"out of range: gate_base_m=-1.0"),
    ({"source": "trk", "params": ["max_gap=2"]}, "not a refinement parameter"),
    ({"source": "trk", "params": ["max_gap_s=soon"]}, "'soon' is not a number"),
    ({"source": "trk", "params": ["smoother=kalman"]}, "smoother=kalman.*smoother one of: imm, cv"),
    ({"source": "trk", "steps": ["yaw", "teleport"]}, "unknown refinement step.*teleport"),
    ({"source": "trk", "out": "annotations"}, "give --out a new source name"),
]


@pytest.mark.parametrize(("request_", "message"), BAD_INPUT)
def test_bad_input_gets_a_clear_error_and_leaves_the_database_as_it_was(
    db: Path, request_: dict[str, object], message: str
) -> None:
    with Store.open(db) as store:
        before = table_snapshot(store)
        with pytest.raises(RefineError, match=message):
            params = RefineParams.from_assignments(list(request_.get("params", [])))  # type: ignore[call-overload]
            refine(store, str(request_["source"]), request_.get("out"), request_.get("steps", STEPS),  # type: ignore[arg-type]
                   params, progress=False)  # fmt: skip
        assert table_snapshot(store) == before


def test_the_command_reports_bad_input_on_stderr_with_exit_code_2(db: Path) -> None:
    with Store.open(db, read_only=True) as store:
        before = table_snapshot(store)
    done = avmine(db, "refine", "--source", "trk", "--set", "gate_base_m=0", "--quiet")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("avmine refine: error: refinement parameter(s) out of range: gate_base_m=0.0")
    with Store.open(db, read_only=True) as store:
        assert table_snapshot(store) == before


def test_parameters_are_checked_before_anything_is_read(db: Path) -> None:
    with Store.open(db) as store, pytest.raises(RefineError, match="max_heading_change_rad"):
        refine(store, "trk", params=RefineParams(max_heading_change_rad=4.0), progress=False)
