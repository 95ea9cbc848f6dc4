"""Data tools: which logs there are, what the tables hold, read-only SQL and canned statistics."""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from avmine.server.mcp.paging import LIMIT_CHARS, paginate
from avmine.server.mcp.sql import describe_tables, run_query
from avmine.server.mcp.state import HEADLESS, READ_ONLY, SourceArgument, State, answer, current
from avmine.server.mcp.statistics import category_statistics
from avmine.store import StoreError, ids
from avmine.store import sources as track_sources
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.sources import Refinement, SourceSummary

SCHEMA_PREAMBLE = (
    "Frames and units: *_ego_m in the ego frame at that timestamp, *_city_m in the city frame, metres; "
    "yaw in radians; v*_city_mps in m/s; timestamp_ns in nanoseconds. Ground truth is not queryable. "
    "box_provenance: per box of a refined source, its parent source's track at that timestamp, or interpolated; "
    "refinements: how each refined log was made (JSON steps, parameters, counts).\n"
)
Cursor = Annotated[str | None, Field(description="from the previous page's last line, for the next page")]


class RefinementInfo(BaseModel):
    """How a refined source's logs were made."""

    parent_source: str = Field(description="the source it was refined from")
    steps: list[str] = Field(description="the refinement steps, in running order")
    parameters: dict[str, Any] = Field(description="every parameter, SI units")
    logs: int = Field(description="logs refined this way")
    changes: dict[str, int] = Field(description="what the steps changed over these logs (tracks before/after, ...)")


class SourceInfo(BaseModel):
    """One track source."""

    name: str
    kind: str = Field(description="annotations (the logs' labels), tracker (ingested from a file) or refined")
    logs: int
    logs_per_split: dict[str, int]
    tracks: int
    boxes: int
    files: list[str] = Field(description="a tracker's: the files its boxes were ingested from")
    more_files: int = Field(description="files left out of files")
    refinements: list[RefinementInfo] = Field(description="a refined source's: how it was made")
    derived: list[str] = Field(description="refined sources made from this one")


class SourceList(BaseModel):
    """The track sources in the store."""

    sources: list[SourceInfo]


def _info(summary: SourceSummary) -> SourceInfo:
    def made(r: Refinement) -> RefinementInfo:
        return RefinementInfo(parent_source=r.parent_source, steps=r.steps, parameters=r.parameters, logs=r.logs,
                              changes=r.changes)  # fmt: skip

    return SourceInfo(
        name=summary.name, kind=summary.kind, logs=summary.logs, logs_per_split=summary.logs_per_split,
        tracks=summary.tracks, boxes=summary.boxes, files=summary.files, more_files=summary.more_files,
        refinements=[made(r) for r in summary.refinements], derived=summary.derived,
    )  # fmt: skip


def _describe(source: SourceInfo) -> list[str]:
    splits = ", ".join(f"{split} {n}" for split, n in source.logs_per_split.items())
    lines = [f"{source.name} ({source.kind}): {source.logs} logs ({splits}), {source.tracks} tracks, "
             f"{source.boxes} boxes"]  # fmt: skip
    if source.kind == "annotations":
        lines.append("  the logs' own annotation files")
    for path in source.files:
        lines.append(f"  from {path}")
    if source.more_files:
        lines.append(f"  and {source.more_files} more files")
    for made in source.refinements:
        changes = made.changes
        lines.append(f"  refined from {made.parent_source} ({made.logs} logs): {', '.join(made.steps)}")
        if "tracks_before" in changes:
            done = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in changes.items()
                             if k not in ("tracks_before", "tracks_after") and v)  # fmt: skip
            lines.append(f"  tracks {changes['tracks_before']} -> {changes['tracks_after']}; {done or 'nothing else'}")
    if source.derived:
        lines.append(f"  refined into: {', '.join(source.derived)}")
    return lines


