"""Docs tools: the atomic functions and categories a program may use."""

from __future__ import annotations

import re
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from avmine.atomic import docs
from avmine.server.mcp.paging import clip
from avmine.server.mcp.state import HEADLESS, READ_ONLY

INDEX_SUMMARY_CHARS = 70
"""A summary in the index is cut to this many characters (its first clause where shorter)."""


def _short(summary: str) -> str:
    first = re.split(r"(?<=[a-z)]): |; | \(", summary.rstrip("."), maxsplit=1)[0]
    return first if len(first) <= INDEX_SUMMARY_CHARS else first[:INDEX_SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"


def function_index(detail: bool = False) -> str:
    """Every function a program can call, grouped by kind: one line each, or signature and summary with detail."""
    groups: dict[str, list[docs.FunctionDoc]] = {}
    for entry in docs.registry().values():
        groups.setdefault(entry.kind, []).append(entry)
    count = sum(map(len, groups.values()))
    lines = [f"{count} functions; get_function_docs(names) gives one's parameters and example."]
    for kind, entries in groups.items():
        lines += ["", f"{kind}:"]
        if detail:
            lines += [f"  {e.signature}\n      {e.summary}" for e in entries]
        else:
            lines += [f"  {e.name}: {_short(e.summary)}" for e in entries]
    return "\n".join(lines)


def register(server: MCPServer[Any]) -> None:
    """Add list_functions, get_function_docs, search_docs and list_categories."""

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def list_functions(
        detail: Annotated[
            bool, Field(description="true: each function's signature and full summary (about 15k characters)")
        ] = False,
    ) -> str:
        """Index of the atomic functions a program can call, by kind, one line each (details: get_function_docs)."""
        return clip(function_index(detail))

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def get_function_docs(
        names: Annotated[list[str], Field(description="function names, e.g. ['near_objects', 'turning']")],
    ) -> str:
        """Full docs of named atomic functions: signature, parameters with units, an example."""
        registry = docs.registry()
        unknown = [n for n in names if n not in registry]
        if unknown:
            raise ToolError(f"unknown function(s): {', '.join(unknown)}; list_functions gives every name.")
        return clip("\n\n".join(registry[n].render() for n in names))

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def search_docs(query: Annotated[str, Field(description="words describing a behaviour or relation")]) -> str:
        """Find atomic functions by words, best match first, with their signatures."""
        found = docs.search(query)
        if not found:
            return "No function matches; try other words or list_functions."
        return "\n".join(f"{d.signature}\n    {d.summary}" for d in found)

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def list_categories() -> dict[str, str]:
        """Every object category name a program may use, with its meaning."""
        return docs.categories()
