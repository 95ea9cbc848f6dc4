"""Bird's-eye-view renders of a log: map geometry, boxes with a heading mark, and their recent paths.

Every category, map layer and the highlight has its own colour (``avmine.atomic.categories.CATEGORY_COLOURS`` and
the colours here, chosen together: tests/render/test_bev_colours.py), and the legend lists every kind of thing drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: renders go to files and MCP images, never a window

import matplotlib.pyplot as plt
import numpy as np
from av2.map.map_api import ArgoverseStaticMap
from matplotlib.artist import Artist
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon

from avmine.atomic.categories import CATEGORY_COLOURS, OTHER_COLOUR
from avmine.store.arrays import LogArrays

HIGHLIGHT_COLOUR = "#e000e0"
"""Chosen (referred) tracks: a colour no category or map layer has."""
DRIVABLE_COLOUR = "#eeeeee"
LANE_COLOUR = "#b4b4b4"
INTERSECTION_LANE_COLOUR = "#c7a0d9"
CROSSING_COLOUR = "#e0c000"
"""Pedestrian crossings' outline (filled a paler yellow)."""
HEADING_COLOUR = "black"
MARGIN_M = 4.0
"""Space kept between the image's edge and the ego or a highlighted box."""

MAP_LEGEND: dict[str, Artist] = {
    "drivable area": Patch(facecolor=DRIVABLE_COLOUR, edgecolor="none", label="drivable area"),
    "lane": Line2D([], [], color=LANE_COLOUR, linewidth=0.8, label="lane line"),
    "intersection": Line2D([], [], color=INTERSECTION_LANE_COLOUR, linewidth=0.8, label="lane line in an intersection"),
    "crossing": Patch(facecolor="#fff3b0", edgecolor=CROSSING_COLOUR, label="pedestrian crossing"),
}
"""Legend entries of the map layers, keyed as ``draw_map`` names what it drew."""


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


def draw_map(ax: Any, map_dir: Path) -> list[Artist]:
    """Drivable area, lane boundaries (intersections in violet) and pedestrian crossings, under everything else.

    Returns:
        The legend entries (``MAP_LEGEND``) of the layers the map has.
    """
    avm = ArgoverseStaticMap.from_map_dir(map_dir, build_raster=False)
    drawn: set[str] = set()
    for area in avm.vector_drivable_areas.values():
        ax.add_patch(Polygon(area.xyz[:, :2], closed=True, facecolor=DRIVABLE_COLOUR, edgecolor="none", zorder=0))
        drawn.add("drivable area")
    for lane in avm.vector_lane_segments.values():
        kind = "intersection" if lane.is_intersection else "lane"
        colour = INTERSECTION_LANE_COLOUR if lane.is_intersection else LANE_COLOUR
        for boundary in (lane.left_lane_boundary.xyz, lane.right_lane_boundary.xyz):
            ax.plot(boundary[:, 0], boundary[:, 1], color=colour, linewidth=0.6, zorder=1)
        drawn.add(kind)
    for crossing in avm.vector_pedestrian_crossings.values():
        ax.add_patch(Polygon(crossing.polygon[:, :2], closed=True, facecolor="#fff3b0", edgecolor=CROSSING_COLOUR,
                             linewidth=0.6, zorder=1))  # fmt: skip
        drawn.add("crossing")
    return [entry for key, entry in MAP_LEGEND.items() if key in drawn]


@dataclass(frozen=True)
class Drawn:
    """What a bird's-eye view holds: where it was written and what a reader of it sees."""

    path: Path
    title: str
    legend: tuple[str, ...]
    """Every legend entry's label, in order."""
    boxes: int
    heading_marks: int
    limits: tuple[float, float, float, float]
    """The city area shown: x min, x max, y min, y max (metres)."""


def seconds_into_log(arrays: LogArrays, time_index: int) -> float:
    """Seconds from the log's first timestamp to ``time_index``'s."""
    return float(arrays.timestamps_ns[time_index] - arrays.timestamps_ns[0]) / 1e9


