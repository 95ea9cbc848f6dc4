"""Prompt coverage: the functions a prompt needs and the behaviours nothing covers, measured by a lexicon."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from avmine.atomic.categories import prompt_categories, referred_category
from avmine.atomic.coverage import LEXICON, gaps, prompt_coverage
from avmine.atomic.functions import FUNCTIONS


def test_every_function_the_lexicon_names_exists() -> None:
    named = {f for behaviour in LEXICON for f in behaviour.functions}
    vision = {"is_occluded_by", "at_traffic_lights"}  # registered when the VLM layer is imported
    assert named - vision <= set(FUNCTIONS)


def test_prompts_map_to_functions_and_gaps() -> None:
    u_turn = prompt_coverage("vehicle making a U-turn at an intersection")
    assert u_turn.covered and {"u_turn", "on_intersection"} <= set(u_turn.functions)
    merging = prompt_coverage("bus merging into traffic while a car yields")
    assert merging.covered and merging.categories == ["BUS", "REGULAR_VEHICLE"]
    assert {"merging", "yielding"} <= set(merging.functions)
    overtaken = prompt_coverage("ego vehicle being overtaken on right by a semi")
    assert overtaken.categories == ["EGO_VEHICLE", "TRUCK_CAB"] and "being_overtaken" in overtaken.functions
    cutting = prompt_coverage("car cutting in front of the ego vehicle")
    assert cutting.covered and "cutting_in" in cutting.functions
    side = prompt_coverage("vehicle parallel parking")
    assert side.covered and "parallel_parking" in side.functions
    pushing = prompt_coverage("man pushing a stroller")
    assert pushing.covered and pushing.functions == ["get_objects_of_category", "moved_by_person"]
    hazards = prompt_coverage("parked truck with hazard lights flashing")
    assert hazards.uncovered == ["lights or signals"]
    towing = prompt_coverage("truck towing a car")
    assert gaps([merging, cutting, side, pushing, hazards, towing]) == {"lights or signals": 1, "towing": 1}


def test_categories_in_prompt_order() -> None:
    assert prompt_categories("pedestrian crossing in front of a school bus") == ["PEDESTRIAN", "SCHOOL_BUS"]
    assert referred_category("vehicle with a bicycle to its right") == "VEHICLE"
    assert referred_category("nothing in particular") is None


def test_the_command_line_reports_gaps(tmp_path: Path) -> None:
    listed = tmp_path / "prompts.txt"
    listed.write_text("vehicle turning left\npickup truck towing a trailer\n\n")
    done = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(tmp_path / "none.duckdb"), "coverage",
                           str(listed)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ok  vehicle turning left" in done.stdout and "GAP pickup truck towing a trailer" in done.stdout
    assert "1 of 2 prompts covered (50%)" in done.stdout and "towing (1)" in done.stdout
