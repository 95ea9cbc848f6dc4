"""Scenario algebra: intersection, union, reversal and negation of scenarios (RefAV semantics).

Representation (kept from RefAV on purpose): merging two timestamp lists yields a `set`, and merging a
list with a relationship dict stores the list inside the dict under the track's own uuid (a self-key).
Sets are not normalised to lists because `is_empty` (and so `output_scenario`'s post-processing) treats
them differently from lists, exactly as RefAV does.

Divergence from RefAV: `scenario_or` never mutates its inputs and never shares objects with them. RefAV
inserts later operands' values without copying and writes a self-key into a later operand's dict; call
`set_compat_mutation(True)` to reproduce that for bit-exact parity on programs that reuse an operand.
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from avmine.atomic.listing import listed
from avmine.atomic.scenario import (
    Scenario,
    ScenarioValue,
    as_scenario,
    copy_value,
    prune,
    restrict,
    timestamps,
    track_dict,
)

__all__ = [
    "register_function",
    "resolve_function",
    "reverse_relationship",
    "scenario_and",
    "scenario_not",
    "scenario_or",
    "set_compat_mutation",
]

F = TypeVar("F", bound=Callable[..., Any])

# Functions that the algebra special-cases by name (RefAV compares `__name__`).
_RELATIVE_DIRECTION_GETTER = "get_objects_in_relative_direction"
_RELATIVE_DIRECTION_TESTER = "has_objects_in_relative_direction"
_FUNCTIONS_MODULE = "avmine.atomic.functions"

_registry: dict[str, Callable[..., Any]] = {}
_compat_mutation = False


def register_function(func: F) -> F:
    """Make `func` resolvable by its `__name__` for the algebra's special cases (usable as a decorator)."""
    _registry[func.__name__] = func
    return func


def resolve_function(name: str) -> Callable[..., Any]:
    """The registered function called `name`, else the function `avmine.atomic.functions` lists under that name."""
    if name not in _registry:
        try:
            module = importlib.import_module(_FUNCTIONS_MODULE)
        except ModuleNotFoundError as error:
            if error.name != _FUNCTIONS_MODULE:
                raise
        else:
            found = module.FUNCTIONS.get(name)
            if found is not None:
                _registry[name] = found
    if name not in _registry:
        raise LookupError(f"{name} is not available: register it with atomic.algebra.register_function")
    return _registry[name]


def set_compat_mutation(enabled: bool) -> bool:
    """Reproduce RefAV's input mutation and sharing in `scenario_or` (default off); returns the old setting."""
    global _compat_mutation
    previous = _compat_mutation
    _compat_mutation = enabled
    return previous


def _operands(scenario_dicts: Iterable[Scenario] | Scenario, more: tuple[Scenario, ...]) -> list[Scenario]:
    # RefAV takes one list; `f(a, b)` is accepted too (a dict first argument means the varargs form).
    if isinstance(scenario_dicts, dict):
        return [scenario_dicts, *more]
    if more:
        raise TypeError("pass either one list of scenarios or the scenarios as separate arguments, not both")
    operands = list(scenario_dicts)
    for position, operand in enumerate(operands):
        if not isinstance(operand, dict):
            raise TypeError(
                f"item {position} is a {type(operand).__name__}, not a scenario dict: combine the results of "
                "atomic functions, e.g. scenario_and([turning(cars, log_dir), has_velocity(cars, log_dir)])"
            )
    return operands


@listed("RefAV", 27)
def scenario_and(scenario_dicts: Iterable[Scenario] | Scenario, *more: Scenario) -> Scenario:
    """Objects present in every scenario, at the timestamps they share.

    A uuid is kept if it has timestamps in every scenario; its timestamps become the intersection (which
    may be empty: the key is then kept with no timestamps). Relationships from all scenarios at those
    timestamps are merged. Two lists merge into a set; a list and a relationship dict merge into the
    dict, with the list stored under the track's own uuid. `scenario_and([])` is `{}`.

    Args:
        scenario_dicts: A list of scenario dicts (or the first of several passed separately).
        *more: Further scenarios when they are passed as separate arguments.

    Returns:
        A new scenario dict; the inputs are not modified.

    Prompts say:
        and, while, both, as well as, at the same time.

    Example:
        jaywalking_peds = scenario_and([peds_on_road, peds_not_on_pedestrian_crossing])
    """
    scenarios = _operands(scenario_dicts, more)
    if not scenarios:
        return {}
    shared = track_dict(scenarios[0])
    for scenario in scenarios[1:]:
        present = track_dict(scenario)
        shared = {uuid: sorted(set(ts).intersection(present[uuid])) for uuid, ts in shared.items() if uuid in present}

    out: Scenario = {}
    for uuid, common in shared.items():
        keep = set(common)
        merged = restrict(scenarios[0][uuid], keep)
        for scenario in scenarios[1:]:
            incoming = restrict(scenario[uuid], keep)
            if isinstance(incoming, dict) and isinstance(merged, dict):
                merged = _or_core([merged, incoming], copy_first=False)
            elif isinstance(incoming, dict):
                incoming[uuid] = merged
                merged = incoming
            elif isinstance(merged, dict):
                merged[uuid] = incoming
            else:
                merged = set(merged).intersection(incoming)
        out[uuid] = merged
    return out


