"""Behaviours in time: ordering conditions ("then", "after", "before") and bounding their spells.

RefAV's algebra combines conditions at the same timestamps; these operators combine them across time,
on any scenario any function returns (relational ones included). They all work on an object's
**spells**: its runs of timestamps in a scenario, on the object's own timeline, with gaps of up to
``max_gap_s`` closed (a dropped frame or a flickering condition does not split a spell; a gap in the
track itself never does, since a spell is a run of the track's own boxes).

Which timestamps each operator refers (the challenge's timestamp metrics, HOTA-Temporal and
Timestamp BA, score referred timestamps frame by frame, and RefAV's annotators mark the timestamps where
the described behaviour holds):

- ``then(first, second)``: by default the whole sequence, from the start of the first spell to the end of
  the second (``refer="both"``): "a car that stops and then turns" is that car from its stop to the end
  of its turn. ``refer="first"`` or ``"second"`` keeps only one part ("turning after stopping" is the
  turn: ``refer="second"``).
- ``overlapping`` / ``without``: the whole spells of the scenario that do (do not) meet the other
  condition, not only the shared timestamps.
- ``after`` / ``before``: the scenario's own timestamps inside the window after (before) another
  object's event begins; the event's object is not referred.
- ``lasting``, ``first_time``, ``last_time``: whole spells, unchanged.

Every object of the input stays a key (with no timestamps when nothing is kept), as RefAV's functions do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from avmine.atomic.algebra import register_function
from avmine.atomic.context import LogContext, context_for
from avmine.atomic.kinematics import Groups
from avmine.atomic.listing import listed
from avmine.atomic.scenario import Scenario, ScenarioValue, as_scenario, restrict, timestamps
from avmine.atomic.temporal import close_gaps, true_runs
from avmine.atomic.validation import non_negative
from avmine.store.typing import NDArrayInt

KIND = "temporal"


@dataclass(frozen=True)
class Spell:
    """One run of an object's timestamps: first and last timestamp (ns) and every timeline stamp between."""

    start: int
    end: int
    stamps: NDArrayInt


def _timeline(ctx: LogContext, uuid: str, value: ScenarioValue) -> NDArrayInt:
    own = ctx.timeline(uuid)
    return np.asarray(own if own else sorted(timestamps(value)), dtype=np.int64)


def spells_of(ctx: LogContext, scenario: Scenario, max_gap_s: float) -> dict[str, list[Spell]]:
    """Each object's spells: runs on its own timeline (its boxes' timestamps), gaps up to ``max_gap_s`` closed.

    All tracks of the log are done at once; an object the log has no track for (a hand-made scenario)
    uses its own timestamps as its timeline.
    """
    uuids = [uuid for uuid in scenario if str(uuid) in ctx.track_index]
    stamps = [timestamps(scenario[uuid]) for uuid in uuids]
    tracks = np.array([ctx.track_index[str(uuid)] for uuid in uuids], dtype=np.int64)
    first, lengths = ctx.track_start[tracks], ctx.track_start[tracks + 1] - ctx.track_start[tracks]
    groups = Groups.from_lengths(lengths)
    rows = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows += np.repeat(first, lengths)
    owner = np.repeat(np.arange(len(uuids)), lengths)
    times = len(ctx.timestamps_ns)
    wanted = np.fromiter((t for found in stamps for t in found), dtype=np.int64, count=sum(map(len, stamps)))
    at = np.minimum(np.searchsorted(ctx.timestamps_ns, wanted), max(times - 1, 0))
    known = ctx.timestamps_ns[at] == wanted if times else np.zeros(len(wanted), dtype=bool)
    wanted_owner = np.repeat(np.arange(len(uuids)), [len(found) for found in stamps])
    mask = np.isin(owner * times + ctx.row_time[rows], (wanted_owner * times + at)[known])
    line = ctx.row_timestamp_ns[rows]
    starts, ends = true_runs(close_gaps(mask, line, groups, max_gap_s), groups)
    spells: dict[str, list[Spell]] = {uuid: [] for uuid in scenario}
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        spells[uuids[owner[s]]].append(Spell(int(line[s]), int(line[e]), line[s : e + 1]))
    for uuid, value in scenario.items():
        if str(uuid) not in ctx.track_index and timestamps(value):
            own = _timeline(ctx, uuid, value)
            spells[uuid] = [Spell(int(t), int(t), own[i : i + 1]) for i, t in enumerate(own.tolist())]
            spells[uuid] = _joined(spells[uuid], max_gap_s)
    return spells


def _joined(spells: list[Spell], max_gap_s: float) -> list[Spell]:
    """Single-timestamp spells joined where they are at most ``max_gap_s`` apart."""
    out: list[Spell] = []
    for spell in spells:
        if out and spell.start - out[-1].end <= _ns(max_gap_s) + 1:
            last = out[-1]
            out[-1] = Spell(last.start, spell.end, np.concatenate([last.stamps, spell.stamps]))
        else:
            out.append(spell)
    return out


