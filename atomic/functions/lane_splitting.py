"""Lane splitting: riding between two vehicles that are side by side, going their way.

Definition (units: metres, seconds, m/s, degrees): the track moves (1-second mean speed above
2 m/s) and at the same moment has a related object on its left and another on its right, each
overlapping it lengthwise, with at most ``max_gap_m`` (1.5 m) between the boxes sideways, heading
within 30° of the track's way; for at least ``min_duration_s`` (0.5 s). Decided on denoised boxes.
The relationship holds the objects on either side.
"""

from __future__ import annotations

import numpy as np

from avmine.atomic.context import LogContext
from avmine.atomic.denoise import denoised
from avmine.atomic.functions._select import tracks_of
from avmine.atomic.functions.relations import Relations
from avmine.atomic.functions.robust import planar_speed
from avmine.atomic.lifting import relational
from avmine.atomic.listing import listed
from avmine.atomic.pairs import build_pairs
from avmine.atomic.temporal import sustain
from avmine.atomic.validation import non_negative

MOVING_MPS = 2.0
"""A lane splitter moves faster than this."""
SAME_WAY_DEG = 30.0
"""The objects on either side head within this angle of the splitter's way."""


@listed("behaviour", 22)
@relational
def lane_splitting(
    ctx: LogContext,
    track_uuids: list[str],
    related_uuids: list[str],
    max_gap_m: float = 1.5,
    min_duration_s: float = 0.5,
) -> Relations:
    """Objects riding between two related objects side by side (lane splitting), related to both.

    The track moves above 2 m/s with a related object alongside on its left and another on its
    right at once, each within max_gap_m sideways (box to box) and heading its way (within 30°).

    Args:
        max_gap_m: largest sideways gap between the boxes, metres.
        min_duration_s: shortest spell kept, in seconds.

    Prompts say:
        lane splitting, between lanes, splitting lanes, riding between lanes.

    Example:
        splitting = lane_splitting(motorcycles, vehicles, log_dir)
    """
    non_negative("lane_splitting", max_gap_m=max_gap_m, min_duration_s=min_duration_s)
    out: Relations = {u: {} for u in track_uuids}
    clean = denoised(ctx)
    tracks, others = tracks_of(clean, track_uuids), tracks_of(clean, related_uuids)
    if len(tracks) == 0 or len(others) == 0:
        return out
    series = build_pairs(clean, tracks, others)
    if not len(series.pair):
        return out
    local = series.candidate_in_track_frame()
    size_t, size_c = clean.size[series.row_track], clean.size[series.row_candidate]
    overlapping = np.abs(local[:, 0]) <= (size_t[:, 0] + size_c[:, 0]) / 2
    gap = np.abs(local[:, 1]) - (size_t[:, 1] + size_c[:, 1]) / 2
    turned = clean.yaw_city[series.row_candidate] - clean.yaw_city[series.row_track]
    same_way = np.cos(turned) >= np.cos(np.radians(SAME_WAY_DEG))
    moving = planar_speed(ctx, 1.0)[series.row_track] > MOVING_MPS
    beside = overlapping & (gap <= max_gap_m) & same_way & moving
    left, right = beside & (local[:, 1] > 0), beside & (local[:, 1] < 0)
    # both sides taken at the same moment: count per (track, time)
    n_tracks, n_times = len(clean.track_uuids), len(clean.timestamps_ns)
    owner = series.track[series.pair]
    has_left = np.zeros((n_tracks, n_times), dtype=bool)
    has_right = np.zeros((n_tracks, n_times), dtype=bool)
    has_left[owner[left], series.time[left]] = True
    has_right[owner[right], series.time[right]] = True
    between = beside & has_left[owner, series.time] & has_right[owner, series.time]
    # spells per track (the neighbours may change as the splitter moves up the queue)
    track_rows = np.zeros(len(clean.row_track), dtype=bool)
    rows = clean.row_at[owner[between], series.time[between]]
    track_rows[rows] = True
    kept = sustain(track_rows, clean.row_timestamp_ns, clean.groups, 0.3, min_duration_s)
    keep = between & kept[clean.row_at[owner, series.time]]
    for (track, other), stamps in series.per_pair_timestamps(keep).items():
        out[clean.track_uuids[track]][clean.track_uuids[other]] = stamps
    return out
