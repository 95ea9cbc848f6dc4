"""Prompt coverage: every condition of a prompt maps to a function, or is reported as what keeps it uncovered."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import avmine.vlm.program_functions  # noqa: F401  (the VLM functions' phrasings count, as in `avmine coverage`)
from avmine.atomic import docs
from avmine.atomic.categories import prompt_categories, referred_category
from avmine.atomic.coverage import GAPS, gaps, prompt_coverage

PROMPTS = Path(__file__).parent.parent / "data" / "coverage_prompts.txt"
"""Challenge-style prompts; after "#" on a line, what keeps that prompt from being covered."""


def _expected() -> dict[str, str]:
    lines = [line for line in PROMPTS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {prompt.strip(): reason.strip() for prompt, _, reason in (line.partition("  #") for line in lines)}


def test_known_gaps_and_covered_prompts() -> None:
    expected = _expected()
    assert len(expected) >= 30 and sum(not reason for reason in expected.values()) >= 20
    for prompt, reason in expected.items():
        coverage = prompt_coverage(prompt)
        assert "; ".join(coverage.uncovered) == reason, (prompt, coverage.conditions)
        assert coverage.covered == (not reason)


def test_nothing_unmapped_is_called_covered() -> None:
    honking = prompt_coverage("car honking at a pedestrian")
    assert not honking.covered and honking.uncovered == ["sounds"]
    saucer = prompt_coverage("flying saucer landing")
    assert saucer.uncovered == ["not recognised: flying saucer landing"] and saucer.functions == [
        "get_objects_of_category"
    ]
    speeding = prompt_coverage("vehicle going over the speed limit")
    assert "speed limit" in speeding.uncovered and not speeding.covered
    then = prompt_coverage("vehicle turning left then accelerating")
    assert then.covered and {"turning", "then", "accelerating"} <= set(then.functions)
    waiting = prompt_coverage("vehicle waiting until it is safe to turn")
    assert {"then", "turning"} <= set(waiting.functions) and waiting.uncovered == ["not recognised: safe"]
    u_turn = prompt_coverage("vehicle making a U-turn at an intersection")
    assert u_turn.covered and {"u_turn", "on_intersection"} <= set(u_turn.functions)
    pushing = prompt_coverage("man pushing a stroller")
    assert pushing.covered and pushing.functions == ["get_objects_of_category", "moved_by_person"]
    assert gaps([honking, saucer, then, then]) == {"sounds": 1, "not recognised: flying saucer landing": 1}


def test_vlm_conditions_say_whether_a_vlm_is_configured() -> None:
    police = prompt_coverage("police car driving fast")
    assert [c.status for c in police.conditions] == ["vlm", "ok"]
    assert police.uncovered == ["needs a VLM: police car"] and not police.covered
    assert prompt_coverage("police car driving fast", vlm_configured=True).covered


def test_gaps_are_not_also_phrasings_of_a_function() -> None:
    phrasings = {p for entry in docs.registry().values() for p in entry.phrasings}
    for gap in GAPS:
        assert not [p for p in phrasings if re.search(gap.phrases, p)], gap.name


def test_categories_in_prompt_order() -> None:
    assert prompt_categories("pedestrian crossing in front of a school bus") == ["PEDESTRIAN", "SCHOOL_BUS"]
    assert referred_category("vehicle with a bicycle to its right") == "VEHICLE"
    assert referred_category("nothing in particular") is None


def test_the_command_line_reports_what_is_not_covered(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVMINE_VLM")}
    done = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(tmp_path / "none.duckdb"), "coverage",
                           str(PROMPTS)], capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    covered = sum(not reason for reason in _expected().values())
    assert f"{covered} of {len(_expected())} prompts covered" in done.stdout
    assert "ok  vehicle making a left turn at an intersection" in done.stdout
    assert "GAP car honking at a pedestrian" in done.stdout and "'honking': no function (sounds)" in done.stdout
    assert "'police car': is_specific_object_type (needs a VLM: none configured)" in done.stdout
    assert "'flying saucer landing': not recognised" in done.stdout and "towing (1)" in done.stdout
