"""Selecting objects by what they are: category and colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avmine.atomic.categories import CATEGORIES, PSEUDO_CATEGORIES, members
from avmine.atomic.context import LogContext, context_for
from avmine.atomic.lifting import unary
from avmine.atomic.listing import listed
from avmine.atomic.scenario import Scenario
from avmine.atomic.validation import ArgumentError, choice


def category_uuids(ctx: LogContext, category: str) -> list[str]:
    """Uuids with at least one box of the category, in RefAV's order.

    That order is first appearance in the input among the boxes of that category; for a
    super-category, member by member in RefAV's member order. ``ANY`` is every object.
    """
    if category not in CATEGORIES and category not in PSEUDO_CATEGORIES:
        # RefAV returns {} here; an agent is better served by the list of names it may use.
        valid = ", ".join([*CATEGORIES, *PSEUDO_CATEGORIES])
        raise ArgumentError(f"unknown category {category!r}; valid categories: {valid}.")
    wanted = members(category)
    if wanted is None:
        return ctx.uuids()
    names = [str(c) for c in ctx.arrays.categories]
    input_row = np.asarray(ctx.arrays.input_row)
    row_category = np.asarray(ctx.arrays.row_category)
    found: list[str] = []
    for name in wanted:
        if name not in names:
            continue
        rows = np.flatnonzero(row_category == names.index(name))
        tracks = ctx.row_track[rows]
        first_row = np.full(len(ctx.track_uuids), np.iinfo(np.int64).max)
        np.minimum.at(first_row, tracks, input_row[rows])
        chosen = np.unique(tracks)
        found += [ctx.track_uuids[t] for t in chosen[np.argsort(first_row[chosen], kind="stable")]]
    return list(dict.fromkeys(found))


@listed("RefAV", 3)
def get_objects_of_category(log_dir: Path, category: str) -> Scenario:
    """All objects of a category, each at every timestamp it is seen.

    Args:
        log_dir: the log (pre-bound in programs). Note the order: log_dir first, unlike other functions.
        category: a category name (see the categories list), or "ANY" for every object, "VEHICLE" for
            every vehicle (the ego, cars, trucks, buses, motorcycles; see the categories list),
            "EGO_VEHICLE" for the data-collection car. An unknown name raises an error that lists the names
            (RefAV returns {} for it).

    Returns:
        {uuid: [timestamp_ns, ...]} for every object of the category.

    Prompts say:
        category, type of object, kind of object.

    Example:
        peds = get_objects_of_category(log_dir, category="PEDESTRIAN")
    """
    ctx = context_for(log_dir)
    return {uuid: ctx.timeline(uuid) for uuid in category_uuids(ctx, category)}


@listed("RefAV", 4)
@unary
def is_category(ctx: LogContext, uuids: list[str], category: str) -> dict[str, list[int]]:
    """Keep the objects of a category, at their input timestamps.

    Args:
        category: a category name, "ANY", "VEHICLE" or "EGO_VEHICLE" (as in get_objects_of_category).

    Prompts say:
        which are, that are, kind of.

    Example:
        buses = is_category(vehicles, log_dir, category="BUS")
    """
    chosen = set(category_uuids(ctx, category))
    return {u: ctx.timeline(u) for u in uuids if u in chosen}


COLORS = ("white", "silver", "black", "red", "yellow", "blue")
"""Colours a colour cache can hold."""


@listed("RefAV", 5)
@unary
def is_color(ctx: LogContext, uuids: list[str], color: str) -> dict[str, list[int]]:
    """Keep objects of a colour: white, silver, black, red, yellow or blue.

    Reads the log's colour cache (built by the VLM layer); without one every object passes, and
    objects the cache does not know pass too, as in RefAV.

    Args:
        color: "white", "silver", "black", "red", "yellow" or "blue".

    Prompts say:
        red, blue, white, black, silver, yellow, colour, color.

    Example:
        red_cars = is_color(cars, log_dir, color="red")
    """
    choice("is_color", "color", color, COLORS)
    cache = ctx.color_cache()
    # RefAV: without a cache every object passes; objects the cache does not know pass too.
    return {u: ctx.timeline(u) for u in uuids if not cache or u not in cache or cache[u] == color}
