"""Every command's exit code and message for bad input: 2, on stderr, with nothing on stdout (server.cli.exit_codes)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from avmine import server
from avmine.server.cli import COMMANDS, build_parser, main
from avmine.server.cli.exit_codes import ExitCode


def bad_inputs(tmp: Path) -> dict[str, list[str]]:
    """One bad invocation per command; none of them may change anything."""
    missing_db = ["--db", str(tmp / "none.duckdb")]
    not_a_db = tmp / "notes.duckdb"
    not_a_db.write_text("not a database")
    return {
        "ingest": [*missing_db, "ingest", str(tmp / "no-such-log")],
        "demo": ["--db", str(not_a_db), "demo", "--out", str(tmp / "demo")],
        "stats": [*missing_db, "stats"],
        "exec": [*missing_db, "exec", str(tmp / "no-such-program.py"), "--prompt", "cars"],
        "score": ["score", str(tmp / "no-such-predictions.pkl"), str(tmp / "no-such-gt.pkl")],
        "submit": [*missing_db, "submit", "--split", "test", "--out", str(tmp / "out.pkl")],
        "serve": [*missing_db, "serve"],
        "colors": [*missing_db, "colors"],
        "init_agent": [*missing_db, "init-agent", "claude", str(tmp / "project")],
        "library": [*missing_db, "library", "import"],
        "run": [*missing_db, "run", "--split", "test", "--claude", str(tmp / "no-such-claude")],
        "screen": [*missing_db, "screen", "--split", "val", "--claude", str(tmp / "no-such-claude")],
        "coverage": ["coverage", str(tmp / "no-such-prompts.txt")],
        "refine": [*missing_db, "refine", "--source", "tracker", "--steps", ","],
    }


def test_every_command_exits_2_with_its_error_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AVMINE_VLM_BACKEND", raising=False)
    monkeypatch.delenv("AVMINE_CLAUDE", raising=False)
    cases = bad_inputs(tmp_path)
    assert set(cases) == set(COMMANDS)  # a new command gets a case here
    for name, argv in cases.items():
        code = main(argv)
        out, err = capsys.readouterr()
        command = name.replace("_", "-")
        assert code == ExitCode.USAGE, (name, code, out, err)
        assert out == "", (name, out)
        assert err.startswith(f"avmine {command}") and len(err.strip()) > len(f"avmine {command}: "), (name, err)
    assert not (tmp_path / "none.duckdb").exists()  # nothing was created on the way
    assert not (tmp_path / "project").exists() and not (tmp_path / "out.pkl").exists()


def test_every_command_interrupted_exits_130_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    for name, argv in bad_inputs(tmp_path).items():
        monkeypatch.setattr(importlib.import_module(f"avmine.server.cli.{name}"), "run", interrupted)
        code = main(argv)
        out, err = capsys.readouterr()
        command = name.replace("_", "-")
        assert code == ExitCode.INTERRUPTED == 130, (name, code, err)
        assert out == "" and err.startswith(f"avmine {command}: interrupted; ") and err.count("\n") == 1, err


def test_a_usage_error_is_2_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["exec"])  # no program, no prompt
    assert exited.value.code == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert out == "" and "the following arguments are required" in err


def test_a_missing_command_module_is_an_error_not_a_missing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.cli, "COMMANDS", (*COMMANDS, "no_such_command"))
    with pytest.raises(ImportError, match=r"`no_such_command` command \(module avmine.server.cli.no_such_command\)"):
        build_parser()
