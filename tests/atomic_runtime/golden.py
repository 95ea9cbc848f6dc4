"""Shared by the golden tests: load a golden file, run its programs through avmine's executor, compare answers.

The programs run as users run them (``avmine exec``): through the sandboxed executor, each program once
over all the logs of its cases. avmine answers with the scenario after RefAV's post-processing, so
RefAV's recorded raw scenario is post-processed the same way before the two are compared.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from avmine import atomic
from avmine.atomic.output import post_process_scenario
from avmine.server.executor import Executor, LogSelection
from avmine.store.runs import LogResult

GOLDEN_DIR = Path(__file__).parents[1] / "data" / "refav_golden"
NAMESPACE = atomic.program_namespace()


def load(name: str) -> dict[str, Any]:
    """A golden file: {"programs": [{"index", "code"}], "results": {"<index>|<log_id>": {...}}}."""
    golden: dict[str, Any] = json.loads((GOLDEN_DIR / name).read_text())
    return golden


def normalise(value: Any) -> Any:
    """A scenario with sorted, de-duplicated timestamp lists (sets and lists compare alike)."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    return sorted({int(t) for t in value})


def run_all(executor: Executor, programs: dict[str, str], cases: list[tuple[str, str, str]]) -> dict[str, LogResult]:
    """Run each (program, prompt) once over the logs of its cases; returns avmine's result by ``<program>|<log>``.

    Args:
        executor: the sandboxed executor the programs run in.
        programs: program text by name.
        cases: (program name, log id, prompt) of every case.
    """
    logs: dict[tuple[str, str], list[str]] = {}
    for name, log_id, prompt in cases:
        logs.setdefault((name, prompt), []).append(log_id)

    def run(name: str, prompt: str) -> dict[str, LogResult]:
        execution = executor.run(programs[name], prompt, LogSelection(logs=tuple(logs[(name, prompt)])))
        return {f"{name}|{result.log_id}": result for result in execution.results}

    # two calls in flight keep both workers busy while the other call's server side parses and records
    with ThreadPoolExecutor(2) as pool:
        found = [pool.submit(run, name, prompt) for name, prompt in logs]
        return {key: result for future in found for key, result in future.result().items()}


def run_golden(executor: Executor, golden: dict[str, Any], keys: list[str]) -> dict[str, LogResult]:
    """The golden cases ``keys`` run through the executor, each program once over its cases' logs."""
    programs = {str(p["index"]): str(p["code"]) for p in golden["programs"]}
    cases = []
    for key in keys:
        name, log_id = key.split("|")
        cases.append((name, log_id, str(golden["results"][key]["description"])))
    return run_all(executor, programs, cases)


def refav_answer(scenario: Any, log_dir: Path) -> Any:
    """RefAV's raw scenario as its ``output_scenario`` would answer it: post-processed (on a copy)."""
    answer = copy.deepcopy(scenario)
    post_process_scenario(answer, log_dir)
    return answer
