"""A second ``avmine serve`` on a database a server already holds: its MCP client's lines, passed to that server.

The writer serves the session over its own state (same store, warm executor, recorder), so runs
made here are the writer's runs. Requests in flight when the writer stops are answered with an error
that says so, and the proxy ends: restarted, it finds the database free and serves it itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.sharing import socket_file
from avmine.server.sharing.client import writer_stopped_message
from avmine.server.sharing.protocol import MAX_LINE_BYTES, MCP, encode

logger = logging.getLogger(__name__)

INTERNAL_ERROR = -32603
RECONNECT = (
    "This MCP server has ended with it: reconnect it (in Claude Code: /mcp) and it serves the database itself; "
    "then call again."
)


class _Pending:
    """The client's requests the writer has not answered yet (their ids)."""

    def __init__(self) -> None:
        self._ids: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.client_closed = threading.Event()

    def note(self, line: bytes, sent: bool) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return  # the writer answers malformed lines itself
        if not isinstance(message, dict) or "id" not in message:
            return
        key = json.dumps(message["id"])
        with self._lock:
            if sent and "method" in message:
                self._ids[key] = message["id"]
            elif not sent and "method" not in message:
                self._ids.pop(key, None)

    def drain(self) -> list[Any]:
        with self._lock:
            ids = list(self._ids.values())
            self._ids.clear()
        return ids


def _upstream(connection: socket.socket, pending: _Pending) -> None:
    """Client to writer, until the client closes stdin; then the writer sees the end of the session."""
    try:
        for line in iter(sys.stdin.buffer.readline, b""):
            pending.note(line, sent=True)
            connection.sendall(line if line.endswith(b"\n") else line + b"\n")
    except OSError:
        return  # the writer is gone: the downstream side reports it
    pending.client_closed.set()
    with contextlib.suppress(OSError):  # the writer may be gone already
        connection.shutdown(socket.SHUT_WR)


def run_proxy(db: Path, connection: socket.socket) -> int:
    """Pass this process's stdio MCP session to the writer at the other end of ``connection``."""
    pid = socket_file.peer(connection)[0]
    pending = _Pending()
    out = sys.stdout.buffer
    with connection, connection.makefile("rb") as replies:
        connection.sendall(encode({"avmine": MCP}))
        threading.Thread(target=_upstream, args=(connection, pending), daemon=True).start()
        try:
            for line in iter(lambda: replies.readline(MAX_LINE_BYTES), b""):
                pending.note(line, sent=False)
                out.write(line)
                out.flush()
        except OSError as exc:  # the writer (or, closing, the client) went away: pending calls are answered below
            logger.debug("the connection to the avmine server holding %s broke: %s", db, exc)
    if pending.client_closed.is_set():
        return ExitCode.OK
    message = writer_stopped_message(db, pid, "this call", RECONNECT)
    for request_id in pending.drain():
        error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": INTERNAL_ERROR, "message": message}}
        out.write(encode(error))
    out.flush()
    print(f"avmine serve: {writer_stopped_message(db, pid, 'this session', RECONNECT)}", file=sys.stderr)
    return ExitCode.FAILED
