"""Where two objects are around one intersection: across it from each other."""

from __future__ import annotations

import numpy as np

from avmine.atomic.context import LogContext
from avmine.atomic.functions._select import tracks_of
from avmine.atomic.lifting import relational
from avmine.atomic.listing import listed
from avmine.atomic.pairs import build_pairs
from avmine.atomic.validation import non_negative
from avmine.store.typing import NDArrayInt

Relations = dict[str, dict[str, list[int]]]


def _intersection_of_rows(ctx: LogContext, tracks: NDArrayInt, near_m: float) -> NDArrayInt:
    """Per log row of ``tracks``: the intersection its smoothed centre is within ``near_m`` of (-1: none)."""

    def compute(rows: NDArrayInt) -> NDArrayInt:
        return ctx.map_regions.intersection_near(ctx.smoothed_xyz_city[rows, :2], near_m)

    return ctx.per_row(("intersection_near", float(near_m)), tracks, compute)


@listed("behaviour", 25)
@relational
def across_intersection_from(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    near_m: float = 10.0,
    min_angle_deg: float = 120.0,
    max_distance: float = 80.0,
) -> Relations:
    """Tracks on the far side of the same intersection from a related object.

    Both are within near_m metres of one intersection (its lanes joined into one area), and seen from the
    intersection's centre they lie at least min_angle_deg apart: "the car across the intersection",
    "oncoming traffic waiting on the other side", "a pedestrian across the junction".

    Args:
        near_m: how far from the intersection's lanes each object may be, in metres.
        min_angle_deg: smallest angle between the two, seen from the intersection's centre, in degrees.
        max_distance: largest distance between the two centres, in metres.

    Prompts say:
        across the intersection, other side of the intersection, across the junction, opposite side of the intersection.

    Example:
        across = across_intersection_from(vehicles, ego, log_dir)
    """
    non_negative("across_intersection_from", near_m=near_m, min_angle_deg=min_angle_deg, max_distance=max_distance)
    tracks, related = tracks_of(ctx, track_uuids), tracks_of(ctx, related_uuids)
    series = build_pairs(ctx, tracks, related)
    where = _intersection_of_rows(ctx, np.concatenate([tracks, related]), near_m)
    own, other = where[series.row_track], where[series.row_candidate]
    rows = np.flatnonzero((own >= 0) & (own == other))
    _, centres = ctx.map_regions.intersections
    a = ctx.smoothed_xyz_city[series.row_track[rows], :2] - centres[own[rows]]
    b = ctx.smoothed_xyz_city[series.row_candidate[rows], :2] - centres[own[rows]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    apart = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))) >= min_angle_deg
    close = np.linalg.norm(a - b, axis=1) <= max_distance
    hit = np.zeros(len(series.pair), dtype=bool)
    hit[rows[apart & close]] = True
    out: Relations = {uuid: {} for uuid in track_uuids}
    for (track, candidate), stamps in series.per_pair_timestamps(hit).items():
        out[ctx.track_uuids[track]][ctx.track_uuids[candidate]] = stamps
    return out
