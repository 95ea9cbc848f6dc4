"""The ``avmine`` command line: one module per command, each with ``register`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from server import __version__
from server.executor import cluster
from server.executor.namespaces import SandboxUnavailableError
from store.errors import StoreError

COMMANDS = (
    "ingest",
    "demo",
    "stats",
    "exec",
    "score",
    "submit",
    "serve",
    "colors",
    "init_agent",
    "library",
    "run",
    "screen",
    "coverage",
    "refine",
)
"""Command modules under ``server.cli``; each registers one subcommand."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="avmine",
        description="Mine driving scenarios from Argoverse 2 logs with coding agents (RefAV-compatible).",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="database file (default: $AVMINE_DB, else ~/.local/share/avmine/avmine.duckdb)",
    )
    parser.add_argument("--version", action="version", version=f"avmine {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"server.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"server.cli.{name}":
                raise
            continue  # a command whose module is not part of this build
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # what a command forwarded to a server sends
        try:
            if hasattr(args, "ray"):  # joined at start: an unreachable cluster is said at once, not after a hang
                cluster.select(cluster.address_from(args))
            code: int = args.func(args)
        except (StoreError, SandboxUnavailableError, cluster.ClusterError) as exc:
            print(f"avmine {args.command}: error: {exc}", file=sys.stderr)
            return 2
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's exit
    except BrokenPipeError:
        # the reader (head, less) stopped reading: stop quietly as Unix tools do; stdout goes to /dev/null so that
        # the interpreter's last flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool that a closed pipe stopped
    return code


if __name__ == "__main__":
    sys.exit(main())
