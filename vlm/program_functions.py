"""The VLM functions as a program calls them: RefAV-style signatures, scenario in, scenario out.

Programs run in the sandbox, which has no model, no images and no network. Each call is sent
to the server (``set_broker``), which renders the views, asks its VLM (cached) and answers with
the timestamps to keep (see ``avmine.vlm.functions`` for the rules). Importing this module registers
the functions with the atomic runtime, so they are in every program's scope and in the docs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from avmine.atomic.functions import register_functions
from avmine.atomic.functions.objects import COLORS
from avmine.atomic.scenario import Scenario, as_scenario, restrict, timestamps

Broker = Callable[[dict[str, Any]], dict[str, Any]]
_broker: Broker | None = None
MAX_TRACKS = 100
"""Tracks per call: a VLM call per view is slow; narrow candidates first (category, motion, map)."""


class VlmCallError(RuntimeError):
    """A VLM function could not be answered; the message says why and what to do."""


def set_broker(broker: Broker | None) -> None:
    """Route VLM calls through ``broker`` (request dict in, answer dict out); None: no VLM available."""
    global _broker
    _broker = broker


@dataclass(frozen=True)
class VlmFunction:
    """How the server answers a VLM function: which rule decides, and the question it asks."""

    name: str
    kind: Literal["attribute", "time"]
    argument: str | None
    """The parameter the question is about (the declaration's one after ``log_dir``), None without one."""
    template: str
    """The question, with {subject} and {value} (the argument's value)."""
    choices: tuple[str, ...] = ()
    """The argument's allowed values: the VLM picks one per view instead of answering yes or no."""
    scene: bool = False
    """The question is about the scene: the ego's front camera, no box drawn."""


VISION: dict[str, VlmFunction] = {}
"""Each ``vision`` declaration's rule and question, by name: the server's table (``avmine.vlm.functions``)."""
DECLARED: dict[str, Callable[..., Scenario]] = {}
"""Every function this module declares, in declaration order: registered with the atomic runtime below."""


def vision(
    kind: Literal["attribute", "time"], template: str, choices: tuple[str, ...] = (), scene: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Scenario]]:
    """Decorator: declare a VLM function over ``track_candidates`` (any scenario shape), answered by the server.

    The declaration is ``f(track_candidates, log_dir[, argument])``: its name, its one argument (what
    the question's ``{value}`` is) and its docstring are the function's everywhere (the program's
    scope, the docs, the server's table). Only tracks with candidate timestamps are sent, with those
    timestamps; the result keeps every input track, its value restricted to the timestamps the server
    kept (relations included). ``choices``: the argument's allowed values, and the VLM names one per view
    (a colour); ``scene``: the question is about the scene, asked of the ego's front camera.

    Raises:
        TypeError: a declaration with other parameters, or a name declared before.
    """

    def decorate(stub: Callable[..., Any]) -> Callable[..., Scenario]:
        signature = inspect.signature(stub)
        params = list(signature.parameters)
        if params[:2] != ["track_candidates", "log_dir"] or len(params) > 3:
            raise TypeError(f"{stub.__name__}: a VLM function takes (track_candidates, log_dir[, argument])")
        function = stub.__name__
        argument = params[2] if len(params) == 3 else None

        @functools.wraps(stub)
        def wrapper(track_candidates: Any, log_dir: Any, *args: Any, **kwargs: Any) -> Scenario:
            bound = signature.bind(track_candidates, log_dir, *args, **kwargs)
            value = bound.arguments.get(argument) if argument else None
            tracks = as_scenario(track_candidates, log_dir)
            asked = _flat(tracks, log_dir)
            if not asked:
                return {uuid: restrict(v, ()) for uuid, v in tracks.items()}
            kept = _call(function, value, Path(str(log_dir)).name, asked)  # a log's cache directory is named by its id
            return {uuid: restrict(v, kept.get(uuid, ())) for uuid, v in tracks.items()}

        VISION[function] = VlmFunction(function, kind, argument, template, choices, scene)
        return _declare(wrapper)

    return decorate


def _declare(func: Callable[..., Scenario]) -> Callable[..., Scenario]:
    if func.__name__ in DECLARED:
        raise TypeError(f"{func.__name__} is declared twice")
    DECLARED[func.__name__] = func
    return func


