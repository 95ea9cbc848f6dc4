"""``avmine run`` and ``avmine screen`` on a refined track source made from the demo (``--source``).

A noisy tracker-like source of the two demo logs is refined; the batches then run with the
stand-in agent (a real MCP client) and must mine, submit and score on the refined boxes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.categories import VEHICLE_MEMBERS
from avmine.evaluation.guarded_scoring import prompt_hold_out
from avmine.evaluation.score_runs import score_stored_run
from avmine.evaluation.submission.from_runs import submission_from_runs
from avmine.store import Store
from avmine.store.agent_runs import outcomes
from avmine.store.library import search_examples
from avmine.store.readers.safe_pickle import load_pickle
from avmine.store.scorings import scorings

from ..refined_demo import RAW, REFINED, add_refined_sources
from .programs import BICYCLE, BICYCLES_PROGRAM, LOGS, STOPPED, STOPPED_PROGRAM, VEHICLES_PROGRAM
from .test_headless import avmine, prompts_file


@pytest.fixture
def refined_db(db: Path, tmp_path: Path) -> Path:
    """The demo's two scenario-mining logs with ground truth, a noisy tracker source of them and its refinement."""
    with Store.open(db) as store:
        add_refined_sources(store, list(LOGS), tmp_path)
    return db


def vehicles(store: Store, source: str, log_id: str) -> set[str]:
    return {str(r[0]) for r in store.con.execute(
        "SELECT DISTINCT track_uuid FROM boxes WHERE source = ? AND log_id = ? AND category IN (SELECT unnest(?))",
        [source, log_id, list(VEHICLE_MEMBERS)]).fetchall()}  # fmt: skip


def same_frames(a: list[dict[str, object]], b: list[dict[str, object]]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(np.array_equal(np.asarray(x[k]), np.asarray(y[k])) for k in x)
        for x, y in zip(a, b, strict=True)
    )


def test_run_on_a_refined_source_mines_and_submits_its_boxes(refined_db: Path, tmp_path: Path) -> None:
    prompt = "vehicle"
    out = tmp_path / "out"
    done = avmine(refined_db, tmp_path, {prompt: [{"submit": VEHICLES_PROGRAM}]}, "run", "--split", "val",
                  "--prompts", prompts_file(tmp_path, prompt), "--source", REFINED, "--no-review", "--name",
                  "refined-run", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Store.open(refined_db, read_only=True) as store:
        (outcome,) = outcomes(store, "refined-run").values()
        sources = {
            str(r[0]) for r in store.con.execute("SELECT source FROM runs WHERE prompt = ?", [prompt]).fetchall()
        }
        results = dict(store.con.execute(
            "SELECT log_id, scenario FROM run_results WHERE run_id = ?", [outcome.run_id]).fetchall())  # fmt: skip
        assert outcome.status == "done" and outcome.run_id is not None
        # every run of the batch (the agent's own through MCP, and the final one) used the refined boxes
        assert sources == {REFINED}
        for log_id in LOGS:
            found = set(json.loads(results[log_id]))
            assert found == vehicles(store, REFINED, log_id) != vehicles(store, RAW, log_id)
        # the submission is the refined boxes' (one from the raw boxes would differ)
        runs = {prompt: outcome.run_id}
        refined, _ = submission_from_runs(store, "val", REFINED, prompts=[prompt], runs=runs)
        raw, _ = submission_from_runs(store, "val", RAW, prompts=[prompt], runs=runs)
    submitted = load_pickle(out / "submission.pkl")
    assert set(submitted) == {(log, prompt) for log in LOGS}
    for pair, frames in submitted.items():
        assert same_frames(frames, refined[pair]) and not same_frames(frames, raw[pair])


def test_screen_on_a_refined_source_scores_and_keeps_programs_on_its_boxes(refined_db: Path, tmp_path: Path) -> None:
    plan: dict[str, list[object]] = {STOPPED: [{"submit": STOPPED_PROGRAM}], BICYCLE: [{"submit": BICYCLES_PROGRAM}]}
    done = avmine(refined_db, tmp_path, plan, "screen", "--split", "val", "--source", REFINED, "--max-attempts", "1",
                  "--no-review", "--threshold", "0.6", "--name", "refined-screen")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Store.open(refined_db, read_only=True) as store:
        ends = outcomes(store, "refined-screen")
        assert set(ends) == set(plan)
        for prompt, end in ends.items():
            assert end.run_id is not None and end.timestamp_ba is not None
            run_source = store.con.execute("SELECT source FROM runs WHERE run_id = ?", [end.run_id]).fetchone()
            assert run_source == (REFINED,)
            held_out = prompt_hold_out(store, prompt).held_out
            assert [(s.purpose, s.origin, s.logs) for s in scorings(store, prompt)] == [
                ("admission", "screen", held_out)
            ]
            # the recorded score is the run's on the refined boxes
            rescored = score_stored_run(store, end.run_id, logs=held_out).metrics["Timestamp BA"]
            assert end.timestamp_ba == pytest.approx(rescored)
        kept = search_examples(store, "stopped car vehicle bicycle", limit=10)
    assert [e.provenance["source"] for e in kept] == [REFINED] * len(kept)
    assert {e.prompt for e in kept} == {p for p, e in ends.items() if e.status == "kept"}
