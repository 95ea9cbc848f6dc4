"""The side of a command that finds its database locked: run through the writer, or wait, or say why not."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

from avmine.server.sharing import socket_file
from avmine.server.sharing.commands import CommandContext, Operation
from avmine.server.sharing.protocol import COMMAND, MAX_LINE_BYTES, encode
from avmine.store import Store
from avmine.store.errors import DatabaseLockedError, StoreError
from avmine.store.paths import resolve_db_path, socket_path_for

LOCK_WAIT_S = 10.0
"""How long a command waits for a lock held by a process that serves nobody (a short command, a starting server)."""
RETRY_S = 0.2


class WriterStoppedError(StoreError):
    """The writer closed the connection before answering: the forwarded work's outcome is unknown."""


RUN_AGAIN = "Run it again: with the server gone it opens the database itself."


def writer_stopped_message(db: Path, pid: int | None, what: str, then: str = RUN_AGAIN) -> str:
    """What to say when the writer went away while ``what`` was in flight, and what to do (``then``)."""
    holder = f"process {pid}" if pid is not None else "the process"
    return (
        f"the avmine server holding {db} ({holder}) stopped before {what} finished; whether it ran to the end "
        f"is unknown (a run that finished is recorded, and `get_run` shows it). {then}"
    )


def open_or_wait(db: Path, read_only: bool, create: bool) -> Store | socket.socket:
    """The database, opened; or, when a server holds it, a connection to that server.

    A lock held by a process that serves nobody (a short command, a server still starting) is waited
    for up to ``LOCK_WAIT_S``.

    Raises:
        DatabaseLockedError: still locked after the wait, and nothing answers on ``<db>.sock``.
    """
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            return Store.open(db, read_only=read_only, create=create)
        except DatabaseLockedError as locked:
            connection = socket_file.connect(socket_path_for(db))
            if connection is not None:
                return connection
            if time.monotonic() > deadline:
                holder = f"process {locked.pid}" if locked.pid is not None else "another process"
                raise DatabaseLockedError(
                    db,
                    locked.pid,
                    f"{db} is open in {holder}, which serves no other process (nothing answers on "
                    f"{socket_path_for(db)}): an `avmine ingest` or another command, an avmine server still "
                    f"starting, or a program that is not avmine. Waited {LOCK_WAIT_S:.0f} s; run this again once "
                    f"{holder} has ended.",
                ) from None
            time.sleep(RETRY_S)


def run_on_database(args: argparse.Namespace, operate: Operation, read_only: bool = False, create: bool = False) -> int:
    """Run a command's operation on its database, through the server that holds it where one does."""
    db = resolve_db_path(args.db)
    opened = open_or_wait(db, read_only, create)
    if isinstance(opened, Store):
        with opened as store:
            return operate(args, CommandContext(store, sys.stdout, sys.stdin, err=sys.stderr))
    return _forward(db, opened, args)


def _forward(db: Path, connection: socket.socket, args: argparse.Namespace) -> int:
    stdin = sys.stdin.read() if str(getattr(args, "program", "")) == "-" else None
    request = {"avmine": COMMAND, "argv": args.argv, "cwd": os.getcwd(), "stdin": stdin}
    with connection, connection.makefile("rb") as replies:
        try:
            connection.sendall(encode(request))
            line = replies.readline(MAX_LINE_BYTES)
        except OSError:
            line = b""
        if not line.endswith(b"\n"):
            pid = socket_file.peer(connection)[0]
            raise WriterStoppedError(writer_stopped_message(db, pid or None, f"`avmine {args.command}`"))
    answer = json.loads(line)
    sys.stdout.write(answer["stdout"])
    sys.stderr.write(answer["stderr"])
    sys.stdout.flush()
    return int(answer["exit"])
