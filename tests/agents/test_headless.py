"""``avmine run`` and ``avmine screen`` with a stand-in agent command (a real MCP client following a script).

The orchestration is real: the in-process MCP server over HTTP, agent subprocesses with time
limits, the sandboxed executor, the store, submission pickles. The agent's choices are scripted
(tests/agents/scripted_agent.py), so every failure mode happens on purpose.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avmine.atomic.categories import referred_category
from avmine.evaluation.guarded_scoring import prompt_hold_out
from avmine.store import Store
from avmine.store.agent_runs import outcomes, sessions
from avmine.store.library import search_examples
from avmine.store.readers.safe_pickle import load_pickle
from avmine.store.scorings import Scoring, record_scoring, scorings

from ..vlm.stand_in import chat_completions
from .conftest import scripted_agents_alive
from .programs import (
    BICYCLE,
    BICYCLES_PROGRAM,
    BROKEN_PROGRAM,
    CHEATING_PROGRAM,
    LOGS,
    STOPPED,
    STOPPED_PROGRAM,
    VEHICLES_PROGRAM,
)  # fmt: skip

AGENT = f"{sys.executable} {Path(__file__).with_name('scripted_agent.py')}"


def avmine(
    db: Path,
    tmp_path: Path,
    plan: dict[str, list[object]],
    *args: str,
    env: dict[str, str] | None = None,
    quiet: bool = True,
) -> subprocess.CompletedProcess[str]:
    state = tmp_path / "agent-state"
    state.mkdir(exist_ok=True)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    run_env = os.environ | {"SCRIPTED_AGENT_PLAN": str(tmp_path / "plan.json"), "SCRIPTED_AGENT_STATE": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "avmine.server.cli",
         "--db", str(db), *args, "--agent", "command", "--agent-command", AGENT,
         *(["--quiet"] if quiet else [])],
        capture_output=True, text=True, timeout=900, env=run_env | (env or {}), cwd=Path(__file__).parents[2],
    )  # fmt: skip


def prompts_file(tmp_path: Path, *prompts: str) -> str:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(prompts) + "\n")
    return str(path)


def labels(submission: dict[tuple[str, str], list[dict[str, object]]], pair: tuple[str, str]) -> set[int]:
    return {int(label) for frame in submission[pair] for label in frame["label"]}  # type: ignore[attr-defined]


def test_a_batch_whose_stderr_is_not_a_terminal_says_one_plain_line_per_prompt(db: Path, tmp_path: Path) -> None:
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: ["silent"]}
    done = avmine(db, tmp_path, plan, "run", "--split", "val", "--prompts", prompts_file(tmp_path, *plan),
                  "--max-attempts", "1", "--no-review", "--out", str(tmp_path / "out"), "--name", "plain",
                  quiet=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("plain: ")]
    assert sorted(line.split(" ")[1] for line in lines) == ["1/2", "2/2"], done.stderr
    assert {line.split(" ", 2)[2] for line in lines} == {f"{STOPPED!r}: done", f"{BICYCLE!r}: failed"}
    assert "\r" not in done.stderr and "prompt/s" not in done.stderr


def test_run_records_every_failure_goes_on_and_submits_every_pair(db: Path, tmp_path: Path) -> None:
    plan: dict[str, list[object]] = {
        STOPPED: [{"submit": STOPPED_PROGRAM}],
        BICYCLE: ["crash", {"submit": BICYCLES_PROGRAM}],  # retried after the crash
        "pedestrian walking": ["silent"],
        "bus in a bus lane": ["hang"],
        "vehicle turning left": [{"submit": BROKEN_PROGRAM}],
        "car that was seen before": [{"submit": CHEATING_PROGRAM}],
    }
    listed = prompts_file(tmp_path, STOPPED, BICYCLE, STOPPED, *list(plan)[2:])
    out = tmp_path / "out"
    done = avmine(db, tmp_path, plan, "run", "--split", "val", "--prompts", listed, "--timeout", "20",
                  "--max-attempts", "2", "--out", str(out), "--name", "failures")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Store.open(db, read_only=True) as store:
        ends = outcomes(store, "failures")
        ran = sessions(store, "failures")
    assert {p: o.status for p, o in ends.items()} == {
        STOPPED: "done", BICYCLE: "done", "pedestrian walking": "failed", "bus in a bus lane": "failed",
        "vehicle turning left": "failed", "car that was seen before": "failed",
    }  # fmt: skip
    assert ends[BICYCLE].attempts == 2 and ends[STOPPED].program == STOPPED_PROGRAM
    statuses = {(s.prompt, s.attempt, s.phase): s.status for s in ran}
    assert statuses[(BICYCLE, 1, "generate")] == "crashed" and statuses[(BICYCLE, 2, "review")] == "approved"
    assert statuses[("pedestrian walking", 2, "generate")] == "no_submission"
    assert statuses[("bus in a bus lane", 1, "generate")] == "timeout"
    crash = next(s for s in ran if s.status == "crashed")
    assert "status 3" in (crash.detail or "") and "lost its connection" in (crash.detail or "")
    assert "failed on every log" in (ends["vehicle turning left"].reason or "")
    assert "undefined_helper" in (ends["vehicle turning left"].reason or "")
    cheat = [s for s in ran if s.prompt == "car that was seen before"]
    assert all(s.status == "no_submission" and "hard-codes" in (s.detail or "") for s in cheat)
    assert sum(s.cost_usd or 0 for s in ran) > 0 and all(s.seconds > 0 for s in ran)
    # the summary lists every prompt and what went wrong, duplicates included
    assert "duplicate prompts (solved once): 'stopped car'" in done.stdout
    assert "timeout" in done.stdout and "crashed" in done.stdout
    # every (log, prompt) pair is in both pickles; failed prompts are all OTHER
    # (the split pairs its own prompts with their ground-truth logs, and new prompts with every log)
    expected = {(LOGS[1], STOPPED), (LOGS[0], BICYCLE)} | {(log, p) for p in list(plan)[2:] for log in LOGS}
    for name in ("submission.pkl", "submission_temporal.pkl"):
        assert set(load_pickle(out / name)) == expected
    submission = load_pickle(out / "submission.pkl")
    assert labels(submission, (LOGS[1], STOPPED)) >= {0}  # referred objects found
    assert labels(submission, (LOGS[0], "pedestrian walking")) == {2}  # all OTHER
    assert "6 prompts" in done.stdout


def test_an_interrupted_run_resumes_where_it_stopped(db: Path, tmp_path: Path) -> None:
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: ["hang"]}
    listed = prompts_file(tmp_path, STOPPED, BICYCLE)
    state = tmp_path / "agent-state"
    state.mkdir()
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    env = os.environ | {"SCRIPTED_AGENT_PLAN": str(tmp_path / "plan.json"), "SCRIPTED_AGENT_STATE": str(state)}
    batch = subprocess.Popen(
        [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "run", "--split", "val", "--prompts", listed,
         "--agent", "command", "--agent-command", AGENT, "--quiet", "--name", "resumable", "--no-review",
         "--out", str(tmp_path / "out")],
        env=env, cwd=Path(__file__).parents[2], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (state / "vehicle_with_a_bicycle_to_its_right").exists():  # the second prompt's session started
        assert time.monotonic() < deadline and batch.poll() is None
        time.sleep(0.2)
    os.killpg(batch.pid, signal.SIGKILL)  # the run dies mid-batch
    batch.wait()
    # the hanging session leads its own process group, which a SIGKILL of the run cannot reach: it dies with the
    # run all the same (its parent-death signal)
    until = time.monotonic() + 5
    while scripted_agents_alive(state) and time.monotonic() < until:
        time.sleep(0.1)
    assert not scripted_agents_alive(state)
    plan[BICYCLE] = [{"submit": BICYCLES_PROGRAM}]
    resumed = avmine(db, tmp_path, plan, "run", "--split", "val", "--prompts", listed, "--name", "resumable",
                     "--no-review", "--out", str(tmp_path / "out"))  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    with Store.open(db, read_only=True) as store:
        ends = outcomes(store, "resumable")
        ran = sessions(store, "resumable")
    assert {p: o.status for p, o in ends.items()} == {STOPPED: "done", BICYCLE: "done"}
    assert [s.prompt for s in ran] == [STOPPED, BICYCLE]  # the first prompt was not solved again
    assert "(finished earlier)" in resumed.stdout


def test_screening_keeps_exactly_the_prompt_above_the_threshold(db: Path, tmp_path: Path) -> None:
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: [{"submit": BICYCLES_PROGRAM}]}
    done = avmine(db, tmp_path, plan, "screen", "--split", "val", "--max-attempts", "2", "--name", "screening")
    assert done.returncode == 0, done.stderr
    with Store.open(db, read_only=True) as store:
        ends = outcomes(store, "screening")
        kept = search_examples(store, "stopped car vehicle bicycle", limit=10)
    assert ends[STOPPED].status == "kept" and ends[STOPPED].timestamp_ba == pytest.approx(1.0)
    assert ends[BICYCLE].status == "below_threshold" and ends[BICYCLE].attempts == 2
    assert ends[BICYCLE].timestamp_ba == pytest.approx(0.6778, abs=1e-3)
    assert [(e.prompt, e.program) for e in kept] == [(STOPPED, STOPPED_PROGRAM)]
    assert kept[0].scores["Timestamp BA"] == pytest.approx(1.0)
    assert kept[0].provenance["origin"] == "screen" and kept[0].provenance["batch"] == "screening"
    # the second attempt at the low prompt was told it was not admitted, never its held-out score;
    # the report lists kept and rejected prompts
    tasks = (tmp_path / "agent-state" / "tasks.log").read_text()
    assert "was not admitted: its Timestamp BA on the prompt's held-out ground truth is not above 0.8" in tasks
    assert "0.678" not in tasks
    rows = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines()}
    assert "kept" in rows[STOPPED] and "below_threshold" in rows[BICYCLE]


def test_screening_admits_on_held_out_logs_that_score_run_never_scored(db_with_negatives: Path, tmp_path: Path) -> None:
    # each prompt has two ground-truth logs: the agent's score_run sees one, admission the other
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM, "score": True}],
                                     BICYCLE: [{"submit": BICYCLES_PROGRAM, "score": True}]}  # fmt: skip
    done = avmine(db_with_negatives, tmp_path, plan, "screen", "--split", "val", "--max-attempts", "1", "--name",
                  "held-out", "--threshold", "0.6", "--no-review")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Store.open(db_with_negatives, read_only=True) as store:
        ends = outcomes(store, "held-out")
        split = {prompt: prompt_hold_out(store, prompt) for prompt in plan}
        done_scorings = {prompt: scorings(store, prompt) for prompt in plan}
        kept = search_examples(store, "stopped car vehicle bicycle", limit=10)
    for prompt, records in done_scorings.items():
        assert [(s.purpose, s.origin) for s in records] == [("refinement", "mcp"), ("admission", "screen")]
        assert records[0].logs == split[prompt].refinement and records[1].logs == split[prompt].held_out
        assert not set(split[prompt].refinement) & set(split[prompt].held_out)
    # the stopped-car program scores 1.0 on its refinement log but finds parked cars on the held-out negative
    scored = (tmp_path / "agent-state" / "scores.log").read_text()
    assert "Timestamp BA 1.000" in scored
    assert ends[STOPPED].status == "below_threshold" and ends[STOPPED].timestamp_ba == pytest.approx(0.5)
    assert ends[BICYCLE].status == "kept" and ends[BICYCLE].timestamp_ba == pytest.approx(0.6778, abs=1e-3)
    assert [(e.prompt, e.provenance["held_out_logs"]) for e in kept] == [(BICYCLE, list(split[BICYCLE].held_out))]


def test_screening_skips_a_prompt_whose_only_log_an_agent_scored(db: Path, tmp_path: Path) -> None:
    with Store.open(db) as store:  # what an interactive score_run of the bicycle prompt records
        record_scoring(store, Scoring(BICYCLE, "an-earlier-run", "refinement", "mcp", (LOGS[0],)))
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: [{"submit": BICYCLES_PROGRAM}]}
    done = avmine(db, tmp_path, plan, "screen", "--split", "val", "--max-attempts", "1", "--name", "spent",
                  "--no-review")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Store.open(db, read_only=True) as store:
        ends = outcomes(store, "spent")
        started = {s.prompt for s in sessions(store, "spent")}
    assert ends[STOPPED].status == "kept" and started == {STOPPED}  # no agent session was spent on the other
    assert ends[BICYCLE].status == "failed" and ends[BICYCLE].attempts == 0
    assert ends[BICYCLE].reason and ends[BICYCLE].reason.startswith("not screened: score_run scored runs")
    assert "RefAV pairs every prompt with positive and negative logs" in ends[BICYCLE].reason


def test_a_vlm_that_says_no_on_one_log_empties_exactly_that_pair(db: Path, tmp_path: Path) -> None:
    asked: list[str] = []

    def no_then_yes(question: str) -> str:
        asked.append(question)
        return "No." if len(asked) == 1 else "Yes."  # logs are checked in order: the first is rejected

    prompt = "vehicle"
    with chat_completions(no_then_yes) as vlm:
        env = {"AVMINE_VLM_BACKEND": "openai", "AVMINE_VLM_MODEL": "scripted", "AVMINE_VLM_URL": vlm.url}
        listed = prompts_file(tmp_path, prompt)
        done = avmine(db, tmp_path, {prompt: [{"submit": VEHICLES_PROGRAM}]}, "run", "--split", "val", "--prompts",
                      listed, "--vlm-check", "--out", str(tmp_path / "out"), env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(asked) == 2 and prompt in asked[0]
    submission = load_pickle(tmp_path / "out" / "submission.pkl")
    assert labels(submission, (LOGS[0], prompt)) == {2}  # rejected: every object OTHER
    assert 0 in labels(submission, (LOGS[1], prompt))  # kept: the vehicles are referred


def test_vlm_check_without_a_vlm_is_refused_before_any_agent_runs(db: Path, tmp_path: Path) -> None:
    done = avmine(db, tmp_path, {}, "run", "--split", "val", "--vlm-check", env={"AVMINE_VLM_BACKEND": ""})
    assert done.returncode == 2 and "AVMINE_VLM_BACKEND" in done.stderr
    assert not (tmp_path / "agent-state" / "tasks.log").exists()


def test_referred_category_is_the_first_object_the_prompt_names() -> None:
    assert referred_category(BICYCLE) == "VEHICLE"
    assert referred_category("pedestrian crossing in front of a bus") == "PEDESTRIAN"
    assert referred_category("the ego vehicle turning left") == "EGO_VEHICLE"
    assert referred_category("school bus with its stop sign out") == "SCHOOL_BUS"
    assert referred_category("box truck parked") == "BOX_TRUCK"
    assert referred_category("cyclist passing a car") == "BICYCLIST"
    assert referred_category("something strange") is None


def test_parallel_sessions_and_a_budget_that_runs_out(db: Path, tmp_path: Path) -> None:
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: [{"submit": BICYCLES_PROGRAM}],
                                     "vehicle": [{"submit": VEHICLES_PROGRAM}]}  # fmt: skip
    listed = prompts_file(tmp_path, *plan)
    both = avmine(db, tmp_path, plan, "run", "--split", "val", "--prompts", listed, "--parallel", "3", "--no-review",
                  "--name", "parallel", "--out", str(tmp_path / "out"))  # fmt: skip
    assert both.returncode == 0, both.stderr
    with Store.open(db, read_only=True) as store:
        assert {o.status for o in outcomes(store, "parallel").values()} == {"done"}
    # each scripted session reports $0.05: a $0.04 budget is spent by the first one
    capped = avmine(db, tmp_path, plan, "run", "--split", "val", "--prompts", listed, "--budget", "0.04",
                    "--no-review", "--name", "capped", "--out", str(tmp_path / "capped"))  # fmt: skip
    assert capped.returncode == 0, capped.stderr
    with Store.open(db, read_only=True) as store:
        assert len(outcomes(store, "capped")) == 1 and len(sessions(store, "capped")) == 1
    assert "not started, the budget ran out (2)" in capped.stdout
    submission = load_pickle(tmp_path / "capped" / "submission.pkl")
    assert {p for _, p in submission} == set(plan)  # the prompts not started are all OTHER, still present


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["screen", "--threshold", "2", "--agent", "command", "--agent-command", AGENT],
            "--threshold is a Timestamp BA",
        ),
        (["run", "--parallel", "0", "--agent", "command", "--agent-command", AGENT], "--parallel must be at least 1"),
        (["screen", "--timeout", "0", "--agent", "command", "--agent-command", AGENT], "must be positive"),
        (["run", "--agent", "command"], "--agent command needs --agent-command"),
        (["run", "--claude", "/nowhere/claude"], "'/nowhere/claude' is not an executable"),
    ],
)
def test_bad_options_are_refused_before_anything_opens(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "untouched.duckdb"
    done = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(db), *args, "--split", "val"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])  # fmt: skip
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stderr.startswith(f"avmine {args[0]}: ")
    assert not db.exists()  # refused before the database was even opened


def test_every_served_tool_is_flagged_for_screening_and_runs_never_score(tmp_path: Path) -> None:
    # A tool's declaration decides whether agents get it (an unflagged tool is denied); this fails when a new
    # tool appears that no one has decided about, and when a run could score or write the library.
    import anyio

    from avmine.server.mcp.app import create_server, headless_tools

    path = tmp_path / "tools.duckdb"
    with Store.open(path) as store:
        served = [tool.name for tool in anyio.run(create_server(path, store=store).list_tools)]
    screening, undecided = headless_tools(screening=True)
    allowed, _ = headless_tools(screening=False)
    assert sorted(screening) == sorted(served) and not undecided
    assert set(allowed) < set(screening) and not {"score_run", "save_example"} & set(allowed)
