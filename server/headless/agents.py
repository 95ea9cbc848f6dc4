"""Agent CLIs run non-interactively: Claude Code's ``claude -p``, or any command that speaks MCP.

An agent session gets a task text and an MCP config that points at avmine; it ends when the
process exits or its time is up (then its whole process group is killed: agent CLIs start
helpers), or when the avmine process that started it dies (``with_parent``). What it submitted
is read from the store afterwards, not from its output, so an agent's words are never taken for
its answer.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from avmine.server.executor import with_parent

STDERR_TAIL = 2000
_NOT_LOGGED_IN = re.compile(
    r"not logged in|please run /login|invalid api key|oauth token (?:has )?expired|authentication_error", re.I
)
"""What Claude Code says when it has no usable credentials (e.g. "Not logged in · Please run /login")."""


@dataclass(frozen=True)
class AgentReport:
    """How an agent session went, as far as the process tells.

    Attributes:
        exit_code: the process's exit status (None when it was killed for time).
        timed_out: killed after the session's time limit.
        result: the agent's last words (its final text, or the tail of what it printed).
        is_error: the agent itself reported failure (e.g. out of turns or budget).
        turns, cost_usd, input_tokens, output_tokens: from the agent's own report, where it gives one.
    """

    exit_code: int | None
    timed_out: bool
    seconds: float
    result: str = ""
    stderr: str = ""
    is_error: bool = False
    turns: int | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class Agent(Protocol):
    """An agent CLI: how to start one session, and how to read its report."""

    @property
    def name(self) -> str:
        """What the agent is called in records."""
        ...

    def command(
        self, task: str, mcp_config: Path, allowed_tools: list[str], denied_tools: list[str], budget_usd: float | None
    ) -> list[str]:
        """The argv of one session."""
        ...


@dataclass(frozen=True)
class ClaudeAgent:
    """Claude Code in print mode, with only avmine's MCP tools (no shell, no file edits).

    Attributes:
        binary: the ``claude`` executable.
        max_turns: model turns per session.
        model: a model name or alias (default: Claude Code's).
    """

    binary: str = "claude"
    max_turns: int = 40
    model: str | None = None
    name: str = "claude"

    def command(
        self, task: str, mcp_config: Path, allowed_tools: list[str], denied_tools: list[str], budget_usd: float | None
    ) -> list[str]:
        """``claude -p TASK`` with avmine as the only MCP server, no built-in tools, denied tools not even listed."""
        argv = [
            self.binary, "-p", task, "--mcp-config", str(mcp_config), "--strict-mcp-config",
            "--allowedTools", ",".join(f"mcp__avmine__{tool}" for tool in allowed_tools),
            "--tools", "", "--output-format", "json", "--max-turns", str(self.max_turns),
            "--no-session-persistence",
        ]  # fmt: skip
        if denied_tools:
            argv += ["--disallowedTools", ",".join(f"mcp__avmine__{tool}" for tool in denied_tools)]
        if budget_usd is not None:
            argv += ["--max-budget-usd", f"{budget_usd:.4f}"]
        if self.model:
            argv += ["--model", self.model]
        return argv


@dataclass(frozen=True)
class CommandAgent:
    """Any command as the agent (another CLI, or a script).

    It reads its task from ``$AVMINE_TASK_FILE``, connects to the MCP server in ``$AVMINE_MCP_CONFIG``
    (Claude Code's format) and may use the tools listed in ``$AVMINE_ALLOWED_TOOLS``. A last stdout line in
    Claude Code's JSON result format is read as its report.
    """

    command_line: str
    name: str = "command"

    def command(
        self, task: str, mcp_config: Path, allowed_tools: list[str], denied_tools: list[str], budget_usd: float | None
    ) -> list[str]:
        """The command line, split as a shell would."""
        return shlex.split(self.command_line)


def run_session(
    agent: Agent,
    task: str,
    mcp_config: Path,
    allowed_tools: list[str],
    timeout_s: float,
    budget_usd: float | None = None,
    env: dict[str, str] | None = None,
    denied_tools: list[str] | None = None,
) -> AgentReport:
    """Run one agent session to its end or its time limit; never raises for the agent's failures.

    Raises:
        FileNotFoundError: the agent's executable does not exist (a set-up error, not the agent's).
    """
    task_file = mcp_config.with_suffix(".task.md")
    task_file.write_text(task)
    session_env = {
        **os.environ, **(env or {}),
        "AVMINE_TASK_FILE": str(task_file), "AVMINE_MCP_CONFIG": str(mcp_config),
        "AVMINE_ALLOWED_TOOLS": ",".join(allowed_tools),
    }  # fmt: skip
    argv = agent.command(task, mcp_config, allowed_tools, denied_tools or [], budget_usd)
    if not _runnable(argv[0], mcp_config.parent, session_env.get("PATH")):
        raise FileNotFoundError(errno.ENOENT, f"the agent's command {argv[0]!r} was not found", argv[0])
    started = time.perf_counter()
    process = subprocess.Popen(
        with_parent.command(argv),  # it dies with this process, even one killed by SIGKILL
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=session_env, cwd=mcp_config.parent, start_new_session=True,
    )  # fmt: skip
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
        stdout, stderr = process.communicate()
    finally:
        _kill_group(process)  # helpers it left behind
    seconds = time.perf_counter() - started
    report = _parse_report(stdout)
    return AgentReport(
        exit_code=None if timed_out else process.returncode,
        timed_out=timed_out,
        seconds=seconds,
        result=str(report.get("result") or stdout.strip()[-STDERR_TAIL:]),
        stderr=stderr[-STDERR_TAIL:],
        is_error=bool(report.get("is_error", False)),
        turns=_int(report.get("num_turns")),
        cost_usd=_float(report.get("total_cost_usd")),
        input_tokens=_int((report.get("usage") or {}).get("input_tokens")),
        output_tokens=_int((report.get("usage") or {}).get("output_tokens")),
    )


def not_logged_in(report: AgentReport) -> bool:
    """Whether the session failed because the agent CLI has no usable login or API key.

    Claude Code then ends at once with ``is_error`` and a result such as "Not logged in · Please run
    /login" or "Invalid API key · Please run /login".
    """
    said = report.result if report.is_error or report.exit_code not in (0, None) else ""
    return bool(_NOT_LOGGED_IN.search(said + "\n" + report.stderr))


def _runnable(program: str, cwd: Path, path: str | None) -> bool:
    """Whether ``program`` names an executable, as ``exec`` would find it from ``cwd`` and ``PATH``."""
    if "/" in program:
        return os.access(cwd / program, os.X_OK)
    return shutil.which(program, path=path) is not None


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _parse_report(stdout: str) -> dict[str, Any]:
    """Claude Code's ``--output-format json`` result: the last line that is a JSON object of type result."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and ("result" in data or data.get("type") == "result"):
            return data
    return {}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
