"""What ``output_scenario`` does to a scenario before it is written: RefAV's post-processing.

RefAV: ``refAV/utils.py: post_process_scenario`` (called by ``output_scenario``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from avmine.atomic.context import LogContext, context_for
from avmine.atomic.listing import listed
from avmine.atomic.pairs import pairs_of
from avmine.atomic.scenario import Scenario, ScenarioValue, is_empty, prune_in_place, timestamps

RELATIONSHIP_RANGE_M = 50.0
"""Related objects that stay this far (or farther) from their parent are dropped (RefAV)."""


def _pairs(scenario: Scenario, found: set[tuple[str, str]]) -> None:
    for parent, value in scenario.items():
        if isinstance(value, dict):
            for child, grandchildren in value.items():
                found.add((parent, child))
                if isinstance(grandchildren, dict):
                    _pairs(value, found)


def _near_times(ctx: LogContext, scenario: Scenario, max_distance: float) -> dict[tuple[str, str], set[int]]:
    """For every (parent, child) of the scenario: when the child's smoothed centre is nearer than ``max_distance``."""
    wanted: set[tuple[str, str]] = set()
    _pairs(scenario, wanted)
    known = [(p, c) for p, c in sorted(wanted) if p in ctx.track_index and c in ctx.track_index]
    out: dict[tuple[str, str], set[int]] = {pair: set() for pair in wanted}
    if not known:
        return out
    series = pairs_of(
        ctx,
        np.array([ctx.track_index[p] for p, _ in known]),
        np.array([ctx.track_index[c] for _, c in known]),
    )
    near = np.flatnonzero(np.linalg.norm(series.candidate_in_track_frame(), axis=1) < max_distance)
    pairs = series.pair[near]
    stamps: list[int] = series.timestamps_ns[near].tolist()
    firsts = np.flatnonzero(np.diff(pairs, prepend=-1)).tolist()  # rows are grouped by pair
    for lo, hi in zip(firsts, [*firsts[1:], len(stamps)], strict=True):
        out[known[int(pairs[lo])]] = set(stamps[lo:hi])
    return out


def _filter(scenario: Scenario, near_times: dict[tuple[str, str], set[int]]) -> None:
    for parent, value in list(scenario.items()):
        if not isinstance(value, dict):
            continue
        for child, grandchildren in list(value.items()):
            if isinstance(grandchildren, dict):
                _filter(value, near_times)
            child_value: ScenarioValue = grandchildren
            if near_times.get((parent, child), set()).isdisjoint(timestamps(child_value)):
                value.pop(child)


def post_process_scenario(scenario: Scenario, log_dir: Path | str, max_distance: float = RELATIONSHIP_RANGE_M) -> bool:
    """RefAV's post-processing, in place: prune empty entries, then drop far relationships.

    A related object (at any depth) is removed from its parent when its smoothed centre stays
    ``max_distance`` m or more from the parent's centre at every one of its timestamps. Top-level
    objects are never removed directly, but one whose relationships all go loses its timestamps.
    Unlike RefAV, the filter runs every time (RefAV skips it for a scenario it has seen before).

    Returns:
        Whether referred objects remain (False also for a scenario that was empty to begin with).
    """
    prune_in_place(scenario)
    if is_empty(scenario):
        return False
    _filter(scenario, _near_times(context_for(log_dir), scenario, max_distance))
    return not is_empty(scenario)


@listed("RefAV", 31)
def output_scenario(
    scenario: Scenario,
    description: str,
    log_dir: Path,
    output_dir: Path,
    visualize: bool = False,
    **visualization_kwargs: object,
) -> None:
    """Give the scenario as the program's answer for this log; call it once, at the end.

    The scenario is post-processed in place (empty entries pruned, related objects that stay 50 m or
    more from their parent dropped) and saved as ``output_dir/<log_id>/<description>_scenario.pkl``;
    avmine's runner turns it into challenge predictions. ``visualize`` and other keyword arguments
    are accepted and ignored.

    Args:
        visualize: accepted for RefAV compatibility; avmine renders through its own tools.

    Example:
        output_scenario(left_turning_cars, description, log_dir, output_dir)
    """
    del visualize, visualization_kwargs
    post_process_scenario(scenario, log_dir)
    log_id = Path(log_dir).name
    target = Path(output_dir) / log_id / f"{description}_scenario.pkl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pickle.dumps({(log_id, description): scenario}))
