"""Bird's-eye-view renders of a log: map geometry, boxes and their recent paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: renders go to files and MCP images, never a window

import matplotlib.pyplot as plt
import numpy as np
from av2.map.map_api import ArgoverseStaticMap
from matplotlib.patches import Polygon

from avmine.atomic.categories import CATEGORY_COLOURS, OTHER_COLOUR
from avmine.store.arrays import LogArrays

HIGHLIGHT_COLOUR = "#e000e0"
"""Chosen tracks: a colour no category has."""


@dataclass(frozen=True)
class BevView:
    """What to draw: one timestamp index, the trail length before it, and the area around a centre.

    Highlighted tracks (indices into the log's tracks) get a magenta outline, their whole path from
    ``start_index`` to ``time_index`` and a faint box every second along it.
    """

    time_index: int
    trail_s: float = 3.0
    radius_m: float = 60.0
    highlight: tuple[int, ...] = ()
    start_index: int | None = None
    centre: tuple[float, float] | None = None
    """City x, y of the view's centre (default: the ego at ``time_index``)."""


def footprints_city(arrays: LogArrays, rows: np.ndarray) -> np.ndarray:
    """Box footprints (front-left, front-right, back-right, back-left) in the city frame, shape (N, 4, 2)."""
    length = arrays.size[rows, 0] / 2
    width = arrays.size[rows, 1] / 2
    corners = np.stack(
        [np.stack([length, width], -1), np.stack([length, -width], -1),
         np.stack([-length, -width], -1), np.stack([-length, width], -1)],
        axis=1,
    )  # fmt: skip
    yaw = arrays.yaw_city[rows]
    cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x = corners[..., 0] * cos - corners[..., 1] * sin
    y = corners[..., 0] * sin + corners[..., 1] * cos
    return np.stack([x, y], -1) + arrays.xyz_city[rows, None, :2]


def draw_map(ax: Any, map_dir: Path) -> None:
    """Drivable area, lane boundaries (intersections in violet) and pedestrian crossings, under everything else."""
    avm = ArgoverseStaticMap.from_map_dir(map_dir, build_raster=False)
    for area in avm.vector_drivable_areas.values():
        ax.add_patch(Polygon(area.xyz[:, :2], closed=True, facecolor="#eeeeee", edgecolor="none", zorder=0))
    for lane in avm.vector_lane_segments.values():
        colour = "#c7a0d9" if lane.is_intersection else "#bbbbbb"
        for boundary in (lane.left_lane_boundary.xyz, lane.right_lane_boundary.xyz):
            ax.plot(boundary[:, 0], boundary[:, 1], color=colour, linewidth=0.6, zorder=1)
    for crossing in avm.vector_pedestrian_crossings.values():
        ax.add_patch(Polygon(crossing.polygon[:, :2], closed=True, facecolor="#fff3b0", edgecolor="#e0c000",
                             linewidth=0.6, zorder=1))  # fmt: skip


def render_bev(arrays: LogArrays, view: BevView, out: Path, title: str | None = None) -> Path:
    """Draw lanes, crossings, drivable area and the boxes at one timestamp, with trails, to a PNG."""
    centre = np.asarray(view.centre) if view.centre is not None else arrays.ego_xyz_city[view.time_index, :2]
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    draw_map(ax, arrays.map_dir)

    now_ns = arrays.timestamps_ns[view.time_index]
    rows_now = np.flatnonzero(arrays.row_time_index == view.time_index)
    in_trail = (arrays.row_timestamp_ns <= now_ns) & (arrays.row_timestamp_ns >= now_ns - view.trail_s * 1e9)
    seen: set[str] = set()
    for rows, box in zip(rows_now, footprints_city(arrays, rows_now), strict=True):
        track = int(arrays.row_track[rows])
        category = str(arrays.track_categories[track])
        colour = CATEGORY_COLOURS.get(category, OTHER_COLOUR)
        trail = np.flatnonzero(in_trail & (arrays.row_track == track))
        ax.plot(arrays.xyz_city[trail, 0], arrays.xyz_city[trail, 1], color=colour, linewidth=0.8, zorder=2)
        label = category if category not in seen else None
        seen.add(category)
        ax.add_patch(Polygon(box, closed=True, facecolor=colour, edgecolor="black", linewidth=0.4, alpha=0.85,
                             zorder=3, label=label))  # fmt: skip
    _draw_highlights(ax, arrays, view)
    ax.set_xlim(centre[0] - view.radius_m, centre[0] + view.radius_m)
    ax.set_ylim(centre[1] - view.radius_m, centre[1] + view.radius_m)
    ax.set_aspect("equal")
    ax.set_xlabel("city x (m)")
    ax.set_ylabel("city y (m)")
    ax.set_title(title or f"{arrays.log_id}  t={now_ns}")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out


def _draw_highlights(ax: Any, arrays: LogArrays, view: BevView) -> None:
    start = view.time_index if view.start_index is None else view.start_index
    in_window = (arrays.row_time_index >= start) & (arrays.row_time_index <= view.time_index)
    for track in view.highlight:
        rows = np.flatnonzero(in_window & (arrays.row_track == track))
        if not len(rows):
            continue
        ax.plot(arrays.xyz_city[rows, 0], arrays.xyz_city[rows, 1], color=HIGHLIGHT_COLOUR, linewidth=2.0, zorder=4)
        for box in footprints_city(arrays, rows[::10]):  # annotations are 10 Hz: one box a second
            ax.add_patch(Polygon(box, closed=True, facecolor="none", edgecolor=HIGHLIGHT_COLOUR, linewidth=0.6,
                                 alpha=0.5, zorder=4))  # fmt: skip
        last = rows[-1]
        ax.add_patch(Polygon(footprints_city(arrays, np.array([last]))[0], closed=True, facecolor="none",
                             edgecolor=HIGHLIGHT_COLOUR, linewidth=2.0, zorder=5))  # fmt: skip
        ax.annotate(str(arrays.track_uuids[track])[:8], arrays.xyz_city[last, :2], fontsize=7, color=HIGHLIGHT_COLOUR,
                    xytext=(4, 4), textcoords="offset points", zorder=6)  # fmt: skip
