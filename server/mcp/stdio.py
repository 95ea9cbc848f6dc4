r"""Stdio for the MCP server: every malformed line gets a JSON-RPC error answer, and serving goes on.

The SDK's stdio transport drops a line it cannot parse or validate without a word, so a client
waits forever for the answer to, say, a request whose string holds a lone surrogate (``"\ud800"``:
a valid JSON escape, but not Unicode). Here each line is checked before the SDK reads it; a bad one
is answered through the SDK's own writer with -32700 (not JSON) or -32600 (JSON, but not a valid
JSON-RPC message), carrying the request's id where it can be read (JSON-RPC 2.0, section 5.1).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from io import TextIOWrapper
from typing import Any, cast

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError


def _lone_surrogate_at(value: Any, where: str = "") -> str | None:
    """Where the first string (key or value) holding a lone surrogate is, e.g. ``params.names[0]``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "the message"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            found = _lone_surrogate_at(key, f"a key in {where or 'the message'}") or _lone_surrogate_at(item, inner)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


def _request_id(message: Any) -> types.RequestId | None:
    """The id to answer with: the message's own where it is a usable string or integer, else null."""
    if not isinstance(message, dict):
        return None
    given = message.get("id")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    if isinstance(given, str) and _lone_surrogate_at(given) is None:
        return given
    return None


def check_line(line: str) -> types.JSONRPCError | None:
    """None when ``line`` is a valid JSON-RPC message (or blank), else the error to answer it with."""
    if not line.strip():
        return None
    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        return None
    except ValidationError as exc:
        problem = exc.errors()[0]
    try:
        message = json.loads(line)
    except ValueError as exc:
        error = types.ErrorData(code=types.PARSE_ERROR, message=f"Parse error: the line is not JSON ({exc}).")
        return types.JSONRPCError(jsonrpc="2.0", id=None, error=error)
    surrogate = _lone_surrogate_at(message)
    if surrogate:
        text = (
            f"Invalid request: the string at {surrogate} holds a lone UTF-16 surrogate (e.g. \\ud800), which is "
            "not Unicode text. Send UTF-8; a \\u escape of a character outside the BMP must be a surrogate pair."
        )
    else:
        at = ".".join(str(part) for part in problem["loc"]) or "the message"
        text = (
            f"Invalid request: not a JSON-RPC 2.0 request, notification or response ({at}: {problem['msg']}). "
            "Send one JSON object per line with jsonrpc '2.0', an id, a method and object params."
        )
    error = types.ErrorData(code=types.INVALID_REQUEST, message=text)
    return types.JSONRPCError(jsonrpc="2.0", id=_request_id(message), error=error)


class _CheckedLines:
    """The wire's lines for the SDK's reader, less the malformed ones, which are answered instead."""

    def __init__(self, wire: anyio.AsyncFile[str]) -> None:
        self.wire = wire
        self.answer: Callable[[SessionMessage], Awaitable[None]] | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        async for line in self.wire:
            error = check_line(line)
            if error is None:
                yield line
            elif self.answer is not None:
                try:
                    await self.answer(SessionMessage(error))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return  # the server is shutting down


def _claim_stdin() -> tuple[int, Callable[[], None]]:
    """Move the wire off fd 0 (handlers and children then read EOF, as the SDK arranges); a restore."""
    wire = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    def restore() -> None:
        os.dup2(wire, 0)  # the wire itself stays open: a reader thread may still block on it

    return wire, restore


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve ``server`` over this process's stdin and stdout until the client closes stdin."""
    wire, restore = _claim_stdin()
    lines = _CheckedLines(anyio.wrap_file(TextIOWrapper(os.fdopen(wire, "rb", closefd=False), encoding="utf-8",
                                                        errors="replace")))  # fmt: skip
    try:
        async with stdio_server(stdin=cast("anyio.AsyncFile[str]", lines)) as (read_stream, write_stream):
            lines.answer = write_stream.send
            # MCPServer.run_stdio_async, with the checked lines in front of the SDK's reader.
            lowlevel = server._lowlevel_server
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
    finally:
        restore()


def run_stdio(server: MCPServer[Any]) -> None:
    """Serve over stdio (blocking), answering malformed lines with JSON-RPC errors."""
    anyio.run(serve_stdio, server)
