"""Library tools: save prompt -> program pairs, find similar ones, submit a prompt's final program."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from avmine.atomic.honesty import check_honest
from avmine.atomic.program import ProgramError, prepare
from avmine.evaluation.guarded_scoring import (
    JUDGE_WITHOUT_SCORES,
    NotAdmissibleError,
    admission_logs,
    check_budget,
    prompt_hold_out,
    score_for_admission,
)
from avmine.server.executor import LogSelection, policy
from avmine.server.mcp.paging import LIMIT_CHARS, clip
from avmine.server.mcp.state import HEADLESS, READ_ONLY, SCREENING, WRITES, WRITES_IDEMPOTENT, State, current
from avmine.store import StoreError
from avmine.store.library import save_example as save_example_to
from avmine.store.library import search_examples, submit_final_program


def register(server: MCPServer[State]) -> None:
    """Add save_example, search_library and submit_program."""

    @server.tool(annotations=WRITES, meta=SCREENING)
    async def save_example(
        ctx: Context[State, Any],
        prompt: Annotated[str, Field(description="the prompt the program answers")],
        program: Annotated[str, Field(description="the program")],
        run_id: Annotated[str | None, Field(description="a run of this program (kept as provenance)")] = None,
    ) -> str:
        """Save a prompt -> program pair to the few-shot library.

        For a prompt with ground truth the program is run on the prompt's held-out logs (never scored
        by score_run) and admitted only if its Timestamp BA there exceeds the server's threshold; it
        is saved with those scores. A prompt whose every ground-truth log score_run has scored (one
        with a single log, once scored) is not admitted. Other prompts are saved without scores.
        Programs that hard-code ids or timestamps or pick tracks by id text or position are refused.
        """
        state = current(ctx)
        try:
            check_honest(program)
        except ProgramError as exc:
            raise ToolError(f"not saved: {exc}") from exc
        try:
            held_out = admission_logs(state.store, prompt)
        except NotAdmissibleError as exc:
            raise ToolError(f"not saved: {exc}") from exc
        except StoreError as exc:  # no usable ground truth: nothing to judge by, saved without scores
            example_id = save_example_to(state.store, prompt, program, {}, {"run_id": run_id, "origin": "mcp"})
            return f"saved example {example_id} (no scores: {exc})"

        def admit() -> tuple[str, dict[str, float]]:
            check_budget(state.store, prompt, state.scoring_budget)
            execution = state.executor.run(program, prompt, LogSelection(held_out), origin="mcp:admission")
            state.executor.flush()
            return execution.run_id, score_for_admission(state.store, execution.run_id, origin="mcp").metrics

        try:
            admission_run, scores = await anyio.to_thread.run_sync(admit)
        except StoreError as exc:
            raise ToolError(f"not saved: {exc}") from exc
        if not scores.get("Timestamp BA", 0.0) > state.library_threshold:
            refinement = prompt_hold_out(state.store, prompt).refinement
            refine = (
                f"Refine the program (score_run scores the prompt's other {len(refinement)} ground-truth log(s)) "
                if refinement
                else f"Refine the program with {JUDGE_WITHOUT_SCORES} (score_run would score that log, and the "
                "library would then no longer admit a program for this prompt) "
            )
            raise ToolError(
                f"not saved: on the prompt's {len(held_out)} held-out ground-truth log(s), which score_run "
                f"never scores, its Timestamp BA is not above {state.library_threshold}. {refine}and save it again."
            )
        provenance = {"run_id": run_id, "origin": "mcp", "admission_run_id": admission_run,
                      "held_out_logs": list(held_out)}  # fmt: skip
        example_id = save_example_to(state.store, prompt, program, scores, provenance)
        return f"saved example {example_id} with scores on {len(held_out)} held-out log(s): {scores}"

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def search_library(
        ctx: Context[State, Any],
        query: Annotated[str, Field(description="a prompt or words to find similar solved prompts")],
        limit: Annotated[int, Field(description="at most this many examples", ge=1, le=20)] = 5,
    ) -> list[dict[str, Any]]:
        """Library examples whose prompts resemble the query, with their programs and scores."""
        found = search_examples(current(ctx).store, query, limit=limit)
        each = LIMIT_CHARS // max(1, len(found))
        return [{"prompt": e.prompt, "program": clip(e.program, each), "scores": e.scores} for e in found]

    @server.tool(annotations=WRITES_IDEMPOTENT, meta=HEADLESS)
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
