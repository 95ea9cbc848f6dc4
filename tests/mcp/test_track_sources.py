"""Each MCP call may name its track source: a tracker's boxes (all the test split has) or the annotations.

The server's default comes from ``avmine serve --source``; execute_scenario, log_statistics and
render_bev take ``source`` per call, and the same warm workers answer on either.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from avmine.server.ingestion import prepare_logs
from avmine.server.mcp.app import create_server
from avmine.store import Store, ingest
from avmine.store.demo import SENSOR_DIR
from avmine.store.prefilter import PrefilterConfig

from ..store.conftest import SENSOR_LOG as LOG
from ..store.conftest import make_tracker_pickle
from .client import call, text

pytestmark = pytest.mark.anyio
PEDESTRIANS = (
    "output_scenario(get_objects_of_category(log_dir, category='PEDESTRIAN'), description, log_dir, output_dir)"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def tracked_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log with its annotations and a tracker's boxes (source ``mytracker``: integer ids, one frame missed)."""
    root = tmp_path_factory.mktemp("sources")
    make_tracker_pickle(SENSOR_DIR / LOG, root / "mytracker.pkl", drop_frame=10, seed=3)
    with Store.open(root / "tracked.duckdb") as store:
        ingest(store, SENSOR_DIR / LOG, split="test", progress=False)
        ingest(store, root / "mytracker.pkl", prefilter=PrefilterConfig.off(), progress=False)
        prepare_logs(store, [("annotations", LOG), ("mytracker", LOG)], progress=False)
    return root / "tracked.duckdb"


async def referred(client: Client, **source: str) -> list[str]:
    run = await call(client, "execute_scenario", program=PEDESTRIANS, prompt="pedestrian", **source)
    assert not run.is_error, text(run)
    assert run.structured_content is not None and run.structured_content["status"] == "ok"
    stored = await call(client, "get_run", run_id=run.structured_content["run_id"])
    assert stored.structured_content is not None
    tracks: list[str] = stored.structured_content["logs"][0]["tracks"]
    assert tracks
    return tracks


async def test_a_call_names_its_source_and_the_default_stays(tracked_db: Path, tmp_path: Path) -> None:
    async with Client(create_server(tracked_db, image_dir=tmp_path)) as client:
        labelled = await referred(client)
        tracked = await referred(client, source="mytracker")
        again = await referred(client)
        assert all(track.isdigit() for track in tracked)  # the tracker's integer ids
        assert not any(track.isdigit() for track in labelled) and again == labelled  # annotation uuids
        by_source = {
            name: text(await call(client, "log_statistics", source=name)) for name in ("annotations", "mytracker")
        }
        assert "PEDESTRIAN" in by_source["mytracker"] and by_source["mytracker"] != by_source["annotations"]
        image = await call(client, "render_bev", log_id=LOG[:8], source="mytracker", track_uuids=tracked[:1])
        assert not image.is_error and f"highlighted: {tracked[0][:8]}" in text(image)
        wrong = await call(client, "execute_scenario", program=PEDESTRIANS, prompt="p", source="nosuch")
        assert wrong.is_error and "unknown track source 'nosuch'" in text(wrong) and "mytracker" in text(wrong)


async def test_the_servers_default_source_is_used_when_a_call_names_none(tracked_db: Path, tmp_path: Path) -> None:
    async with Client(create_server(tracked_db, image_dir=tmp_path, source="mytracker")) as client:
        tracks = await referred(client)
    assert all(track.isdigit() for track in tracks)
