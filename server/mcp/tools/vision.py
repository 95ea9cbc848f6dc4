"""Vision tools: camera views of a track, a VLM function over a run's tracks, a VLM verdict on a scene.

Images come back to the agent (a multimodal agent can judge them itself) and are written to disk.
Without a configured VLM the tools still return the images, and say how to configure one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import anyio.lowlevel
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from PIL.Image import Image as PilImage
from pydantic import Field

from avmine.atomic.scenario import timestamps as scenario_timestamps
from avmine.server.mcp.state import HEADLESS, READ_ONLY, State, current, report_progress_from_thread
from avmine.store import StoreError, ids
from avmine.store.arrays import LogArrays
from avmine.store.runs import LogResult, load_run
from avmine.vlm.backends import VlmUnavailableError
from avmine.vlm.cameras import RING_CAMERAS
from avmine.vlm.frames import FrameError
from avmine.vlm.functions import FUNCTIONS, evaluate, spread, track_view
from avmine.vlm.overlay import panel, track_tiles
from avmine.vlm.verify import scene_panel
from avmine.vlm.verify import verify_scene as judge_scene

ASKS_MODEL = READ_ONLY.model_copy(update={"read_only_hint": False, "idempotent_hint": True})
"""VLM answers are cached in the store: a write, and asking again gives the same answer."""


def _save(state: State, image: PilImage, name: str) -> tuple[Image, Path]:
    state.image_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(image.tobytes()).hexdigest()[:12]
    path = state.image_dir / f"{name}_{digest}.png"
    image.save(path)
    return Image(path=path), path


def _log_results(state: State, run_id: str, log_id: str | None) -> list[LogResult]:
    state.executor.flush()
    _, results = load_run(state.store, run_id)
    log_id = None if log_id is None else ids.log_id(state.store, log_id)
    chosen = [r for r in results if r.scenario and (log_id is None or r.log_id == log_id)]
    if log_id is not None and not any(r.log_id == log_id for r in results):
        raise ToolError(f"run {run_id} did not run on log {log_id}; get_run lists its logs.")
    return chosen


def _arrays(state: State, log_id: str) -> LogArrays:
    try:
        return state.store.load_arrays(ids.log_id(state.store, log_id), state.executor.source)
    except StoreError as exc:
        raise ToolError(str(exc)) from exc


def register(server: MCPServer[State]) -> None:
    """Add render_camera_views, vlm_check and verify_scene."""

    @server.tool(annotations=READ_ONLY, meta=HEADLESS)
    async def render_camera_views(
        ctx: Context[State, Any],
        log_id: Annotated[str, Field(description="the log (or a unique prefix of its id)")],
        track_uuid: Annotated[str, Field(description="the track (or a unique prefix) to show, boxed in magenta")],
        time_indices: Annotated[
            list[int] | None, Field(description="annotation timestamp indices (default: 3 spread over the track)")
        ] = None,
        cameras: Annotated[
            list[str] | None, Field(description="ring cameras to use (default: the one seeing the box best)")
        ] = None,
    ) -> list[Image | str]:
        """Camera views of a track with its 3D box drawn, as one labelled panel (synthetic where no images)."""
        state = current(ctx)
        arrays = _arrays(state, log_id)
        log_id = arrays.log_id
        uuids = [str(u) for u in arrays.track_uuids]
        try:
            track_uuid = ids.track_uuid(uuids, track_uuid, log_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        if cameras and (unknown := sorted(set(cameras) - set(RING_CAMERAS))):
            raise ToolError(f"unknown camera(s) {', '.join(unknown)}; cameras: {', '.join(RING_CAMERAS)}")
        track = uuids.index(track_uuid)
        rows = range(int(arrays.track_start[track]), int(arrays.track_start[track + 1]))
        observed = sorted({int(arrays.row_time_index[r]) for r in rows})
        chosen = time_indices or spread(observed, 3)
        source = state.source_path(log_id)

        def draw() -> PilImage:
            if cameras:
                tiles = track_tiles(arrays, track, chosen, cameras, source)
            else:
                tiles = [t for t in (track_view(arrays, track, i, source) for i in chosen) if t]
            if not tiles:
                which = "those cameras" if cameras else "any camera"
                raise ToolError(f"the track is not in view of {which} at timestamp indices {chosen} "
                                f"(observed from {observed[0]} to {observed[-1]}).")  # fmt: skip
            return panel(tiles)

        try:
            image = await anyio.to_thread.run_sync(draw)
        except FrameError as exc:
            raise ToolError(str(exc)) from exc
        picture, path = _save(state, image, f"cameras_{log_id[:8]}_{track_uuid[:8]}")
        return [picture, f"saved to {path}; timestamp indices {chosen}"]

    @server.tool(annotations=ASKS_MODEL, meta=HEADLESS)
    async def vlm_check(
        ctx: Context[State, Any],
        run_id: Annotated[str, Field(description="a run id from execute_scenario")],
        function: Annotated[str, Field(description=f"one of: {', '.join(FUNCTIONS)}")],
        value: Annotated[
            str | None, Field(description="the function's argument, e.g. 'police car', 'red', 'walking'")
        ] = None,
        log_id: Annotated[str | None, Field(description="only this log")] = None,
        max_tracks: Annotated[int, Field(description="at most this many referred tracks", ge=1, le=50)] = 8,
    ) -> list[Image | str]:
        """Ask the VLM a visual question about a run's referred tracks; shows which it keeps and when."""
        state = current(ctx)
        if function not in FUNCTIONS:
            raise ToolError(f"unknown VLM function {function!r}; VLM functions: {', '.join(FUNCTIONS)}")
        try:
            results = _log_results(state, run_id, log_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        jobs = [(r.log_id, uuid, sorted(int(t) for t in scenario_timestamps(v)))
                for r in results for uuid, v in (r.scenario or {}).items()][:max_tracks]  # fmt: skip
        if not jobs:
            return ["The run referred no tracks" + (f" in log {log_id}" if log_id else "") + ": nothing to check."]
        try:
            service = state.vlm()
        except VlmUnavailableError as exc:  # still show what the VLM would see
            log, uuid, stamps = jobs[0]
            arrays = _arrays(state, log)
            index_of = {int(t): i for i, t in enumerate(arrays.timestamps_ns)}
            track = [str(u) for u in arrays.track_uuids].index(uuid)
            times = spread([index_of[t] for t in stamps if t in index_of], 3)
            source = state.source_path(log)
            tiles = await anyio.to_thread.run_sync(
                lambda: [t for t in (track_view(arrays, track, i, source) for i in times) if t]
            )
            shown = [_save(state, panel(tiles), f"vlm_{log[:8]}_{uuid[:8]}")[0]] if tiles else []
            return [*shown, f"{exc}\nThe panel shows the first track as the VLM would see it."]
        token = anyio.lowlevel.current_token()

        def work() -> list[str]:
            lines = []
            for done, (log, uuid, stamps) in enumerate(jobs, 1):
                arrays = state.store.load_arrays(log, state.executor.source)
                kept = evaluate(function, {uuid: stamps}, arrays, service, value, state.source_path(log))
                share = len(kept.get(uuid, [])) / len(stamps)
                lines.append(f"{log[:8]} {uuid}: kept {len(kept.get(uuid, []))} of {len(stamps)} timestamps"
                             f" ({share:.0%})")  # fmt: skip
                report_progress_from_thread(ctx, token, done, len(jobs), uuid[:8])
            return lines

        try:
            lines = await anyio.to_thread.run_sync(work)
        except (ValueError, VlmUnavailableError) as exc:
            raise ToolError(str(exc)) from exc
        header = f"{function}({value!r}) with {service.backend.model_id}, {len(jobs)} track(s):"
        return ["\n".join([header, *lines])]

    @server.tool(annotations=ASKS_MODEL, meta=HEADLESS)
    async def verify_scene(
        ctx: Context[State, Any],
        run_id: Annotated[str, Field(description="a run id from execute_scenario")],
        log_id: Annotated[str, Field(description="the log whose result to judge")],
    ) -> list[Image | str]:
        """A VLM's yes/no on whether a run's result in a log shows the prompt, with the panel it judged."""
        state = current(ctx)
        try:
            record, _ = load_run(state.store, run_id)
            results = _log_results(state, run_id, log_id)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        if not results:
            return [f"The run found nothing in log {log_id}: nothing to verify."]
        arrays = _arrays(state, log_id)
        log_id = arrays.log_id
        source = state.source_path(log_id)
        prompt = str(record["prompt"])
        try:
            service = state.vlm()
        except VlmUnavailableError as exc:
            image = await anyio.to_thread.run_sync(lambda: scene_panel(arrays, results[0].scenario or {}, source))
            shown = [_save(state, image, f"scene_{log_id[:8]}")[0]] if image else []
            return [*shown, f"{exc}\nThe panel is what the VLM would judge."]
        verdict, image = await anyio.to_thread.run_sync(
            lambda: judge_scene(arrays, results[0].scenario or {}, prompt, service, source)
        )
        shown = [_save(state, image, f"scene_{log_id[:8]}")[0]] if image else []
        word = {True: "yes", False: "no", None: "unclear"}[verdict.value]
        return [*shown, f"{word} (confidence {verdict.confidence:.2f}) for {prompt!r} in {log_id}: {verdict.raw}"]
