"""The real ``claude`` binary through ``avmine screen`` then ``avmine run``, its model replaced by a local
stand-in for the Anthropic Messages API that replays scripted turns (tests/agents/anthropic_stand_in.py).

Screening, in order: docs; execute_scenario with a program that refers to the wrong objects (the bicycles,
not the vehicles the prompt mentions first); diagnostics naming the relation that keys by the right side;
the fixed program; score_run (refused: a screening batch keeps the prompt's one ground-truth log for its
judgement); save_example (admitted on that log); submit_program.
Then a run whose task carries the saved example, and a submission that av2's evaluate scores exactly
as ``avmine score`` does.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from avmine.store import Store
from avmine.store.agent_runs import outcomes, sessions
from avmine.store.demo import DEMO_GROUND_TRUTH
from avmine.store.library import search_examples
from avmine.store.readers.safe_pickle import load_pickle

from ..evaluation.conftest import run_av2
from .anthropic_stand_in import AnthropicStandIn, Block, Conversation, text, tool
from .programs import BICYCLE, BICYCLES_PROGRAM, LOGS, STOPPED, STOPPED_PROGRAM, program
from .test_headless import avmine as scripted

CLAUDE = Path(__file__).parents[1] / "clients" / "node_modules" / ".bin" / "claude"
REFERS_TO_VEHICLES = program(
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "bicycles = get_objects_of_category(log_dir, category='BICYCLE')\n"
    "found = has_objects_in_relative_direction(vehicles, bicycles, log_dir, direction='right', within_distance=10)\n"
)  # RefAV's convention: the vehicles, mentioned first (the demo's fixture refers mostly bicycles: 0.44 there)


def run_id(result: str) -> str:
    found = re.search(r"run(?:_id)?\W+([0-9a-f]{16})", result)
    assert found, result
    return found.group(1)


def screening_script(conversation: Conversation) -> list[Block]:
    task = conversation.first_user_text()
    if task.startswith("Review"):
        return [text("APPROVED: the vehicles, which the prompt mentions first, are the referred objects.")]
    results = conversation.last_tool_results()
    runs = list(dict.fromkeys(re.findall(r"run(?:_id)?\W+([0-9a-f]{16})", conversation.text())))
    steps = [
        lambda: [text("Looking up relations."), tool("search_docs", query="objects to the right of")],
        lambda: [tool("execute_scenario", program=BICYCLES_PROGRAM, prompt=BICYCLE, split="val")],
        lambda: [tool("execute_scenario", program=REFERS_TO_VEHICLES, prompt=BICYCLE, split="val")],
        lambda: [tool("score_run", run_id=run_id(results[0]))],
        lambda: [tool("save_example", prompt=BICYCLE, program=REFERS_TO_VEHICLES, run_id=runs[1])],  # the fixed one
        lambda: [tool("submit_program", prompt=BICYCLE, program=REFERS_TO_VEHICLES)],
        lambda: [text("Submitted.")],
    ]
    if conversation.turn == 2:  # the diagnostics of the first program must say what to fix
        assert "reverse_relationship" in results[0], results[0]
    if conversation.turn == 4:  # the prompt's only ground-truth log is held out for the library's decision
        assert "this screening batch judges the submitted program on it" in results[0], results[0]
    return steps[conversation.turn]()


def run_script(conversation: Conversation) -> list[Block]:
    task = conversation.first_user_text()
    if task.startswith("Review"):
        return [text("APPROVED")]
    prompt = BICYCLE if BICYCLE in task else STOPPED
    chosen = REFERS_TO_VEHICLES if prompt == BICYCLE else STOPPED_PROGRAM
    steps = [
        lambda: [tool("execute_scenario", program=chosen, prompt=prompt, split="val")],
        lambda: [tool("submit_program", prompt=prompt, program=chosen)],
        lambda: [text("Submitted.")],
    ]
    return steps[conversation.turn]()


def avmine(db: Path, home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "HOME": str(home), "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "stand-in",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "--db", str(db), *args, "--split", "val", "--claude", str(CLAUDE),
         "--quiet", "--max-attempts", "1", "--timeout", "300"],
        capture_output=True, text=True, timeout=900, env=env, cwd=Path(__file__).parents[2],
    )  # fmt: skip


def test_an_unreachable_model_api_stops_the_batch_before_any_prompt(db: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a local port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    (tmp_path / "home").mkdir()
    done = avmine(db, tmp_path / "home", closed, "run", "--name", "offline", "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"the model API could not be reached: connecting to {closed} failed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
    with Store.open(db, read_only=True) as store:
        assert sessions(store, "offline") == []


def test_claude_screens_then_runs_and_submits(db: Path, tmp_path: Path) -> None:
    assert CLAUDE.exists(), f"{CLAUDE} is missing: run `make test` (it installs tests/clients with npm)"
    home = tmp_path / "home"
    home.mkdir()
    listed = tmp_path / "prompts.txt"
    listed.write_text(BICYCLE + "\n")
    with AnthropicStandIn(screening_script) as model:
        screened = avmine(db, home, model.url, "screen", "--prompts", str(listed), "--threshold", "0.4",
                          "--name", "claude-screen")  # fmt: skip
    assert not model.errors, model.errors
    assert screened.returncode == 0, screened.stderr
    tools_offered = {t["name"] for t in model.requests[1]["tools"]}
    assert "mcp__avmine__score_run" in tools_offered and "Bash" not in tools_offered
    with Store.open(db, read_only=True) as store:
        (kept,) = outcomes(store, "claude-screen").values()
        ran = sessions(store, "claude-screen")
        examples = search_examples(store, BICYCLE)
    assert kept.status == "kept" and kept.program == REFERS_TO_VEHICLES
    assert kept.timestamp_ba == pytest.approx(0.4407, abs=1e-3)
    assert [(s.phase, s.status) for s in ran] == [("generate", "submitted"), ("review", "approved")]
    assert ran[0].turns == 7 and ran[0].cost_usd and ran[0].cost_usd > 0
    assert [e.program for e in examples] == [REFERS_TO_VEHICLES]  # saved once, by the agent and by screening
    assert examples[0].scores["Timestamp BA"] == pytest.approx(0.4407, abs=1e-3)

    out = tmp_path / "submission"
    with AnthropicStandIn(run_script) as model:
        done = avmine(db, home, model.url, "run", "--name", "claude-run", "--out", str(out))
    assert not model.errors, model.errors
    assert done.returncode == 0, done.stderr
    firsts = [Conversation(r) for r in model.requests if r.get("tools") and Conversation(r).turn == 0]
    bicycle_task = next(c.first_user_text() for c in firsts if f'prompt "{BICYCLE}"' in c.first_user_text())
    assert "has_objects_in_relative_direction(vehicles, bicycles" in bicycle_task  # the retrieved example
    assert "mcp__avmine__score_run" not in {t["name"] for t in firsts[0].request["tools"]}  # no scores in a run
    submission = load_pickle(out / "submission.pkl")
    assert set(submission) == {(LOGS[0], BICYCLE), (LOGS[1], STOPPED)}
    ground_truth = load_pickle(DEMO_GROUND_TRUTH)
    scored = subprocess.run(
        [sys.executable, "-m", "avmine.server.cli",
         "score", str(out / "submission.pkl"), str(DEMO_GROUND_TRUTH), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ours = json.loads(scored.stdout)["metrics"]
    theirs = run_av2(submission, ground_truth)
    names = ("HOTA-Temporal", "HOTA-Track", "Timestamp BA", "Log BA")
    assert [ours[name] for name in names] == pytest.approx(list(theirs), abs=1e-9)
    assert ours["Timestamp BA"] > 0.7


def test_a_batch_whose_agent_is_not_logged_in_submits_nothing_old_and_fails(db: Path, tmp_path: Path) -> None:
    assert CLAUDE.exists(), f"{CLAUDE} is missing: run `make test` (it installs tests/clients with npm)"
    listed = tmp_path / "prompts.txt"
    listed.write_text(f"{STOPPED}\n{BICYCLE}\n")
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: [{"submit": BICYCLES_PROGRAM}]}
    earlier = scripted(db, tmp_path, plan, "run", "--split", "val", "--prompts", str(listed), "--no-review",
                       "--name", "earlier", "--out", str(tmp_path / "earlier"))  # fmt: skip
    assert earlier.returncode == 0 and "2 from programs" in earlier.stdout, earlier.stderr
    home = tmp_path / "home"  # no credentials: the real claude answers "Not logged in · Please run /login"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE"))} | {
        "HOME": str(home), "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}  # fmt: skip
    command = [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "run", "--split", "val",
               "--prompts", str(listed), "--claude", str(CLAUDE), "--quiet", "--name", "logged-out", "--out",
               str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).parents[2])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "every prompt failed" in done.stderr
    assert "0 from programs, 2 all-OTHER" in done.stdout  # not the earlier batch's programs
    submission = load_pickle(tmp_path / "out" / "submission.pkl")
    assert {int(label) for frames in submission.values() for f in frames for label in f["label"]} == {2}
    with Store.open(db, read_only=True) as store:
        ran = sessions(store, "logged-out")
        ends = outcomes(store, "logged-out")
    assert [s.status for s in ran] == ["not_logged_in", "not_logged_in"]  # one session each: no pointless retry
    assert all("Not logged in" in (o.reason or "") and "/login" in (o.reason or "") for o in ends.values())
    assert "not_logged_in" in done.stdout and "Not logged in" in done.stdout
    assert "then run the same command with --retry-failed" in done.stdout  # the advice is not cut off
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).parents[2])
    assert again.returncode == 1
    assert "2 prompt(s) failed in an earlier run of this batch" in again.stdout and "--retry-failed" in again.stdout
