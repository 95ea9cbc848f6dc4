"""Small things a new user met, run as real processes: a fast --version, --db after the command, errors before
output, an empty library that says how to fill it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from avmine.server import __version__
from avmine.store import Store

AVMINE = [sys.executable, "-m", "avmine.server.cli"]


def avmine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AVMINE, *args], capture_output=True, text=True, timeout=300)


def test_version_imports_no_command() -> None:
    check = (
        "import sys; from avmine.server.cli import main; code = main(['--version']); "
        "print(code, sorted({'pandas', 'duckdb', 'torch', 'av2', 'mcp'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert done.stdout == f"avmine {__version__}\n0 []\n", done.stderr
    assert avmine("--db", "x.duckdb", "--version").stdout == f"avmine {__version__}\n"


def test_db_after_the_command_says_where_it_goes(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    Store.open(db).close()
    done = avmine("stats", "--db", str(db))
    assert done.returncode == 2 and done.stdout == ""
    suggested = re.findall(r"`(avmine [^`]+) \.\.\.`", done.stderr)[0]
    assert suggested == f"avmine --db {db} stats"
    assert avmine(*shlex.split(suggested)[1:]).returncode == 0


def test_an_unknown_log_is_refused_before_any_output(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    Store.open(db).close()
    done = avmine("--db", str(db), "stats", "--log", "nonsense")
    assert done.returncode == 2 and done.stdout == "" and "unknown log 'nonsense'" in done.stderr


def test_an_empty_library_says_how_to_import_refavs_examples(tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    Store.open(db).close()
    empty = avmine("--db", str(db), "library", "search", "vehicle turning left")
    assert empty.returncode == 0 and empty.stdout == ""
    command = re.findall(r"`(avmine [^`]+)`", empty.stderr)[0]
    imported = avmine(*shlex.split(command)[1:])
    assert imported.returncode == 0 and "imported" in imported.stdout
    found = avmine("--db", str(db), "library", "search", "vehicle turning left")
    assert found.stdout.startswith("# ") and found.stderr == ""
    missed = avmine("--db", str(db), "library", "search", "zzzz")
    assert missed.stdout == "" and "matches 'zzzz'" in missed.stderr


def test_demo_with_db_writes_beside_it_and_its_explore_command_works(tmp_path: Path) -> None:
    here, db = tmp_path / "here", tmp_path / "elsewhere" / "mine.duckdb"
    here.mkdir()
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}  # no avmine on PATH, as after `make demo`
    done = subprocess.run([*AVMINE, "--db", str(db), "demo", "--quiet"], capture_output=True, text=True,
                          timeout=600, cwd=here, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(here.iterdir()) == []  # nothing written where it was started
    assert list(db.parent.glob("bev_*.png"))
    explore = re.findall(r"^Explore it: (.+)$", done.stdout, re.MULTILINE)[0]
    words = shlex.split(explore)
    assert words[0] != "avmine" and Path(words[0]).name == "avmine"  # a path that works, not a name PATH lacks
    stats = subprocess.run(words, capture_output=True, text=True, timeout=300, cwd=here, env=env)
    assert stats.returncode == 0 and f"Database: {db}" in stats.stdout, stats.stderr


def test_make_passes_demo_options() -> None:
    root = Path(__file__).resolve().parents[2]
    planned = subprocess.run(["make", "-n", "-o", ".venv/.installed", "demo", "DEMO_ARGS=--replace-db"], cwd=root,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert planned.returncode == 0 and "avmine demo --out avmine-demo --replace-db" in planned.stdout