def _output(value: ScenarioValue, uuid: str, keep: set[int]) -> ScenarioValue:
    """``value`` at ``keep``; timestamps the value lacks (closed gaps) are added as RefAV's self-key does."""
    kept = restrict(value, keep)
    missing = keep - set(timestamps(kept))
    if not missing:
        return kept
    if isinstance(kept, dict):
        return {**kept, uuid: sorted(missing | set(timestamps(kept.get(uuid, []))))}
    return sorted(set(timestamps(kept)) | missing)


def _per_spell(
    function: str,
    scenario: object,
    log_dir: Path,
    max_gap_s: float,
    keep_spell: Callable[[str, Spell, list[Spell]], bool],
) -> Scenario:
    non_negative(function, max_gap_s=max_gap_s)
    found = as_scenario(scenario, log_dir)
    by_object = spells_of(context_for(log_dir), found, max_gap_s)
    out: Scenario = {}
    for uuid, value in found.items():
        spells = by_object[uuid]
        kept = [spell.stamps for spell in spells if keep_spell(uuid, spell, spells)]
        out[uuid] = _output(value, uuid, set(np.concatenate(kept).tolist()) if kept else set())
    return out


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


@listed(KIND, 1)
@register_function
def then(
    first: Scenario,
    second: Scenario,
    log_dir: Path,
    within_s: float = 5.0,
    refer: Literal["both", "first", "second"] = "both",
    max_gap_s: float = 0.5,
) -> Scenario:
    """Objects with a spell of ``first`` followed by a spell of ``second`` ("A, and then B").

    A spell of ``second`` follows a spell of ``first`` when it starts after the first spell starts and
    at most ``within_s`` seconds after it ends (it may start while the first is still going on). Both
    scenarios must refer the same objects (build both from the same candidates). Use it for "stops and
    then turns", "waits until it is safe to turn", "accelerates after a stop", "slows down, then reverses".

    Args:
        first: What happens first (any scenario).
        second: What happens next, for the same objects.
        within_s: longest time from the end of the first spell to the start of the second, in seconds.
        refer: which timestamps are referred: "both" (from the start of the first spell to the end of the
            second, gap included), "first" or "second" (only that part).
        max_gap_s: longest gap inside one spell, in seconds (flicker and dropped frames).

    Returns:
        The objects of ``first``; those without such a sequence have no timestamps.

    Prompts say:
        then, and then, followed by, afterwards, after that, until, eventually, later, once it, waiting to.

    Example:
        stopped = has_velocity(vehicles, log_dir, min_velocity=0, max_velocity=0.5)
        turned = turning(vehicles, log_dir)
        stop_then_turn = then(stopped, turned, log_dir, within_s=3)
    """
    non_negative("then", within_s=within_s, max_gap_s=max_gap_s)
    if refer not in ("both", "first", "second"):
        raise ValueError(f"then: refer must be 'both', 'first' or 'second', not {refer!r}")
    before = as_scenario(first, log_dir)
    after = as_scenario(second, log_dir)
    ctx = context_for(log_dir)
    window = _ns(within_s)
    firsts, seconds = spells_of(ctx, before, max_gap_s), spells_of(ctx, after, max_gap_s)
    out: Scenario = {}
    for uuid, value in before.items():
        keep: set[int] = set()
        later = after.get(uuid)
        for b in seconds.get(uuid, []):
            for a in firsts[uuid]:
                if not a.start < b.start <= a.end + window:
                    continue
                if refer == "both":
                    line = _timeline(ctx, uuid, value)
                    keep.update(line[(line >= a.start) & (line <= b.end)].tolist())
                else:
                    keep.update((a if refer == "first" else b).stamps.tolist())
        merged = value if refer == "first" or later is None else _merge(value, later, uuid)
        out[uuid] = _output(merged, uuid, keep)
    return out


def _merge(one: ScenarioValue, other: ScenarioValue, uuid: str) -> ScenarioValue:
    """Both values' timestamps and relationships (relationships win; list timestamps go to the self-key)."""
    if isinstance(one, dict) or isinstance(other, dict):
        merged: dict[str, ScenarioValue] = {}
        for part in (one, other):
            if isinstance(part, dict):
                for key, value in part.items():
                    previous = merged.get(key)
                    merged[key] = value if previous is None else _merge(previous, value, key)
            else:
                own = merged.get(uuid, [])
                merged[uuid] = sorted(set(timestamps(own)) | set(part))
        return merged
    return sorted(set(one) | set(other))


