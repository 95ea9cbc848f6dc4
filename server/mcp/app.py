"""``create_server``: one factory that registers every avmine tool on an MCP server.

Each tool is a small function over the shared state (the store and a warm executor), with
described parameters; its docstring is its description. Errors an agent can fix come back as
tool errors with the message; the server keeps serving.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field
from scipy.spatial.transform import Rotation

from atomic import docs
from atomic.program import ProgramError, prepare
from atomic.scenario import timestamps as scenario_timestamps
from evaluation.score_runs import score_stored_run
from server.executor import Executor, LogSelection, policy
from server.executor.diagnostics import diagnose
from server.mcp.guidance import MINE_WORKFLOW, SCREEN_WORKFLOW, SEMANTIC_RULES
from server.mcp.sql import describe_tables, run_query
from server.mcp.statistics import category_statistics
from server.render.bev import BevView, render_bev
from store import Store, StoreError
from store.library import save_example as save_example_to
from store.library import search_examples, submit_final_program
from store.runs import load_run

INSTRUCTIONS = (
    "avmine mines driving scenarios from Argoverse 2 logs. Write a RefAV-style program from the atomic "
    "functions (search_docs, get_function_docs), run it with execute_scenario, read the diagnostics, "
    "refine. The referred objects are the first objects the prompt mentions."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


@dataclass
class State:
    """What the tools share for the server's lifetime."""

    store: Store
    executor: Executor
    reveal_ground_truth: bool = False
    """Show concrete false positives and misses in scores (a person exploring; never headless agents)."""


class FunctionSummary(BaseModel):
    """One atomic function in a listing."""

    name: str
    kind: str
    summary: str


class RunSummary(BaseModel):
    """The outcome of a run, for an agent."""

    run_id: str
    status: str
    seconds: float
    diagnostics: str = Field(description="compact text: what was found per log and what looks wrong")
    per_log: list[dict[str, Any]] = Field(description="status, counts and error per log")


