"""The VLM atomic functions, evaluated where the model lives: flat scenario in, flat scenario out.

Two kinds, with documented rules:

- **attribute** functions (is_specific_object_type, has_attribute, object_color,
  has_attached_object) look at up to ``samples`` timestamps spread over each track, each on the
  camera that sees the box best, and keep the *whole* track when at least half of the views
  answer yes (object_color: when the colour most often named is the asked one).
- **time-varying** functions (pedestrian_action, on_road_type, on_road_surface, in_zone,
  at_traffic_lights, in_environment) show up to ``samples`` labelled timestamps of a track as one
  panel, ask which tiles satisfy the condition, and keep the track's timestamps whose nearest
  sampled tile was named.

The ego vehicle has no box in its own cameras: questions about it are asked about "the vehicle
this camera is mounted on", on the front camera.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from av2.geometry.camera.pinhole_camera import PinholeCamera
from scipy.spatial.transform import Rotation

from avmine.store.arrays import LogArrays
from avmine.vlm.answers import Choice, YesNo
from avmine.vlm.cameras import FRONT, RING_CAMERAS, cameras_of, city_to_ego, corners_city, ego_pose_at, project_box
from avmine.vlm.frames import LONG_SIDE_PX, frame
from avmine.vlm.overlay import SECOND_COLOUR, Tile, draw_box, panel, row_at
from avmine.vlm.program_functions import VISION, VlmFunction
from avmine.vlm.service import Question, VlmService

SAMPLES = 3
"""Views per track for attribute functions."""
PANEL_SAMPLES = 6
"""Labelled timestamps per track for time-varying functions."""
BOXED = "the object in the magenta box"
EGO = "the vehicle this camera is mounted on"


FUNCTIONS: dict[str, VlmFunction] = VISION
"""The VLM functions by name, as declared in ``avmine.vlm.program_functions`` (each declaration names its question)."""


def spread(values: Sequence[int], count: int) -> list[int]:
    """Up to ``count`` values spread evenly over ``values`` (first and last included)."""
    if len(values) <= count:
        return list(values)
    picks = np.linspace(0, len(values) - 1, count).round().astype(int)
    return [values[i] for i in dict.fromkeys(picks.tolist())]


def best_camera(arrays: LogArrays, row: int, time_index: int) -> str | None:
    """The camera whose view holds the box largest (by projected area), None when no camera sees it."""
    rig, _ = cameras_of(arrays)
    pose = ego_pose_at(arrays, int(arrays.timestamps_ns[time_index]))
    corners = city_to_ego(corners_city(arrays, row), pose)
    best: tuple[float, str] | None = None
    for name in RING_CAMERAS:
        camera = rig[name].scale(LONG_SIDE_PX / max(rig[name].width_px, rig[name].height_px))
        projection = project_box(camera, corners)
        if not projection.visible:
            continue
        uv = projection.uv[~np.isnan(projection.uv).any(axis=1)]
        clipped = np.clip(uv, 0, [camera.width_px, camera.height_px]) if len(uv) else uv
        area = float(np.prod(clipped.max(0) - clipped.min(0))) if len(clipped) else 0.0
        if best is None or area > best[0]:
            best = (area, name)
    return best[1] if best else None


def track_view(arrays: LogArrays, track: int, time_index: int, source_path: Path | None) -> Tile | None:
    """The track at one timestamp on its best camera with its box drawn (the ego: the front camera)."""
    row = row_at(arrays, track, time_index)
    if row is None:
        return None
    if str(arrays.track_uuids[track]) == arrays.ego_uuid:
        view = frame(arrays, FRONT, time_index, source_path)
        return Tile(view, view.image, False)
    camera = best_camera(arrays, row, time_index)
    if camera is None:
        return None
    view = frame(arrays, camera, time_index, source_path)
    image, in_view = draw_box(view, arrays, row)
    return Tile(view, image, in_view)


def evaluate(
    name: str,
    scenario: dict[str, list[int]],
    arrays: LogArrays,
    service: VlmService,
    value: str | None = None,
    source_path: Path | None = None,
    on_track: Callable[[str], None] | None = None,
) -> dict[str, list[int]]:
    """Apply a VLM function to a flat scenario (track uuid -> timestamps) of one log.

    Args:
        name: a key of ``FUNCTIONS``.
        scenario: the candidates: each track's timestamps (ns).
        arrays: the log.
        service: the VLM.
        value: the function's argument (e.g. the colour); None for at_traffic_lights.
        source_path: the log's dataset directory, for real camera images.
        on_track: called after each track (progress).

    Raises:
        ValueError: an unknown function, or a missing or invalid argument.
    """
    function = FUNCTIONS.get(name)
    if function is None:
        raise ValueError(f"unknown VLM function {name!r}; VLM functions: {', '.join(FUNCTIONS)}")
    if function.argument is not None and not value:
        raise ValueError(f"{name} needs its argument {function.argument}")
    if function.choices and value not in function.choices:
        raise ValueError(f"{function.argument} must be one of {', '.join(function.choices)}, not {value!r}")
    index_of = {str(u): i for i, u in enumerate(arrays.track_uuids)}
    stamp_index = {int(t): i for i, t in enumerate(arrays.timestamps_ns)}
    kept: dict[str, list[int]] = {}
    for uuid, stamps in scenario.items():
        track = index_of.get(uuid)
        times = sorted(stamp_index[int(t)] for t in stamps if int(t) in stamp_index)
        if track is not None and times:
            subject = EGO if uuid == arrays.ego_uuid else BOXED
            question = function.template.format(subject=subject, value=value)
            if function.kind == "attribute":
                chosen = _attribute(function, question, arrays, track, times, service, value, source_path)
            else:
                chosen = _time(question, arrays, track, times, service, source_path, function.scene)
            if chosen:
                kept[uuid] = sorted(int(arrays.timestamps_ns[i]) for i in chosen)
        if on_track:
            on_track(uuid)
    return kept


def _attribute(
    function: VlmFunction,
    question: str,
    arrays: LogArrays,
    track: int,
    times: list[int],
    service: VlmService,
    value: str | None,
    source_path: Path | None,
) -> list[int]:
    tiles = [t for t in (track_view(arrays, track, i, source_path) for i in spread(times, SAMPLES)) if t]
    if not tiles:
        return []
    if function.choices:
        questions = [Question((t.image,), question, "choice", function.choices) for t in tiles]
        named = Counter(a.value for a in service.ask(questions) if isinstance(a, Choice) and a.value)
        return times if named and named.most_common(1)[0][0] == value else []
    answers = service.ask([Question((t.image,), question) for t in tiles])
    yes = sum(isinstance(a, YesNo) and a.value is True for a in answers)
    return times if 2 * yes >= len(tiles) else []


def _time(
    question: str,
    arrays: LogArrays,
    track: int,
    times: list[int],
    service: VlmService,
    source_path: Path | None,
    scene_only: bool = False,
) -> list[int]:
    sampled = spread(times, PANEL_SAMPLES)
    if scene_only:
        views = [frame(arrays, FRONT, i, source_path) for i in sampled]
        tiles: list[Tile] = [Tile(view, view.image, False) for view in views]
    else:
        tiles = [t for t in (track_view(arrays, track, i, source_path) for i in sampled) if t]
    if not tiles:
        return []
    named = set(service.indices(panel(tiles), question, len(tiles)).values)
    tile_times = np.array([t.frame.time_index for t in tiles])
    nearest = np.abs(np.asarray(times)[:, None] - tile_times[None, :]).argmin(axis=1)
    return [time for time, tile in zip(times, nearest, strict=True) if int(tile) in named]


OCCLUSION_QUESTION = "Is the object in the magenta box partly hidden behind the object in the cyan box?"
OCCLUDERS = 3
"""Related objects asked about per view: the nearest of those whose image overlaps the candidate's."""


