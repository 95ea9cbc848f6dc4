"""Per-log state of the atomic runtime: the cached arrays of one log, indexed for fast lookups.

Programs receive ``log_dir``, the log's cache directory; every function turns it into a
``LogContext`` through ``context_for`` (loaded once per log and source, then reused).
Derived series (smoothed positions, velocities, yaw) are computed for all tracks at once
the first time a function asks for them.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from av2.map.map_api import ArgoverseStaticMap
from scipy.spatial.transform import Rotation

from avmine.atomic.kinematics import Groups, derivative, yaw_rate
from avmine.atomic.map.geometry import box_footprints_3d, footprint_discs, footprints_degenerate
from avmine.atomic.map.lanes import MapIndex
from avmine.atomic.map.regions import MapRegions
from avmine.store.arrays import ANNOTATIONS_SOURCE, LogArrays, load_log_arrays
from avmine.store.typing import NDArrayFloat, NDArrayInt

DerivedT = TypeVar("DerivedT")


_active_source = ANNOTATIONS_SOURCE

RECENT_SIZE = 2_000_000
"""How much call-specific work (``LogContext.recent``) a log keeps: pair rows, about 250 bytes each
with what calls compute on them, so at most about 0.5 GB."""


def set_active_source(source: str) -> None:
    """Choose which track source (the log's annotations or a tracker) programs see."""
    global _active_source
    _active_source = source
    _load.cache_clear()


def active_source() -> str:
    """The track source programs see."""
    return _active_source


@dataclass(frozen=True)
class Mark:
    """What a context held at one moment (``LogContext.mark``)."""

    attributes: frozenset[str]
    derived: frozenset[tuple[object, ...]]
    per_row: frozenset[tuple[object, ...]]
    recent: frozenset[tuple[object, ...]]


class LogContext:
    """One source's boxes of one log, with per-track lookups and derived kinematics.

    Track ``i`` is the i-th uuid in order of first appearance; its rows are
    ``track_start[i]:track_start[i + 1]`` of the arrays, sorted by time.
    """

    def __init__(self, arrays: LogArrays) -> None:
        self.arrays = arrays
        self.log_dir = arrays.log_dir
        self.log_id = arrays.log_id
        self.ego_uuid = arrays.ego_uuid
        self.track_uuids: list[str] = [str(u) for u in arrays.track_uuids]
        self.track_index = {uuid: i for i, uuid in enumerate(self.track_uuids)}
        self.timestamps_ns: NDArrayInt = np.asarray(arrays.timestamps_ns, dtype=np.int64)
        self.row_track: NDArrayInt = np.asarray(arrays.row_track, dtype=np.int64)
        self.row_time: NDArrayInt = np.asarray(arrays.row_time_index, dtype=np.int64)
        self.row_timestamp_ns: NDArrayInt = np.asarray(arrays.row_timestamp_ns, dtype=np.int64)
        self.track_start: NDArrayInt = np.asarray(arrays.track_start, dtype=np.int64)
        self.groups = Groups.from_lengths(np.diff(self.track_start))
        self.row_at = np.full((len(self.track_uuids), len(self.timestamps_ns)), -1, dtype=np.int64)
        """(U, T) row of track u at timestamp t, or -1."""
        self.row_at[self.row_track, self.row_time] = np.arange(len(self.row_track))
        self._colors: tuple[float, dict[str, str | None]] | None = None
        self._derived: dict[tuple[object, ...], Any] = {}
        self._per_row: dict[tuple[object, ...], tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]] = {}
        self._recent: OrderedDict[tuple[object, ...], tuple[Any, int]] = OrderedDict()

    def derived(self, key: tuple[object, ...], compute: Callable[[], DerivedT]) -> DerivedT:
        """A series derived from this log's boxes, computed once per key (e.g. a windowed speed).

        The faithful kinematics are cached properties; parameterised series (a window length) use this.
        """
        if key not in self._derived:
            self._derived[key] = compute()
        value: DerivedT = self._derived[key]
        return value

    def mark(self) -> Mark:
        """What this context holds now; ``forget_since`` drops what was computed after."""
        return Mark(frozenset(vars(self)), frozenset(self._derived), frozenset(self._per_row), frozenset(self._recent))

    def forget_since(self, mark: Mark) -> None:
        """Drop the series computed since ``mark`` (a sandboxed child gives a log's memory back before the next)."""
        for name in set(vars(self)) - mark.attributes:
            delattr(self, name)
        for cache, kept in ((self._derived, mark.derived), (self._per_row, mark.per_row), (self._recent, mark.recent)):
            for key in set(cache) - kept:
                del cache[key]

    def per_row(
        self, key: tuple[object, ...], tracks: NDArrayInt, compute: Callable[[NDArrayInt], npt.NDArray[Any]]
    ) -> npt.NDArray[Any]:
        """A per-row series of this log, computed for whole tracks as they are first asked for.

        Args:
            key: what the series is (function and parameters).
            tracks: the tracks whose rows the caller needs.
            compute: the values at given rows, shape (K,), from the rows (whole tracks, in order).

        Returns:
            Shape (R,): the values at the rows of every track computed so far (others unspecified).
        """
        values, done = self._per_row.get(key, (None, np.zeros(len(self.track_uuids), dtype=bool)))
        todo = np.zeros(len(self.track_uuids), dtype=bool)
        todo[np.asarray(tracks, dtype=np.int64)] = True
        todo &= ~done
        if todo.any():
            rows = np.flatnonzero(todo[self.row_track])
            computed = np.asarray(compute(rows))
            if values is None:
                values = np.zeros(len(self.row_track), dtype=computed.dtype)
            values[rows] = computed
            self._per_row[key] = (values, done | todo)
        return values if values is not None else np.zeros(len(self.row_track), dtype=bool)

    def per_row_if_complete(self, key: tuple[object, ...]) -> npt.NDArray[Any] | None:
        """The ``per_row`` series ``key`` if it was computed for every track, else None."""
        values, done = self._per_row.get(key, (None, None))
        return values if values is not None and done is not None and bool(done.all()) else None

    def adopt_per_row(self, key: tuple[object, ...], values: npt.NDArray[Any]) -> None:
        """Hold ``values`` (shape (R,), e.g. memory-mapped from the log's cache) as ``per_row(key)`` of every track."""
        self._per_row[key] = (values, np.ones(len(self.track_uuids), dtype=bool))

    def recent(
        self,
        key: tuple[object, ...],
        compute: Callable[[], DerivedT],
        size: Callable[[DerivedT], int] | None = None,
    ) -> DerivedT:
        """Like ``derived``, but only recent keys are kept, up to ``RECENT_SIZE`` in all.

        For large, call-specific work such as the pair series of two sets of tracks. ``size`` weighs
        a result once computed (1 each when None); one heavier than the whole budget is returned
        without being kept.
        """
        if key in self._recent:
            self._recent.move_to_end(key)
            kept: DerivedT = self._recent[key][0]
            return kept
        value = compute()
        weight = 1 if size is None else size(value)
        if weight <= RECENT_SIZE:
            self._recent[key] = (value, weight)
            while sum(w for _, w in self._recent.values()) > RECENT_SIZE:
                self._recent.popitem(last=False)
        return value

    def forget_recent(self) -> None:
        """Drop the call-specific results kept by ``recent`` (their memory, or to measure from scratch)."""
        self._recent.clear()

    def color_cache(self) -> dict[str, str | None]:
        """RefAV's colour cache of the log (``cache/color_cache.json``; {} without one), as last read.

        Read on first use; ``refresh_colors`` re-reads it (the sandbox, which sees no files, never does).
        """
        if self._colors is None:
            self.refresh_colors()
        assert self._colors is not None
        return self._colors[1]

    def refresh_colors(self) -> bool:
        """Re-read the colour cache if its file changed (or appeared); True when it did.

        Called before a program runs, so a sandboxed program, which sees no files, gets current colours.
        """
        path = self.log_dir / "cache" / "color_cache.json"
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = -1
        if self._colors is not None and self._colors[0] == stamp:
            return False
        colors: dict[str, str | None] = json.loads(path.read_text()) if stamp >= 0 else {}
        self._colors = (stamp, colors)
        return True

    # -- the Timelines protocol -------------------------------------------------------------
    def uuids(self) -> list[str]:
        """Every track uuid, in order of first appearance."""
        return list(self.track_uuids)

    def timeline(self, uuid: str) -> list[int]:
        """The sorted timestamps at which the track has a box ([] for an unknown uuid)."""
        track = self.track_index.get(str(uuid))
        if track is None:
            return []
        timeline: list[int] = self.row_timestamp_ns[self.track_start[track] : self.track_start[track + 1]].tolist()
        return timeline

    def uuids_at(self, timestamp_ns: int) -> list[str]:
        """Tracks with a box at the timestamp, in order of first appearance."""
        at = np.searchsorted(self.timestamps_ns, timestamp_ns)
        if at >= len(self.timestamps_ns) or self.timestamps_ns[at] != timestamp_ns:
            return []
        return [self.track_uuids[i] for i in np.flatnonzero(self.row_at[:, at] >= 0)]

    # -- per-row raw data ------------------------------------------------------------------
    def rows_of(self, track: int) -> slice:
        """The rows of one track."""
        return slice(int(self.track_start[track]), int(self.track_start[track + 1]))

    @functools.cached_property
    def xyz_city(self) -> NDArrayFloat:
        """Raw box centres in the city frame, shape (R, 3)."""
        return np.asarray(self.arrays.xyz_city, dtype=np.float64)

    @functools.cached_property
    def rotation_city(self) -> NDArrayFloat:
        """Object -> city rotation matrices of the raw boxes, shape (R, 3, 3)."""
        return Rotation.from_quat(np.array(self.arrays.quat_city), scalar_first=True).as_matrix()

    @functools.cached_property
    def yaw_city(self) -> NDArrayFloat:
        """Heading as RefAV measures it: z of the object -> city rotation vector, radians, shape (R,)."""
        return Rotation.from_quat(np.array(self.arrays.quat_city), scalar_first=True).as_rotvec()[:, 2]

    @functools.cached_property
    def size(self) -> NDArrayFloat:
        """Box length, width, height in metres, shape (R, 3)."""
        return np.asarray(self.arrays.size, dtype=np.float64)

    @functools.cached_property
    def footprints_city(self) -> NDArrayFloat:
        """Raw box footprints in the city frame, closed (front-right first), shape (R, 5, 2)."""
        return box_footprints_3d(self.xyz_city, self.size, self.rotation_city)

    @functools.cached_property
    def footprints_ego(self) -> NDArrayFloat:
        """Raw box footprints in the ego frame of their timestamp, closed, shape (R, 5, 2).

        RefAV measures distances between boxes on these: projecting to the ego's x-y plane is not
        the same as projecting to the city's when the ego is pitched or rolled.
        """
        rotation_ego = Rotation.from_quat(np.array(self.arrays.quat_ego), scalar_first=True).as_matrix()
        return box_footprints_3d(np.asarray(self.arrays.xyz_ego), self.size, rotation_ego)

    @functools.cached_property
    def footprint_discs(self) -> tuple[NDArrayFloat, NDArrayFloat]:
        """Discs holding the ego-frame footprints: centres (R, 2), radii (R,) (``footprint_discs``)."""
        return footprint_discs(self.footprints_ego)

    @functools.cached_property
    def footprint_degenerate(self) -> npt.NDArray[np.bool_]:
        """Per row: an ego-frame footprint whose distances may not be numbers, shape (R,)."""
        return footprints_degenerate(self.footprints_ego)

    @functools.cached_property
    def track_category(self) -> list[str]:
        """Category of each track's first row."""
        return [str(c) for c in self.arrays.track_categories]

    # -- derived series over each track's full timeline -------------------------------------
    @functools.cached_property
    def smoothed_xyz_city(self) -> NDArrayFloat:
        """Median-filtered centres in the city frame, shape (R, 3)."""
        return derivative(self.xyz_city, self.row_timestamp_ns, self.groups, 0)

    @functools.cached_property
    def velocity_city(self) -> NDArrayFloat:
        """Velocity in the city frame (m/s), RefAV's differences then median filter, shape (R, 3)."""
        return derivative(self.xyz_city, self.row_timestamp_ns, self.groups, 1)

    @functools.cached_property
    def acceleration_city(self) -> NDArrayFloat:
        """Acceleration in the city frame (m/s²), shape (R, 3)."""
        return derivative(self.xyz_city, self.row_timestamp_ns, self.groups, 2)

    def in_own_frame(self, vectors_city: NDArrayFloat) -> NDArrayFloat:
        """Rotate per-row city vectors into each row's own box frame (+x forward, +y left)."""
        return np.asarray(np.einsum("rji,rj->ri", self.rotation_city, vectors_city), dtype=np.float64)

    @functools.cached_property
    def velocity_own_frame(self) -> NDArrayFloat:
        """``velocity_city`` in each row's own box frame (m/s), shape (R, 3)."""
        return self.in_own_frame(self.velocity_city)

    @functools.cached_property
    def yaw_rate(self) -> NDArrayFloat:
        """Yaw rate in rad/s (unsmoothed), shape (R,)."""
        return yaw_rate(self.yaw_city, self.row_timestamp_ns, self.groups)

    # -- the map -------------------------------------------------------------------------------
    @functools.cached_property
    def static_map(self) -> ArgoverseStaticMap:
        """The log's vector map (av2), from the copy in the cache."""
        return ArgoverseStaticMap.from_map_dir(self.arrays.map_dir, build_raster=False)

    @functools.cached_property
    def map_index(self) -> MapIndex:
        """The log's lane segments, indexed for point queries."""
        return MapIndex(self.static_map)

    @functools.cached_property
    def map_regions(self) -> MapRegions:
        """The log's drivable areas, crossings and intersections, indexed."""
        return MapRegions(self.static_map, self.map_index)

    @functools.cached_property
    def row_lane(self) -> NDArrayInt:
        """Lane id of each box by RefAV's per-track lane assignment (-1: none), shape (R,).

        Read from the cache when ingest stored it (``row_lane.npy``), else computed here.
        """
        from avmine.atomic.map_features import lane_assignment  # late: map features build on this context

        return lane_assignment(self)

    @functools.cached_property
    def is_stationary(self) -> npt.NDArray[np.bool_]:
        """Per track: the smoothed path's bounding-box diagonal is under 3 m (RefAV's stationary)."""
        xyz = self.smoothed_xyz_city
        lo = np.minimum.reduceat(xyz, self.track_start[:-1], axis=0)
        hi = np.maximum.reduceat(xyz, self.track_start[:-1], axis=0)
        return np.asarray(np.linalg.norm(hi - lo, axis=1) < 3.0)


@functools.lru_cache(maxsize=8)
def _load(log_dir: Path, source: str, key: str) -> LogContext:
    del key  # part of the cache key only: a re-ingested log gets a new context
    return LogContext(load_log_arrays(log_dir, source))


_pinned: dict[Path, LogContext] = {}


def pin_context(log_dir: Path | str, ctx: LogContext) -> None:
    """Serve ``ctx`` for ``log_dir`` without touching files (sandboxed workers pin their preloaded log)."""
    _pinned[Path(log_dir)] = ctx


def clear_pins() -> None:
    """Forget every pinned context (a sandboxed child pins only the log it runs on)."""
    _pinned.clear()


def context_for(log_dir: Path | str) -> LogContext:
    """The context of a log directory for the active track source.

    Raises:
        FileNotFoundError: ``log_dir`` is not a cached log, or lacks the active source.
    """
    path = Path(log_dir)
    if path in _pinned:
        return _pinned[path]
    meta = path / "boxes" / _active_source / "meta.json"
    key = str(meta.stat().st_mtime_ns) if meta.is_file() else ""
    return _load(path, _active_source, key)
