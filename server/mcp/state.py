"""What every tool shares: the store, a warm executor, the server's options; and the tool annotations."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio.from_thread
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from avmine.server.executor import Executor
from avmine.store import Store
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.errors import StoreError
from avmine.vlm.broker import VlmBroker
from avmine.vlm.service import VlmService

logger = logging.getLogger(__name__)

SourceArgument = Annotated[
    str | None,
    Field(
        description=f"track source: {ANNOTATIONS_SOURCE!r} (the logs' labels), a tracker's name (the test split has "
        "only a tracker's boxes) or a refined source's (list_sources lists them); default: the server's "
        "(avmine serve --source)"
    ),
]
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITES_IDEMPOTENT = ToolAnnotations(read_only_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, idempotent_hint=False, open_world_hint=False)
HEADLESS_KEY = "avmine/headless"
"""The key, in a tool declaration's meta, that says which headless agent sessions may call the tool."""
HEADLESS = {HEADLESS_KEY: "always"}
"""Meta of a tool every headless session may call (``avmine run`` and ``avmine screen``)."""
SCREENING = {HEADLESS_KEY: "screening"}
"""Meta of a tool only screening sessions may call (scores, library writes); a tool without the key is never
offered to a headless agent."""


@dataclass
class State:
    """What the tools share for the server's lifetime."""

    store: Store
    executor: Executor
    image_dir: Path
    """Where rendered images are also written (some clients drop image content)."""
    broker: VlmBroker
    """The VLM, for the vision tools and programs' VLM calls."""
    reveal_ground_truth: bool = False
    """Show concrete false positives and misses in scores (a person exploring; never headless agents)."""
    scoring_budget: int = 30
    """How often one prompt's runs may be scored at agents' request in the database (score_run, save_example)."""
    library_threshold: float = 0.8
    """save_example admits a labelled prompt's program when its held-out Timestamp BA exceeds this."""
    keep_single_log: bool = False
    """score_run leaves a prompt's single ground-truth log unscored, for a screening batch's admission decision."""

    def vlm(self) -> VlmService:
        """The VLM service, loaded on first use (a local model takes a while).

        Raises:
            VlmUnavailableError: none configured; the message says how to configure one.
        """
        return self.broker.service()

    def track_source(self, name: str | None) -> str:
        """The track source a call names (the server's default, ``avmine serve --source``, when None).

        Raises:
            StoreError: no log has that source; the message lists the sources there are.
        """
        if name is None or name == self.executor.source:
            return self.executor.source
        known = [str(r[0]) for r in self.store.con.execute(
            "SELECT DISTINCT source FROM track_sources ORDER BY source").fetchall()]  # fmt: skip
        if name not in known:
            raise StoreError(
                f"unknown track source {name!r}; the sources are: {', '.join(known) or 'none (ingest logs first)'}. "
                f"{ANNOTATIONS_SOURCE!r} are the logs' own labels; a tracker's boxes (the only ones of the test split) "
                "are named when ingested; list_sources describes each."
            )
        return name

    def source_path(self, log_id: str) -> Path | None:
        """The log's dataset directory (where real camera images are), if it still exists."""
        return self.store.log_directory(log_id)


def current(ctx: Context[State, Any]) -> State:
    """The server's shared state, from a tool's context."""
    state: State = ctx.request_context.lifespan_context
    return state


def answer(structured: dict[str, Any], text: str, error: bool = False) -> CallToolResult:
    """A tool result with structured content for programs and a concise text rendering for the model.

    ``error`` makes it a tool error (``isError``) that still carries the structured content.
    """
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured, is_error=error)


def report_progress_from_thread(ctx: Context[State, Any], token: Any, done: int, total: int, message: str) -> None:
    """Send a progress notification from a tool's worker thread; a client gone mid-call is logged, not raised.

    ``token`` is the event loop's, from ``anyio.lowlevel.current_token()`` in the tool.
    """
    try:
        anyio.from_thread.run(ctx.report_progress, done, total, message, token=token)
    except Exception as exc:
        logger.warning("progress %d/%d could not be sent to the client: %s: %s", done, total, type(exc).__name__, exc)
