"""Commands on an open database: what a command's operation gets, and running a forwarded one in the writer."""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.executor import Executor, Limits
from avmine.server.executor.namespaces import SandboxUnavailableError
from avmine.server.sharing.protocol import FORWARDED_COMMANDS
from avmine.store import Store, StoreError

logger = logging.getLogger(__name__)


@dataclass
class CommandContext:
    """Where a command runs: the open store, its output, input and errors, and (in the writer) the warm executor."""

    store: Store
    out: TextIO
    stdin: TextIO
    warm: Executor | None = None
    """The server's executor: an ``exec`` with the same source and limits uses it rather than starting workers."""
    err: TextIO = field(default_factory=lambda: sys.stderr)
    """Where the command's error messages go (the client's stderr, also when forwarded)."""
    cancel: threading.Event | None = None
    """Set when a forwarded command's client went away (Ctrl-C): its run stops."""

    @contextmanager
    def executor(
        self, workers: int | None, source: str, limits: Limits, memory_budget: int | None = None
    ) -> Iterator[Executor]:
        """An executor for one command; every run it made is recorded when the block ends."""
        warm = self.warm
        if warm is not None and workers is None and source == warm.source and limits == warm.limits:
            yield warm
            warm.flush()  # recorded before the client hears of it: a server stopping next loses nothing
            return
        with Executor(self.store, workers, source, limits, memory_budget=memory_budget) as executor:
            yield executor


class Operation(Protocol):
    """A command's work on an open database; returns the exit code."""

    def __call__(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        """Run the command's work with ``ctx``'s store, printing to ``ctx.out`` and errors to ``ctx.err``."""


def _absolute(args: argparse.Namespace, cwd: Path) -> None:
    """Make the command's relative paths the client's: the writer runs in another directory."""
    for name, value in vars(args).items():
        if isinstance(value, Path) and not value.is_absolute() and str(value) != "-":
            setattr(args, name, cwd / value)


def run_forwarded(
    request: dict[str, Any], store: Store, warm: Executor | None, cancel: threading.Event | None = None
) -> dict[str, Any]:
    """Run a forwarded command (``protocol``'s request) on the writer's store; its output and exit code.

    ``cancel``, set when the client has gone, stops the command's run.
    """
    from avmine.server.cli import build_parser  # the command modules import this one

    out, err = io.StringIO(), io.StringIO()
    argv = [str(part) for part in request.get("argv", [])]
    command = "?"
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        if command not in FORWARDED_COMMANDS:
            raise StoreError(f"`{command}` cannot run through the server; only {', '.join(FORWARDED_COMMANDS)} can.")
        _absolute(args, Path(str(request.get("cwd", "/"))))
        operate: Operation = importlib.import_module(f"avmine.server.cli.{command}").operate
        code = operate(
            args, CommandContext(store, out, io.StringIO(str(request.get("stdin") or "")), warm, err, cancel)
        )
    except SystemExit as exc:  # argparse refused the arguments (the client's own parse accepted them)
        code = exc.code if isinstance(exc.code, int) else ExitCode.USAGE
        err.write(f"avmine: the server could not parse {argv}\n")
    except (StoreError, SandboxUnavailableError, OSError) as exc:
        code = ExitCode.USAGE
        err.write(f"avmine {command}: error: {exc}\n")
    except Exception as exc:
        logger.exception("forwarded command %s failed", argv)
        code = ExitCode.FAILED
        err.write(f"avmine {command}: error in the server process: {type(exc).__name__}: {exc}\n")
    return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "pid": os.getpid()}
