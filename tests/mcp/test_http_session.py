"""``avmine serve --transport http``: streamable HTTP on loopback, called by a real MCP client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from store import Store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _call(url: str) -> list[str]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        with anyio.fail_after(60):
            await session.initialize()
            tools = (await session.list_tools()).tools
            result = await session.call_tool("search_docs", {"query": "turning left"})
            assert not result.is_error and "turning(" in result.content[0].text
            return [tool.name for tool in tools]


def test_http_session_on_loopback(tmp_path: Path) -> None:
    db = tmp_path / "http.duckdb"
    Store.open(db).close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--db", str(db), "serve", "--transport", "http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # bounded wait for the port to open
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        names = anyio.run(_call, f"http://127.0.0.1:{port}/mcp")
        assert "execute_scenario" in names and "query_logs" in names
    finally:
        server.terminate()
        server.wait(timeout=30)
