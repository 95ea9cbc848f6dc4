"""The ``avmine`` command line: one module per command, each with ``register`` and ``run``.

Every command exits with ``avmine.server.cli.exit_codes.ExitCode`` (0 ok, 1 ran but failed, 2 usage or input
error) and writes its errors, and the log, to standard error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shlex
import sys
from collections.abc import Sequence

from avmine.server import __version__
from avmine.server.cli.exit_codes import ExitCode
from avmine.server.executor import cluster
from avmine.server.executor.namespaces import SandboxUnavailableError
from avmine.store.errors import StoreError, is_damage
from avmine.store.paths import resolve_db_path

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
"""Command modules under ``avmine.server.cli``; each registers one subcommand."""

KEEPS_FINISHED_WORK = ("run", "screen")
"""Commands that record each prompt as it finishes: an interrupted one keeps what it finished."""

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command.

    Raises:
        ImportError: a command's module is missing from this installation (a broken install, never skipped).
    """
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
            module = importlib.import_module(f"avmine.server.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"avmine.server.cli.{name}":
                raise
            raise ImportError(
                f"avmine's `{name}` command (module avmine.server.cli.{name}) is missing from this installation; "
                "reinstall avmine"
            ) from exc
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``ExitCode``)."""
    # stderr, never stdout: stdout is the command's output, and for `serve` over stdio the JSON-RPC stream
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="avmine: %(levelname)s %(name)s: %(message)s")
    words = list(sys.argv[1:] if argv is None else argv)
    if _asks_version(words):  # before the parser: building it imports every command (pandas, av2, torch: seconds)
        print(f"avmine {__version__}")
        return ExitCode.OK
    import duckdb  # here, not at the top: --version must not pay for it

    from avmine.store.database import damaged

    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        known, unknown = parser.parse_known_args(argv)
        misplaced = _misplaced_db(unknown)
        if misplaced is not None:
            command = shlex.join(["avmine", "--db", misplaced, known.command])
            print(f"avmine {known.command}: error: --db is avmine's option and goes before the command: "
                  f"`{command} ...`", file=sys.stderr)  # fmt: skip
            return ExitCode.USAGE
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # what a command forwarded to a server sends
        try:
            if hasattr(args, "ray"):  # joined at start: an unreachable cluster is said at once, not after a hang
                cluster.select(cluster.address_from(args))
            code: int = args.func(args)
        except (
            StoreError,
            SandboxUnavailableError,
            cluster.ClusterError,
            FileNotFoundError,
            IsADirectoryError,
            PermissionError,
        ) as exc:
            print(f"avmine {args.command}: error: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        except duckdb.Error as exc:
            if not is_damage(exc):
                raise
            # a block that fails its checksum shows only when a query reads it, after the file opened
            print(f"avmine {args.command}: error: {damaged(resolve_db_path(args.db), exc)}", file=sys.stderr)
            return ExitCode.USAGE
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's exit
    except KeyboardInterrupt:
        # one line, not a traceback: every write rolled back on the way here (a batch keeps finished prompts)
        interrupted: str | None = getattr(args, "command", None)
        kept = "; the prompts it finished are kept" if interrupted in KEEPS_FINISHED_WORK else "; nothing was changed"
        print(f"avmine{' ' + interrupted if interrupted else ''}: interrupted{kept}", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # the reader (head, less) stopped reading: stop quietly as Unix tools do; stdout goes to /dev/null so that
        # the interpreter's last flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool that a closed pipe stopped
    return code


def _misplaced_db(unknown: list[str]) -> str | None:
    """The file of a ``--db`` given after the command (which no command takes), else None."""
    for at, word in enumerate(unknown):
        if word.startswith("--db="):
            return word.split("=", 1)[1]
        if word == "--db":
            return unknown[at + 1] if at + 1 < len(unknown) else "FILE"
    return None


def _asks_version(words: list[str]) -> bool:
    """Whether ``--version`` comes before the command, where argparse would answer it."""
    value_of_db = False
    for word in words:
        if word == "--version":
            return True
        if not value_of_db and not word.startswith("-"):
            return False  # the command
        value_of_db = word == "--db"
    return False


if __name__ == "__main__":
    sys.exit(main())
