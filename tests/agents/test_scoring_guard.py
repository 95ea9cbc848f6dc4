"""Scoring is no label oracle: picking programs are not scored, each prompt has a scoring budget, and the
library admits programs only on held-out ground truth that score_run never scored.

Real MCP client sessions (in memory) on a real database: the demo's two logs, where each prompt's own
log is a positive and the other log a negative, so each prompt has one refinement and one held-out log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from avmine.evaluation.guarded_scoring import prompt_hold_out
from avmine.server.mcp.app import create_server
from avmine.store import Store
from avmine.store.library import search_examples
from avmine.store.scorings import count_scorings, scorings

from ..mcp.client import call, text
from .programs import BICYCLE, BICYCLES_PROGRAM, LOGS, STOPPED, STOPPED_PROGRAM, program

pytestmark = pytest.mark.anyio
PICKING_PROGRAM = program(
    "cars = get_objects_of_category(log_dir, category='REGULAR_VEHICLE')\n"
    "found = {k: v for k, v in cars.items() if k == sorted(cars)[3]}\n"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def executed(client: Client, code: str, prompt: str) -> str:
    run = await call(client, "execute_scenario", program=code, prompt=prompt, split="val")
    assert not run.is_error, text(run)
    return str(run.structured_content["run_id"])


async def test_score_run_scores_only_the_logs_not_held_out(db_with_negatives: Path) -> None:
    async with Client(create_server(db_with_negatives)) as client:
        run_id = await executed(client, BICYCLES_PROGRAM, BICYCLE)
        scored = await call(client, "score_run", run_id=run_id)
    assert not scored.is_error, text(scored)
    with Store.open(db_with_negatives, read_only=True) as store:
        split = prompt_hold_out(store, BICYCLE)
        (record,) = scorings(store, BICYCLE)
    assert len(split.held_out) == 1 and len(split.refinement) == 1
    assert [row["log_id"] for row in scored.structured_content["per_log"]] == list(split.refinement)
    assert record.purpose == "refinement" and record.origin == "mcp" and record.logs == split.refinement


VEHICLES = "cars = get_objects_of_category(log_dir, category='VEHICLE')\n"
PICKS = [
    (PICKING_PROGRAM, "picks tracks by their position in a sequence"),
    (
        program(VEHICLES + "found = {k: v for k, v in cars.items() if k.startswith(description)}\n"),
        ".startswith() works on the text of a track or log id",
    ),
    (
        program(VEHICLES + "found = {k: v for k, v in cars.items() if 'b96a' in k}\n"),
        "'b96a' reads as a fragment of a track or log id",
    ),
    (program(VEHICLES + "found = {next(iter(cars)): [1]}\n"), "next() takes the first track"),
]


async def test_a_program_that_picks_tracks_is_not_scored_and_costs_no_budget(db_with_negatives: Path) -> None:
    async with Client(create_server(db_with_negatives)) as client:
        for code, refusal in PICKS:
            run_id = await executed(client, code, BICYCLE)
            refused = await call(client, "score_run", run_id=run_id)
            assert refused.is_error and "not scored: the program picks tracks instead of filtering" in text(refused)
            assert refusal in text(refused)
    with Store.open(db_with_negatives, read_only=True) as store:
        assert count_scorings(store, BICYCLE) == 0


async def test_the_budget_per_prompt_holds_across_servers_and_says_how_to_raise_it(db_with_negatives: Path) -> None:
    async with Client(create_server(db_with_negatives, scoring_budget=2)) as client:
        run_id = await executed(client, BICYCLES_PROGRAM, BICYCLE)
        for _ in range(2):
            assert not (await call(client, "score_run", run_id=run_id)).is_error
        refused = await call(client, "score_run", run_id=run_id)
        assert refused.is_error
        assert "scored 2 times in this database, its budget of 2" in text(refused)
        assert "--scoring-budget N" in text(refused) and "AVMINE_SCORING_BUDGET=N" in text(refused)
        other = await executed(client, STOPPED_PROGRAM, STOPPED)
        assert not (await call(client, "score_run", run_id=other)).is_error  # each prompt has its own budget
    async with Client(create_server(db_with_negatives, scoring_budget=2)) as client:  # a new server, same database
        assert "its budget of 2" in text(await call(client, "score_run", run_id=run_id))
    async with Client(create_server(db_with_negatives, scoring_budget=3)) as client:
        assert not (await call(client, "score_run", run_id=run_id)).is_error
    with Store.open(db_with_negatives, read_only=True) as store:
        assert count_scorings(store, BICYCLE) == 3  # refusals are not counted


TOOL_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


async def named_tools_exist(client: Client, refusal: str) -> set[str]:
    """The server's tools a refusal names as next steps."""
    offered = {tool.name for tool in (await client.list_tools()).tools}
    return {word for word in TOOL_NAME.findall(refusal) if word in offered}


