"""Bird's-eye views: every category its own colour (for every common kind of colour vision), a legend naming every
kind of thing drawn, a heading mark on every box, titles in seconds, and the ego and highlights always in view."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.categories import CATEGORIES, CATEGORY_COLOURS, OTHER_COLOUR
from avmine.server.render import bev
from avmine.store import Store, ingest
from avmine.store.arrays import LogArrays
from avmine.store.demo import SENSOR_DIR
from tests.refined_demo import colour_pixels
from tests.render.colour_vision import MACHADO_2009, closest_pair
from tests.store.conftest import SENSOR_LOG

MIN_DIFFERENCE = 6.0
"""CIEDE2000 between any two drawing colours (about three just-noticeable differences), in every vision tested."""
DRAWN_TOGETHER = [
    *CATEGORY_COLOURS.values(),
    OTHER_COLOUR,
    bev.HIGHLIGHT_COLOUR,
    bev.LANE_COLOUR,
    bev.INTERSECTION_LANE_COLOUR,
    bev.CROSSING_COLOUR,
]
BACKGROUNDS = (bev.DRIVABLE_COLOUR, "#ffffff")
"""What everything above is drawn on: the drivable area and the page."""


def test_every_category_has_a_colour_of_its_own() -> None:
    assert set(CATEGORIES) | {"EGO_VEHICLE"} == set(CATEGORY_COLOURS)
    assert len(set(DRAWN_TOGETHER)) == len(DRAWN_TOGETHER)


@pytest.mark.parametrize("vision", [None, *MACHADO_2009])
@pytest.mark.parametrize("background", BACKGROUNDS)
def test_no_two_drawing_colours_are_close_for_normal_or_dichromatic_vision(vision: str | None, background: str) -> None:
    difference, first, second = closest_pair([*DRAWN_TOGETHER, background], vision)
    assert difference >= MIN_DIFFERENCE, f"{first} and {second} differ by only {difference:.2f} for {vision}"


@pytest.fixture(scope="module")
def arrays(tmp_path_factory: pytest.TempPathFactory) -> LogArrays:
    with Store.open(tmp_path_factory.mktemp("bev") / "db.duckdb") as store:
        ingest(store, SENSOR_DIR / SENSOR_LOG, split="val", progress=False)
        return store.load_arrays(SENSOR_LOG)


def _inside(points: np.ndarray, limits: tuple[float, float, float, float]) -> bool:
    x_low, x_high, y_low, y_high = limits
    return bool(((points[..., 0] > x_low) & (points[..., 0] < x_high)).all()
                and ((points[..., 1] > y_low) & (points[..., 1] < y_high)).all())  # fmt: skip


def _ego_box(arrays: LogArrays, time_index: int) -> np.ndarray:
    rows = np.flatnonzero(arrays.row_time_index == time_index)
    ego = [r for r in rows if str(arrays.track_uuids[arrays.row_track[r]]) == arrays.ego_uuid]
    assert ego, "the demo log has an ego box at every timestamp"
    return bev.footprints_city(arrays, np.array(ego))


def test_the_scene_legend_headings_and_title(arrays: LogArrays, tmp_path: Path) -> None:
    middle = len(arrays.timestamps_ns) // 2
    drawn = bev.render_bev(arrays, bev.BevView(time_index=middle), tmp_path / "scene.png", title="scene")
    rows = np.flatnonzero(arrays.row_time_index == middle)
    categories = {str(arrays.track_categories[t]) for t in arrays.row_track[rows]}
    assert {"drivable area", "lane line", "lane line in an intersection", "pedestrian crossing"} <= set(drawn.legend)
    assert categories <= set(drawn.legend) and "EGO_VEHICLE" in categories
    assert drawn.boxes == len(rows) and drawn.heading_marks == drawn.boxes
    assert "heading (centre to front)" in drawn.legend
    seconds = (arrays.timestamps_ns[middle] - arrays.timestamps_ns[0]) / 1e9
    assert re.fullmatch(rf"scene  t = {seconds:.1f} s", drawn.title), drawn.title
    assert _inside(_ego_box(arrays, middle), drawn.limits)
    for category in categories:  # each in its own colour, in the picture itself
        assert colour_pixels(drawn.path, CATEGORY_COLOURS[category], tolerance=0.02) > 0, category


def test_a_highlight_far_from_the_ego_keeps_both_in_view(arrays: LogArrays, tmp_path: Path) -> None:
    last = len(arrays.timestamps_ns) - 1
    rows = np.flatnonzero(arrays.row_time_index == last)
    distance = np.linalg.norm(arrays.xyz_city[rows, :2] - arrays.ego_xyz_city[last, :2], axis=1)
    far = int(rows[np.argmax(distance)])
    track = int(arrays.row_track[far])
    assert distance.max() > 20
    # centred on the highlighted object alone with a small radius, as render_bev's tool once framed it
    view = bev.BevView(time_index=last, radius_m=6, highlight=(track,), start_index=last - 20,
                       centre=(float(arrays.xyz_city[far, 0]), float(arrays.xyz_city[far, 1])))  # fmt: skip
    drawn = bev.render_bev(arrays, view, tmp_path / "far.png")
    assert _inside(_ego_box(arrays, last), drawn.limits)
    assert _inside(bev.footprints_city(arrays, np.array([far])), drawn.limits)
    assert "highlighted (referred) track: path, a box each second" in drawn.legend
    assert colour_pixels(drawn.path, bev.HIGHLIGHT_COLOUR, tolerance=0.02) > 0
    start = (arrays.timestamps_ns[last - 20] - arrays.timestamps_ns[0]) / 1e9
    assert drawn.title.endswith(f" (paths from {start:.1f} s)") and drawn.title.startswith(SENSOR_LOG)
