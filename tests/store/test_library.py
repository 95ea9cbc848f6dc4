"""The few-shot library: BM25 retrieval, no duplicates, JSON-lines export and import (all or nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avmine.store import Store, StoreError
from avmine.store.library import (
    REFAV_EXAMPLES,
    export_jsonl,
    final_program,
    import_jsonl,
    import_refav_examples,
    parse_refav_examples,
    save_example,
    search_examples,
    submit_final_program,
)  # fmt: skip

PAIRS = {
    "pedestrian crossing in front of a vehicle": "peds = 1\n",
    "vehicle turning left at an intersection": "turns = 2\n",
    "stopped bus": "bus = 3\n",
    "vehicle turning right": "right = 4\n",
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "library.duckdb")
    for prompt, program in PAIRS.items():
        save_example(opened, prompt, program, {"Timestamp BA": 0.5})
    return opened


def test_bm25_ranks_by_prompt_similarity(store: Store) -> None:
    found = [e.prompt for e in search_examples(store, "a car turning left")]
    assert found[0] == "vehicle turning left at an intersection" and "vehicle turning right" in found
    assert [e.prompt for e in search_examples(store, "pedestrians crossing")] == [
        "pedestrian crossing in front of a vehicle"
    ]
    assert search_examples(store, "zzz qqq") == []
    save_example(store, "vehicle turning left", "better = 5\n", {"Timestamp BA": 0.9})
    assert search_examples(store, "vehicle turning left")[0].program == "better = 5\n"


def test_a_pair_is_stored_once(store: Store) -> None:
    first = search_examples(store, "stopped bus")[0].example_id
    assert save_example(store, "stopped bus", "bus   =  3\n") == first  # same program up to whitespace
    assert store.con.execute("SELECT count(*) FROM examples").fetchone() == (len(PAIRS),)
    assert save_example(store, "stopped bus", "bus = 4\n") != first


def test_export_then_import_into_another_database(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "library.jsonl"
    assert export_jsonl(store, path) == len(PAIRS)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["prompt"] for line in lines} == set(PAIRS) and lines[0]["scores"] == {"Timestamp BA": 0.5}
    with Store.open(tmp_path / "other.duckdb") as other:
        assert import_jsonl(other, path) == (len(PAIRS), 0)
        assert import_jsonl(other, path) == (0, len(PAIRS))  # nothing twice
        imported = search_examples(other, "stopped bus")[0]
        assert imported.timestamp_ba == 0.5 and imported.provenance["imported_from"] == str(path)


def test_a_bad_line_names_itself_and_imports_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"prompt": "new prompt", "program": "x = 1\n"}) + "\n" + '{"prompt": 3}\n')
    with pytest.raises(StoreError, match=r"bad.jsonl:2: an example needs string fields 'prompt' and 'program'"):
        import_jsonl(store, path)
    assert search_examples(store, "new prompt") == []
    path.write_text("not json\n")
    with pytest.raises(StoreError, match=r"bad.jsonl:1: not JSON"):
        import_jsonl(store, path)


def test_the_command_line(store: Store, tmp_path: Path) -> None:
    db = store.path
    store.close()

    def avmine(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(db), "library", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    found = avmine("search", "turning left")
    assert found.returncode == 0 and found.stdout.startswith("# vehicle turning left at an intersection")
    assert avmine("export", str(tmp_path / "out.jsonl")).stdout.startswith(f"wrote {len(PAIRS)} examples")
    assert "0 already in the library" not in avmine("import", str(tmp_path / "out.jsonl")).stdout
    (tmp_path / "bad.jsonl").write_text("[1]\n")
    bad = avmine("import", str(tmp_path / "bad.jsonl"))
    assert bad.returncode == 2 and "bad.jsonl:1: an example needs" in bad.stderr


def test_refav_examples_are_a_starting_library(store: Store, tmp_path: Path) -> None:
    pairs = parse_refav_examples(REFAV_EXAMPLES.read_text())
    assert len(pairs) == 12  # every example in RefAV's file
    prompts = [prompt for prompt, _ in pairs]
    assert "vehicle in the wrong lane" in prompts  # its closing typographic quote made ASCII
    assert all("\u2019" not in program and "\u201d" not in program for _, program in pairs)
    assert import_refav_examples(store) == (12, 0)
    assert import_refav_examples(store) == (0, 12)  # nothing twice
    found = search_examples(store, "a vehicle changing lanes")[0]
    assert found.prompt == "vehicle changing lanes" and "changing_lanes(vehicles, log_dir)" in found.program
    assert found.provenance["origin"] == "refav-examples"
    (tmp_path / "none.txt").write_text("no programs here\n")
    with pytest.raises(StoreError, match="RefAV's examples format"):
        import_refav_examples(store, tmp_path / "none.txt")


def test_typographic_quotes_are_stored_as_ascii(store: Store) -> None:
    curly = "cars = get_objects_of_category(log_dir, category=\u2018VEHICLE\u2019)\nx = \u201cy\u201d\n"
    ascii_program = "cars = get_objects_of_category(log_dir, category='VEHICLE')\nx = \"y\"\n"
    save_example(store, "curly", curly)
    assert search_examples(store, "curly")[0].program == ascii_program
    assert save_example(store, "curly", ascii_program) == save_example(store, "curly", curly)  # the same example
    submit_final_program(store, "curly", curly, origin="test")
    assert final_program(store, "curly") == ascii_program


def test_refav_examples_from_the_command_line(store: Store) -> None:
    db = store.path
    store.close()
    done = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(db), "library", "import", "--refav"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("imported 12 RefAV examples")
    missing = subprocess.run([sys.executable, "-m", "avmine.server.cli", "--db", str(db), "library", "import"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "--refav" in missing.stderr and not missing.stdout