def register(server: MCPServer[State]) -> None:
    """Add list_logs, list_sources, describe_schema, query_logs and log_statistics."""

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def list_logs(
        ctx: Context[State, Any],
        split: Annotated[str | None, Field(description="only this split (train, val, test)")] = None,
        cursor: Cursor = None,
    ) -> str:
        """The logs in the store: id, split, city, duration (s) and tracks; a count per split first."""
        store = current(ctx).store
        where = "WHERE l.split = ?" if split else ""
        rows = store.query_df(
            f"""SELECT l.log_id, l.split, l.city, round((l.end_ns - l.start_ns) / 1e9, 1) AS seconds,
                       (SELECT count(DISTINCT track_uuid) FROM boxes b
                        WHERE b.log_id = l.log_id AND b.source = ?) AS tracks
                FROM logs l {where} ORDER BY l.split, l.log_id""",
            [ANNOTATIONS_SOURCE, *([split] if split else [])],
        )
        if rows.empty:
            return f"No logs{' in split ' + split if split else ''}; ingest some with `avmine ingest`."
        counts = rows.groupby("split").size()
        header = "logs per split: " + ", ".join(f"{name} {count}" for name, count in counts.items())
        lines = [f"{r.log_id}  {r.split:<5}  {r.city:<4}  {r.seconds:6.1f} s  {r.tracks} tracks"
                 for r in rows.itertuples()]  # fmt: skip
        return header + "\n" + paginate(lines, cursor).text()

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def list_sources(ctx: Context[State, Any]) -> Annotated[CallToolResult, SourceList]:
        """The track sources (the `source` of execute_scenario, log_statistics, render_bev) and how each was made.

        annotations: the logs' labels; tracker: a tracker's boxes, from a file; refined: derived from another
        source by avmine refine (steps, parameters, what changed). render_bev with compare_source shows one
        object's raw and refined tracks together.
        """
        sources = SourceList(sources=[_info(s) for s in track_sources.list_sources(current(ctx).store)])
        if not sources.sources:
            return answer(sources.model_dump(), "No track sources; ingest logs with `avmine ingest`.")
        text = "\n".join(line for source in sources.sources for line in _describe(source))
        return answer(sources.model_dump(), text)

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def describe_schema(ctx: Context[State, Any]) -> str:
        """The tables query_logs can read (logs, boxes, poses, maps, prompts, sources, provenance), columns, units."""
        return SCHEMA_PREAMBLE + describe_tables(current(ctx).store)

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def query_logs(
        ctx: Context[State, Any],
        sql: Annotated[str, Field(description="one SELECT over the tables of describe_schema; at most 20,000 chars")],
        max_rows: Annotated[int, Field(description="at most this many rows", ge=1, le=1000)] = 100,
    ) -> Annotated[CallToolResult, dict[str, Any]]:
        """Read-only SQL over the log tables (one SELECT; 10 s limit; ground truth is not queryable)."""
        try:
            result = run_query(current(ctx).store, sql, max_rows=max_rows)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        rows = [[value if isinstance(value, int | float | str | None) else str(value) for value in row]
                for row in result.rows]  # fmt: skip
        size, kept = 0, 0
        for row in rows:  # wide rows: keep the response within the client's limits
            size += len(json.dumps(row))
            if size > LIMIT_CHARS:
                break
            kept += 1
        truncated = result.truncated or kept < len(rows)
        lines = ["\t".join(result.columns)] + ["\t".join(str(value) for value in row) for row in rows[:kept]]
        if truncated:
            lines.append(f"[truncated at {kept} rows: add a LIMIT or aggregate]")
        return answer({"columns": result.columns, "rows": rows[:kept], "truncated": truncated}, "\n".join(lines))

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    def log_statistics(
        ctx: Context[State, Any],
        log_id: Annotated[str | None, Field(description="only this log (its id or a unique prefix)")] = None,
        split: Annotated[str | None, Field(description="only logs of this split")] = None,
        per_log: Annotated[bool, Field(description="one row per (log, category)")] = False,
        cursor: Cursor = None,
        source: SourceArgument = None,
    ) -> str:
        """Per category: tracks, boxes, speeds (m/s), sizes (m), track durations (s), distances to the ego (m).

        Use it to pick thresholds that fit the data (how fast "fast" is, how far "near" is).
        """
        state = current(ctx)
        try:
            log_id = None if log_id is None else ids.log_id(state.store, log_id)
            chosen = state.track_source(source)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        table = category_statistics(state.store, chosen, log_id, split, per_log)
        if table.empty:
            raise ToolError("no boxes match; list_logs shows the logs and splits in the store.")
        header, *lines = table.to_string(index=False).splitlines()
        return header + "\n" + paginate(lines, cursor).text()
