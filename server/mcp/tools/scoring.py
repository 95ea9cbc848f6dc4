"""Scoring tool: a run's metrics against ground truth, never the answers themselves unless a person asked."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from avmine.evaluation.guarded_scoring import prompt_hold_out, score_for_refinement
from avmine.server.mcp.paging import LIMIT_CHARS, paginate
from avmine.server.mcp.state import READ_ONLY, SCREENING, State, answer, current
from avmine.store import StoreError


def register(server: MCPServer[State]) -> None:
    """Add score_run."""

    @server.tool(annotations=READ_ONLY, meta=SCREENING)
    async def score_run(
        ctx: Context[State, Any], run_id: Annotated[str, Field(description="a run id from execute_scenario")]
    ) -> Annotated[CallToolResult, dict[str, Any]]:
        """Score a run against ground truth: HOTA-Temporal, HOTA-Track, Timestamp BA, Log BA, per log.

        Uses the ground-truth logs of the run's prompt, negatives included (logs the run did not cover
        count as finding nothing), except the held-out half: the few-shot library admits programs on
        those. A prompt with one ground-truth log is scored on it, and from then on save_example no
        longer admits a program for it (save_example first if you want it in the library). Which
        tracks were wrong is told only by a server started with --reveal-ground-truth. Refused for
        prompts without labels (e.g. the test split), for programs that hard-code ids or pick tracks
        by id text or position (filter with atomic functions instead), and once the prompt's runs were
        scored as often as the server allows (its scoring budget).
        """
        state = current(ctx)

        def work() -> Any:
            state.executor.flush()
            score = score_for_refinement(state.store, run_id, state.scoring_budget, reveal=state.reveal_ground_truth,
                                         keep_single_log=state.keep_single_log)  # fmt: skip
            return score, len(prompt_hold_out(state.store, score.prompt).held_out)

        try:
            score, held_out = await anyio.to_thread.run_sync(work)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        shown = paginate([str(row) for row in score.per_log], None, LIMIT_CHARS // 2)
        structured = {
            "metrics": score.metrics,
            "per_log": score.per_log[: len(shown.items)],
            "more_logs": shown.total - len(shown.items),
            "logs_not_run": score.not_run[:100],
            "held_out_logs": held_out,
        }
        lines = [", ".join(f"{name} {value:.3f}" for name, value in score.metrics.items())]
        lines += [str(row) for row in structured["per_log"]]
        if score.not_run:
            lines.append(f"{len(score.not_run)} ground-truth log(s) not in the run count as finding nothing")
        if not held_out:
            lines.append(
                "every ground-truth log of this prompt has now been scored for refinement, so the few-shot library "
                "no longer admits a program for it (save_example refuses); submit_program records the final one."
            )
        return answer(structured, "\n".join(lines))
