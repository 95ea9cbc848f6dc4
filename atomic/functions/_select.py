"""Turning per-row masks into per-track timestamp lists, for many tracks at once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from avmine.atomic.context import LogContext


def tracks_of(ctx: LogContext, uuids: list[str]) -> npt.NDArray[np.int64]:
    """Track indices of the uuids that exist in the log (unknown uuids are dropped)."""
    return np.array([ctx.track_index[u] for u in uuids if u in ctx.track_index], dtype=np.int64)


def timestamps_where(ctx: LogContext, uuids: list[str], row_mask: npt.NDArray[np.bool_]) -> dict[str, list[int]]:
    """For each uuid, the timestamps of its rows where ``row_mask`` holds (sorted; [] if none or unknown).

    Args:
        ctx: the log.
        uuids: the tracks to report.
        row_mask: one flag per row of the log, shape (R,).
    """
    out: dict[str, list[int]] = {u: [] for u in uuids}
    tracks = tracks_of(ctx, uuids)
    if len(tracks) == 0:
        return out
    wanted = np.zeros(len(ctx.track_uuids), dtype=bool)
    wanted[tracks] = True
    rows = np.flatnonzero(row_mask & wanted[ctx.row_track])
    # rows are sorted by track then time, so each track's hits form one contiguous, sorted run
    splits = np.searchsorted(ctx.row_track[rows], tracks)
    ends = np.searchsorted(ctx.row_track[rows], tracks, side="right")
    stamps = ctx.row_timestamp_ns[rows]
    for track, lo, hi in zip(tracks.tolist(), splits.tolist(), ends.tolist(), strict=True):
        out[ctx.track_uuids[track]] = stamps[lo:hi].tolist()
    return out


def whole_tracks(ctx: LogContext, uuids: list[str], track_flag: npt.NDArray[np.bool_]) -> dict[str, list[int]]:
    """Full timelines of the uuids whose per-track flag holds, [] for the others."""
    return timestamps_where(ctx, uuids, track_flag[ctx.row_track])
