"""The avmine command line, run as a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import SENSOR_LOG

AVMINE = [sys.executable, "-m", "avmine.server.cli"]


def _avmine(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if env_db is not None:
        env["AVMINE_DB"] = str(env_db)
    return subprocess.run([*AVMINE, *args], capture_output=True, text=True, timeout=300, env=env)


def test_demo_ingests_summarises_and_draws(tmp_path: Path) -> None:
    result = _avmine("demo", "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Logs (4):" in result.stdout
    assert "REGULAR_VEHICLE" in result.stdout
    assert "vehicle with a bicycle to its right" in result.stdout and "stopped car" in result.stdout
    pictures = list((tmp_path / "out").glob("bev_*.png"))
    assert len(pictures) == 1 and pictures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pictures[0].stat().st_size > 20_000
    # run twice: a fresh database each time, same summary
    again = _avmine("demo", "--out", str(tmp_path / "out"), "--quiet")
    assert again.returncode == 0

    def summary(text: str) -> str:  # between the first line (timings) and the program runs (timings)
        return text.split("\n", 1)[1].split("Example programs")[0]

    assert summary(again.stdout) == summary(result.stdout)
    assert "> stopped car: ok, found in 4 of 4 logs" in result.stdout
    assert "Submission from these runs, scored against ground truth (2 pairs): HOTA-Temporal" in result.stdout
    stats = _avmine("--db", str(tmp_path / "out" / "avmine-demo.duckdb"), "stats", "--log", SENSOR_LOG[:8])
    assert stats.returncode == 0, stats.stderr
    assert SENSOR_LOG in stats.stdout and "Logs (1):" in stats.stdout


def test_ingest_then_stats_with_env_database(tmp_path: Path) -> None:
    from avmine.store.demo import SENSOR_DIR

    shutil.copytree(SENSOR_DIR / SENSOR_LOG, tmp_path / "val" / SENSOR_LOG)
    db = tmp_path / "env.duckdb"
    result = _avmine("ingest", str(tmp_path / "val"), "--quiet", env_db=db)
    assert result.returncode == 0, result.stderr
    assert "1 log(s)" in result.stdout and str(db) in result.stdout
    stats = _avmine("stats", env_db=db)
    assert "7fab2350" in stats.stdout and "EGO_VEHICLE" in stats.stdout


def test_bad_input_exits_2_with_the_message(tmp_path: Path) -> None:
    result = _avmine("--db", str(tmp_path / "x.duckdb"), "ingest", str(tmp_path / "missing"), "--quiet")
    assert result.returncode == 2
    assert "avmine ingest: error:" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_stats_on_a_missing_database_says_how_to_make_one(tmp_path: Path) -> None:
    result = _avmine("--db", str(tmp_path / "none.duckdb"), "stats")
    assert result.returncode == 2 and "avmine --db" in result.stderr and " demo`" in result.stderr


def test_demo_never_deletes_a_database_it_did_not_build(tmp_path: Path) -> None:
    mine = tmp_path / "mine.duckdb"
    imported = _avmine("--db", str(mine), "library", "import", "--refav")
    assert imported.returncode == 0, imported.stderr
    refused = _avmine("--db", str(mine), "demo", "--out", str(tmp_path / "out"), "--quiet")
    assert refused.returncode == 2
    assert "the demo did not build it" in refused.stderr and "--replace-db" in refused.stderr
    assert "--out" in refused.stderr and "Traceback" not in refused.stderr
    searched = _avmine("--db", str(mine), "library", "export", str(tmp_path / "library.jsonl"))
    assert "wrote 12 examples" in searched.stdout  # nothing lost
    # the demo's own database, once the user's work is in it, is kept too
    built = _avmine("demo", "--out", str(tmp_path / "out"), "--quiet")
    assert built.returncode == 0, built.stderr
    demo_db = tmp_path / "out" / "avmine-demo.duckdb"
    assert _avmine("--db", str(demo_db), "library", "import", "--refav").returncode == 0
    again = _avmine("demo", "--out", str(tmp_path / "out"), "--quiet")
    assert again.returncode == 2 and "12 library example(s)" in again.stderr, again.stderr
    # an explicit flag replaces it
    replaced = _avmine("--db", str(mine), "demo", "--out", str(tmp_path / "out"), "--quiet", "--replace-db")
    assert replaced.returncode == 0, replaced.stderr
    assert "wrote 0 examples" in _avmine("--db", str(mine), "library", "export", str(tmp_path / "x.jsonl")).stdout


def test_commands_that_only_read_never_create_a_database(tmp_path: Path) -> None:
    db = tmp_path / "typo.duckdb"
    program = tmp_path / "p.py"
    program.write_text("output_scenario({}, description, log_dir, output_dir)\n")
    for args in (
        ["exec", str(program), "--prompt", "x"],
        ["ingest", str(tmp_path / "nonexistent"), "--quiet"],
        ["serve"],
        ["library", "search", "car"],
        ["library", "export", str(tmp_path / "out.jsonl")],
        ["submit", "--split", "val", "--out", str(tmp_path / "s.pkl")],
    ):
        done = _avmine("--db", str(db), *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert not db.exists() and not db.with_name(db.name + ".wal").exists(), args
        expected = "does not exist" if args[0] == "ingest" else "no avmine database here"
        assert expected in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    # the command the message suggests works as printed (with PATH filled in)
    suggested = _avmine("--db", str(db), "stats").stderr.split("`")[1]
    assert suggested == f"avmine --db {db} ingest PATH"
    from avmine.store.demo import SENSOR_DIR

    made = subprocess.run([*AVMINE, *suggested.split()[1:-1], str(SENSOR_DIR / SENSOR_LOG), "--quiet"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert made.returncode == 0 and db.is_file(), made.stderr
    assert _avmine("--db", str(db), "stats").returncode == 0
