"""Shared by the golden tests: load a golden file, run its programs through avmine, compare whole scenarios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import atomic
from atomic.program import ProgramRun, run_program

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


def run_case(golden: dict[str, Any], key: str, log_dir: Path, output_dir: Path) -> tuple[ProgramRun, dict[str, Any]]:
    """Run the program of a golden case on its log; returns avmine's run and RefAV's recorded result."""
    index, _ = key.split("|")
    expected: dict[str, Any] = golden["results"][key]
    run = run_program(golden["programs"][int(index)]["code"], NAMESPACE, log_dir, expected["description"], output_dir)
    return run, expected