async def test_a_single_log_prompt_is_admitted_first_then_scored_then_no_longer_admitted(db: Path) -> None:
    # each demo prompt has one ground-truth log: saved first it is judged there; scored, it is refined on
    async with Client(create_server(db, library_threshold=0.9)) as client:
        run_id = await executed(client, BICYCLES_PROGRAM, BICYCLE)
        below = await call(client, "save_example", prompt=BICYCLE, program=BICYCLES_PROGRAM, run_id=run_id)
        assert below.is_error and "held-out ground-truth log(s), which score_run never scores" in text(below)
        assert "score_run would score that log" in text(below)
        assert {"inspect_track", "render_bev", "score_run"} <= set(await named_tools_exist(client, text(below)))
        scored = await call(client, "score_run", run_id=run_id)  # the next step: refine, with a score now
        assert not scored.is_error, text(scored)
        assert [row["log_id"] for row in scored.structured_content["per_log"]] == [LOGS[0]]
        assert set(scored.structured_content["per_log"][0]) == {"log_id", "gt_positive", "pred_positive",
                                                                "timestamps"}  # fmt: skip
        assert scored.structured_content["held_out_logs"] == 0 and "save_example refuses" in text(scored)
        refused = await call(client, "save_example", prompt=BICYCLE, program=BICYCLES_PROGRAM, run_id=run_id)
        assert refused.is_error and "no fresh ground truth is left" in text(refused)
        assert "submit_program" in await named_tools_exist(client, text(refused))
        submitted = await call(client, "submit_program", prompt=BICYCLE, program=BICYCLES_PROGRAM)
        assert not submitted.is_error, text(submitted)
        again = await call(client, "score_run", run_id=run_id)  # refinement goes on, within the budget
        assert not again.is_error and again.structured_content["per_log"] == scored.structured_content["per_log"]
    with Store.open(db, read_only=True) as store:
        records = scorings(store, BICYCLE)
        assert prompt_hold_out(store, BICYCLE).held_out == ()
        assert search_examples(store, BICYCLE, limit=5) == []
    assert [(s.purpose, s.logs) for s in records] == [("admission", (LOGS[0],))] + [("refinement", (LOGS[0],))] * 2


async def test_a_screening_server_keeps_a_single_log_for_admission(db: Path) -> None:
    async with Client(create_server(db, keep_single_log=True)) as client:
        run_id = await executed(client, BICYCLES_PROGRAM, BICYCLE)
        refused = await call(client, "score_run", run_id=run_id)
        assert refused.is_error and "this screening batch judges the submitted program on it" in text(refused)
        assert "submit_program" in await named_tools_exist(client, text(refused))
        assert not (await call(client, "submit_program", prompt=BICYCLE, program=BICYCLES_PROGRAM)).is_error
    with Store.open(db, read_only=True) as store:
        assert scorings(store, BICYCLE) == [] and prompt_hold_out(store, BICYCLE).held_out == (LOGS[0],)


