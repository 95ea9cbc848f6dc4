"""Projected 3D boxes drawn on full camera frames, and stitched, labelled panels of several frames.

Boxes are drawn on the whole image (AutoMine found crops lose the context a VLM needs); a panel
labels each tile with its camera and timestamp index so a VLM can answer "which of these".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from avmine.store.arrays import LogArrays
from avmine.vlm.cameras import EDGES, RING_CAMERAS, city_to_ego, clip_segment, corners_city, project_box
from avmine.vlm.frames import Frame, frame

BOX_COLOUR = (255, 0, 200)
SECOND_COLOUR = (0, 230, 255)
"""The related object, when a question concerns two (cyan)."""
LABEL_HEIGHT = 22


@dataclass(frozen=True)
class Tile:
    """A frame with the candidate's box drawn on it (or not: the ego, or not in view)."""

    frame: Frame
    image: Image.Image
    box_in_view: bool

    @property
    def label(self) -> str:
        """The tile's caption: camera and timestamp index."""
        return f"{self.frame.camera_name} t={self.frame.time_index}" + (" (synthetic)" if self.frame.synthetic else "")


def row_at(arrays: LogArrays, track: int, time_index: int) -> int | None:
    """The track's box row at a timestamp index, or None when it is not observed then."""
    rows = np.arange(int(arrays.track_start[track]), int(arrays.track_start[track + 1]))
    hits = rows[np.asarray(arrays.row_time_index[rows]) == time_index]
    return int(hits[0]) if len(hits) else None


def draw_box(
    view: Frame,
    arrays: LogArrays,
    row: int,
    label: str | None = None,
    colour: tuple[int, int, int] = BOX_COLOUR,
    image: Image.Image | None = None,
) -> tuple[Image.Image, bool]:
    """The frame's image (or ``image``, drawn on a copy) with the box at ``row`` as a wireframe; and if in view."""
    corners = city_to_ego(corners_city(arrays, row), view.pose)
    image = (image or view.image).copy()
    if not project_box(view.camera, corners).visible:
        return image, False
    draw = ImageDraw.Draw(image)
    top_left: tuple[float, float] | None = None
    for a, b in EDGES:
        segment = clip_segment(view.camera, corners[a], corners[b])
        if segment:
            draw.line(segment, fill=colour, width=3)
            point = min(segment, key=lambda p: (p[1], p[0]))
            top_left = point if top_left is None or point[1] < top_left[1] else top_left
    if label and top_left is not None:
        x = min(max(top_left[0], 0), image.width - 8 * len(label))
        y = min(max(top_left[1] - 14, 0), image.height - 14)
        draw.rectangle((x, y, x + 7 * len(label), y + 13), fill=(0, 0, 0))
        draw.text((x + 2, y + 1), label, fill=colour)
    return image, True


def track_tiles(
    arrays: LogArrays,
    track: int,
    time_indices: Sequence[int],
    cameras: Sequence[str] = RING_CAMERAS,
    source_path: Path | None = None,
) -> list[Tile]:
    """Tiles of the cameras that see the track at each timestamp (every camera for the ego's own view).

    The ego has no box in its own cameras: its tiles are the front camera, unboxed.
    """
    is_ego = str(arrays.track_uuids[track]) == arrays.ego_uuid
    tiles: list[Tile] = []
    for time_index in time_indices:
        row = row_at(arrays, track, time_index)
        if row is None:
            continue
        if is_ego:
            view = frame(arrays, RING_CAMERAS[0], time_index, source_path)
            tiles.append(Tile(view, view.image, False))
            continue
        for camera_name in cameras:
            view = frame(arrays, camera_name, time_index, source_path)
            image, in_view = draw_box(view, arrays, row, str(arrays.track_uuids[track])[:8])
            if in_view:
                tiles.append(Tile(view, image, True))
    return tiles


def panel(tiles: Sequence[Tile], columns: int = 3, tile_px: int = 320) -> Image.Image:
    """Tiles stitched into a grid, each scaled to ``tile_px`` on its long side, with its caption above."""
    if not tiles:
        raise ValueError("no tiles to stitch: the track is not in view of any chosen camera at these timestamps")
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    cell_w, cell_h = tile_px, tile_px + LABEL_HEIGHT
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for i, tile in enumerate(tiles):
        scale = tile_px / max(tile.image.size)
        small = tile.image.resize((max(1, round(tile.image.width * scale)), max(1, round(tile.image.height * scale))))
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        draw.text((x + 4, y + 4), f"[{i}] {tile.label}", fill=(255, 255, 255))
        sheet.paste(small, (x + (cell_w - small.width) // 2, y + LABEL_HEIGHT))
    return sheet
