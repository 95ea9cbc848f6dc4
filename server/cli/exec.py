"""``avmine exec PROGRAM.py --prompt TEXT``: run a scenario program in the sandbox over logs, with diagnostics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.executor import Limits, LogSelection
from avmine.server.executor.cluster import add_ray_option
from avmine.server.executor.diagnostics import diagnose
from avmine.server.executor.memory import add_budget_option
from avmine.server.executor.printed import printed_lines, program_output
from avmine.server.sharing.client import run_on_database
from avmine.server.sharing.commands import CommandContext
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.bounds import STDOUT_CHARS
from avmine.store.progress import bar as progress_bar


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``exec`` command."""
    parser = subparsers.add_parser(
        "exec",
        help="run a scenario program (RefAV style) in the sandbox over logs and show diagnostics",
        description="Runs the program on each selected log in a sandboxed worker and records the run.",
    )
    parser.add_argument("program", type=Path, help="the program file ('-' for standard input)")
    parser.add_argument("--prompt", required=True, help="the prompt the program answers (bound as description)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--logs", nargs="+", default=(), help="log ids or unique prefixes (default: every log)")
    where.add_argument("--split", help="every log of a split")
    parser.add_argument("--source", default=ANNOTATIONS_SOURCE, help="track source (default annotations)")
    parser.add_argument("--expected-category", help="the category the prompt refers to, for the diagnostics")
    parser.add_argument("--workers", type=int, default=None, help="parallel workers (default: up to 4)")
    parser.add_argument("--timeout", type=float, default=60.0, help="wall-clock seconds per log (default 60)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_budget_option(parser)
    add_ray_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute and report (in the server where one holds the database); exit 1 when the program failed on every log."""
    return run_on_database(args, operate)


def operate(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Execute on the open database and report."""
    text = ctx.stdin.read() if str(args.program) == "-" else args.program.read_text()
    limits = Limits(wall_seconds=args.timeout, cpu_seconds=max(1, int(args.timeout)))
    with (
        ctx.executor(args.workers, args.source, limits, args.memory_budget) as executor,
        progress_bar(wanted=ctx.warm is None, desc="logs", unit="log", leave=False) as bar,
    ):  # a command forwarded to a server shows no bar: the server's stderr is not the user's terminal

        def progress(done: int, total: int, log_id: str) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        execution = executor.run(
            text, args.prompt, LogSelection(tuple(args.logs), args.split), progress=progress, cancel=ctx.cancel
        )
        bar.close()
        diagnostics = diagnose(ctx.store, execution, args.source, args.expected_category)
    if args.json:
        document = {
            "run_id": execution.run_id,
            "status": execution.status,
            "seconds": round(execution.seconds, 3),
            "diagnostics": diagnostics.as_json(),
            "results": {r.log_id: r.scenario for r in execution.results},
            "sandbox": execution.layers,
            "printed": {r.log_id: r.stdout for r in execution.results},
            "traces": {r.log_id: r.trace for r in execution.results},
        }
        print(json.dumps(document, default=str), file=ctx.out)
    else:
        print(f"run {execution.run_id}: {execution.status} in {execution.seconds:.2f} s", file=ctx.out)
        print(diagnostics.text(), file=ctx.out)
        printed = program_output(execution.results, STDOUT_CHARS, len(execution.results) * STDOUT_CHARS)  # all of it
        for line in printed_lines(printed, execution.results):
            print(line, file=ctx.out)
    return ExitCode.FAILED if execution.status in ("failed", "rejected") else ExitCode.OK