async def test_refusals_without_ground_truth_name_tools_that_judge_runs(db: Path) -> None:
    async with Client(create_server(db)) as client:
        run = await call(client, "execute_scenario", program=BICYCLES_PROGRAM, prompt="bicycles nobody labelled")
        refused = await call(client, "score_run", run_id=run.structured_content["run_id"])
        assert refused.is_error and "no ground truth for the prompt" in text(refused)
        assert {"execute_scenario", "inspect_track", "render_bev"} <= await named_tools_exist(client, text(refused))
        stored = await call(client, "get_run", run_id=run.structured_content["run_id"])  # the next steps, on it
        log_id, track_uuid = next((r["log_id"], r["tracks"][0]) for r in stored.structured_content["logs"]
                                  if r.get("tracks"))  # fmt: skip
        arguments = {"run_id": run.structured_content["run_id"], "log_id": log_id}
        inspected = await call(client, "inspect_track", track_uuid=track_uuid, **arguments)
        assert not inspected.is_error and track_uuid[:8] in text(inspected)
        assert not (await call(client, "render_bev", **arguments)).is_error


async def test_save_example_admits_on_held_out_logs_only(db_with_negatives: Path) -> None:
    async with Client(create_server(db_with_negatives, library_threshold=0.6)) as client:
        # stopped cars: perfect on its refinement log, but it finds parked cars on the held-out negative log
        stopped = await executed(client, STOPPED_PROGRAM, STOPPED)
        refined = await call(client, "score_run", run_id=stopped)
        assert refined.structured_content["metrics"]["Timestamp BA"] == pytest.approx(1.0)
        refused = await call(client, "save_example", prompt=STOPPED, program=STOPPED_PROGRAM, run_id=stopped)
        assert refused.is_error and "held-out ground-truth log(s), which score_run never scores" in text(refused)
        assert not re.search(r"\d\.\d{2}", text(refused).replace("0.6", ""))  # the held-out score is not told
        saved = await call(client, "save_example", prompt=BICYCLE, program=BICYCLES_PROGRAM)
        assert not saved.is_error and "with scores on 1 held-out log(s)" in text(saved)
        picked = await call(client, "save_example", prompt=BICYCLE, program=PICKING_PROGRAM)
        assert picked.is_error and "picks tracks" in text(picked)
    with Store.open(db_with_negatives, read_only=True) as store:
        split = prompt_hold_out(store, BICYCLE)
        (example,) = search_examples(store, BICYCLE + " " + STOPPED, limit=5)
        admissions = [s for p in (STOPPED, BICYCLE) for s in scorings(store, p) if s.purpose == "admission"]
    assert example.program == BICYCLES_PROGRAM and example.provenance["held_out_logs"] == list(split.held_out)
    assert example.scores["Timestamp BA"] == pytest.approx(0.6778, abs=1e-3)  # the held-out log's score
    assert [(s.prompt, s.origin) for s in admissions] == [(STOPPED, "mcp"), (BICYCLE, "mcp")]
    assert all(s.logs == prompt_hold_out_logs(db_with_negatives, s.prompt) for s in admissions)


def prompt_hold_out_logs(path: Path, prompt: str) -> tuple[str, ...]:
    with Store.open(path, read_only=True) as store:
        return prompt_hold_out(store, prompt).held_out


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve", "--scoring-budget", "0"], {}, "--scoring-budget must be at least 1"),
        (["serve"], {"AVMINE_SCORING_BUDGET": "lots"}, "AVMINE_SCORING_BUDGET='lots' is not a positive integer"),
        (["screen", "--agent", "command", "--agent-command", "true"], {"AVMINE_SCORING_BUDGET": "-3"},
         "AVMINE_SCORING_BUDGET='-3' is not a positive integer"),
    ],
)  # fmt: skip
def test_a_bad_budget_is_refused_before_the_database_opens(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    db = tmp_path / "untouched.duckdb"
    done = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(db), *args], capture_output=True,
                          text=True, timeout=120, env=os.environ | env, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not db.exists()
