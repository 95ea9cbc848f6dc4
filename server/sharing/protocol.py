"""The JSON lines avmine processes exchange over ``<db>.sock``: a hello naming the kind of connection.

A client's first line is ``{"avmine": "mcp"}`` (an MCP session follows, one JSON-RPC message per
line, as over stdio) or ``{"avmine": "command", "argv": [...], "cwd": ..., "stdin": ...}`` (the
writer answers with one line ``{"exit": n, "stdout": ..., "stderr": ..., "pid": ...}``).
"""

from __future__ import annotations

import json
from typing import Any

MCP = "mcp"
COMMAND = "command"
MAX_LINE_BYTES = 256 << 20
"""The longest line either side reads (an MCP result with many rows, a long program's output)."""
FORWARDED_COMMANDS = ("stats", "exec", "submit", "library")
"""The commands that run in the writer when the database is locked."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a JSON line."""
    return json.dumps(message).encode() + b"\n"
