"""Refined track sources over MCP: list_sources says how each was made, render_bev compares raw and refined
tracks of one object, query_logs reads box provenance, programs run on refined boxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ImageContent

from avmine.atomic.categories import VEHICLE_MEMBERS
from avmine.server.mcp.app import create_server
from avmine.server.render import compare
from avmine.store import Store, ingest
from avmine.store.demo import SENSOR_DIR

from ..refined_demo import RAW, REFINED, add_refined_sources, colour_pixels, most_interpolated_track
from ..store.conftest import SENSOR_LOG as LOG
from .client import call, text

pytestmark = pytest.mark.anyio
VEHICLES = "output_scenario(get_objects_of_category(log_dir, category='VEHICLE'), description, log_dir, output_dir)"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def refined_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sensor log: its annotations, a noisy tracker source made from them and that source refined."""
    root = tmp_path_factory.mktemp("refined")
    with Store.open(root / "refined.duckdb") as store:
        ingest(store, SENSOR_DIR / LOG, split="val", progress=False)
        add_refined_sources(store, [LOG], root)
    return root / "refined.duckdb"


def image_bytes(result: object) -> bytes:
    import base64

    (image,) = [block for block in result.content if isinstance(block, ImageContent)]  # type: ignore[attr-defined]
    return base64.b64decode(image.data)


async def test_list_sources_names_each_kind_and_how_the_refined_one_was_made(refined_db: Path, tmp_path: Path) -> None:
    async with Client(create_server(refined_db, image_dir=tmp_path)) as client:
        result = await call(client, "list_sources")
    assert not result.is_error and result.structured_content is not None
    sources = {s["name"]: s for s in result.structured_content["sources"]}
    assert list(sources) == ["annotations", RAW, REFINED]
    assert [sources[n]["kind"] for n in sources] == ["annotations", "tracker", "refined"]
    assert sources[RAW]["files"] == [str(refined_db.parent / f"{RAW}_tracks.pkl")] and sources[RAW]["derived"] == [
        REFINED
    ]
    (made,) = sources[REFINED]["refinements"]
    with Store.open(refined_db, read_only=True) as store:
        stored = store.con.execute(
            "SELECT steps, parameters, counts FROM refinements WHERE source = ?", [REFINED]
        ).fetchone()
        per_source = dict(store.con.execute("SELECT source, sum(num_boxes) FROM track_sources GROUP BY 1").fetchall())
    assert stored is not None
    assert made["parent_source"] == RAW and made["steps"] == json.loads(stored[0]) and made["logs"] == 1
    assert made["parameters"] == json.loads(stored[1])
    counts = json.loads(stored[2])
    assert made["changes"]["tracks_after"] == counts["tracks_after"] < counts["tracks_before"]
    assert {n: s["boxes"] for n, s in sources.items()} == per_source
    assert all(s["logs"] == 1 and s["logs_per_split"] == {"val": 1} for s in sources.values())
    shown = text(result)
    assert f"{REFINED} (refined): 1 logs (val 1)" in shown and f"refined from {RAW} (1 logs): yaw, split" in shown
    assert f"tracks {counts['tracks_before']} -> {counts['tracks_after']}" in shown