def _image_box(
    camera: PinholeCamera, arrays: LogArrays, row: int, pose: tuple[npt.NDArray[np.float64], Rotation]
) -> tuple[float, float, float, float, float] | None:
    """A box's image extent (u0, v0, u1, v1) and mean depth in front of the camera; None when not in view."""
    projection = project_box(camera, city_to_ego(corners_city(arrays, row), pose))
    uv = projection.uv[~np.isnan(projection.uv).any(axis=1)]
    if not projection.visible or not len(uv):
        return None
    depth = float(np.nanmean(np.where(projection.depth_m > 0, projection.depth_m, np.nan)))
    return float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()), float(uv[:, 1].max()), depth


def occluded_by(
    scenario: dict[str, list[int]],
    related: dict[str, list[int]],
    arrays: LogArrays,
    service: VlmService,
    source_path: Path | None = None,
) -> dict[str, dict[str, list[int]]]:
    """Which related objects hide part of each candidate, and when (a relational scenario).

    Per candidate, up to ``SAMPLES`` views on its best camera; in each, the related objects whose
    image overlaps the candidate's and that are nearer the camera (at most ``OCCLUDERS``, nearest
    first) are asked about, both boxes drawn. A pair is kept when at least half of the views in
    which it was asked answer yes, at the timestamps both objects are candidates.
    """
    index_of = {str(u): i for i, u in enumerate(arrays.track_uuids)}
    stamp_index = {int(t): i for i, t in enumerate(arrays.timestamps_ns)}
    related_times = {u: {stamp_index[int(t)] for t in s if int(t) in stamp_index} for u, s in related.items()}
    found: dict[str, dict[str, list[int]]] = {}
    for uuid, stamps in scenario.items():
        track = index_of.get(uuid)
        times = sorted(stamp_index[int(t)] for t in stamps if int(t) in stamp_index)
        if track is None or not times or uuid == arrays.ego_uuid:
            continue
        votes: dict[str, list[bool]] = {}
        for time_index in spread(times, SAMPLES):
            row = row_at(arrays, track, time_index)
            camera_name = best_camera(arrays, row, time_index) if row is not None else None
            if row is None or camera_name is None:
                continue
            view = frame(arrays, camera_name, time_index, source_path)
            target = _image_box(view.camera, arrays, row, view.pose)
            if target is None:
                continue
            candidates = []
            for other, other_times in related_times.items():
                known = other in index_of and other != uuid
                other_row = row_at(arrays, index_of[other], time_index) if known else None
                if other_row is None or time_index not in other_times:
                    continue
                box = _image_box(view.camera, arrays, other_row, view.pose)
                overlaps = (
                    box is not None
                    and box[0] < target[2]
                    and box[2] > target[0]
                    and box[1] < target[3]
                    and box[3] > target[1]
                )
                if box is not None and overlaps and box[4] < target[4]:
                    candidates.append((box[4], other, other_row))
            for _, other, other_row in sorted(candidates)[:OCCLUDERS]:
                image, _ = draw_box(view, arrays, row)
                image, _ = draw_box(view, arrays, other_row, colour=SECOND_COLOUR, image=image)
                votes.setdefault(other, []).append(service.yes_no([image], OCCLUSION_QUESTION).value is True)
        for other, answers in votes.items():
            if 2 * sum(answers) >= len(answers):
                both = sorted(set(times) & related_times[other])
                found.setdefault(uuid, {})[other] = [int(arrays.timestamps_ns[i]) for i in both]
    return found
