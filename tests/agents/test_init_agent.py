"""``avmine init-agent`` writes each agent's configuration; the real Claude Code reads the one it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from avmine.store import Store

AVMINE = str(Path(sys.executable).parent / "avmine")
CLAUDE = Path(__file__).parents[1] / "clients" / "node_modules" / ".bin" / "claude"


def init(agent: str, project: Path, db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if not db.exists():
        Store.open(db).close()  # an (empty) database to point the agent at
    return subprocess.run([AVMINE, "--db", str(db), "init-agent", agent, str(project), *extra],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def server_of(agent: str, project: Path) -> dict[str, object]:
    if agent == "codex":
        config = tomllib.loads((project / ".codex" / "config.toml").read_text())
        return dict(config["mcp_servers"]["avmine"])
    name = ".mcp.json" if agent == "claude" else ".gemini/settings.json"
    return dict(json.loads((project / name).read_text())["mcpServers"]["avmine"])


@pytest.mark.parametrize(("agent", "instructions"), [("claude", "CLAUDE.md"), ("codex", "AGENTS.md"),
                                                     ("gemini", "GEMINI.md")])  # fmt: skip
def test_each_agent_gets_its_server_and_workflow(agent: str, instructions: str, tmp_path: Path) -> None:
    db = tmp_path / "my.duckdb"
    done = init(agent, tmp_path / "project", db)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "project"
    server = server_of(agent, project)
    assert server["command"] == AVMINE and server["args"] == ["--db", str(db), "serve"]
    workflow = (project / instructions).read_text()
    assert "execute_scenario" in workflow and "never swap subject and object" in workflow
    for path in project.rglob("*"):
        assert not path.is_file() or "{{" not in path.read_text(), path
    again = init(agent, project, db)
    assert again.returncode == 2 and "already exist" in again.stderr and "--force" in again.stderr
    assert init(agent, project, db, "--force").returncode == 0


def test_claude_code_subagents_and_commands_are_written(tmp_path: Path) -> None:
    assert init("claude", tmp_path, tmp_path / "db.duckdb").returncode == 0
    agents = {p.stem for p in (tmp_path / ".claude" / "agents").glob("*.md")}
    assert agents == {"scenario-generator", "scenario-reviewer", "prompt-screener"}
    assert {p.stem for p in (tmp_path / ".claude" / "commands").glob("*.md")} == {"mine", "screen"}
    reviewer = (tmp_path / ".claude" / "agents" / "scenario-reviewer.md").read_text()
    assert reviewer.startswith("---\nname: scenario-reviewer\n") and "mcp__avmine__execute_scenario" in reviewer


def test_claude_code_reads_the_written_project_config(tmp_path: Path) -> None:
    assert CLAUDE.exists(), f"{CLAUDE} is missing: run `make test` (it installs tests/clients with npm)"
    project, home = tmp_path / "project", tmp_path / "home"
    home.mkdir()
    assert init("claude", project, tmp_path / "db.duckdb").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE"))} | {"HOME": str(home)}
    listed = subprocess.run([str(CLAUDE), "mcp", "list"], cwd=project, env=env, capture_output=True, text=True,
                            timeout=180)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    # a project's .mcp.json waits for a person's approval before Claude Code connects to it
    assert f"avmine: {AVMINE} --db {tmp_path / 'db.duckdb'} serve" in listed.stdout
    assert "Pending approval" in listed.stdout


def test_a_database_that_does_not_exist_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    db = tmp_path / "typo.duckdb"
    done = subprocess.run([AVMINE, "--db", str(db), "init-agent", "claude", str(tmp_path / "project")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "no avmine database here" in done.stderr, done.stderr
    assert f"avmine --db {db} ingest PATH" in done.stderr
    assert not db.exists() and not (tmp_path / "project").exists()


def node_client(name: str) -> Path:
    binary = CLAUDE.parent / name
    assert binary.exists(), f"{binary} is missing: run `make test` (it installs tests/clients with npm)"
    return binary


def test_codex_reads_the_project_config_once_the_project_is_trusted(tmp_path: Path) -> None:
    project, home, db = tmp_path / "project", tmp_path / "codex-home", tmp_path / "db.duckdb"
    home.mkdir()
    done = init("codex", project, db)
    assert done.returncode == 0 and "trust the project" in done.stdout, done.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env |= {"HOME": str(home), "CODEX_HOME": str(home)}

    def listed() -> str:
        run = subprocess.run([str(node_client("codex")), "mcp", "list"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout

    assert "avmine" not in listed()  # an untrusted project's config is ignored
    (home / "config.toml").write_text(f'[projects."{project}"]\ntrust_level = "trusted"\n')
    row = next(line for line in listed().splitlines() if line.startswith("avmine "))
    assert row.split()[1:5] == [AVMINE, "--db", str(db), "serve"] and "enabled" in row


def test_gemini_connects_to_avmine_in_a_trusted_folder(tmp_path: Path) -> None:
    project, home, db = tmp_path / "project", tmp_path / "home", tmp_path / "db.duckdb"
    (home / ".gemini").mkdir(parents=True)
    done = init("gemini", project, db)
    assert done.returncode == 0 and "trust the folder" in done.stdout, done.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_"))} | {"HOME": str(home)}

    def listed() -> str:
        run = subprocess.run([str(node_client("gemini")), "mcp", "list"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=180)  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout + run.stderr

    assert f"avmine: {AVMINE} --db {db} serve (stdio) - Disabled" in listed()
    (home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(project): "TRUST_FOLDER"}))
    # Gemini starts the server and completes MCP's initialize with it
    assert f"avmine: {AVMINE} --db {db} serve (stdio) - Connected" in listed()


def test_the_running_avmine_is_written_not_the_first_on_path(tmp_path: Path) -> None:
    decoy = tmp_path / "bin" / "avmine"
    decoy.parent.mkdir()
    decoy.write_text("#!/bin/sh\nexit 1\n")
    decoy.chmod(0o755)
    env = os.environ | {"PATH": f"{decoy.parent}{os.pathsep}{os.environ['PATH']}"}
    Store.open(tmp_path / "db.duckdb").close()
    done = subprocess.run([AVMINE, "--db", str(tmp_path / "db.duckdb"), "init-agent", "claude", str(tmp_path / "p")],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert server_of("claude", tmp_path / "p")["command"] == AVMINE
