"""Docs tools: the atomic functions and categories a program may use."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from atomic import docs
from server.mcp.paging import clip
from server.mcp.state import READ_ONLY


class FunctionSummary(BaseModel):
    """One atomic function in a listing."""

    name: str
    kind: str
    summary: str


def register(server: MCPServer[Any]) -> None:
    """Add list_functions, get_function_docs, search_docs and list_categories."""

    @server.tool(annotations=READ_ONLY)
    def list_functions() -> list[FunctionSummary]:
        """List the atomic functions a scenario program can call, with what each does."""
        return [FunctionSummary(name=d.name, kind=d.kind, summary=d.summary) for d in docs.registry().values()]

    @server.tool(annotations=READ_ONLY)
    def get_function_docs(
        names: Annotated[list[str], Field(description="function names, e.g. ['near_objects', 'turning']")],
    ) -> str:
        """Full docs of named atomic functions: signature, parameters with units, an example."""
        registry = docs.registry()
        unknown = [n for n in names if n not in registry]
        if unknown:
            raise ToolError(f"unknown function(s): {', '.join(unknown)}; list_functions gives every name.")
        return clip("\n\n".join(registry[n].render() for n in names))

    @server.tool(annotations=READ_ONLY)
    def search_docs(query: Annotated[str, Field(description="words describing a behaviour or relation")]) -> str:
        """Find atomic functions by words, best match first, with their signatures."""
        found = docs.search(query)
        if not found:
            return "No function matches; try other words or list_functions."
        return "\n".join(f"{d.signature}\n    {d.summary}" for d in found)

    @server.tool(annotations=READ_ONLY)
    def list_categories() -> dict[str, str]:
        """Every object category name a program may use, with its meaning."""
        return docs.categories()
