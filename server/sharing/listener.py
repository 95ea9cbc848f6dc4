"""The writer's side of ``<db>.sock``: forwarded commands and proxied MCP sessions, served beside its own client."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.to_thread
from anyio.abc import SocketAttribute, SocketListener, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp.server.mcpserver import MCPServer
from mcp.server.runner import serve_dual_era_loop
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from avmine.server.mcp.state import State
from avmine.server.mcp.stdio import check_line
from avmine.server.sharing import socket_file
from avmine.server.sharing.commands import run_forwarded
from avmine.server.sharing.protocol import COMMAND, MAX_LINE_BYTES, MCP, encode
from avmine.store.paths import socket_path_for

logger = logging.getLogger(__name__)
_CLOSED = (anyio.EndOfStream, anyio.IncompleteRead, anyio.DelimiterNotFound, anyio.BrokenResourceError,
           anyio.ClosedResourceError)  # fmt: skip


@asynccontextmanager
async def listening(db_path: Path, server: MCPServer[State], state: State) -> AsyncIterator[Path]:
    """Serve other avmine processes on ``<db>.sock`` inside the block; the socket is gone after it.

    Call only while holding the database writable (``state.store``). Work in flight when the block
    ends is abandoned: its clients see the connection close and say so.
    """
    path = socket_path_for(db_path)
    raw = socket_file.bind(path)
    bound = path.stat()
    listener = await SocketListener.from_socket(raw)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, partial(_connection, server, state))
            try:
                yield path
            finally:
                group.cancel_scope.cancel()
    finally:
        socket_file.remove_if_ours(path, bound)
        await listener.aclose()


async def _connection(server: MCPServer[State], state: State, stream: SocketStream) -> None:
    async with stream:
        try:
            if not socket_file.peer_is_owner(stream.extra(SocketAttribute.raw_socket)):
                return  # another user: the file is owner-only, so only a race in bind gets here
            incoming = BufferedByteReceiveStream(stream)
            hello = json.loads(await incoming.receive_until(b"\n", MAX_LINE_BYTES))
            kind = hello.get("avmine") if isinstance(hello, dict) else None
            if kind == COMMAND:
                cancel = threading.Event()
                async with anyio.create_task_group() as watching:
                    watching.start_soon(_cancel_when_closed, incoming, cancel)
                    answer = await anyio.to_thread.run_sync(
                        run_forwarded, hello, state.store, state.executor, cancel, abandon_on_cancel=True
                    )
                    watching.cancel_scope.cancel()
                if not cancel.is_set():
                    await stream.send(encode(answer))
            elif kind == MCP:
                await _mcp_session(server, state, stream, incoming)
        except (*_CLOSED, ValueError):
            return  # the client left, or sent no hello
        except Exception:  # one connection's failure must not end the others or the server
            logger.exception("avmine connection failed")


async def _cancel_when_closed(incoming: BufferedByteReceiveStream, cancel: threading.Event) -> None:
    """Set ``cancel`` once the client closes its end (it sends nothing after its request; Ctrl-C closes it)."""
    try:
        while True:
            await incoming.receive()
    except _CLOSED:
        cancel.set()


class _Lines:
    """A connection's lines for the SDK's reader, less malformed ones, which are answered (as over stdio)."""

    def __init__(self, incoming: BufferedByteReceiveStream) -> None:
        self.incoming = incoming
        self.answer: Callable[[SessionMessage], Awaitable[None]] | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        while True:
            try:
                line = (await self.incoming.receive_until(b"\n", MAX_LINE_BYTES)).decode("utf-8", errors="replace")
            except _CLOSED:
                return
            error = check_line(line)
            if error is None:
                yield line
            elif self.answer is not None:
                await self.answer(SessionMessage(error))


class _Out:
    """The SDK's writer's view of the connection."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream

    async def write(self, text: str) -> None:
        await self.stream.send(text.encode())

    async def flush(self) -> None:
        """Nothing is buffered."""


async def _mcp_session(
    server: MCPServer[State], state: State, stream: SocketStream, incoming: BufferedByteReceiveStream
) -> None:
    """One more MCP session over the server's shared state (a second ``serve`` proxies its client here)."""
    lines = _Lines(incoming)
    wire_in = cast("anyio.AsyncFile[str]", lines)
    wire_out = cast("anyio.AsyncFile[str]", _Out(stream))
    lowlevel: Any = server._lowlevel_server
    async with stdio_server(stdin=wire_in, stdout=wire_out) as (read_stream, write_stream):
        lines.answer = write_stream.send
        await serve_dual_era_loop(
            lowlevel,
            read_stream,
            write_stream,
            lifespan_state=state,
            init_options=lowlevel.create_initialization_options(),
        )