def create_server(db_path: Path | str, reveal_ground_truth: bool = False) -> MCPServer[State]:
    """The avmine MCP server over the database at ``db_path``.

    Args:
        db_path: the database.
        reveal_ground_truth: let score_run list the concrete false positives and misses (only for a
            person's own exploration: an agent could otherwise copy the answers).
    """

    @asynccontextmanager
    async def lifespan(_: MCPServer[State]) -> AsyncIterator[State]:
        store = Store.open(db_path)
        executor = Executor(store)
        try:
            yield State(store, executor, reveal_ground_truth)
        finally:
            executor.close()
            store.close()

    server: MCPServer[State] = MCPServer("avmine", instructions=INSTRUCTIONS, lifespan=lifespan)

    def current(ctx: Context[State, Any]) -> State:
        state: State = ctx.request_context.lifespan_context
        return state

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
        return "\n\n".join(registry[n].render() for n in names)

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

    @server.tool(annotations=READ_ONLY)
    def list_logs(
        ctx: Context[State, Any],
        split: Annotated[str | None, Field(description="only this split (train, val, test)")] = None,
    ) -> str:
        """The logs in the store: id, split, city, duration and tracks."""
        where = "WHERE split = ?" if split else ""
        rows = current(ctx).store.query_df(
            f"SELECT log_id, split, city, round((end_ns - start_ns) / 1e9, 1) AS seconds FROM logs {where} "
            "ORDER BY split, log_id",
            [split] if split else [],
        )
        return rows.to_string(index=False) if not rows.empty else f"No logs{' in split ' + split if split else ''}."

    @server.tool(annotations=READ_ONLY)
    def describe_schema(ctx: Context[State, Any]) -> str:
        """The tables query_logs can read (logs, boxes, ego poses, maps, prompts) and their columns, with units."""
        return (
            "Frames and units: *_ego_m in the ego frame at that timestamp, *_city_m in the city frame, metres; "
            "yaw in radians; v*_city_mps in m/s; timestamp_ns in nanoseconds. Ground truth is not queryable.\n"
            + describe_tables(current(ctx).store)
        )

    @server.tool(annotations=READ_ONLY)
    def query_logs(
        ctx: Context[State, Any],
        sql: Annotated[str, Field(description="one SELECT over the tables of describe_schema")],
        max_rows: Annotated[int, Field(description="at most this many rows", ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Read-only SQL over the log tables (one SELECT; 10 s limit; ground truth is not queryable)."""
        try:
            result = run_query(current(ctx).store, sql, max_rows=max_rows)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        rows = [[value if isinstance(value, int | float | str | None) else str(value) for value in row]
                for row in result.rows]  # fmt: skip
        return {"columns": result.columns, "rows": rows, "truncated": result.truncated}

    @server.tool(annotations=READ_ONLY)
    def log_statistics(
        ctx: Context[State, Any],
        log_id: Annotated[str | None, Field(description="only this log")] = None,
        split: Annotated[str | None, Field(description="only logs of this split")] = None,
    ) -> str:
        """Per category: tracks, boxes, median and p95 speed (m/s), median length (m), median distance to ego (m).

        Use it to pick thresholds that fit the data (how fast "fast" is, how far "near" is).
        """
        state_now = current(ctx)
        table = category_statistics(state_now.store, state_now.executor.source, log_id, split)
        if table.empty:
            raise ToolError("no boxes match; list_logs shows the logs and splits in the store.")
        return str(table.to_string(index=False))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=True, open_world_hint=False))
    def execute_scenario(
        ctx: Context[State, Any],
        program: Annotated[str, Field(description="a RefAV-style program ending with output_scenario(...)")],
        prompt: Annotated[str, Field(description="the natural-language prompt; bound as description")],
        logs: Annotated[list[str] | None, Field(description="log ids (default: every log)")] = None,
        split: Annotated[str | None, Field(description="every log of this split")] = None,
        expected_category: Annotated[
            str | None, Field(description="the category the prompt refers to, to check the result against")
        ] = None,
    ) -> RunSummary:
        """Run a scenario program in the sandbox over logs; returns a run id and diagnostics to refine it."""
        state_now = current(ctx)
        try:
            execution = state_now.executor.run(program, prompt, LogSelection(tuple(logs or ()), split), origin="mcp")
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        report = diagnose(state_now.store, execution, state_now.executor.source, expected_category)
        return RunSummary(
            run_id=execution.run_id,
            status=execution.status,
            seconds=round(execution.seconds, 3),
            diagnostics=report.text(),
            per_log=report.per_log,
        )

    @server.tool(annotations=READ_ONLY)
    def get_run(
        ctx: Context[State, Any], run_id: Annotated[str, Field(description="a run id from execute_scenario")]
    ) -> dict[str, Any]:
        """A stored run: prompt, program, status and per-log results (referred tracks and timestamps)."""
        state_now = current(ctx)
        state_now.executor.flush()
        try:
            record, results = load_run(state_now.store, run_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return {
            "run": {
                k: str(v) for k, v in record.items() if k in ("run_id", "prompt", "program", "status", "created_at")
            },
            "logs": [
                {"log_id": r.log_id, "status": r.status, "error": r.error, "referred_tracks": len(r.scenario or {})}
                for r in results
            ],
        }

    @server.tool(annotations=READ_ONLY)
    def inspect_track(
        ctx: Context[State, Any],
        run_id: Annotated[str, Field(description="a run id from execute_scenario")],
        log_id: Annotated[str, Field(description="the log")],
        track_uuid: Annotated[str, Field(description="a track of that log")],
        every: Annotated[int, Field(description="show every n-th annotation timestamp", ge=1)] = 5,
    ) -> str:
        """One track over time: whether the run referred it, speed, heading, position relative to the ego, lane."""
        state_now = current(ctx)
        state_now.executor.flush()
        try:
            _, results = load_run(state_now.store, run_id)
            arrays = state_now.store.load_arrays(log_id, state_now.executor.source)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        uuids = [str(u) for u in arrays.track_uuids]
        if track_uuid not in uuids:
            raise ToolError(f"track {track_uuid} is not in log {log_id}; get_run lists a run's referred tracks.")
        scenario = next((r.scenario for r in results if r.log_id == log_id and r.scenario), None) or {}
        referred = {int(t) for t in scenario_timestamps(scenario.get(track_uuid, []))}
        track = uuids.index(track_uuid)
        rows = range(int(arrays.track_start[track]), int(arrays.track_start[track + 1]))
        lanes_file = arrays.log_dir / "boxes" / arrays.source / "row_lane.npy"
        lanes = np.load(lanes_file) if lanes_file.is_file() else None
        lines = [f"{track_uuid} ({arrays.track_categories[track]}), {len(rows)} timestamps, "
                 f"referred at {len(referred)} of them"]  # fmt: skip
        lines.append("  t(s)  referred  speed(m/s)  heading(deg)  ahead_of_ego(m)  left_of_ego(m)  lane")
        first_ns = int(arrays.row_timestamp_ns[rows.start])
        for row in rows[::every]:
            time_index = int(arrays.row_time_index[row])
            offset = np.asarray(arrays.xyz_city[row]) - np.asarray(arrays.ego_xyz_city[time_index])
            ego_heading = Rotation.from_quat(np.asarray(arrays.ego_quat_city[time_index]), scalar_first=True)
            ahead, left = ego_heading.inv().apply(offset)[:2]
            speed = float(np.linalg.norm(np.asarray(arrays.velocity_city[row])[:2]))
            stamp = int(arrays.row_timestamp_ns[row])
            lane = int(lanes[row]) if lanes is not None and lanes[row] >= 0 else "-"
            lines.append(
                f"  {(stamp - first_ns) / 1e9:5.1f}  {'yes' if stamp in referred else 'no':>8}  {speed:10.2f}  "
                f"{np.degrees(float(arrays.yaw_city[row])):12.0f}  {ahead:15.1f}  {left:14.1f}  {lane}"
            )
        return "\n".join(lines)

    @server.tool(annotations=READ_ONLY)
    def score_run(
        ctx: Context[State, Any], run_id: Annotated[str, Field(description="a run id from execute_scenario")]
    ) -> dict[str, Any]:
        """Score a run against ground truth: HOTA-Temporal, HOTA-Track, Timestamp BA, Log BA, per log.

        Uses every ground-truth log of the run's prompt, negative logs included (logs the run did not
        cover count as finding nothing). Refused for prompts without labels (e.g. the test split).
        """
        state_now = current(ctx)
        state_now.executor.flush()
        try:
            score = score_stored_run(state_now.store, run_id, reveal=state_now.reveal_ground_truth)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return {"metrics": score.metrics, "per_log": score.per_log, "logs_not_run": score.not_run}

    @server.tool(annotations=READ_ONLY)
    def render_log(
        ctx: Context[State, Any],
        log_id: Annotated[str, Field(description="the log")],
        timestamp_index: Annotated[
            int | None, Field(description="which annotation timestamp (0-based; default the middle one)")
        ] = None,
        radius_m: Annotated[float, Field(description="half-width of the view around the ego, metres", gt=5)] = 60.0,
    ) -> Image:
        """A bird's-eye view of a log at one timestamp: lanes, crossings, boxes by category, 3 s trails."""
        state_now = current(ctx)
        try:
            arrays = state_now.store.load_arrays(log_id, state_now.executor.source)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        count = len(arrays.timestamps_ns)
        index = count // 2 if timestamp_index is None else timestamp_index
        if not 0 <= index < count:
            raise ToolError(f"timestamp_index {index} is outside 0..{count - 1} for log {log_id}.")
        with tempfile.TemporaryDirectory() as tmp:
            picture = render_bev(arrays, BevView(time_index=index, radius_m=radius_m), Path(tmp) / "bev.png")
            return Image(data=picture.read_bytes(), format="png")

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False, open_world_hint=False))
    def save_example(
        ctx: Context[State, Any],
        prompt: Annotated[str, Field(description="the prompt the program answers")],
        program: Annotated[str, Field(description="the program")],
        run_id: Annotated[str | None, Field(description="a scored run of this program, for its scores")] = None,
    ) -> str:
        """Save a prompt -> program pair to the few-shot library (with the run's scores when it has ground truth)."""
        state_now = current(ctx)
        scores: dict[str, float] = {}
        if run_id:
            state_now.executor.flush()
            try:
                scores = score_stored_run(state_now.store, run_id).metrics
            except StoreError:
                scores = {}  # no ground truth for it: saved without scores
        example_id = save_example_to(state_now.store, prompt, program, scores, {"run_id": run_id, "origin": "mcp"})
        return f"saved example {example_id}" + (f" with scores {scores}" if scores else " (no scores)")

    @server.tool(annotations=READ_ONLY)
    def search_library(
        ctx: Context[State, Any],
        query: Annotated[str, Field(description="a prompt or words to find similar solved prompts")],
    ) -> list[dict[str, Any]]:
        """Library examples whose prompts resemble the query, with their programs and scores."""
        found = search_examples(current(ctx).store, query)
        return [{"prompt": e.prompt, "program": e.program, "scores": e.scores} for e in found]

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=True, open_world_hint=False))
    def submit_program(
        ctx: Context[State, Any],
        prompt: Annotated[str, Field(description="the prompt")],
        program: Annotated[str, Field(description="the final program for it")],
    ) -> str:
        """Submit the final program for a prompt (headless runs): it is checked, then recorded as the answer."""
        try:
            prepare(program, check=policy.enforce)
        except (ProgramError, policy.PolicyError) as exc:
            raise ToolError(f"not submitted: {exc}") from exc
        submit_final_program(current(ctx).store, prompt, program, origin="mcp")
        return f"submitted the final program for {prompt!r}"

    @server.resource("avmine://docs/functions", mime_type="text/plain", description="every atomic function's docs")
    def functions_resource() -> str:
        return "\n\n".join(entry.render() for entry in docs.registry().values())

    @server.resource(
        "avmine://docs/categories", mime_type="application/json", description="category names and meanings"
    )
    def categories_resource() -> str:
        return json.dumps(docs.categories(), indent=1)

    @server.prompt(description="the workflow for mining one scenario, with the semantic rules")
    def mine_scenario(prompt: str) -> str:
        return MINE_WORKFLOW.format(prompt=prompt, rules=SEMANTIC_RULES)

    @server.prompt(description="screen a train prompt for the few-shot library")
    def screen_prompt(prompt: str, threshold: float = 0.8, attempts: int = 5) -> str:
        return SCREEN_WORKFLOW.format(prompt=prompt, threshold=threshold, attempts=attempts, rules=SEMANTIC_RULES)

    return server
