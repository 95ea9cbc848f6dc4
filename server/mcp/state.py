"""What every tool shares: the store, a warm executor, the server's options; and the tool annotations."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from server.executor import Executor
from store import Store
from vlm.backends import VlmConfig, load_backend
from vlm.functions import evaluate, occluded_by
from vlm.service import VlmService

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITES_IDEMPOTENT = ToolAnnotations(read_only_hint=False, idempotent_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, idempotent_hint=False, open_world_hint=False)


@dataclass
class State:
    """What the tools share for the server's lifetime."""

    store: Store
    executor: Executor
    image_dir: Path
    """Where rendered images are also written (some clients drop image content)."""
    reveal_ground_truth: bool = False
    """Show concrete false positives and misses in scores (a person exploring; never headless agents)."""
    vlm_config: VlmConfig = field(default_factory=VlmConfig)
    _vlm: VlmService | None = None
    _vlm_lock: threading.Lock = field(default_factory=threading.Lock)

    def vlm(self) -> VlmService:
        """The VLM service, loaded on first use (a local model takes a while).

        Raises:
            VlmUnavailableError: none configured; the message says how to configure one.
        """
        with self._vlm_lock:
            if self._vlm is None:
                self._vlm = VlmService(load_backend(self.vlm_config), self.store)
            return self._vlm

    def answer_vlm(self, log_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a program's VLM call (brokered from the sandbox): the candidates' timestamps to keep.

        Raises:
            VlmUnavailableError: no VLM configured (the executor hands the message to the program).
            ValueError: an unknown function or a bad argument.
        """
        service = self.vlm()
        scenario = {str(uuid): [int(t) for t in stamps] for uuid, stamps in request["scenario"].items()}
        arrays = self.store.load_arrays(log_id, self.executor.source)
        if request.get("function") == "is_occluded_by":
            related = {str(uuid): [int(t) for t in stamps] for uuid, stamps in dict(request["related"]).items()}
            return {"scenario": occluded_by(scenario, related, arrays, service, self.source_path(log_id))}
        value = request.get("value")
        kept = evaluate(str(request.get("function")), scenario, arrays, service, value, self.source_path(log_id))
        return {"scenario": kept}

    def source_path(self, log_id: str) -> Path | None:
        """The log's dataset directory (where real camera images are), if it still exists."""
        row = self.store.con.execute("SELECT source_path FROM logs WHERE log_id = ?", [log_id]).fetchone()
        path = Path(row[0]) if row else None
        return path if path is not None and path.is_dir() else None


def current(ctx: Context[State, Any]) -> State:
    """The server's shared state, from a tool's context."""
    state: State = ctx.request_context.lifespan_context
    return state


def answer(structured: dict[str, Any], text: str) -> CallToolResult:
    """A tool result with structured content for programs and a concise text rendering for the model."""
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
