"""The raw-versus-refined render: both tracks of one object and its interpolated boxes, in their own colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.server.render import compare
from avmine.store import Store, ingest
from avmine.store.demo import SENSOR_DIR
from avmine.store.provenance import lineage
from tests.refined_demo import RAW, REFINED, add_refined_sources, colour_pixels, most_interpolated_track
from tests.store.conftest import SENSOR_LOG

LEGEND_PIXELS = 400
"""More pixels of a colour than its legend entry (a short line or one marker) could have."""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    work = tmp_path_factory.mktemp("compare")
    store = Store.open(work / "db.duckdb")
    ingest(store, SENSOR_DIR / SENSOR_LOG, split="val", progress=False)
    add_refined_sources(store, [SENSOR_LOG], work)
    return store


def test_raw_refined_and_interpolated_boxes_are_drawn_each_in_its_colour(store: Store, tmp_path: Path) -> None:
    track = most_interpolated_track(store, SENSOR_LOG)
    linked = lineage(store, REFINED, RAW, SENSOR_LOG, track, track_is_refined=True)
    assert track in linked.refined_tracks
    assert linked.parent_tracks and len(linked.interpolated[track]) >= 5
    out = tmp_path / "compare.png"
    drawn = compare.render_comparison(
        store.load_arrays(SENSOR_LOG, RAW), store.load_arrays(SENSOR_LOG, REFINED), linked, out, "test"
    )
    assert out.read_bytes().startswith(b"\x89PNG")
    assert drawn.interpolated_boxes == sum(len(linked.interpolated[t]) for t in linked.refined_tracks)
    boxes = {source: int(store.con.execute(
        "SELECT count(*) FROM boxes WHERE source = ? AND log_id = ? AND track_uuid IN (SELECT unnest(?))",
        [source, SENSOR_LOG, list(tracks)]).fetchone()[0])  # type: ignore[index]
        for source, tracks in ((RAW, linked.parent_tracks), (REFINED, linked.refined_tracks))}  # fmt: skip
    assert (drawn.raw_boxes, drawn.refined_boxes) == (boxes[RAW], boxes[REFINED]) and boxes[RAW] > 0
    counts = {name: colour_pixels(out, colour) for name, colour in
              (("raw", compare.RAW_COLOUR), ("refined", compare.REFINED_COLOUR),
               ("interpolated", compare.INTERPOLATED_COLOUR))}  # fmt: skip
    assert min(counts.values()) > LEGEND_PIXELS, counts


def test_without_interpolated_boxes_no_red_is_drawn_beyond_the_legend(store: Store, tmp_path: Path) -> None:
    """The colour counts above come from the tracks: a lineage with nothing interpolated has only the legend's red."""
    track = most_interpolated_track(store, SENSOR_LOG)
    linked = lineage(store, REFINED, RAW, SENSOR_LOG, track, track_is_refined=True)
    bare = type(linked)(linked.refined_source, linked.parent_source, linked.refined_tracks, linked.parent_tracks,
                        {t: () for t in linked.refined_tracks})  # fmt: skip
    out = tmp_path / "bare.png"
    compare.render_comparison(
        store.load_arrays(SENSOR_LOG, RAW), store.load_arrays(SENSOR_LOG, REFINED), bare, out, "test"
    )
    assert 0 < colour_pixels(out, compare.INTERPOLATED_COLOUR) < LEGEND_PIXELS / 4
    assert colour_pixels(out, compare.RAW_COLOUR) > LEGEND_PIXELS


def test_lineage_from_a_raw_track_finds_the_refined_track_and_its_other_fragments(store: Store) -> None:
    joined = store.con.execute(
        "SELECT track_uuid FROM box_provenance WHERE source = ? AND log_id = ? AND parent_track_uuid IS NOT NULL "
        "GROUP BY track_uuid HAVING count(DISTINCT parent_track_uuid) > 1 ORDER BY track_uuid LIMIT 1",
        [REFINED, SENSOR_LOG],
    ).fetchone()
    assert joined is not None, "the refinement joined no fragments"
    parents = [str(r[0]) for r in store.con.execute(
        "SELECT DISTINCT parent_track_uuid FROM box_provenance WHERE source = ? AND track_uuid = ? "
        "AND parent_track_uuid IS NOT NULL ORDER BY 1", [REFINED, joined[0]]).fetchall()]  # fmt: skip
    from_raw = lineage(store, REFINED, RAW, SENSOR_LOG, parents[0], track_is_refined=False)
    assert joined[0] in from_raw.refined_tracks and set(parents) <= set(from_raw.parent_tracks)
    refined_rows = np.isin(store.load_arrays(SENSOR_LOG, REFINED).track_uuids, from_raw.refined_tracks)
    assert refined_rows.sum() == len(from_raw.refined_tracks)
