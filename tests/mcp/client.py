"""Calling avmine's tools from an in-memory MCP client, as the tool tests do."""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client
from mcp.types import CallToolResult


def text(result: CallToolResult) -> str:
    """A tool result's text content."""
    return "".join(getattr(block, "text", "") for block in result.content)


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    """Call a tool, failing the test past 180 s."""
    with anyio.fail_after(180):
        return await client.call_tool(tool, arguments)