def _flat(candidates: Any, log_dir: Any) -> dict[str, list[int]]:
    """Each candidate track with timestamps, and those timestamps (any scenario shape)."""
    tracks = as_scenario(candidates, log_dir)
    flat = {uuid: sorted(int(t) for t in timestamps(v)) for uuid, v in tracks.items()}
    return {uuid: stamps for uuid, stamps in flat.items() if stamps}


def _call(
    function: str, value: Any, log_id: str, asked: dict[str, list[int]], related: dict[str, list[int]] | None = None
) -> Any:
    if _broker is None:
        raise VlmCallError(
            f"{function} needs a VLM, and none is connected to this run: run the program through the avmine "
            "MCP server (execute_scenario) with a VLM configured (AVMINE_VLM_BACKEND, AVMINE_VLM_MODEL)."
        )
    if len(asked) > MAX_TRACKS:
        raise VlmCallError(
            f"{function} got {len(asked)} tracks; at most {MAX_TRACKS} per call. Narrow the candidates first "
            "(category, motion or map functions), then ask the VLM."
        )
    request = {"function": function, "value": value, "log_id": log_id, "scenario": asked}
    if related is not None:
        request["related"] = related
    answer = _broker(request)
    if "error" in answer:
        raise VlmCallError(f"{function}: {answer['error']}")
    return answer["scenario"]


@vision("attribute", "Is {subject} a {value}?")
def is_specific_object_type(track_candidates: Scenario, log_dir: Path, description: str) -> Scenario:
    """Keep objects a VLM recognises as a kind finer than the categories (a police car, a garbage truck).

    Looks at up to 3 views of each object (its box drawn on the camera that sees it best) and keeps
    the whole track when at least half answer yes. Answered by the server's VLM, cached.

    Args:
        description: the kind of object, in words, e.g. "police car".

    Prompts say:
        police car, ambulance, fire truck, taxi, garbage truck, specific type.

    Example:
        police = is_specific_object_type(has_velocity(cars, log_dir, min_velocity=1), log_dir, description="police car")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("attribute", "Does {subject} have this attribute: {value}?")
def has_attribute(track_candidates: Scenario, log_dir: Path, attribute: str) -> Scenario:
    """Keep objects a VLM sees a visual attribute on (an open door, hazard lights on, a raised arm).

    Up to 3 views per object; the whole track is kept when at least half answer yes.

    Args:
        attribute: the attribute, in words, e.g. "open door".

    Prompts say:
        door open, open door, lights on, brake lights, hazard lights, flashing lights, lights flashing, turn
        signal, blinker, attribute.

    Example:
        open_doors = has_attribute(parked, log_dir, attribute="open door")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("attribute", "What is the main colour of {subject}?", choices=COLORS)
def object_color(track_candidates: Scenario, log_dir: Path, color: str) -> Scenario:
    """Keep objects whose main colour, as a VLM names it, is ``color``.

    Up to 3 views per object; kept when the colour named most often is the asked one.

    Args:
        color: "white", "silver", "black", "red", "yellow" or "blue".

    Prompts say:
        colour, color, painted.

    Example:
        red_cars = object_color(cars, log_dir, color="red")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("attribute", "Does {subject} carry, tow or have attached: {value}?")
def has_attached_object(track_candidates: Scenario, log_dir: Path, object_description: str) -> Scenario:
    """Keep objects carrying, towing or having attached something (a bike rack, a trailer, a ladder).

    Up to 3 views per object; the whole track is kept when at least half answer yes.

    Args:
        object_description: what is attached, in words, e.g. "bicycle on a rack".

    Prompts say:
        bike rack, roof rack, attached, trailer hitch, carrying on top.

    Example:
        moving_cars = has_velocity(cars, log_dir, min_velocity=1)  # at most 100 tracks per VLM call
        with_bikes = has_attached_object(moving_cars, log_dir, object_description="bicycle on a rack")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("time", "In which tiles is {subject} {value}?")
