"""``avmine stats``: what a database holds."""

from __future__ import annotations

import argparse
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.sharing.client import run_on_database
from avmine.server.sharing.commands import CommandContext
from avmine.store import ids
from avmine.store.summary import format_summary, summarize


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``stats`` command."""
    parser = subparsers.add_parser("stats", help="summarise logs, tracks per category and ground truth")
    parser.add_argument("--log", dest="log_id", help="only this log (its id or a unique prefix)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary (through the server where one holds the database)."""
    return run_on_database(args, operate, read_only=True)


def operate(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Print the summary of the open database."""
    store = ctx.store
    log_id = ids.log_id(store, args.log_id) if args.log_id else None  # a unique prefix will do; before any output
    print(f"Database: {store.path}", file=ctx.out)
    print(format_summary(summarize(store, log_id)), file=ctx.out)
    return ExitCode.OK
