"""Cutting a track where its velocity jumps: where a tracker swapped two objects' identities.

The velocity fitted over the ``motion_window_s / 2`` before a box and the one after it differ by
less than ``split_speed_change_mps`` for any real object (5 m/s in half a second is 1 g); a larger
jump means the boxes after it belong to another object. Each run of such boxes is cut once, where two
straight lines fit its boxes best; reconnection then joins the pieces that belong together.
"""

from __future__ import annotations

import numpy as np

from avmine.store.refine.params import RefineParams
from avmine.store.refine.tracks import Tracks, fitted_line, window_rows

MIN_WINDOW_ROWS = 4
"""Boxes each side of a cut needs for its velocity to count."""


def at_motion_breaks(tracks: Tracks, params: RefineParams) -> tuple[Tracks, int]:
    """The tracks cut at their velocity jumps, and the number of cuts."""
    if not len(tracks.track):
        return tracks, 0
    half = params.motion_window_s / 2
    first, _ = tracks.row_bounds()
    lo_before, _ = window_rows(tracks, half, 0.0)
    _, hi_after = window_rows(tracks, 0.0, half - 1e-3)
    rows = np.arange(len(tracks.track))
    hi_before = np.maximum(rows - 1, first)
    v_before, n_before, rss_before = fitted_line(tracks.t_s, tracks.xyz[:, :2], lo_before, hi_before)
    v_after, n_after, rss_after = fitted_line(tracks.t_s, tracks.xyz[:, :2], rows, hi_after)
    jump = np.linalg.norm(v_after - v_before, axis=1)
    valid = (rows > first) & (n_before - (rows == first) >= MIN_WINDOW_ROWS) & (n_after >= MIN_WINDOW_ROWS)
    jump = np.where(valid, jump, 0.0)
    over = jump > params.split_speed_change_mps
    # one cut per run of rows over the threshold (within a track), where two straight lines fit best:
    # a box of the other object inside a window bends its line, and can make the jump look larger
    run_start = over & ~np.r_[False, over[:-1]]  # first rows are never over, so runs stay inside a track
    run_id = np.cumsum(run_start) * over
    cuts = np.zeros(len(rows), dtype=bool)
    if over.any():
        ids = run_id[over]
        misfit = (rss_before + rss_after)[over]
        order = np.lexsort((misfit, ids))
        best = rows[over][order][np.r_[True, ids[order][1:] != ids[order][:-1]]]
        cuts[best] = True
    if not cuts.any():
        return tracks, 0
    done = np.cumsum(cuts)
    piece = done - (done - cuts)[first]  # the piece of its track each row falls in, 0 before the first cut
    uuids = list(tracks.uuids)
    label = tracks.track.copy()
    for key in sorted({(int(t), int(p)) for t, p in zip(tracks.track[piece > 0], piece[piece > 0], strict=True)}):
        old, k = key
        mask = (tracks.track == old) & (piece == k)
        label[mask] = len(uuids)
        uuids.append(f"{tracks.uuids[old]}/{k}")
    return tracks.replace(uuids=np.asarray(uuids, dtype=str), track=label).sorted(), int(cuts.sum())
