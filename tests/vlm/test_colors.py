"""``avmine colors`` fills RefAV's colour cache with the VLM; RefAV's is_color then reads it unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from avmine.server.executor import Executor, LogSelection
from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.demo import SCENARIO_MINING_DIR

from .stand_in import chat_completions

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


def colour_program(colour: str) -> str:
    return (
        "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
        f"output_scenario(is_color(vehicles, log_dir, color={colour!r}), description, log_dir, output_dir)\n"
    )


def test_the_vlm_builds_the_cache_that_is_color_reads(tmp_path: Path) -> None:
    db = tmp_path / "colors.duckdb"
    with Store.open(db) as store:
        ingest(store, SCENARIO_MINING_DIR / LOG, split="val", progress=False)
        prepare_logs(store, [("annotations", LOG)], progress=False)
        with Executor(store, workers=1) as executor:
            before = executor.run(colour_program("blue"), "blue", LogSelection(logs=(LOG,)))
    assert len(before.results[0].scenario or {}) > 50  # RefAV: without a cache every vehicle passes
    with chat_completions(lambda q: "It is red." if "colour" in q else "No.") as stand_in:
        env = os.environ | {"AVMINE_VLM_BACKEND": "openai", "AVMINE_VLM_MODEL": "scripted",
                            "AVMINE_VLM_URL": stand_in.url}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "colors", "--logs", LOG],
            capture_output=True, text=True, timeout=900, env=env,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{LOG}: red ")
    with Store.open(db) as store:
        cache = json.loads((store.log_dir(LOG) / "cache" / "color_cache.json").read_text())
        assert set(cache.values()) == {"red"} and len(cache) > 50
        with Executor(store, workers=1) as executor:
            red = executor.run(colour_program("red"), "red", LogSelection(logs=(LOG,)))
            blue = executor.run(colour_program("blue"), "blue", LogSelection(logs=(LOG,)))
    red_found, blue_found = set(red.results[0].scenario or {}), set(blue.results[0].scenario or {})
    assert red_found >= set(cache)
    assert not blue_found & set(cache)  # RefAV's rule: only objects the cache does not know (the ego) pass
    assert blue_found == red_found - set(cache)


def test_without_a_vlm_it_says_how_to_configure_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVMINE_VLM")}
    done = subprocess.run(
        [sys.executable, "-m", "avmine.server.cli", "--db", str(tmp_path / "x.duckdb"), "colors"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 2 and "No VLM backend is configured" in done.stderr
