"""``avmine exec`` and the diagnostics on real programs over the demo logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from avmine.server.executor import Executor, LogSelection
from avmine.server.executor.diagnostics import diagnose
from avmine.store import Store
from avmine.store.runs import load_run

from .conftest import LOG

RELATIONAL = (
    "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
    "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "near = near_objects(cars, peds, log_dir, distance_thresh=5)\n"
    "output_scenario(near, description, log_dir, output_dir)\n"
)


def test_diagnostics_point_at_a_missing_reverse_relationship(executor: Executor, canary_store: Store) -> None:
    execution = executor.run(RELATIONAL, "pedestrian near a car", LogSelection(logs=(LOG,)))
    diagnostics = diagnose(canary_store, execution, "annotations", expected="PEDESTRIAN")
    assert diagnostics.logs == 1 and diagnostics.logs_failed == 0
    assert set(diagnostics.referred_categories) <= {"REGULAR_VEHICLE", "EGO_VEHICLE", "BOX_TRUCK", "BUS", "TRUCK"}
    assert "PEDESTRIAN" in diagnostics.related_categories
    assert any("reverse_relationship" in m for m in diagnostics.likely_mistakes)
    track = diagnostics.tracks[0]
    assert 0 < track.coverage <= 1 and track.segments >= 1 and track.length_m > 2
    assert "near_objects" in diagnostics.function_seconds
    assert "likely mistake" in diagnostics.text()
    # the stated expectation is remembered for the prompt's later runs
    later = diagnose(canary_store, execution, "annotations")
    assert later.expected_category == "PEDESTRIAN"
    # the run is recorded with its code hash, per-log result and timing
    executor.flush()
    record, results = load_run(canary_store, execution.run_id)
    assert json.loads(record["details"])["code_sha256"] and results[0].seconds > 0


def test_empty_everywhere_is_flagged(executor: Executor, canary_store: Store) -> None:
    program = (
        "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "output_scenario(has_velocity(cars, log_dir, min_velocity=500), description, log_dir, output_dir)\n"
    )
    diagnostics = diagnose(canary_store, executor.run(program, "fast car", LogSelection()), "annotations")
    assert diagnostics.empty_logs == diagnostics.logs
    assert any("nothing was found in any log" in m for m in diagnostics.likely_mistakes)


def test_unknown_names_suggest_functions(executor: Executor) -> None:
    program = "x = near_object(get_objects_of_category(log_dir, category='ANY'), log_dir)\n"
    execution = executor.run(program + "output_scenario(x, description, log_dir, output_dir)\n", "p", LogSelection())
    error = execution.results[0].error or ""
    assert error.startswith("NameError: name 'near_object' is not defined. Did you mean near_objects")
    assert "line 1: x = near_object(" in error


def test_exec_cli(tmp_path: Path) -> None:
    from avmine.store.demo import SCENARIO_MINING_DIR

    db = str(tmp_path / "cli.duckdb")
    cli = [sys.executable, "-m", "avmine.server.cli", "--db", db]
    ingest = subprocess.run([*cli, "ingest", str(SCENARIO_MINING_DIR / LOG), "--quiet"], capture_output=True, text=True)
    assert ingest.returncode == 0, ingest.stderr
    program = tmp_path / "left.py"
    program.write_text(
        "v = get_objects_of_category(log_dir, category='VEHICLE')\n"
        "output_scenario(turning(v, log_dir, direction='left'), description, log_dir, output_dir)\n"
    )
    done = subprocess.run(
        [*cli, "exec", str(program), "--prompt", "vehicle turning left", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "ok"
    assert document["diagnostics"]["referred_categories"]
    assert sum(1 for v in document["results"][LOG].values() if v) == 8  # RefAV's answer on this log
    short = [*cli, "exec", str(program), "--prompt", "p", "--logs", LOG[:8]]  # the id as the diagnostics show it
    text = subprocess.run(short, capture_output=True, text=True, timeout=300)
    assert "1 logs: 1 ran, 0 failed" in text.stdout, text.stderr


def test_exec_cli_shows_where_a_program_failed_and_what_it_printed(tmp_path: Path) -> None:
    from avmine.store.demo import SCENARIO_MINING_DIR

    cli = [sys.executable, "-m", "avmine.server.cli", "--db", str(tmp_path / "cli.duckdb")]
    ingest = subprocess.run([*cli, "ingest", str(SCENARIO_MINING_DIR / LOG), "--quiet"], capture_output=True, text=True)
    assert ingest.returncode == 0, ingest.stderr

    def run(source: str, *extra: str) -> str:
        (tmp_path / "p.py").write_text(source)
        done = subprocess.run([*cli, "exec", str(tmp_path / "p.py"), "--prompt", "p", *extra], capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 1, done.stderr
        return done.stdout

    syntax = run("v = get_objects_of_category(log_dir, category='VEHICLE')\ny = (v\n")
    assert "syntax error on line 2, column 5" in syntax and "\n        y = (v\n            ^\n" in syntax
    runtime = (
        "v = get_objects_of_category(log_dir, category='VEHICLE')\nprint('vehicles:', len(v))\n"
        "def pick(s):\n    return s['nope']\npick(v)\noutput_scenario(v, description, log_dir, output_dir)\n"
    )
    text = run(runtime)
    assert "KeyError: 'nope'\n      line 5: pick(v)\n      line 4: return s['nope']" in text
    assert f"--- the program's own output (print) on {LOG[:8]}:\nvehicles: " in text
    assert "\n  line 1 get_objects_of_category(category='VEHICLE'): 91 objects, " in text  # the trace up to the error
    document = json.loads(run(runtime, "--json"))
    assert document["printed"][LOG].startswith("vehicles: ")
    [step] = document["traces"][LOG]["steps"]
    assert (step["line"], step["function"], step["objects"]) == (1, "get_objects_of_category", 91)
    assert document["diagnostics"]["trace"]["steps"][0]["call"] == "get_objects_of_category(category='VEHICLE')"


def test_identical_code_on_identical_data_reuses_results(executor: Executor, canary_store: Store) -> None:
    program = (
        "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
        "output_scenario(stationary(cars, log_dir), description, log_dir, output_dir)\n"
    )
    first = executor.run(program, "parked car", LogSelection(logs=(LOG,)))
    again = executor.run(program, "parked car", LogSelection(logs=(LOG,)))
    assert first.results[0].scenario == again.results[0].scenario
    assert again.results[0].seconds == 0.0 and not again.function_seconds  # nothing ran the second time
    changed = executor.run(program + "\n", "parked car", LogSelection(logs=(LOG,)))
    assert changed.function_seconds  # different code runs again
    executor.flush()
    record, _ = load_run(canary_store, again.run_id)
    assert json.loads(record["details"])["reused_logs"] == [LOG]
