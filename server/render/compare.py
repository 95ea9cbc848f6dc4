"""One object's raw and refined tracks in one bird's-eye view: what refinement changed.

Raw boxes (the parent source's) are dashed orange, refined boxes solid blue, and refined boxes that
refinement interpolated (no raw box behind them) red, with a legend. Paths are drawn in full; box
outlines once a second, at the same instants for both (every box where interpolated), so joins, cuts,
smoothing and filled gaps show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from avmine.server.render.bev import draw_map, footprints_city
from avmine.store.arrays import LogArrays
from avmine.store.provenance import Lineage

RAW_COLOUR = "#ff8000"
REFINED_COLOUR = "#0050ff"
INTERPOLATED_COLOUR = "#e00000"
"""Colours no category, map layer or highlight uses, so each kind of box can be told apart (and counted)."""
EVERY = 10
"""Sources keep the log's 10 Hz timestamps: one outline a second."""


@dataclass(frozen=True)
class Drawn:
    """What a comparison drew."""

    raw_boxes: int
    refined_boxes: int
    interpolated_boxes: int


def _rows(arrays: LogArrays, uuids: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    known = {str(u): i for i, u in enumerate(arrays.track_uuids)}
    return [(u, np.flatnonzero(np.asarray(arrays.row_track) == known[u])) for u in uuids if u in known]


def _outline(ax: Any, arrays: LogArrays, rows: np.ndarray, colour: str, style: str, width: float, z: float) -> None:
    for box in footprints_city(arrays, rows):
        ax.add_patch(Polygon(box, closed=True, facecolor="none", edgecolor=colour, linestyle=style, linewidth=width,
                             zorder=z))  # fmt: skip


def render_comparison(raw: LogArrays, refined: LogArrays, lineage: Lineage, out: Path, title: str) -> Drawn:
    """Draw the lineage's raw tracks (from ``raw``) and refined tracks (from ``refined``) over the map, to a PNG."""
    raw_rows = _rows(raw, lineage.parent_tracks)
    refined_rows = _rows(refined, lineage.refined_tracks)
    instants = np.asarray(refined.timestamps_ns)[::EVERY]

    def each_second(arrays: LogArrays, rows: np.ndarray) -> np.ndarray:
        return rows[np.isin(np.asarray(arrays.row_timestamp_ns)[rows], instants)]

    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    map_layers = draw_map(ax, refined.map_dir)
    points = []
    for uuid, rows in raw_rows:
        xy = raw.xyz_city[rows, :2]
        points.append(xy)
        # dashed, over the refined path: where both coincide, both stay visible
        ax.plot(xy[:, 0], xy[:, 1], color=RAW_COLOUR, linestyle="--", linewidth=1.4, marker=".", markersize=3,
                zorder=4.5)  # fmt: skip
        _outline(ax, raw, each_second(raw, rows), RAW_COLOUR, "--", 1.0, 4.5)
        ax.annotate(f"raw {uuid[:8]}", xy[0], fontsize=7, color=RAW_COLOUR, xytext=(-4, -10),
                    textcoords="offset points", zorder=6)  # fmt: skip
    interpolated = 0
    for uuid, rows in refined_rows:
        xy = refined.xyz_city[rows, :2]
        points.append(xy)
        ax.plot(xy[:, 0], xy[:, 1], color=REFINED_COLOUR, linewidth=1.6, zorder=4)
        _outline(ax, refined, each_second(refined, rows), REFINED_COLOUR, "-", 1.2, 4)
        filled = rows[np.isin(refined.row_timestamp_ns[rows], np.asarray(lineage.interpolated.get(uuid, ()), np.int64))]
        interpolated += len(filled)
        _outline(ax, refined, filled, INTERPOLATED_COLOUR, "-", 1.2, 5)
        ax.plot(refined.xyz_city[filled, 0], refined.xyz_city[filled, 1], linestyle="none", marker="o",
                markersize=4, color=INTERPOLATED_COLOUR, zorder=5)  # fmt: skip
        ax.annotate(f"refined {uuid[:8]}", xy[-1], fontsize=7, color=REFINED_COLOUR, xytext=(4, 4),
                    textcoords="offset points", zorder=6)  # fmt: skip
    every = np.concatenate(points) if points else np.zeros((1, 2))
    low, high = every.min(0), every.max(0)
    centre, radius = (low + high) / 2, float((high - low).max()) / 2 + 8.0
    ax.set_xlim(centre[0] - radius, centre[0] + radius)
    ax.set_ylim(centre[1] - radius, centre[1] + radius)
    ax.set_aspect("equal")
    ax.set_xlabel("city x (m)")
    ax.set_ylabel("city y (m)")
    ax.set_title(title)
    handles = [
        *map_layers,
        Line2D([], [], color=RAW_COLOUR, linestyle="--", marker=".", label=f"raw: {lineage.parent_source}"),
        Line2D([], [], color=REFINED_COLOUR, label=f"refined: {lineage.refined_source}"),
        Line2D([], [], color=INTERPOLATED_COLOUR, linestyle="none", marker="o", label="interpolated (no raw box)"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return Drawn(sum(len(r) for _, r in raw_rows), sum(len(r) for _, r in refined_rows), interpolated)
