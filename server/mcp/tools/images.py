"""Image tools: a bird's-eye view of chosen tracks over a time window, returned and written to disk."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import anyio.to_thread
import numpy as np
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from pydantic import Field

from avmine.atomic.scenario import timestamps as scenario_timestamps
from avmine.server.mcp.state import HEADLESS, READ_ONLY, SourceArgument, State, current
from avmine.server.render import bev, compare
from avmine.store import StoreError, ids
from avmine.store.arrays import LogArrays
from avmine.store.provenance import lineage, refined_pair
from avmine.store.runs import load_run

MAX_HIGHLIGHTED = 12
"""More highlighted tracks than this make an unreadable picture."""


def register(server: MCPServer[State]) -> None:
    """Add render_bev (with a raw-versus-refined comparison)."""

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    async def render_bev(
        ctx: Context[State, Any],
        log_id: Annotated[str, Field(description="the log (or a unique prefix of its id)")],
        track_uuids: Annotated[
            list[str] | None, Field(description="tracks (or unique prefixes) to highlight with their paths")
        ] = None,
        run_id: Annotated[
            str | None, Field(description="highlight this run's referred tracks in the log (if no track_uuids)")
        ] = None,
        start_index: Annotated[int | None, Field(description="first annotation timestamp index of the window")] = None,
        end_index: Annotated[
            int | None, Field(description="last timestamp index: boxes are drawn here (default: window's end)")
        ] = None,
        radius_m: Annotated[float, Field(description="half-width of the view, metres", gt=5, le=500)] = 60.0,
        source: SourceArgument = None,
        compare_source: Annotated[
            str | None,
            Field(
                description="the refined source made from source, or source's parent (list_sources): draws the one "
                "track in track_uuids raw and refined together, whole tracks"
            ),
        ] = None,
    ) -> list[Image | str]:
        """Bird's-eye view: lanes, crossings, boxes by category with heading marks; chosen tracks magenta with paths.

        The title gives the time in seconds from the log's start; the view always holds the ego and chosen tracks.

        Without tracks: the scene around the ego at end_index (default the middle). With compare_source and one
        track: that object's raw boxes (dashed orange) and refined boxes (blue), interpolated ones red, linked
        through box provenance (fragments joined, tracks cut). The PNG is also written to disk; its path is returned.
        """
        state = current(ctx)
        if compare_source is not None:
            if run_id is not None or start_index is not None or end_index is not None:
                raise ToolError("compare_source draws whole tracks of one object: leave out run_id, start_index and "
                                "end_index, and give the track in track_uuids.")  # fmt: skip
            return await _comparison(state, log_id, track_uuids, source, compare_source)
        try:
            log_id = ids.log_id(state.store, log_id)
            arrays = state.store.load_arrays(log_id, state.track_source(source))
            highlight = _highlighted(state, arrays, track_uuids, run_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        view = _view(arrays, highlight, start_index, end_index, radius_m)
        digest = hashlib.sha256(repr((log_id, view)).encode()).hexdigest()[:12]
        out = state.image_dir / f"bev_{log_id[:8]}_{view.time_index}_{digest}.png"
        drawn = await anyio.to_thread.run_sync(lambda: bev.render_bev(arrays, view, out, title=log_id[:8]))
        named = ", ".join(str(arrays.track_uuids[t])[:8] for t in highlight) or "none"
        return [Image(data=out.read_bytes(), format="png"), f"{drawn.title}; saved to {out}; highlighted: {named}"]


async def _comparison(
    state: State, log_id: str, track_uuids: list[str] | None, source: str | None, compare_source: str
) -> list[Image | str]:
    try:
        log_id = ids.log_id(state.store, log_id)
        chosen, other = state.track_source(source), state.track_source(compare_source)
        pair = refined_pair(state.store, chosen, other)
        if pair is None:
            raise ToolError(
                f"neither '{chosen}' nor '{other}' was refined from the other, so their boxes are not linked; "
                "list_sources says which source was refined from which."
            )
        if not track_uuids or len(track_uuids) != 1:
            raise ToolError(f"compare_source draws one object: give its track (of source '{chosen}') in track_uuids.")
        arrays = {name: state.store.load_arrays(log_id, name) for name in pair}
        uuid = ids.track_uuid([str(u) for u in arrays[chosen].track_uuids], track_uuids[0], log_id)
        refined, parent = pair
        linked = lineage(state.store, refined, parent, log_id, uuid, track_is_refined=chosen == refined)
    except StoreError as exc:
        raise ToolError(str(exc)) from exc
    digest = hashlib.sha256(repr((log_id, linked)).encode()).hexdigest()[:12]
    out = state.image_dir / f"compare_{log_id[:8]}_{uuid[:8]}_{digest}.png"
    title = f"{log_id[:8]}  {uuid[:8]}: {parent} (raw) vs {refined} (refined)"
    drawn = await anyio.to_thread.run_sync(
        lambda: compare.render_comparison(arrays[parent], arrays[refined], linked, out, title)
    )
    gone = "none (no refined box came from it: refinement removed it, e.g. as a ghost)"
    text = (
        f"saved to {out}; raw tracks ({parent}): {', '.join(t[:8] for t in linked.parent_tracks) or 'none'}; "
        f"refined tracks ({refined}): {', '.join(t[:8] for t in linked.refined_tracks) or gone}; "
        f"{drawn.raw_boxes} raw boxes, {drawn.refined_boxes} refined boxes, {drawn.interpolated_boxes} interpolated"
    )
    return [Image(data=out.read_bytes(), format="png"), text]


def _highlighted(state: State, arrays: LogArrays, track_uuids: list[str] | None, run_id: str | None) -> tuple[int, ...]:
    uuids = [str(u) for u in arrays.track_uuids]
    if track_uuids:
        chosen = [ids.track_uuid(uuids, t, arrays.log_id) for t in track_uuids[:MAX_HIGHLIGHTED]]
        return tuple(uuids.index(t) for t in chosen)
    if run_id is None:
        return ()
    state.executor.flush()
    _, results = load_run(state.store, run_id)
    scenario = next((r.scenario for r in results if r.log_id == arrays.log_id), None)
    if scenario is None:
        raise ToolError(f"run {run_id} has no result for log {arrays.log_id}; get_run lists its logs.")
    referred = [t for t, value in scenario.items() if len(scenario_timestamps(value)) and t in uuids]
    return tuple(uuids.index(t) for t in referred[:MAX_HIGHLIGHTED])


def _view(
    arrays: LogArrays, highlight: tuple[int, ...], start: int | None, end: int | None, radius_m: float
) -> bev.BevView:
    count = len(arrays.timestamps_ns)
    for name, index in (("start_index", start), ("end_index", end)):
        if index is not None and not 0 <= index < count:
            raise ToolError(f"{name} {index} is outside 0..{count - 1} for log {arrays.log_id}.")
    if not highlight:
        at = count // 2 if end is None else end
        return bev.BevView(time_index=at, radius_m=radius_m, start_index=start)
    rows = np.flatnonzero(np.isin(arrays.row_track, highlight))
    times = arrays.row_time_index[rows]
    first = int(times.min()) if start is None else start
    last = int(times.max()) if end is None else end
    if first > last:
        raise ToolError(f"start_index {first} is after end_index {last}.")
    shown = rows[(times >= first) & (times <= last)]
    if not len(shown):
        raise ToolError(f"the highlighted tracks are not observed between indices {first} and {last}.")
    low, high = arrays.xyz_city[shown, :2].min(0), arrays.xyz_city[shown, :2].max(0)
    radius = max(radius_m, float((high - low).max()) / 2 + 10.0)  # keep every highlighted path in view
    centre = (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2)
    return bev.BevView(time_index=last, radius_m=radius, highlight=highlight, start_index=first, centre=centre)
