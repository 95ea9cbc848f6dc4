"""Every tool, resource and prompt through the SDK's client over an in-memory session, error paths included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from avmine.server.mcp.app import INSTRUCTIONS, create_server
from avmine.store import Store

from .conftest import one_log_database
from .programs import BICYCLE_PROMPT, BICYCLES, LEFT_TURNS, LOG, SPIN, TURNING_TRACK

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(labelled_db: Path, tmp_path: Path) -> AsyncIterator[Client]:
    # the bicycle program's held-out Timestamp BA is 0.68: the library admits it above 0.6
    async with Client(create_server(labelled_db, image_dir=tmp_path / "images", library_threshold=0.6)) as connected:
        yield connected


def text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    with anyio.fail_after(120):
        return await client.call_tool(tool, arguments)


async def error_of(client: Client, tool: str, **arguments: Any) -> str:
    result = await call(client, tool, **arguments)
    assert result.is_error, text(result)
    return text(result)


async def test_tool_listing_fits_client_limits(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == {
        "list_functions", "get_function_docs", "search_docs", "list_categories", "list_logs", "list_sources",
        "describe_schema", "query_logs", "log_statistics", "execute_scenario", "get_run", "inspect_track", "score_run",
        "render_bev", "save_example", "search_library", "submit_program", "render_camera_views", "vlm_check",
        "verify_scene",
    }  # fmt: skip
    assert client.instructions and client.instructions.startswith(INSTRUCTIONS) and len(client.instructions) < 2048
    for tool in tools:
        assert tool.description and len(tool.description) < 2048, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
        for name, field in tool.input_schema.get("properties", {}).items():
            assert field.get("description"), f"{tool.name}.{name} has no description"
    by_name = {t.name: t for t in tools}
    assert by_name["query_logs"].annotations.read_only_hint
    assert not by_name["execute_scenario"].annotations.read_only_hint


async def test_docs_tools(client: Client) -> None:
    listed = text(await call(client, "list_functions"))
    names = {line.split(":")[0].strip() for line in listed.splitlines() if line.startswith("  ")}
    assert len(names) >= 31 and {"near_objects", "scenario_not"} <= names
    assert len(listed) < 8000 and "\n  has_velocity: Timestamps where an object's speed" in listed
    detailed = text(await call(client, "list_functions", detail=True))
    assert "has_velocity(track_candidates, log_dir, min_velocity=0.5, max_velocity=inf)" in detailed
    assert len(detailed) > 2 * len(listed)
    docs = text(await call(client, "get_function_docs", names=["near_objects"]))
    assert docs.startswith("near_objects(track_uuid, candidate_uuids, log_dir")
    assert "unknown function(s): near_object;" in await error_of(client, "get_function_docs", names=["near_object"])
    assert "turning(" in text(await call(client, "search_docs", query="vehicle turning left"))
    assert text(await call(client, "search_docs", query="stopped car")).startswith("has_velocity(")
    assert text(await call(client, "search_docs", query="u-turn")).startswith("u_turn(")
    assert "No function matches" in text(await call(client, "search_docs", query="zzqx"))
    categories = (await call(client, "list_categories")).structured_content
    assert "REGULAR_VEHICLE" in categories and "PEDESTRIAN" in categories


async def test_data_tools(client: Client) -> None:
    logs = text(await call(client, "list_logs"))
    assert logs.startswith("logs per split: val 1") and LOG in logs and "tracks" in logs
    assert "No logs in split test" in text(await call(client, "list_logs", split="test"))
    assert "cursor 'x' is not valid" in await error_of(client, "list_logs", cursor="x")
    assert "boxes:" in text(await call(client, "describe_schema"))
    rows = await call(client, "query_logs", sql="SELECT category, count(*) FROM boxes GROUP BY 1 ORDER BY 2 DESC")
    assert rows.structured_content["rows"][0] == ["REGULAR_VEHICLE", 9019]
    assert "not queryable" in await error_of(client, "query_logs", sql="SELECT * FROM ground_truth")
    assert "one SELECT" in await error_of(client, "query_logs", sql="DELETE FROM boxes")
    stats = text(await call(client, "log_statistics", split="val", per_log=True))
    assert stats.split()[:2] == ["log_id", "category"]
    assert "median_track_s" in stats and "median_closest_to_ego_m" in stats
    assert "no boxes match" in await error_of(client, "log_statistics", split="test")


async def test_execution_tools_with_progress(client: Client) -> None:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    with anyio.fail_after(120):
        run = await client.call_tool(
            "execute_scenario",
            {"program": LEFT_TURNS, "prompt": "vehicle turning left", "expected_category": "REGULAR_VEHICLE"},
            progress_callback=on_progress,
        )
    summary = run.structured_content
    assert summary["status"] == "ok" and summary["per_log"][0]["referred_tracks"] == 8
    assert progress == [(1, 1)]
    got = await call(client, "get_run", run_id=summary["run_id"])
    shown = got.structured_content
    [row] = shown["logs"]
    assert {k: row[k] for k in ("log_id", "status", "error", "referred_tracks")} == {
        "log_id": LOG, "status": "ok", "error": None, "referred_tracks": 8,
    }  # fmt: skip
    assert len(row["tracks"]) == 8 and TURNING_TRACK in row["tracks"] and row["more_tracks"] == 0
    assert TURNING_TRACK[:8] in text(got).split("    referred: ")[1].split()
    assert shown["run"]["program"] == LEFT_TURNS and shown["next_cursor"] is None
    track = {"run_id": summary["run_id"], "log_id": LOG, "track_uuid": TURNING_TRACK}
    inspected = text(await call(client, "inspect_track", **track))
    assert inspected.startswith(f"{TURNING_TRACK} (REGULAR_VEHICLE)") and " yes " in inspected
    # the short ids the tools show are accepted back
    short = {"run_id": summary["run_id"][:8], "log_id": LOG[:8], "track_uuid": TURNING_TRACK[:8]}
    assert text(await call(client, "inspect_track", **short)) == inspected
    assert "is not in log" in await error_of(client, "inspect_track", run_id=summary["run_id"], log_id=LOG,
                                             track_uuid="nope")  # fmt: skip
    ambiguous = await error_of(client, "inspect_track", **{**short, "track_uuid": TURNING_TRACK[:1]})
    assert f"the track id prefix '{TURNING_TRACK[0]}' is ambiguous" in ambiguous and "give more characters" in ambiguous
    assert "unknown log 'ffff'" in await error_of(client, "inspect_track", **{**short, "log_id": "ffff"})
    again = await call(client, "execute_scenario", program=LEFT_TURNS, prompt="vehicle turning left", logs=[LOG[:8]])
    assert again.structured_content["per_log"][0]["log_id"] == LOG
    assert "unknown log(s)" in await error_of(client, "execute_scenario", program=LEFT_TURNS, prompt="x", logs=["nope"])
    assert "no run" in (await error_of(client, "get_run", run_id="nope")).lower()
    rejected = (await call(client, "execute_scenario", program="import os\n", prompt="x")).structured_content
    assert rejected["status"] == "rejected" and "import of 'os' is not allowed" in rejected["diagnostics"]
    unclosed = (await call(client, "execute_scenario", program="x = (1,\n", prompt="x")).structured_content
    shown_in_full = unclosed["diagnostics"]  # the line and its caret, not only the message
    assert "syntax error on line 1" in shown_in_full and "\n        x = (1,\n            ^" in shown_in_full


async def test_a_cancelled_call_stops_its_program_and_the_server_keeps_serving(
    client: Client, labelled_db: Path
) -> None:
    with anyio.move_on_after(3):
        await client.call_tool("execute_scenario", {"program": SPIN + LEFT_TURNS, "prompt": "spin until cancelled"})
        pytest.fail("the spinning program cannot finish in 3 s")
    after = await call(client, "execute_scenario", program=LEFT_TURNS + "# after\n", prompt="after cancel")
    assert after.structured_content["status"] == "ok"  # served at once: the spinning program was stopped
    await call(client, "get_run", run_id=after.structured_content["run_id"])  # waits for pending run records
    with Store.open(labelled_db) as store:  # the same process: DuckDB shares the server's open database
        status = store.con.execute("SELECT status FROM runs WHERE prompt = 'spin until cancelled'").fetchall()
    assert status == [("cancelled",)]


async def test_scoring_tool(client: Client) -> None:
    run = (await call(client, "execute_scenario", program=BICYCLES, prompt=BICYCLE_PROMPT)).structured_content
    single = await call(client, "score_run", run_id=run["run_id"])  # scores on two logs: test_stdio_session
    assert [row["log_id"] for row in single.structured_content["per_log"]] == [LOG]  # its single log
    turns = (await call(client, "execute_scenario", program=LEFT_TURNS, prompt="turning left")).structured_content
    refused = await error_of(client, "score_run", run_id=turns["run_id"])
    assert "no ground truth for the prompt 'turning left'" in refused


async def test_instructions_examples_and_diagnostics_agree_on_the_referred_objects(client: Client) -> None:
    # RefAV's convention, in the instructions: the first object the prompt mentions is referred
    assert "referred objects are the first objects the prompt mentions" in (client.instructions or "")
    examples = json.loads((await client.read_resource("avmine://examples")).contents[0].text)
    demo = next(e["program"] for e in examples if e["prompt"] == BICYCLE_PROMPT and e["origin"] == "built-in")
    assert "has_objects_in_relative_direction(vehicles, bicycles" in demo
    # the demo's program, which refers the vehicles, is clean although this log's fixture refers mostly bicycles
    ours = text(await call(client, "execute_scenario", program=demo, prompt=BICYCLE_PROMPT))
    assert "expected referred category: VEHICLE" in ours and "likely mistake: most referred" not in ours
    # the program the fixture rewards refers the bicycles: the diagnostics say which side to key by
    theirs = text(await call(client, "execute_scenario", program=BICYCLES, prompt=BICYCLE_PROMPT))
    assert "most referred objects are BICYCLE, but the prompt refers to VEHICLE" in theirs
    assert "has_objects_in_relative_direction keys by its first argument" in theirs


async def test_image_tool_returns_the_picture_and_its_path(client: Client, tmp_path: Path) -> None:
    run = (await call(client, "execute_scenario", program=LEFT_TURNS, prompt="vehicle turning left")).structured_content
    result = await call(client, "render_bev", log_id=LOG, run_id=run["run_id"])
    image, note = result.content
    assert image.type == "image" and image.mime_type == "image/png" and len(image.data) > 10_000
    path = Path(note.text.split("saved to ")[1].split(";")[0])
    assert path.parent == tmp_path / "images" and path.read_bytes()[:4] == b"\x89PNG"
    assert "highlighted: 7bd6176d" in note.text or "7bd6176d" in note.text
    chosen = await call(client, "render_bev", log_id=LOG, track_uuids=[TURNING_TRACK], start_index=0, end_index=60)
    assert "highlighted: 7bd6176d" in chosen.content[1].text
    by_prefix = await call(client, "render_bev", log_id=LOG[:8], track_uuids=["7bd6176d"], start_index=0, end_index=60)
    assert by_prefix.content[1].text == chosen.content[1].text
    assert "outside 0..156" in await error_of(client, "render_bev", log_id=LOG, end_index=999)
    assert "not in log" in await error_of(client, "render_bev", log_id=LOG, track_uuids=["nope"])
    assert "is after end_index" in await error_of(client, "render_bev", log_id=LOG, track_uuids=[TURNING_TRACK],
                                                  start_index=50, end_index=10)  # fmt: skip


async def test_library_tools(tmp_path: Path) -> None:
    # a database of its own: a score_run on the prompt's single ground-truth log (test_scoring_tool) ends admission
    db = one_log_database(tmp_path / "library.duckdb", ground_truth=True)
    async with Client(create_server(db, image_dir=tmp_path / "images", library_threshold=0.6)) as client:
        await _library_tools(client)


async def _library_tools(client: Client) -> None:
    run = (await call(client, "execute_scenario", program=BICYCLES, prompt=BICYCLE_PROMPT)).structured_content
    saved = text(await call(client, "save_example", prompt=BICYCLE_PROMPT, program=BICYCLES, run_id=run["run_id"]))
    assert saved.startswith("saved example") and "Timestamp BA" in saved
    found = (await call(client, "search_library", query="bicycle on the right of a car")).structured_content
    assert found["result"][0]["prompt"] == BICYCLE_PROMPT
    assert "submitted" in text(await call(client, "submit_program", prompt=BICYCLE_PROMPT, program=BICYCLES))
    assert "not submitted" in await error_of(client, "submit_program", prompt="x", program="import os")


async def test_resources_and_prompts(client: Client) -> None:
    uris = {str(r.uri) for r in (await client.list_resources()).resources}
    assert uris == {"avmine://docs/functions", "avmine://docs/categories", "avmine://examples", "avmine://schema"}
    functions = (await client.read_resource("avmine://docs/functions")).contents[0].text
    assert "near_objects(track_uuid, candidate_uuids, log_dir" in functions
    assert "REGULAR_VEHICLE" in json.loads((await client.read_resource("avmine://docs/categories")).contents[0].text)
    examples = json.loads((await client.read_resource("avmine://examples")).contents[0].text)
    assert examples[0]["prompt"] == BICYCLE_PROMPT and "output_scenario" in examples[0]["program"]
    assert "boxes:" in (await client.read_resource("avmine://schema")).contents[0].text
    names = {p.name for p in (await client.list_prompts()).prompts}
    assert names == {"mine_scenario", "screen_prompt"}
    mine = await client.get_prompt("mine_scenario", {"prompt": "pedestrian crossing in front of a car"})
    assert "never swap subject and object" in mine.messages[0].content.text
    screen = await client.get_prompt("screen_prompt", {"prompt": "stopped car", "threshold": "0.7"})
    assert "exceeds 0.7" in screen.messages[0].content.text
