"""Resources: the function docs, the categories, example programs and the queryable schema."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer

from avmine.atomic import docs
from avmine.server.mcp.paging import LIMIT_CHARS, clip
from avmine.server.mcp.sql import describe_tables
from avmine.server.mcp.tools.data import SCHEMA_PREAMBLE
from avmine.server.mcp.tools.docs import render_entry
from avmine.store import Store
from avmine.store.demo_data.programs import PROGRAMS


def register(server: MCPServer[Any], store: Store, vlm_problem: str | None = None) -> None:
    """Add the avmine:// resources; ``store`` is read when a resource is read.

    ``vlm_problem``: why the server has no usable VLM (the docs mark the vision functions unavailable).
    """

    @server.resource("avmine://docs/functions", mime_type="text/plain", description="every atomic function's docs")
    def functions_resource() -> str:
        return "\n\n".join(render_entry(entry, vlm_problem) for entry in docs.registry().values())

    @server.resource(
        "avmine://docs/categories", mime_type="application/json", description="category names and meanings"
    )
    def categories_resource() -> str:
        return json.dumps(docs.categories(), indent=1)

    @server.resource(
        "avmine://examples",
        mime_type="application/json",
        description="example prompt -> program pairs: the built-in ones, then the library's best-scored",
    )
    def examples_resource() -> str:
        examples = [{"prompt": prompt, "program": program.strip(), "origin": "built-in"}
                    for prompt, program in PROGRAMS.items()]  # fmt: skip
        rows = store.query_df(
            "SELECT prompt, program, scores FROM examples "
            "ORDER BY timestamp_ba DESC NULLS LAST, created_at DESC LIMIT 50"
        ).to_dict("records")
        examples += [{"prompt": r["prompt"], "program": r["program"], "scores": json.loads(r["scores"] or "{}"),
                      "origin": "library"} for r in rows]  # fmt: skip
        return clip(json.dumps(examples, indent=1), LIMIT_CHARS * 2)

    @server.resource("avmine://schema", mime_type="text/plain", description="the tables query_logs can read")
    def schema_resource() -> str:
        return SCHEMA_PREAMBLE + describe_tables(store)
