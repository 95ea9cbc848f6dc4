"""``avmine init-agent``: write an agent's avmine configuration (MCP server, workflow, subagents) into a project."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from server.mcp.guidance import SEMANTIC_RULES
from store.database import missing_database_message
from store.errors import NoDatabaseError
from store.paths import resolve_db_path

CONFIGS = Path(__file__).resolve().parents[2] / "agent_configs"
AGENTS = {"claude": ("claude_code", "CLAUDE.md"), "codex": ("codex", "AGENTS.md"), "gemini": ("gemini", "GEMINI.md")}
"""Agent name -> (its folder under agent_configs/, the name of its instructions file)."""
WORKFLOW = CONFIGS / "claude_code" / "CLAUDE.md"


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
    folder, instructions = AGENTS[agent]
    source = CONFIGS / folder
    files = {project / path.relative_to(source): path for path in sorted(source.rglob("*")) if path.is_file()}
    files[project / instructions] = WORKFLOW
    return files


def run(args: argparse.Namespace) -> int:
    """Write the files; refuses to overwrite any unless --force (nothing is written then)."""
    project: Path = args.dir.resolve()
    avmine = shutil.which("avmine") or str(Path(sys.executable).parent / "avmine")
    db = resolve_db_path(args.db).resolve()
    if not db.is_file():  # the agent would be given a server with nothing to serve
        raise NoDatabaseError(missing_database_message(db))
    files = plan(args.agent, project)
    existing = [path for path in files if path.exists()]
    if existing and not args.force:
        shown = ", ".join(str(p.relative_to(project)) for p in existing)
        print(f"avmine init-agent: {shown} already exist(s) in {project}; use --force to overwrite.", file=sys.stderr)
        return 2
    for target, template in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(template.read_text(), avmine, db))
        print(f"wrote {target.relative_to(project)}")
    print(f"avmine ({avmine}) serves {db} to {args.agent} in {project}.")
    if args.agent == "claude":
        print("Next: start `claude` there and approve the avmine server (`claude mcp list` shows it).")
    elif args.agent == "codex":
        print("Next: merge .codex/config.toml into ~/.codex/config.toml (Codex reads servers from there).")
    return 0
