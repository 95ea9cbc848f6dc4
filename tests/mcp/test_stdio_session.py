"""A real MCP client session over stdio against ``avmine serve``."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from ..agents.programs import STOPPED, STOPPED_PROGRAM
from .programs import BICYCLE_PROMPT, BICYCLES, LEFT_TURNS, LOG, TURNING_TRACK


def _text(result: object) -> str:
    return "".join(getattr(block, "text", "") for block in getattr(result, "content", []))


async def _session_checks(db: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "avmine.server.cli", "--db", str(db), "serve"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        with anyio.fail_after(120):
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert {"list_functions", "get_function_docs", "search_docs", "execute_scenario", "get_run"} <= set(tools)
            assert tools["execute_scenario"].input_schema["properties"]["program"]["description"]
            assert tools["list_functions"].annotations.read_only_hint

            docs = _text(await session.call_tool("get_function_docs", {"names": ["turning"]}))
            assert docs.startswith("turning(track_candidates, log_dir, direction=None)")
            unknown = await session.call_tool("get_function_docs", {"names": ["turnin"]})
            assert unknown.is_error and "unknown function(s): turnin" in _text(unknown)

            run = await session.call_tool("execute_scenario", {"program": LEFT_TURNS, "prompt": "vehicle turning left"})
            assert not run.is_error, _text(run)
            summary = run.structured_content
            assert summary["status"] == "ok" and summary["per_log"][0]["referred_tracks"] == 8
            assert "referred: REGULAR_VEHICLE" in summary["diagnostics"]

            turner = next(row for row in summary["per_log"] if row["referred_tracks"])  # a log with left turns
            shown = await session.call_tool("get_run", {"run_id": summary["run_id"]})
            assert not shown.is_error
            inspected = _text(await session.call_tool("inspect_track", {
                "run_id": summary["run_id"], "log_id": turner["log_id"], "track_uuid": TURNING_TRACK}))  # fmt: skip
            assert inspected.startswith(f"{TURNING_TRACK} (REGULAR_VEHICLE)") and " yes " in inspected
            stored = await session.call_tool("get_run", {"run_id": summary["run_id"]})
            assert stored.structured_content["logs"][0]["status"] == "ok"
            assert _text(stored).startswith(f"run {summary['run_id']} (ok")

            broken = await session.call_tool("execute_scenario", {"program": "import os\n", "prompt": "x"})
            assert broken.structured_content["status"] == "rejected"
            assert "import of 'os' is not allowed" in broken.structured_content["diagnostics"]
            rows = await session.call_tool("query_logs", {"sql": "SELECT count(*) AS n FROM boxes"})
            assert rows.structured_content["rows"] == [[13820]]
            hidden = await session.call_tool("query_logs", {"sql": "SELECT * FROM ground_truth"})
            assert hidden.is_error and "not queryable" in _text(hidden)
            assert "boxes:" in _text(await session.call_tool("describe_schema", {}))
            stats = _text(await session.call_tool("log_statistics", {"log_id": LOG}))
            assert "REGULAR_VEHICLE" in stats and "median_speed_mps" in stats and "median_distance_to_ego_m" in stats
            picture = await session.call_tool("render_bev", {"log_id": LOG, "end_index": 10})
            image = picture.content[0]
            assert image.type == "image" and image.mime_type == "image/png" and len(image.data) > 10_000
            assert "saved to " in picture.content[1].text
            resources = {str(r.uri) for r in (await session.list_resources()).resources}
            assert {"avmine://docs/functions", "avmine://docs/categories"} <= resources
            functions = await session.read_resource("avmine://docs/functions")
            assert "near_objects(track_uuid, candidate_uuids, log_dir" in functions.contents[0].text
            mine = await session.get_prompt("mine_scenario", {"prompt": "pedestrian crossing in front of a car"})
            text = mine.messages[0].content.text
            assert "never swap subject and object" in text and "pedestrian crossing in front of a car" in text
            # the server keeps serving after a rejected program
            again = await session.call_tool("list_functions", {})
            assert not again.is_error


def test_stdio_session(db: Path) -> None:
    anyio.run(_session_checks, db)


async def _scoring_checks(db: Path, reveal: bool) -> dict[str, object]:
    args = ["-m", "avmine.server.cli", "--db", str(db), "serve", "--library-threshold", "0.6",
            *(["--reveal-ground-truth"] if reveal else [])]  # fmt: skip
    params = StdioServerParameters(command=sys.executable, args=args)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        with anyio.fail_after(120):
            await session.initialize()
            run = await session.call_tool("execute_scenario", {"program": STOPPED_PROGRAM, "prompt": STOPPED})
            scored = await session.call_tool("score_run", {"run_id": run.structured_content["run_id"]})
            assert not scored.is_error, _text(scored)
            # the library judges on the held-out log, above --library-threshold
            saved = _text(await session.call_tool("save_example", {"prompt": BICYCLE_PROMPT, "program": BICYCLES}))
            assert saved.startswith("saved example") and "Timestamp BA" in saved
            similar = await session.call_tool("search_library", {"query": "a bicycle on the right of a car"})
            assert similar.structured_content["result"][0]["prompt"] == BICYCLE_PROMPT
            submitted = await session.call_tool("submit_program", {"prompt": BICYCLE_PROMPT, "program": BICYCLES})
            assert "submitted the final program" in _text(submitted)
            refused_program = await session.call_tool("submit_program", {"prompt": "x", "program": "import os"})
            assert refused_program.is_error and "not submitted" in _text(refused_program)
            turns = await session.call_tool("execute_scenario", {"program": LEFT_TURNS, "prompt": "turning left"})
            refused = await session.call_tool("score_run", {"run_id": turns.structured_content["run_id"]})
            assert refused.is_error and "no ground truth for the prompt 'turning left'" in _text(refused)
            assert _text(scored).startswith("HOTA-Temporal ")
            return scored.structured_content  # type: ignore[no-any-return]


def test_score_run_hides_ground_truth_unless_asked(two_log_labelled_db: Path) -> None:
    hidden = anyio.run(_scoring_checks, two_log_labelled_db, False)
    assert set(hidden["metrics"]) == {"HOTA-Temporal", "HOTA-Track", "Timestamp BA", "Log BA"}
    assert hidden["metrics"]["HOTA-Temporal"] > 0.3
    assert "missed_tracks" not in hidden["per_log"][0]  # headless agents never see the answers
    shown = anyio.run(_scoring_checks, two_log_labelled_db, True)
    assert "missed_tracks" in shown["per_log"][0] and shown["metrics"] == hidden["metrics"]
