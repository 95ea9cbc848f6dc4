"""Denoised boxes: every track's centres and headings averaged over a second, box flips removed.

The robust relation functions ask RefAV's geometric questions of these boxes instead of the raw
ones, so one jittered box or one front/back flip does not change an answer. The ego's boxes come
from localisation, not a tracker, and are kept as they are.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from av2.map.map_api import ArgoverseStaticMap

from avmine.atomic.context import LogContext
from avmine.atomic.functions.robust import robust_stationary_mask
from avmine.atomic.kinematics import Groups
from avmine.atomic.map.lanes import MapIndex
from avmine.atomic.map.regions import MapRegions
from avmine.atomic.temporal import unwrapped_heading
from avmine.store.geometry import with_city_poses

HALF_WINDOW_BOXES = 5
"""Centres and headings are means of a box and the 5 boxes on either side (a second at 10 Hz)."""


def centred_mean(values: npt.NDArray[np.float64], groups: Groups, half: int) -> npt.NDArray[np.float64]:
    """Mean of each row and up to ``half`` rows on either side in its group, as many on each side.

    Counting boxes, not seconds, keeps every window symmetric: a window in seconds takes one box
    more on one side whenever timestamps jitter, and the mean of a moving object then stalls.
    """
    index = np.arange(len(values))
    k = np.minimum(np.minimum(index - groups.start, groups.end - index), half)
    sums = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    width = (2 * k + 1).reshape(-1, *([1] * (values.ndim - 1)))
    return np.asarray((sums[index + k + 1] - sums[index - k]) / width)


def oriented_heading(yaw: npt.NDArray[np.float64], groups: Groups) -> npt.NDArray[np.float64]:
    """Continuous heading per track without front/back flips, pointing the way most of its boxes point."""
    heading = unwrapped_heading(yaw, groups)
    flipped = (np.cos(heading - yaw) < 0).astype(np.int64)
    starts = np.unique(groups.start)
    share = np.add.reduceat(flipped, starts) / np.diff(np.append(starts, len(yaw)))
    # the first box anchors the unwrapping: when it was the flipped one, most boxes disagree
    turn = np.repeat(np.where(share > 0.5, np.pi, 0.0), np.diff(np.append(starts, len(yaw))))
    return np.asarray(heading + turn)


class DenoisedContext(LogContext):
    """A log's context over denoised boxes; the map and the rows are the raw context's."""

    def __init__(self, raw: LogContext) -> None:
        arrays = raw.arrays
        xyz = centred_mean(raw.xyz_city, raw.groups, HALF_WINDOW_BOXES)
        heading = oriented_heading(raw.yaw_city, raw.groups)
        mean_heading = centred_mean(heading, raw.groups, HALF_WINDOW_BOXES)
        # a parked object's best box is the mean of all its boxes, not of one second of them
        parked = robust_stationary_mask(raw)[raw.row_track]
        starts = raw.track_start[:-1]
        lengths = np.diff(raw.track_start)
        xyz[parked] = np.repeat(np.add.reduceat(raw.xyz_city, starts, axis=0) / lengths[:, None], lengths, axis=0)[
            parked
        ]
        mean_heading = np.where(parked, np.repeat(np.add.reduceat(heading, starts) / lengths, lengths), mean_heading)
        ego = raw.row_track == raw.track_index.get(raw.ego_uuid, -1)
        xyz[ego] = raw.xyz_city[ego]
        yaw = np.where(ego, raw.yaw_city, (mean_heading + np.pi) % (2 * np.pi) - np.pi)
        super().__init__(with_city_poses(arrays, xyz, yaw, keep_tilt=True))
        self.raw = raw

    @functools.cached_property
    def static_map(self) -> ArgoverseStaticMap:
        """The raw context's map."""
        return self.raw.static_map

    @functools.cached_property
    def map_index(self) -> MapIndex:
        """The raw context's lane index."""
        return self.raw.map_index

    @functools.cached_property
    def map_regions(self) -> MapRegions:
        """The raw context's map regions."""
        return self.raw.map_regions

    @functools.cached_property
    def row_lane(self) -> npt.NDArray[np.int64]:
        """RefAV's lane vote on the denoised centres (never the raw boxes' stored answer)."""
        from avmine.atomic.map_features import compute_lane_assignment  # late: map features build on contexts

        return compute_lane_assignment(self)


def denoised(ctx: LogContext) -> LogContext:
    """The denoised context of a log, built once per context."""
    if isinstance(ctx, DenoisedContext):
        return ctx
    return ctx.derived(("denoised",), lambda: DenoisedContext(ctx))