async def test_render_bev_compares_one_objects_raw_and_refined_tracks(refined_db: Path, tmp_path: Path) -> None:
    with Store.open(refined_db, read_only=True) as store:
        track = most_interpolated_track(store, LOG)
        parent = store.con.execute(
            "SELECT min(parent_track_uuid) FROM box_provenance WHERE source = ? AND track_uuid = ?", [REFINED, track]
        ).fetchone()[0]  # type: ignore[index]
        ghost = store.con.execute(
            "SELECT min(track_uuid) FROM boxes WHERE source = ? AND category <> 'EGO_VEHICLE' AND track_uuid NOT IN "
            "(SELECT parent_track_uuid FROM box_provenance WHERE source = ? AND parent_track_uuid IS NOT NULL)",
            [RAW, REFINED],
        ).fetchone()[0]  # type: ignore[index]
    async with Client(create_server(refined_db, image_dir=tmp_path)) as client:
        from_refined = await call(client, "render_bev", log_id=LOG[:8], source=REFINED, compare_source=RAW,
                                  track_uuids=[track])  # fmt: skip
        from_raw = await call(client, "render_bev", log_id=LOG[:8], source=RAW, compare_source=REFINED,
                              track_uuids=[parent])  # fmt: skip
        unrelated = await call(client, "render_bev", log_id=LOG[:8], source="annotations", compare_source=RAW,
                               track_uuids=[track])  # fmt: skip
        two = await call(client, "render_bev", log_id=LOG[:8], source=REFINED, compare_source=RAW,
                         track_uuids=[track, parent])  # fmt: skip
        windowed = await call(client, "render_bev", log_id=LOG[:8], source=REFINED, compare_source=RAW,
                              track_uuids=[track], start_index=3)  # fmt: skip
        removed = await call(client, "render_bev", log_id=LOG[:8], source=RAW, compare_source=REFINED,
                             track_uuids=[ghost])  # fmt: skip
    for result in (from_refined, from_raw):
        assert not result.is_error, text(result)
        assert f"refined tracks ({REFINED}): " in text(result) and track[:8] in text(result).split("refined tracks")[1]
        assert parent[:8] in text(result).split("refined tracks")[0]
        png = image_bytes(result)
        assert png.startswith(b"\x89PNG")
        for colour in (compare.RAW_COLOUR, compare.REFINED_COLOUR, compare.INTERPOLATED_COLOUR):
            assert colour_pixels(png, colour) > 400, colour
    saved = Path(text(from_refined).split("saved to ")[1].split(";")[0])
    assert saved.parent == tmp_path and saved.read_bytes() == image_bytes(from_refined)
    assert unrelated.is_error and "neither 'annotations' nor 'noisy' was refined from the other" in text(unrelated)
    assert two.is_error and "draws one object" in text(two)
    assert windowed.is_error and "leave out run_id, start_index and end_index" in text(windowed)
    assert not removed.is_error, text(removed)
    assert f"raw tracks ({RAW}): {ghost[:8]}; refined tracks ({REFINED}): none" in text(removed)
    ghost_png = image_bytes(removed)  # a short clutter track, and beyond the legend nothing refined
    assert colour_pixels(ghost_png, compare.RAW_COLOUR) > 2 * colour_pixels(ghost_png, compare.REFINED_COLOUR)


async def test_provenance_is_queryable_and_programs_run_on_the_refined_boxes(refined_db: Path, tmp_path: Path) -> None:
    async with Client(create_server(refined_db, image_dir=tmp_path)) as client:
        schema = text(await call(client, "describe_schema"))
        counted = await call(client, "query_logs", sql=f"SELECT interpolated, count(*) FROM box_provenance "
                             f"WHERE source = '{REFINED}' GROUP BY 1 ORDER BY 1")  # fmt: skip
        run = await call(client, "execute_scenario", program=VEHICLES, prompt="vehicle", source=REFINED)
        assert run.structured_content is not None and run.structured_content["status"] == "ok", text(run)
        stored = await call(client, "get_run", run_id=run.structured_content["run_id"])
        assert stored.structured_content is not None
        referred = stored.structured_content["logs"][0]["tracks"]
        inspected = await call(client, "inspect_track", run_id=run.structured_content["run_id"], log_id=LOG[:8],
                               track_uuid=referred[0])  # fmt: skip
    assert "box_provenance:" in schema and "parent_track_uuid" in schema and "refinements:" in schema
    assert counted.structured_content is not None
    with Store.open(refined_db, read_only=True) as store:
        expected = store.con.execute(
            "SELECT interpolated, count(*) FROM box_provenance WHERE source = ? GROUP BY 1 ORDER BY 1", [REFINED]
        ).fetchall()
        vehicles = {source: {str(r[0]) for r in store.con.execute(
            "SELECT DISTINCT track_uuid FROM boxes WHERE source = ? AND category IN (SELECT unnest(?))",
            [source, list(VEHICLE_MEMBERS)]).fetchall()} for source in (RAW, REFINED)}  # fmt: skip
        run_id = run.structured_content["run_id"]
        run_source = store.con.execute("SELECT source FROM runs WHERE run_id = ?", [run_id]).fetchone()
        scenario = store.con.execute("SELECT scenario FROM run_results WHERE run_id = ?", [run_id]).fetchone()
    assert [tuple(r) for r in counted.structured_content["rows"]] == [tuple(r) for r in expected]
    assert run_source == (REFINED,) and scenario is not None
    # every vehicle track of the refined source, and only those: ghosts the refinement removed are not there
    assert set(json.loads(scenario[0])) == vehicles[REFINED] != vehicles[RAW]
    assert set(referred) <= vehicles[REFINED]
    assert not inspected.is_error and "timestamps, referred at" in text(inspected)
