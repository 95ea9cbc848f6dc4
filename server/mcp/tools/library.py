"""Library tools: save prompt -> program pairs, find similar ones, submit a prompt's final program."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from atomic.honesty import check_honest
from atomic.program import ProgramError, prepare
from evaluation.score_runs import score_stored_run
from server.executor import policy
from server.mcp.paging import LIMIT_CHARS, clip
from server.mcp.state import READ_ONLY, WRITES, WRITES_IDEMPOTENT, State, current
from store import StoreError
from store.library import save_example as save_example_to
from store.library import search_examples, submit_final_program


def register(server: MCPServer[State]) -> None:
    """Add save_example, search_library and submit_program."""

    @server.tool(annotations=WRITES)
    def save_example(
        ctx: Context[State, Any],
        prompt: Annotated[str, Field(description="the prompt the program answers")],
        program: Annotated[str, Field(description="the program")],
        run_id: Annotated[str | None, Field(description="a scored run of this program, for its scores")] = None,
    ) -> str:
        """Save a prompt -> program pair to the few-shot library (with the run's scores when it has ground truth).

        Programs that hard-code track ids, log ids or timestamps are refused.
        """
        state = current(ctx)
        try:
            check_honest(program)
        except ProgramError as exc:
            raise ToolError(f"not saved: {exc}") from exc
        scores: dict[str, float] = {}
        if run_id:
            state.executor.flush()
            try:
                scores = score_stored_run(state.store, run_id).metrics
            except StoreError:
                scores = {}  # no ground truth for it: saved without scores
        example_id = save_example_to(state.store, prompt, program, scores, {"run_id": run_id, "origin": "mcp"})
        return f"saved example {example_id}" + (f" with scores {scores}" if scores else " (no scores)")

    @server.tool(annotations=READ_ONLY)
    def search_library(
        ctx: Context[State, Any],
        query: Annotated[str, Field(description="a prompt or words to find similar solved prompts")],
        limit: Annotated[int, Field(description="at most this many examples", ge=1, le=20)] = 5,
    ) -> list[dict[str, Any]]:
        """Library examples whose prompts resemble the query, with their programs and scores."""
        found = search_examples(current(ctx).store, query, limit=limit)
        each = LIMIT_CHARS // max(1, len(found))
        return [{"prompt": e.prompt, "program": clip(e.program, each), "scores": e.scores} for e in found]

    @server.tool(annotations=WRITES_IDEMPOTENT)
    def submit_program(
        ctx: Context[State, Any],
        prompt: Annotated[str, Field(description="the prompt")],
        program: Annotated[str, Field(description="the final program for it")],
    ) -> str:
        """Submit the final program for a prompt (headless runs): it is checked, then recorded as the answer.

        Use the prompt exactly as given. Programs that hard-code ids or timestamps are refused.
        """
        try:
            prepare(program, check=policy.enforce)
            check_honest(program)
        except (ProgramError, policy.PolicyError) as exc:
            raise ToolError(f"not submitted: {exc}") from exc
        submit_final_program(current(ctx).store, prompt, program, origin="mcp")
        return f"submitted the final program for {prompt!r}"