def render_bev(arrays: LogArrays, view: BevView, out: Path, title: str | None = None) -> Drawn:
    """Draw lanes, crossings, drivable area and the boxes at one timestamp, with trails, to a PNG.

    ``title`` (default: the log id) is followed by the time in seconds from the log's start; the view grows where
    needed so that the ego and every highlighted box lie inside it.
    """
    now_s = seconds_into_log(arrays, view.time_index)
    shown = f"{title or arrays.log_id}  t = {now_s:.1f} s"
    if view.highlight and view.start_index is not None and view.start_index != view.time_index:
        shown += f" (paths from {seconds_into_log(arrays, view.start_index):.1f} s)"
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    legend = draw_map(ax, arrays.map_dir)

    now_ns = arrays.timestamps_ns[view.time_index]
    rows_now = np.flatnonzero(arrays.row_time_index == view.time_index)
    in_trail = (arrays.row_timestamp_ns <= now_ns) & (arrays.row_timestamp_ns >= now_ns - view.trail_s * 1e9)
    categories: dict[str, str] = {}
    boxes = footprints_city(arrays, rows_now)
    for row, box in zip(rows_now, boxes, strict=True):
        track = int(arrays.row_track[row])
        category = str(arrays.track_categories[track])
        colour = categories.setdefault(category, CATEGORY_COLOURS.get(category, OTHER_COLOUR))
        trail = np.flatnonzero(in_trail & (arrays.row_track == track))
        ax.plot(arrays.xyz_city[trail, 0], arrays.xyz_city[trail, 1], color=colour, linewidth=0.8, zorder=2)
        ax.add_patch(Polygon(box, closed=True, facecolor=colour, edgecolor="black", linewidth=0.4, alpha=0.85,
                             zorder=3))  # fmt: skip
    marks = _draw_headings(ax, boxes)
    legend += [Patch(facecolor=colour, edgecolor="black", linewidth=0.4, label=category)
               for category, colour in sorted(categories.items())]  # fmt: skip
    if marks:
        legend.append(Line2D([], [], color=HEADING_COLOUR, linewidth=0.8, label="heading (centre to front)"))
    if len(rows_now):
        trails = f"path over the last {view.trail_s:g} s (category colour)"
        legend.append(Line2D([], [], color="#555555", linewidth=0.8, label=trails))
    kept_in_view = [arrays.ego_xyz_city[view.time_index, None, :2], *_draw_highlights(ax, arrays, view)]
    if view.highlight:
        legend.append(Line2D([], [], color=HIGHLIGHT_COLOUR, linewidth=2.0,
                             label="highlighted (referred) track: path, a box each second"))  # fmt: skip
    ego_rows = rows_now[[str(arrays.track_uuids[int(arrays.row_track[r])]) == arrays.ego_uuid for r in rows_now]]
    kept_in_view.append(footprints_city(arrays, ego_rows).reshape(-1, 2))
    centre, radius = _framed(view, arrays.ego_xyz_city[view.time_index, :2], np.concatenate(kept_in_view))
    x, y = float(centre[0]), float(centre[1])
    limits = (x - radius, x + radius, y - radius, y + radius)
    ax.set_xlim(*limits[:2])
    ax.set_ylim(*limits[2:])
    ax.set_aspect("equal")
    ax.set_xlabel("city x (m)")
    ax.set_ylabel("city y (m)")
    ax.set_title(shown)
    # beside the map, never over it: a legend inside the axes hid boxes
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, framealpha=0.9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    labels = tuple(str(entry.get_label()) for entry in legend)
    return Drawn(out, shown, labels, len(rows_now), marks, limits)


def _framed(view: BevView, ego: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, float]:
    """The view's centre and half-width, moved and grown where needed to hold every point of ``kept`` (with a margin).

    An ego or a highlighted box cut off at the edge is never drawn.
    """
    centre = np.asarray(view.centre if view.centre is not None else ego, float)
    if float(np.abs(kept - centre).max()) + MARGIN_M <= view.radius_m:
        return centre, view.radius_m
    low, high = np.minimum(kept.min(0), centre), np.maximum(kept.max(0), centre)
    return (low + high) / 2, max(view.radius_m, float((high - low).max()) / 2 + MARGIN_M)


def _draw_headings(ax: Any, boxes: np.ndarray) -> int:
    """A line from each box's centre to the middle of its front edge; returns how many were drawn."""
    if not len(boxes):
        return 0
    centres = boxes.mean(axis=1)
    fronts = boxes[:, :2].mean(axis=1)  # front-left and front-right corners
    for centre, front in zip(centres, fronts, strict=True):
        ax.plot([centre[0], front[0]], [centre[1], front[1]], color=HEADING_COLOUR, linewidth=0.8, zorder=3.5)
    return len(boxes)


def _draw_highlights(ax: Any, arrays: LogArrays, view: BevView) -> list[np.ndarray]:
    """Draw each highlighted track's path and boxes; returns the corners of the boxes drawn (to keep in view)."""
    start = view.time_index if view.start_index is None else view.start_index
    in_window = (arrays.row_time_index >= start) & (arrays.row_time_index <= view.time_index)
    corners: list[np.ndarray] = []
    for track in view.highlight:
        rows = np.flatnonzero(in_window & (arrays.row_track == track))
        if not len(rows):
            continue
        ax.plot(arrays.xyz_city[rows, 0], arrays.xyz_city[rows, 1], color=HIGHLIGHT_COLOUR, linewidth=2.0, zorder=4)
        each_second = footprints_city(arrays, rows[::10])  # annotations are 10 Hz: one box a second
        for box in each_second:
            ax.add_patch(Polygon(box, closed=True, facecolor="none", edgecolor=HIGHLIGHT_COLOUR, linewidth=0.6,
                                 alpha=0.5, zorder=4))  # fmt: skip
        last = rows[-1]
        final = footprints_city(arrays, np.array([last]))
        ax.add_patch(Polygon(final[0], closed=True, facecolor="none", edgecolor=HIGHLIGHT_COLOUR, linewidth=2.0,
                             zorder=5))  # fmt: skip
        ax.annotate(str(arrays.track_uuids[track])[:8], arrays.xyz_city[last, :2], fontsize=7, color=HIGHLIGHT_COLOUR,
                    xytext=(4, 4), textcoords="offset points", zorder=6)  # fmt: skip
        corners += [each_second.reshape(-1, 2), final.reshape(-1, 2)]
    return corners