@listed("RefAV", 28)
def scenario_or(scenario_dicts: Iterable[Scenario] | Scenario, *more: Scenario) -> Scenario:
    """Every object and relationship of any of the scenarios.

    Timestamps of the same uuid are united: two lists merge into a set, two dicts merge recursively, a
    list and a relationship dict merge into the dict with the list stored under the track's own uuid
    (replacing a list already stored there, as RefAV does). Empty entries are kept. `scenario_or([])`
    is `{}`.

    Args:
        scenario_dicts: A list of scenario dicts (or the first of several passed separately).
        *more: Further scenarios when they are passed as separate arguments.

    Returns:
        A new scenario dict; the inputs are not modified.

    Prompts say:
        or, either, any of.

    Example:
        be_cautious_around = scenario_or([animal_on_road, stroller_on_road])
    """
    scenarios = _operands(scenario_dicts, more)
    if not scenarios:
        return {}
    if _compat_mutation:
        return _or_core(scenarios, copy_first=True)
    return _or_core([{uuid: copy_value(value) for uuid, value in s.items()} for s in scenarios], copy_first=False)


def _or_core(scenarios: list[Scenario], copy_first: bool) -> Scenario:
    """RefAV's union. Values of later operands are moved into the result, and their dicts may gain a self-key.

    With `copy_first` the first operand is deep-copied (RefAV); without it the first operand is merged into
    in place, which is only correct when the caller owns every operand exclusively.
    """
    merged = copy.deepcopy(scenarios[0]) if copy_first else scenarios[0]
    for scenario in scenarios[1:]:
        for uuid, incoming in scenario.items():
            if uuid not in merged:
                merged[uuid] = incoming
                continue
            current = merged[uuid]
            if isinstance(incoming, dict) and isinstance(current, dict):
                merged[uuid] = _or_core([current, incoming], copy_first=copy_first)
            elif isinstance(incoming, dict):
                incoming[uuid] = current
                merged[uuid] = incoming
            elif isinstance(current, dict):
                current[uuid] = incoming
            else:
                merged[uuid] = set(current).union(incoming)
    return merged