def pedestrian_action(track_candidates: Scenario, log_dir: Path, action: str) -> Scenario:
    """Timestamps where a VLM sees a person doing something (walking a dog, pushing a stroller, on a phone).

    Shows up to 6 labelled timestamps of each track as one panel, asks which show the action, and
    keeps the timestamps nearest the named ones.

    Args:
        action: the action, in words, e.g. "pushing a stroller".

        pedestrian action, talking on the phone, looking at phone, waving, gesturing, directing traffic,
        holding an umbrella.
        pedestrian action, talking on the phone, looking at phone, waving, holding an umbrella.

    Example:
        pushing = pedestrian_action(peds, log_dir, action="pushing a stroller")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("time", "In which tiles is {subject} on a {value}?")
def on_road_type(track_candidates: Scenario, log_dir: Path, road_type: str) -> Scenario:
    """Timestamps where a VLM sees the object on a kind of road (highway, residential street, parking lot).

    Up to 6 labelled timestamps per track as one panel; keeps the timestamps nearest the named ones.

    Args:
        road_type: the kind of road, in words, e.g. "parking lot".

    Prompts say:
        parking lot, driveway, highway, alley, road type.

    Example:
        ego_in_lot = on_road_type(ego, log_dir, road_type="parking lot")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("time", "In which tiles is {subject} on a {value} road surface?")
def on_road_surface(track_candidates: Scenario, log_dir: Path, surface: str) -> Scenario:
    """Timestamps where a VLM sees the object on a road surface (wet, gravel, cobblestone, snow).

    Up to 6 labelled timestamps per track as one panel; keeps the timestamps nearest the named ones.

    Args:
        surface: the surface, in words, e.g. "wet".

    Prompts say:
        wet road, gravel, snow, road surface, cobblestone.

    Example:
        ego_on_wet = on_road_surface(ego, log_dir, surface="wet")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("time", "In which tiles is {subject} in a {value}?")
def in_zone(track_candidates: Scenario, log_dir: Path, zone: str) -> Scenario:
    """Timestamps where a VLM sees the object in a zone (construction zone, school zone, drive-through).

    Up to 6 labelled timestamps per track as one panel; keeps the timestamps nearest the named ones.

    Args:
        zone: the zone, in words, e.g. "construction zone".

    Prompts say:
        construction zone, school zone, work zone.

    Example:
        ego_in_works = in_zone(ego, log_dir, zone="construction zone")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("time", "In which tiles is {subject} at a traffic light?")
def at_traffic_lights(track_candidates: Scenario, log_dir: Path) -> Scenario:
    """Timestamps where a VLM sees the object at a traffic light (waiting at it or passing it).

    Up to 6 labelled timestamps per track as one panel; keeps the timestamps nearest the named ones.

    Prompts say:
        traffic light, traffic lights, red light, green light, signalized.

    Example:
        ego_at_lights = at_traffic_lights(ego, log_dir)
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@vision("time", "In which tiles is the scene {value}?", scene=True)
def in_environment(track_candidates: Scenario, log_dir: Path, environment: str) -> Scenario:
    """Timestamps where a VLM sees the scene in an environment (rain, night, a tunnel, heavy traffic).

    Up to 6 labelled timestamps per track, each the ego's front camera (the scene, no box), as one
    panel; keeps the timestamps nearest the named ones.

    Args:
        environment: the environment, in words, e.g. "night".

    Prompts say:
        at night, night, rain, raining, fog, weather, dark.

    Example:
        at_night = in_environment(ego, log_dir, environment="night")
    """
    raise NotImplementedError  # declaration only: the server's VLM answers (vlm.functions)


@_declare
def is_occluded_by(track_candidates: Scenario, related_candidates: Scenario, log_dir: Path) -> Scenario:
    """Objects partly hidden behind related objects, as a VLM sees it: {track: {occluder: timestamps}}.

    Up to 3 views per object on its best camera; in each, the (at most 3 nearest) related objects
    whose image overlaps the object's and that are nearer the camera are asked about, both boxes
    drawn. A pair is kept when at least half of its views say yes; only objects with an occluder
    are returned.

    Prompts say:
        hidden, hidden behind, occluded, obscured, blocked from view.

    Example:
        hidden_peds = is_occluded_by(peds, vehicles, log_dir)
    """
    asked = _flat(track_candidates, log_dir)
    related = _flat(related_candidates, log_dir)
    if not asked or not related:
        return {}
    found: Scenario = _call(is_occluded_by.__name__, None, Path(str(log_dir)).name, asked, related)
    return found


register_functions(DECLARED, kind="vision (asks the server's VLM)")
