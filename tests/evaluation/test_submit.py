"""``avmine submit``: stored runs become a valid submission; every pair is present, failures fall back to OTHER."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from avmine import atomic
from avmine.atomic.runner import run_program
from avmine.evaluation import evaluate
from avmine.evaluation.submission.validate import validate_submission
from avmine.store import Store
from avmine.store.demo import DEMO_GROUND_TRUTH, ingest_demo
from avmine.store.readers.safe_pickle import load_pickle
from avmine.store.runs import LogResult, Run, latest_results, load_run, record_run

STOPPED_CAR_LOG = "3bffdcff-c3a7-38b6-a0f2-64196d130958"
BICYCLE_LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
PROGRAM = (
    "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
    "stopped = scenario_or([has_velocity(cars, log_dir, min_velocity=0, max_velocity=0.5),"
    " stationary(cars, log_dir)])\n"
    "output_scenario(stopped, description, log_dir, output_dir)\n"
)


def test_submit_from_stored_runs(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    with Store.open(db) as store:
        ingest_demo(store, progress=False)
        outcome = run_program(
            PROGRAM, atomic.program_namespace(), store.log_dir(STOPPED_CAR_LOG), "stopped car", tmp_path
        )
        assert outcome.error is None
        scenario = outcome.scenario  # post-processed by the runner, as the executor's answer is
        run_id = record_run(
            store,
            Run(prompt="stopped car", program=PROGRAM, log_selection={"logs": [STOPPED_CAR_LOG]}),
            [LogResult(log_id=STOPPED_CAR_LOG, status="ok", scenario=scenario, seconds=outcome.seconds)],
        )
        record_run(
            store,
            Run(prompt="vehicle with a bicycle to its right", program="broken("),
            [LogResult(log_id=BICYCLE_LOG, status="error", error="syntax error on line 1")],
        )
        record, results = load_run(store, run_id)
        assert record["status"] == "ok" and results[0].scenario is not None
        assert set(latest_results(store, "stopped car", "annotations")) == {STOPPED_CAR_LOG}

    out = tmp_path / "submission.pkl"
    cli = [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "submit", "--split", "val", "--out", str(out)]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 (log, prompt) pairs, 1 from programs, 1 all-OTHER fallbacks" in done.stdout
    assert "syntax error on line 1" in done.stdout

    submission = load_pickle(out)
    assert validate_submission(submission) == []
    ground_truth = load_pickle(DEMO_GROUND_TRUTH)
    assert set(submission) == set(ground_truth)
    fallback = submission[(BICYCLE_LOG, "vehicle with a bicycle to its right")]
    assert all((frame["label"] == 2).all() for frame in fallback)
    hota_temporal, _, timestamp_ba, _ = evaluate(submission, ground_truth, "HOTA", 50)
    assert hota_temporal > 0.3  # the program finds most stopped cars
    assert 0.5 <= timestamp_ba <= 1.0


def test_submit_an_empty_split_says_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    Store.open(db).close()
    cli = [
        sys.executable,
        "-m",
        "avmine.server.cli",
        "--db",
        str(db),
        "submit",
        "--split",
        "test",
        "--out",
        str(tmp_path / "x.pkl"),
    ]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""  # an input error, said on stderr
    assert "has no (log, prompt) pairs; ingest its logs and prompts first" in done.stderr
