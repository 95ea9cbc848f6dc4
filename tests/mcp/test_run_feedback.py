"""What a run tells an agent over a real MCP session against ``avmine serve``: the per-step trace, the program's
printed output, failed runs as tool errors with each distinct error once, and referred counts that agree."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from .client import text
from .programs import LEFT_TURNS, LOG

EMPTIED = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "left = turning(vehicles, log_dir, direction='left')\n"
    "print('keys after turning:', len(left))\n"
    "buses = get_objects_of_category(log_dir, category='BUS')\n"
    "found = near_objects(left, buses, log_dir, distance_thresh=5)\n"
    "output_scenario(found, description, log_dir, output_dir)\n"
)
"""The demo log has 91 vehicles, 8 of them turn left, and no bus: line 4 empties the answer."""
UNKNOWN_CATEGORY = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "found = get_objects_of_category(log_dir, category='BUSES')\n"
    "output_scenario(found, description, log_dir, output_dir)\n"
)


async def _feedback_checks(db: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "avmine.server.cli", "--db", str(db), "serve"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        with anyio.fail_after(240):
            await session.initialize()

            run = await session.call_tool("execute_scenario", {"program": EMPTIED, "prompt": "car near a bus",
                                                                "logs": [LOG]})  # fmt: skip
            assert not run.is_error, text(run)
            summary = run.structured_content
            steps = {step["line"]: step for step in summary["trace"]["steps"]}
            assert steps[1]["call"] == "get_objects_of_category(category='VEHICLE')" and steps[1]["objects"] == 91
            assert steps[2]["call"] == "turning(<scenario: 91 objects>, direction='left')"
            assert steps[2]["objects"] == 8 and steps[2]["per_log"] == {LOG: [8, steps[2]["timestamps"]]}
            assert steps[4]["objects"] == 0 and steps[4]["first_emptied_logs"] == [LOG]
            assert steps[5]["call"] == "near_objects(<scenario: 8 objects>, <scenario: 0 objects>, distance_thresh=5)"
            assert "first_emptied_logs" not in steps[5]
            shown = text(run)
            assert (
                "  line 4 get_objects_of_category(category='BUS'): 0 objects, 0 timestamps"
                f"  <- first emptied the answer on 1 log ({LOG[:8]})"
            ) in shown
            assert (
                "likely mistake: nothing was found in any log; the first call that returned no object: line 4 " in shown
            )
            # the filter keeps all 91 keys (RefAV's convention): the program's len() says so, the trace counts 8
            assert summary["printed"] == {LOG: "keys after turning: 91"}
            assert f"--- the program's own output (print) on {LOG[:8]}:\nkeys after turning: 91" in shown

            stored = await session.call_tool("get_run", {"run_id": summary["run_id"]})
            [row] = stored.structured_content["logs"]
            assert [step["objects"] for step in row["trace"]] == [91, 8, 0, 0]
            assert row["printed"] == "keys after turning: 91"
            assert "  line 2 turning(<scenario: 91 objects>, direction='left'): 8 objects" in text(stored)
            assert "keys after turning: 91" in text(stored)

            turned = await session.call_tool("execute_scenario", {"program": LEFT_TURNS, "prompt": "turning left"})
            counted = {row["log_id"]: row["referred_tracks"] for row in turned.structured_content["per_log"]}
            again = await session.call_tool("get_run", {"run_id": turned.structured_content["run_id"]})
            assert {row["log_id"]: row["referred_tracks"] for row in again.structured_content["logs"]} == counted
            assert counted[LOG] == 8  # objects with timestamps, not the 91 keys the scenario holds

            failed = await session.call_tool("execute_scenario", {"program": UNKNOWN_CATEGORY, "prompt": "bus"})
            assert failed.is_error and failed.structured_content["status"] == "failed"
            logs = [row["log_id"] for row in failed.structured_content["per_log"]]
            [error] = failed.structured_content["errors"]
            assert len(logs) == 2 and error["logs"] == logs and "BUSES" in error["error"]
            assert failed.structured_content["per_log"][1]["error"] == f"the same error as on {logs[0][:8]}"
            said = text(failed)
            assert f"error on 2 logs ({logs[0][:8]}, {logs[1][:8]}): " in said
            first_line = error["error"].splitlines()[0]
            assert said.count(first_line) == 1, said
            # the trace of a failed run shows the calls made before the error
            [made] = failed.structured_content["trace"]["steps"]
            assert made["line"] == 1 and made["calls"] == 2 and made["per_log"][logs[1]][0] > 0
            stored_failure = await session.call_tool("get_run", {"run_id": failed.structured_content["run_id"]})
            assert not stored_failure.is_error  # showing a failed run is no error
            rows = stored_failure.structured_content["logs"]
            assert first_line in rows[0]["error"] and rows[1]["error"] == f"the same error as on {logs[0][:8]}"
            assert text(stored_failure).count(first_line) == 1


def test_runs_report_trace_output_errors_and_counts(two_log_labelled_db: Path) -> None:
    anyio.run(_feedback_checks, two_log_labelled_db)
