"""Execution tools: run a program over logs (with progress and cancellation), show a run, follow a track."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field
from scipy.spatial.transform import Rotation

from avmine.atomic.scenario import timestamps as scenario_timestamps
from avmine.atomic.trace import count
from avmine.server.executor import LogSelection
from avmine.server.executor.diagnostics import MAX_ERRORS_SHOWN, diagnose, distinct_errors
from avmine.server.executor.printed import PER_LOG_CHARS, printed_lines, program_output
from avmine.server.executor.trace_report import trace_json, trace_lines
from avmine.server.mcp.paging import LIMIT_CHARS, clip, paginate, start_of
from avmine.server.mcp.state import (
    HEADLESS,
    READ_ONLY,
    WRITES_IDEMPOTENT,
    SourceArgument,
    State,
    answer,
    current,
    report_progress_from_thread,
)
from avmine.store import StoreError, ids
from avmine.store.runs import load_run

RunId = Annotated[str, Field(description="a run id from execute_scenario (or a unique prefix of it)")]
LISTED_TRACKS = 20
"""get_run lists at most this many referred tracks per log (the most referred timestamps first)."""


class RunSummary(BaseModel):
    """The outcome of a run, for an agent."""

    run_id: str
    status: str = Field(description="ok, partial, failed, rejected or cancelled")
    seconds: float
    diagnostics: str = Field(description="compact text: what was found per log and what looks wrong")
    per_log: list[dict[str, Any]] = Field(description="status, counts and error per log")
    more_logs: int = Field(0, description="logs left out of per_log to bound the response (see get_run)")
    sandbox: dict[str, Any] = Field(
        default_factory=dict, description="the sandbox the programs ran in: its mode and whether each layer was active"
    )
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="each distinct error once, with the logs it hit"
    )
    trace: dict[str, Any] = Field(
        default_factory=dict,
        description="per atomic call (line, call): objects with at least one timestamp and their timestamps it kept, "
        "summed over the logs (per log for a few logs); first_emptied_logs: where it first emptied an empty answer",
    )
    printed: dict[str, str] = Field(
        default_factory=dict, description="the program's own output (print), per log, bounded per log and in total"
    )


def register(server: MCPServer[State]) -> None:
    """Add execute_scenario, get_run and inspect_track."""

    @server.tool(annotations=WRITES_IDEMPOTENT, meta=HEADLESS)
    async def execute_scenario(
        ctx: Context[State, Any],
        program: Annotated[str, Field(description="a RefAV-style program ending with output_scenario(...)")],
        prompt: Annotated[str, Field(description="the natural-language prompt; bound as description")],
        logs: Annotated[list[str] | None, Field(description="log ids or unique prefixes (default: every log)")] = None,
        split: Annotated[str | None, Field(description="every log of this split")] = None,
        expected_category: Annotated[
            str | None, Field(description="the category the prompt refers to, to check the result against")
        ] = None,
        source: SourceArgument = None,
    ) -> Annotated[CallToolResult, RunSummary]:
        """Run a scenario program in the sandbox over logs; returns a run id and diagnostics to refine it.

        Sends progress per log; a cancelled call stops its programs.
        """
        state = current(ctx)
        token = anyio.lowlevel.current_token()
        cancel = threading.Event()

        def progress(done: int, total: int, log_id: str) -> None:
            report_progress_from_thread(ctx, token, done, total, f"{done}/{total} logs")

        def work() -> CallToolResult:
            selection = LogSelection(tuple(logs or ()), split)
            chosen = state.track_source(source)
            execution = state.executor.run(program, prompt, selection, "mcp", progress, cancel, chosen)
            report = diagnose(state.store, execution, chosen, expected_category)
            shown = paginate([str(row) for row in report.per_log], None, LIMIT_CHARS // 2)
            printed = program_output(execution.results)
            summary = RunSummary(
                run_id=execution.run_id,
                status=execution.status,
                seconds=round(execution.seconds, 3),
                diagnostics=clip(report.text(), LIMIT_CHARS // 2),
                per_log=report.per_log[: len(shown.items)],
                more_logs=shown.total - len(shown.items),
                sandbox=execution.layers,
                errors=report.errors[:MAX_ERRORS_SHOWN],
                trace=report.trace,
                printed=printed,
            )
            text = "\n".join(
                [
                    f"run {summary.run_id}: {summary.status} in {summary.seconds:.2f} s",
                    summary.diagnostics,
                    *printed_lines(printed, execution.results),
                ]
            )
            failed = execution.status in ("failed", "partial", "rejected")  # the program's error: a tool error
            return answer(summary.model_dump(), text, error=failed)

        try:
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.set()  # the client cancelled: stop the programs, the run is recorded as cancelled
            raise
        except StoreError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def get_run(
        ctx: Context[State, Any],
        run_id: RunId,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> Annotated[CallToolResult, dict[str, Any]]:
        """A stored run: prompt, program, status and per-log results (referred tracks, errors, trace, output), paged.

        Ids may be given as the 8-character prefixes shown here, wherever a tool takes one.
        """
        state = current(ctx)
        state.executor.flush()
        try:
            record, results = load_run(state.store, run_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        printed = program_output(results, total_chars=len(results) * PER_LOG_CHARS)  # paged: each log's bound only
        rows = [
            {"log_id": r.log_id, "status": r.status, "error": clip(r.error, 1500) if r.error else None,
             "referred_tracks": count(r.scenario)[0], **_referred(r.scenario),
             "trace": trace_json([r], with_logs=False)["steps"] if r.trace else [],
             "printed": printed.get(r.log_id, "")}
            for r in results
        ]  # fmt: skip
        distinct_errors(rows)  # an error repeated across logs is given in full once
        by_log = {r.log_id: r for r in results}
        start = start_of(cursor, len(rows))
        page = paginate([str(row) for row in rows[start:]], None, LIMIT_CHARS // 2)
        end = start + len(page.items)
        run = {k: str(v) for k, v in record.items() if k in ("run_id", "prompt", "status", "created_at")}
        run["program"] = clip(str(record["program"]), LIMIT_CHARS // 4)
        next_cursor = str(end) if end < len(rows) else None
        lines = [f"run {run['run_id']} ({run['status']}, {run['created_at']}) for {run['prompt']!r}:", run["program"]]
        for r in rows[start:end]:
            lines.append(f"  {r['log_id']} {r['status']:<9} {r['referred_tracks']} tracks  {r['error'] or ''}".rstrip())
            if r["tracks"]:
                more = f" and {r['more_tracks']} more" if r["more_tracks"] else ""
                lines.append(f"    referred: {' '.join(t[:8] for t in r['tracks'])}{more}")
            lines += [f"  {line}" for line in trace_lines([by_log[r["log_id"]]])]
            if r["printed"]:
                lines += [f"  {line}" for line in printed_lines({r["log_id"]: r["printed"]}, [by_log[r["log_id"]]])]
        if next_cursor:
            lines.append(f"[{len(rows) - end} more logs; call again with cursor='{next_cursor}']")
        return answer({"run": run, "logs": rows[start:end], "next_cursor": next_cursor}, "\n".join(lines))

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def inspect_track(
        ctx: Context[State, Any],
        run_id: RunId,
        log_id: Annotated[str, Field(description="the log (or a unique prefix of its id)")],
        track_uuid: Annotated[str, Field(description="a track of that log (or a unique prefix, as get_run shows)")],
        every: Annotated[int, Field(description="show every n-th annotation timestamp", ge=1)] = 5,
    ) -> str:
        """One track over time: whether the run referred it, speed, heading, position relative to the ego, lane."""
        state = current(ctx)
        state.executor.flush()
        try:
            record, results = load_run(state.store, run_id)
            log_id = ids.log_id(state.store, log_id)
            arrays = state.store.load_arrays(log_id, str(record["source"]))  # the boxes the run's program saw
            uuids = [str(u) for u in arrays.track_uuids]
            track_uuid = ids.track_uuid(uuids, track_uuid, log_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
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
        return clip("\n".join(lines))


def _referred(scenario: dict[str, Any] | None) -> dict[str, Any]:
    """The tracks a result refers to at some timestamp, the most referred first, and how many are left out."""
    counts = {uuid: len(scenario_timestamps(value)) for uuid, value in (scenario or {}).items()}
    ranked = sorted((uuid for uuid, n in counts.items() if n), key=lambda uuid: -counts[uuid])
    return {"tracks": ranked[:LISTED_TRACKS], "more_tracks": max(len(ranked) - LISTED_TRACKS, 0)}