def _name(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__name__", ""))


@listed("RefAV", 29)
def reverse_relationship(func: Callable[..., Scenario]) -> Callable[..., Scenario]:
    """Turn a relational function around: key the result by the related objects instead of the tracks.

    The wrapped call takes the same arguments as `func`. In the result, each related object maps to the
    tracks it was related to, at the relationship timestamps; a track's earlier relationships at those
    timestamps are kept below it. Related objects that were never related are absent.

    Args:
        func: A relational function `func(track_candidates, related_candidates, log_dir, ...)`.

    Returns:
        `wrapper(track_candidates, related_candidates, log_dir, *args, **kwargs)`.

    Prompts say:
        being followed by, followed by, being approached by, from the other's side, the related objects
        instead.

    Example:
        group_of_peds_near_vehicle = reverse_relationship(near_objects)(vehicles, peds, log_dir, min_objects=3)
    """
    try:
        declared = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        declared = []
    if declared[1:2] == ["log_dir"]:
        raise TypeError(
            f"reverse_relationship needs a relational function (track_candidates, related_candidates, log_dir, "
            f"...); {_name(func)} takes (track_candidates, log_dir, ...) and relates nothing to reverse"
        )

    def wrapper(track_candidates: Any, related_candidates: Any, log_dir: Path, *args: Any, **kwargs: Any) -> Scenario:
        if _name(func) == _RELATIVE_DIRECTION_GETTER:
            # Reversing the getter (itself a reversal of the tester) is the tester.
            tester = resolve_function(_RELATIVE_DIRECTION_TESTER)
            result: Scenario = tester(track_candidates, related_candidates, log_dir, *args, **kwargs)
            return result
        tracks = prune(as_scenario(track_candidates, log_dir))
        related = prune(as_scenario(related_candidates, log_dir))
        found = prune(func(tracks, related, log_dir, *args, **kwargs))

        new_keys: dict[str, list[str]] = {}
        for track_uuid, children in found.items():
            if not isinstance(children, dict):
                raise TypeError(
                    f"reverse_relationship needs a relational function: {_name(func)} returned timestamps, "
                    f"not relationships, for {track_uuid}"
                )
            # `(t in tracks and r in related) or (t in related and r in tracks and t != r)`, as in RefAV.
            keys = [
                related_uuid
                for related_uuid in children
                if (track_uuid in tracks and related_uuid in related)
                or (track_uuid in related and related_uuid in tracks and track_uuid != related_uuid)
            ]
            if keys:
                new_keys[track_uuid] = keys

        reversed_scenario: Scenario = {}
        for track_uuid, keys in new_keys.items():
            children = found[track_uuid]
            assert isinstance(children, dict)
            new = set(keys)
            carried: dict[str, ScenarioValue] = {key: value for key, value in children.items() if key not in new}
            for related_uuid in keys:
                ts = timestamps(children[related_uuid])
                rest: ScenarioValue = carried if len(carried) > 0 and len(timestamps(carried)) > 0 else ts
                entry: Scenario = {track_uuid: restrict(rest, ts)}
                if related_uuid in reversed_scenario:
                    existing = reversed_scenario[related_uuid]
                    assert isinstance(existing, dict)
                    entry = _or_core([entry, existing], copy_first=False)
                reversed_scenario[related_uuid] = entry
        return reversed_scenario

    return wrapper


@listed("RefAV", 30)
def scenario_not(func: Callable[..., Scenario]) -> Callable[..., Scenario]:
    """Negate a function: the input objects at the timestamps where `func` does not hold.

    The wrapped call takes the same arguments as `func`, with `log_dir` passed positionally where `func`
    declares it. Every input object is kept (with no timestamps if `func` held throughout); relationships
    of the input are kept, those created by `func` are not. For `get_objects_in_relative_direction` the
    objects negated are the related candidates.

    Args:
        func: A function taking `(track_candidates, log_dir, ...)` or
            `(track_candidates, related_candidates, log_dir, ...)`.

    Returns:
        `wrapper(track_candidates, *args, **kwargs)`.

    Prompts say:
        not, no, without, except, other than, never, isn't.

    Example:
        active_vehicles = scenario_not(stationary)(vehicles, log_dir)
    """

    def wrapper(track_candidates: Any, *args: Any, **kwargs: Any) -> Scenario:
        params = list(inspect.signature(func).parameters)
        if "log_dir" not in params:
            raise ValueError("The function scenario_not wraps does not have 'log_dir' as a parameter.")
        position = params.index("log_dir")
        # Extension over RefAV (which needs everything positional): `related_candidates` and `log_dir` may
        # also come as keywords.
        if position == 1:
            if args:
                log_dir, rest = args[0], args[1:]
            else:
                log_dir, rest = _take_keyword(kwargs, "log_dir"), ()
            base = as_scenario(track_candidates, log_dir)
            result = func(track_candidates, log_dir, *rest, **kwargs)
        elif position == 2:
            if args:
                related_candidates, args = args[0], args[1:]
            else:
                related_candidates = _take_keyword(kwargs, "related_candidates")
            if args:
                log_dir, rest = args[0], args[1:]
            else:
                log_dir, rest = _take_keyword(kwargs, "log_dir"), ()
            negated = related_candidates if _name(func) == _RELATIVE_DIRECTION_GETTER else track_candidates
            base = as_scenario(negated, log_dir)
            result = func(track_candidates, related_candidates, log_dir, *rest, **kwargs)
        else:
            # RefAV fails here with an unbound-variable error (e.g. get_objects_of_category(log_dir, ...)).
            raise ValueError(
                f"scenario_not needs a function whose log_dir is its 2nd or 3rd parameter; {_name(func)} has it "
                f"at position {position + 1}"
            )

        result = prune(result)
        negation: Scenario = {}
        for uuid, value in base.items():
            if uuid in result:
                remaining = set(timestamps(value)).difference(timestamps(result[uuid]))
                negation[uuid] = restrict(value, remaining)
            else:
                negation[uuid] = value
        return negation

    return wrapper


def _take_keyword(kwargs: dict[str, Any], name: str) -> Any:
    if name not in kwargs:
        raise TypeError(f"missing required argument: '{name}'")
    return kwargs.pop(name)
