"""``avmine init-agent``: write an agent's avmine configuration (MCP server, workflow, subagents) into a project."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.mcp.guidance import SEMANTIC_RULES
from avmine.store.database import missing_database_message
from avmine.store.errors import NoDatabaseError, StoreError
from avmine.store.paths import resolve_db_path

CONFIG_FOLDERS = (
    Path(__file__).resolve().parents[1] / "agent_configs",
    Path(__file__).resolve().parents[2] / "agent_configs",
)
"""Where agent_configs/ is: inside the installed package (a wheel ships it as avmine.server.agent_configs), else at the
top of a checkout."""
AGENTS = {"claude": ("claude_code", "CLAUDE.md"), "codex": ("codex", "AGENTS.md"), "gemini": ("gemini", "GEMINI.md")}
"""Agent name -> (its folder under agent_configs/, the name of its instructions file)."""
NEXT_STEP = {
    "claude": "Next: start `claude` there and approve the avmine server (`claude mcp list` shows it).",
    "codex": "Next: trust the project in Codex (it asks on the first `codex` there); Codex then reads the "
    "project's .codex/config.toml (`codex mcp list` shows avmine).",
    "gemini": "Next: trust the folder in Gemini CLI (it asks on the first `gemini` there); Gemini reads the "
    "project's .gemini/settings.json only in a trusted folder (`gemini mcp list` shows avmine).",
}
"""What the person does after the files are written, per agent."""


def configs_folder() -> Path:
    """agent_configs/ of this installation; a clear error when the installation lacks it."""
    for folder in CONFIG_FOLDERS:
        if (folder / "claude_code" / "CLAUDE.md").is_file():
            return folder
    raise StoreError(
        f"avmine's agent configurations are missing (looked in {' and '.join(map(str, CONFIG_FOLDERS))}); "
        "reinstall avmine from a wheel built with setuptools (pip install avmine-*.whl) or run it from a checkout."
    )


def running_command() -> str:
    """The avmine command that is running, for the agent's configuration to start.

    The console script that started this process, else the one installed beside this interpreter (under
    ``python -m avmine.server.cli``); never whichever ``avmine`` is first on PATH.
    """
    started = Path(sys.argv[0])
    if started.name == "avmine" and started.is_file():
        return str(started.resolve())
    beside = Path(sys.executable).parent / "avmine"
    if beside.is_file():
        return str(beside)
    raise StoreError(
        f"no avmine command beside {sys.executable}: install avmine into this environment (pip install .) "
        "so that the agent's configuration can start it, then run `avmine init-agent` from there."
    )


def command_to_type() -> str:
    """How a person at this shell runs this avmine: ``avmine`` where PATH finds this one, else its path.

    After ``make demo`` the command is ``.venv/bin/avmine``, which is not on PATH until the virtualenv is activated.
    """
    try:
        running = Path(running_command())
    except StoreError:
        return f"{shlex.quote(sys.executable)} -m avmine.server.cli"
    found = shutil.which("avmine")
    if found is not None and Path(found).resolve() == running.resolve():
        return "avmine"
    with contextlib.suppress(ValueError):  # under the current folder: the short path works as typed
        return shlex.quote(str(running.relative_to(Path.cwd().resolve())))
    return shlex.quote(str(running))


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``init-agent`` command."""
    parser = subparsers.add_parser(
        "init-agent",
        help="write avmine's MCP config and mining workflow for Claude Code, Codex or Gemini CLI into a project",
    )
    parser.add_argument("agent", choices=sorted(AGENTS), help="which agent")
    parser.add_argument("dir", nargs="?", type=Path, default=Path("."), help="the project (default: here)")
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")
    parser.set_defaults(func=run)


def render(text: str, avmine: str, db: Path) -> str:
    """A template with the command, the database and the semantic rules filled in."""
    return text.replace("{{AVMINE}}", avmine).replace("{{DB}}", str(db)).replace("{{RULES}}", SEMANTIC_RULES)


def plan(agent: str, project: Path) -> dict[Path, Path]:
    """Each file to write (in the project) and the template it comes from."""
    configs = configs_folder()
    folder, instructions = AGENTS[agent]
    source = configs / folder
    files = {project / path.relative_to(source): path for path in sorted(source.rglob("*")) if path.is_file()}
    files[project / instructions] = configs / "claude_code" / "CLAUDE.md"
    return files


def run(args: argparse.Namespace) -> int:
    """Write the files; refuses to overwrite any unless --force (nothing is written then)."""
    project: Path = args.dir.resolve()
    avmine = running_command()
    db = resolve_db_path(args.db).resolve()
    if not db.is_file():  # the agent would be given a server with nothing to serve
        raise NoDatabaseError(missing_database_message(db))
    files = plan(args.agent, project)
    existing = [path for path in files if path.exists()]
    if existing and not args.force:
        shown = ", ".join(str(p.relative_to(project)) for p in existing)
        print(f"avmine init-agent: {shown} already exist(s) in {project}; use --force to overwrite.", file=sys.stderr)
        return ExitCode.USAGE
    texts = {target: render(template.read_text(), avmine, db) for target, template in files.items()}
    for target, text in texts.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(project)}")
    print(f"avmine ({avmine}) serves {db} to {args.agent} in {project}.")
    print(NEXT_STEP[args.agent])
    return ExitCode.OK
