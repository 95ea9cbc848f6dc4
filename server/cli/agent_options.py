"""Options that ``avmine run`` and ``avmine screen`` share: which agent, and how each batch runs."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.executor.cluster import add_ray_option
from avmine.server.executor.memory import add_budget_option
from avmine.server.headless.agents import Agent, ClaudeAgent, CommandAgent
from avmine.server.headless.batch import Batch, BatchOptions, BatchSummary, resolve_prompts
from avmine.server.headless.reach import unreachable
from avmine.server.headless.report import summary_text
from avmine.store import Store
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.paths import resolve_db_path

Finish = Callable[[Store, BatchSummary, list[str]], int]
"""What a command does with a finished batch (write a submission); returns the exit code."""


def add_batch_arguments(parser: argparse.ArgumentParser, split: str, attempts: int) -> None:
    """Add the agent and batch options."""
    parser.add_argument("--split", default=split, help=f"the split whose logs programs run on (default {split})")
    parser.add_argument("--prompts", type=Path, help="a file with one prompt per line (default: the split's prompts)")
    parser.add_argument("--agent", choices=("claude", "command"), default="claude",
                        help="claude: Claude Code's `claude -p`; command: --agent-command")  # fmt: skip
    parser.add_argument("--agent-command", help="with --agent command: the command line of one agent session")
    parser.add_argument("--claude", default=os.environ.get("AVMINE_CLAUDE", "claude"),
                        help="the claude executable (default $AVMINE_CLAUDE, else claude on PATH)")  # fmt: skip
    parser.add_argument("--model", help="the agent's model (default: the agent's own)")
    parser.add_argument("--parallel", type=int, default=1, help="prompts solved at once (default 1)")
    parser.add_argument("--max-turns", type=int, default=40, help="model turns per agent session (default 40)")
    parser.add_argument("--max-attempts", type=int, default=attempts,
                        help=f"generating sessions per prompt (default {attempts})")  # fmt: skip
    parser.add_argument("--budget", type=float, help="stop starting sessions once the agents report this many USD")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per agent session (default 1200)")
    parser.add_argument("--no-review", action="store_true", help="skip the review session of each program")
    parser.add_argument("--examples", type=int, default=3, help="library examples in each task (default 3)")
    parser.add_argument("--source", default=ANNOTATIONS_SOURCE, help="track source (a tracker's name for test)")
    parser.add_argument("--name", help="the batch's name; the same name resumes it (default: command-split)")
    parser.add_argument("--retry-failed", action="store_true", help="solve again prompts the batch gave up on")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_budget_option(parser)
    add_ray_option(parser)


def agent_from_args(args: argparse.Namespace) -> Agent:
    """The agent the options name.

    Raises:
        ValueError: an agent that cannot be started, or a model API Claude Code cannot reach, with how to fix it.
    """
    if args.agent == "command":
        if not args.agent_command:
            raise ValueError("--agent command needs --agent-command 'CMD ...'")
        return CommandAgent(args.agent_command)
    if shutil.which(args.claude) is None:
        raise ValueError(
            f"{args.claude!r} is not an executable: install Claude Code (npm install -g @anthropic-ai/claude-code) "
            "or point --claude (or $AVMINE_CLAUDE) at it"
        )
    if problem := unreachable():
        raise ValueError(problem)
    return ClaudeAgent(args.claude, args.max_turns, args.model)


def options_from_args(args: argparse.Namespace, command: str, screening: bool, **more: object) -> BatchOptions:
    """The batch options the arguments give."""
    for name in ("parallel", "max_turns", "max_attempts"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if args.timeout <= 0 or (args.budget is not None and args.budget <= 0):
        raise ValueError("--timeout and --budget must be positive")
    return BatchOptions(
        name=args.name or f"{command}-{args.split}", split=args.split, source=args.source, screening=screening,
        max_attempts=args.max_attempts, review=not args.no_review, parallel=args.parallel, timeout_s=args.timeout,
        budget_usd=args.budget, examples=args.examples, retry_failed=args.retry_failed,
        memory_budget=args.memory_budget, **more,  # type: ignore[arg-type]
    )  # fmt: skip


def run_batch(
    args: argparse.Namespace, command: str, options: BatchOptions, agent: Agent, finish: Finish | None
) -> int:
    """Solve the prompts the arguments name, print the summary, then ``finish``.

    Returns 2 for bad prompts, 1 when every prompt failed, else what ``finish`` returns.
    """
    with Store.open(resolve_db_path(args.db), create=False) as store:
        try:
            prompts = resolve_prompts(store, options.split, args.prompts)
        except ValueError as exc:
            print(f"avmine {command}: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        summary = Batch(store, agent, options).run(prompts, progress=not args.quiet)
        print(summary_text(summary, screening=options.screening))
        code = finish(store, summary, prompts) if finish else 0
    if summary.all_failed:
        print(f"avmine {command}: every prompt failed; the reasons are above.", file=sys.stderr)
        return ExitCode.FAILED
    return code
