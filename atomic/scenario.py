"""Scenario values and the helpers every atomic function builds on.

A scenario is a plain dict keyed by track uuid. A value is either a collection of timestamps (`list`, or a
`set` as produced by `scenario_and`/`scenario_or`) meaning "referred at these timestamps", or a dict
`{related_uuid: value}` meaning "related to these objects at their timestamps" (nested to any depth).
Empty values (`[]`, `{}`) are legal and mean "no timestamps". Timestamp lists may be unsorted or contain
duplicates. A value may hold its own uuid as a key (a "self-key"): those timestamps belong to the track.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np

from avmine.atomic.timelines import Timelines, resolve_context

__all__ = [
    "Scenario",
    "ScenarioValue",
    "as_scenario",
    "copy_value",
    "is_empty",
    "prune",
    "prune_in_place",
    "restrict",
    "timestamps",
    "to_scenario_dict",
    "track_dict",
]

ScenarioValue: TypeAlias = list[int] | set[int] | dict[str, "ScenarioValue"]
Scenario: TypeAlias = dict[str, ScenarioValue]


def timestamps(value: ScenarioValue) -> list[int] | set[int]:
    """Timestamps at which a scenario value is referred.

    Args:
        value: A timestamp collection or a (nested) relationship dict.

    Returns:
        For a list or set, the value itself (not copied, not sorted); for a dict, the sorted,
        de-duplicated union over all its descendants.

    Example:
        timestamps({"p1": [3, 4], "p2": {"c": [4, 7]}})  # -> [3, 4, 7]
    """
    if not isinstance(value, dict):
        return value
    found: set[int] = set()
    _collect(value, found)
    return sorted(found)


def _collect(value: dict[str, ScenarioValue], found: set[int]) -> None:
    for child in value.values():
        if isinstance(child, dict):
            _collect(child, found)
        else:
            found.update(child)


def restrict(value: ScenarioValue, keep: Iterable[int]) -> ScenarioValue:
    """A new value limited to the timestamps in `keep`.

    Args:
        value: A timestamp collection or a (nested) relationship dict.
        keep: The timestamps to keep.

    Returns:
        For a list or set, the sorted list of its timestamps that are in `keep`; for a dict, the same
        restriction applied to every child, with children left without timestamps dropped (the result
        may be `{}`).

    Example:
        restrict({"p1": [1, 2], "p2": [5]}, [2, 3])  # -> {"p1": [2]}
    """
    return _restrict(value, keep if isinstance(keep, set | frozenset) else set(keep))


def _restrict(value: ScenarioValue, keep: set[int] | frozenset[int]) -> ScenarioValue:
    if not isinstance(value, dict):
        return sorted(set(value).intersection(keep))
    out: dict[str, ScenarioValue] = {}
    for key, child in value.items():
        kept = _restrict(child, keep)
        if len(kept) > 0:
            out[key] = kept
    return out


def copy_value(value: ScenarioValue) -> ScenarioValue:
    """An independent copy of a scenario or scenario value (dicts, lists and sets are all new)."""
    if isinstance(value, dict):
        return {key: copy_value(child) for key, child in value.items()}
    if isinstance(value, list):
        return list(value)
    if isinstance(value, set):
        return set(value)
    copied: ScenarioValue = copy.deepcopy(value)  # tuples, arrays: whatever a caller put there
    return copied


def prune(scenario: Scenario) -> Scenario:
    """A copy of `scenario` without the keys (at every depth) whose value has no timestamps.

    Example:
        prune({"a": [], "b": {"x": [], "y": [1]}, "c": {}})  # -> {"b": {"y": [1]}}
    """
    out: Scenario = {}
    for key, value in scenario.items():
        if len(timestamps(value)) == 0:
            continue
        out[key] = prune(value) if isinstance(value, dict) else copy_value(value)
    return out


def prune_in_place(scenario: Scenario) -> None:
    """Remove, in place, the keys (at every depth) whose value has no timestamps."""
    for key in list(scenario):
        value = scenario[key]
        if len(timestamps(value)) == 0:
            del scenario[key]
        elif isinstance(value, dict):
            prune_in_place(value)


def is_empty(scenario: Scenario) -> bool:
    """True iff no value is a non-empty list or a non-empty (recursively) dict.

    RefAV quirk kept on purpose: `set` values are not looked at, so a scenario whose only non-empty
    leaves are sets counts as empty.
    """
    for value in scenario.values():
        if isinstance(value, list) and len(value) > 0:
            return False
        if isinstance(value, dict) and not is_empty(value):
            return False
    return True


def track_dict(scenario: Scenario) -> dict[str, list[int] | set[int]]:
    """`{uuid: timestamps(value)}` for the top-level uuids that have at least one timestamp.

    List and set values are copied as they are (order and duplicates kept); dict values become the
    sorted union of their descendants' timestamps.
    """
    out: dict[str, list[int] | set[int]] = {}
    for uuid, value in scenario.items():
        ts = timestamps(value)
        if len(ts) > 0:
            out[uuid] = set(ts) if isinstance(ts, set) else list(ts)
    return out


def to_scenario_dict(candidates: object, timelines: Timelines) -> Scenario:
    """Convert whatever a program passed as candidates into a scenario dict.

    Args:
        candidates: A scenario dict (deep-copied); a list or array of uuids (each with its full
            timeline); one uuid string (its full timeline); an `int` timestamp (every object present at
            that timestamp, with that one timestamp). Anything else prints a warning and stands for every
            object of the log. Unknown uuids get an empty timeline and a printed warning.
        timelines: The log's object timelines.

    Returns:
        A new scenario dict.
    """
    if isinstance(candidates, dict):
        return {key: copy_value(value) for key, value in candidates.items()}
    if isinstance(candidates, list | np.ndarray):
        uuids = candidates.tolist() if isinstance(candidates, np.ndarray) else candidates
        return {uuid: _timeline_or_warn(uuid, timelines) for uuid in uuids}
    if isinstance(candidates, str):
        return {candidates: _timeline_or_warn(candidates, timelines)}
    # RefAV tests `isinstance(x, int)`: numpy integers are not ints there and fall through to "every object"
    # below (and bools are ints). Reproduced for identical answers.
    if isinstance(candidates, int):
        present = timelines.uuids_at(candidates)
        if not present:
            print(f"Timestamp {candidates} not found in annotations")
        return {uuid: [candidates] for uuid in present}
    print(
        f"Provided object, {candidates!r}, of type {type(candidates)}, must be a track_uuid, list[track_uuid], "
        "timestamp, or scenario dict."
    )
    print("Comparing to all objects in the log.")
    return {uuid: list(timelines.timeline(uuid)) for uuid in timelines.uuids()}


def as_scenario(candidates: object, log_dir: Any) -> Scenario:
    """`to_scenario_dict` for the log at `log_dir`, resolving the log only when the input is not a dict."""
    if isinstance(candidates, dict):
        return {key: copy_value(value) for key, value in candidates.items()}
    return to_scenario_dict(candidates, resolve_context(log_dir))


def _timeline_or_warn(uuid: Any, timelines: Timelines) -> list[int]:
    timeline = list(timelines.timeline(uuid))  # the context may hand out a cached list: never share it
    if not timeline:
        print(f"Given track_uuid {uuid} not in log annotations.")
    return timeline