def _meets(stamps: NDArrayInt, spell: Spell, before_s: float, after_s: float) -> bool:
    """Whether a sorted stamp lies in the spell's window, widened by ``before_s`` and ``after_s``."""
    low, high = spell.start - _ns(before_s), spell.end + _ns(after_s)
    return bool(np.searchsorted(stamps, high, side="right") > np.searchsorted(stamps, low))


def _sorted_stamps(scenario: Scenario) -> dict[str, NDArrayInt]:
    return {uuid: np.array(sorted(timestamps(value)), dtype=np.int64) for uuid, value in scenario.items()}


NOTHING: NDArrayInt = np.zeros(0, dtype=np.int64)


@listed(KIND, 2)
@register_function
def overlapping(
    track_candidates: Scenario,
    other: Scenario,
    log_dir: Path,
    before_s: float = 0.0,
    after_s: float = 0.0,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Whole spells of a scenario during which (or near which) the same object also meets ``other``.

    "Turning while braking", "accelerating while changing lanes": unlike ``scenario_and``, the whole
    spell is kept, not only the shared timestamps. ``before_s`` / ``after_s`` widen each spell's window.

    Args:
        other: the condition that must hold for the same object at some time in the spell's window.
        before_s: how far before the spell's start ``other`` may hold, in seconds.
        after_s: how far after the spell's end ``other`` may hold, in seconds.
        max_gap_s: longest gap inside one spell, in seconds (flicker and dropped frames).

    Prompts say:
        while, during, at the same time as, as it.

    Example:
        braking_turns = overlapping(turning(vehicles, log_dir), braking(vehicles, log_dir), log_dir)
    """
    non_negative("overlapping", before_s=before_s, after_s=after_s)
    others = _sorted_stamps(as_scenario(other, log_dir))
    return _per_spell(
        "overlapping",
        track_candidates,
        log_dir,
        max_gap_s,
        lambda uuid, spell, _: _meets(others.get(uuid, NOTHING), spell, before_s, after_s),
    )


@listed(KIND, 3)
@register_function
def without(
    track_candidates: Scenario,
    other: Scenario,
    log_dir: Path,
    before_s: float = 0.0,
    after_s: float = 0.0,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Whole spells of a scenario with no ``other`` for the same object in the spell's window.

    "Turning without stopping" is ``without(turning, stopped, before_s=3)``: turns with no stop in the
    3 s before them or during them.

    Args:
        other: the condition that must not hold for the same object in the spell's window.
        before_s: how far before the spell's start ``other`` must not hold either, in seconds.
        after_s: how far after the spell's end ``other`` must not hold either, in seconds.
        max_gap_s: longest gap inside one spell, in seconds (flicker and dropped frames).

    Prompts say:
        without, without stopping, never stopping, rolling.

    Example:
        stopped = has_velocity(vehicles, log_dir, min_velocity=0, max_velocity=0.5)
        rolling_turns = without(turning(vehicles, log_dir), stopped, log_dir, before_s=3)
    """
    non_negative("without", before_s=before_s, after_s=after_s)
    others = _sorted_stamps(as_scenario(other, log_dir))
    return _per_spell(
        "without",
        track_candidates,
        log_dir,
        max_gap_s,
        lambda uuid, spell, _: not _meets(others.get(uuid, NOTHING), spell, before_s, after_s),
    )


def _onsets(ctx: LogContext, event: Scenario, max_gap_s: float) -> NDArrayInt:
    """When each spell of ``event`` begins, over all its objects, sorted."""
    starts = {spell.start for spells in spells_of(ctx, event, max_gap_s).values() for spell in spells}
    return np.array(sorted(starts), dtype=np.int64)


def _around_event(
    function: str, track_candidates: Scenario, event: Scenario, log_dir: Path, within_s: float, max_gap_s: float
) -> Scenario:
    non_negative(function, within_s=within_s, max_gap_s=max_gap_s)
    found = as_scenario(track_candidates, log_dir)
    onsets = _onsets(context_for(log_dir), as_scenario(event, log_dir), max_gap_s)
    window = _ns(within_s)
    out: Scenario = {}
    for uuid, value in found.items():
        stamps = np.array(sorted(timestamps(value)), dtype=np.int64)
        if function == "after":  # an onset in [t - window, t]
            near = np.searchsorted(onsets, stamps, side="right") > np.searchsorted(onsets, stamps - window)
        else:  # an onset in (t, t + window]
            near = np.searchsorted(onsets, stamps + window, side="right") > np.searchsorted(onsets, stamps, "right")
        out[uuid] = restrict(value, set(stamps[near].tolist()))
    return out


@listed(KIND, 4)
@register_function
def after(
    track_candidates: Scenario, event: Scenario, log_dir: Path, within_s: float = 10.0, max_gap_s: float = 0.5
) -> Scenario:
    """A scenario's timestamps within ``within_s`` seconds after another object's event begins.

    The event is any scenario (of any objects: the ego, a bus, a group): "pedestrian crossing after the
    ego vehicle stops" is the crossing timestamps in the seconds after the ego's stop begins. For the same
    object ("accelerating after a stop") use ``then(stopped, accelerating, log_dir, refer="second")``.

    Args:
        event: the scenario whose spells' beginnings open the window (its objects are not referred).
        within_s: how long after the event begins the window lasts, in seconds.
        max_gap_s: longest gap inside one of the event's spells, in seconds (flicker and dropped frames).

    Prompts say:
        after, after the, once the, following, since.

    Example:
        ego = get_objects_of_category(log_dir, category="EGO_VEHICLE")
        ego_stopped = has_velocity(ego, log_dir, min_velocity=0, max_velocity=0.5)
        crossing_after = after(at_pedestrian_crossing(peds, log_dir), ego_stopped, log_dir, within_s=5)
    """
    return _around_event("after", track_candidates, event, log_dir, within_s, max_gap_s)


@listed(KIND, 5)
@register_function
def before(
    track_candidates: Scenario, event: Scenario, log_dir: Path, within_s: float = 10.0, max_gap_s: float = 0.5
) -> Scenario:
    """A scenario's timestamps within ``within_s`` seconds before another object's event begins.

    Args:
        event: the scenario whose spells' beginnings close the window (its objects are not referred).
        within_s: how long before the event begins the window opens, in seconds.
        max_gap_s: longest gap inside one of the event's spells, in seconds (flicker and dropped frames).

    Prompts say:
        before, before the, prior to, earlier, previously.

    Example:
        ego_stops = has_velocity(ego, log_dir, min_velocity=0, max_velocity=0.5)
        turning_before_ego_stops = before(turning(vehicles, log_dir), ego_stops, log_dir, within_s=5)
    """
    return _around_event("before", track_candidates, event, log_dir, within_s, max_gap_s)


@listed(KIND, 6)
@register_function
def lasting(
    track_candidates: Scenario,
    log_dir: Path,
    min_duration_s: float = 0.0,
    max_duration_s: float | None = None,
    max_gap_s: float = 0.5,
) -> Scenario:
    """Spells of a scenario lasting between ``min_duration_s`` and ``max_duration_s`` seconds.

    "Briefly stops" is a stop lasting at most a few seconds; "stopped for a long time" at least 10 s.
    A spell's duration is its first to last timestamp.

    Args:
        min_duration_s: shortest spell kept, in seconds.
        max_duration_s: longest spell kept, in seconds (None: no limit).
        max_gap_s: longest gap inside one spell, in seconds (flicker and dropped frames).

    Prompts say:
        briefly, momentarily, for a long time, for several seconds, for a while, long, short.

    Example:
        stopped = has_velocity(vehicles, log_dir, min_velocity=0, max_velocity=0.5)
        brief_stops = lasting(stopped, log_dir, max_duration_s=3)
    """
    non_negative("lasting", min_duration_s=min_duration_s)
    if max_duration_s is not None:
        non_negative("lasting", max_duration_s=max_duration_s)
    low, high = _ns(min_duration_s), None if max_duration_s is None else _ns(max_duration_s)
    return _per_spell(
        "lasting",
        track_candidates,
        log_dir,
        max_gap_s,
        lambda _, spell, __: low <= spell.end - spell.start and (high is None or spell.end - spell.start <= high),
    )


@listed(KIND, 7)
@register_function
def first_time(track_candidates: Scenario, log_dir: Path, max_gap_s: float = 0.5) -> Scenario:
    """Each object's first spell of a scenario ("for the first time").

    Args:
        max_gap_s: longest gap inside one spell, in seconds (flicker and dropped frames).

    Prompts say:
        for the first time, first time, initially, at first.

    Example:
        stopped = has_velocity(vehicles, log_dir, min_velocity=0, max_velocity=0.5)
        first_stop = first_time(stopped, log_dir)
    """
    return _per_spell("first_time", track_candidates, log_dir, max_gap_s, lambda _, spell, all_: spell is all_[0])


@listed(KIND, 8)
@register_function
def last_time(track_candidates: Scenario, log_dir: Path, max_gap_s: float = 0.5) -> Scenario:
    """Each object's last spell of a scenario ("for the last time").

    Args:
        max_gap_s: longest gap inside one spell, in seconds (flicker and dropped frames).

    Prompts say:
        for the last time, last time, finally, at last.

    Example:
        last_turn = last_time(turning(vehicles, log_dir), log_dir)
    """
    return _per_spell("last_time", track_candidates, log_dir, max_gap_s, lambda _, spell, all_: spell is all_[-1])
