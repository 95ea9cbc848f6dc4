"""Docs tools: the atomic functions and categories a program may use."""

from __future__ import annotations

import re
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from avmine.atomic import docs
from avmine.server.mcp.paging import clip
from avmine.server.mcp.state import HEADLESS, READ_ONLY, State, current
from avmine.vlm.backends import configuration_problem

INDEX_SUMMARY_CHARS = 70
"""A summary in the index is cut to this many characters (its first clause where shorter)."""


def _short(summary: str) -> str:
    first = re.split(r"(?<=[a-z)]): |; | \(", summary.rstrip("."), maxsplit=1)[0]
    return first if len(first) <= INDEX_SUMMARY_CHARS else first[:INDEX_SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"


def is_vision(entry: docs.FunctionDoc) -> bool:
    """The function asks the server's VLM."""
    return entry.kind.startswith("vision")


def unavailable(vlm_problem: str) -> str:
    """What the docs say of the vision functions on a server without a usable VLM."""
    return f"UNAVAILABLE on this server (a program calling one fails): {vlm_problem}"


def render_entry(entry: docs.FunctionDoc, vlm_problem: str | None) -> str:
    """One function's full docs, saying so where it needs a VLM this server does not have."""
    if vlm_problem and is_vision(entry):
        return f"{entry.render()}\n\n{unavailable(vlm_problem)}"
    return entry.render()


def vlm_problem_of(ctx: Context[State, Any]) -> str | None:
    """Why the serving server's VLM cannot be used (how to configure one), or None when one is configured."""
    return configuration_problem(current(ctx).broker.config)


def function_index(detail: bool = False, vlm_problem: str | None = None) -> str:
    """Every function a program can call, grouped by kind: one line each, or signature and summary with detail.

    With ``vlm_problem`` (no usable VLM) the vision groups say they are unavailable, and why.
    """
    groups: dict[str, list[docs.FunctionDoc]] = {}
    for entry in docs.registry().values():
        groups.setdefault(entry.kind, []).append(entry)
    count = sum(map(len, groups.values()))
    lines = [f"{count} functions; get_function_docs(names) gives one's parameters and example."]
    for kind, entries in groups.items():
        lines += ["", f"{kind}:"]
        if vlm_problem and is_vision(entries[0]):
            lines.append(f"  {unavailable(vlm_problem)}")
        if detail:
            lines += [f"  {e.signature}\n      {e.summary}" for e in entries]
        else:
            lines += [f"  {e.name}: {_short(e.summary)}" for e in entries]
    return "\n".join(lines)


def register(server: MCPServer[Any]) -> None:
    """Add list_functions, get_function_docs, search_docs and list_categories."""

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def list_functions(
        ctx: Context[State, Any],
        detail: Annotated[
            bool, Field(description="true: each function's signature and full summary (about 15k characters)")
        ] = False,
    ) -> str:
        """Index of the atomic functions a program can call, by kind, one line each (details: get_function_docs).

        Vision functions are marked unavailable when this server has no VLM configured.
        """
        return clip(function_index(detail, vlm_problem_of(ctx)))

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def get_function_docs(
        ctx: Context[State, Any],
        names: Annotated[list[str], Field(description="function names, e.g. ['near_objects', 'turning']")],
    ) -> str:
        """Full docs of named atomic functions: signature, parameters with units, an example."""
        registry = docs.registry()
        unknown = [n for n in names if n not in registry]
        if unknown:
            raise ToolError(f"unknown function(s): {', '.join(unknown)}; list_functions gives every name.")
        problem = vlm_problem_of(ctx)
        return clip("\n\n".join(render_entry(registry[n], problem) for n in names))

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
