"""Programs that hard-code answers are refused: by the check itself, and by the MCP tools that save and submit."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from avmine.atomic.honesty import DishonestProgramError, check_honest, hard_coded_answers
from avmine.atomic.program import ProgramError
from avmine.server.mcp.app import create_server
from avmine.store import Store
from avmine.store.library import search_examples

from .programs import CHEATING_PROGRAM, STOPPED, STOPPED_PROGRAM, program

TRACK = "a2f5a1a4-1a2b-4c3d-8e9f-0123456789ab"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_honest_programs_pass() -> None:
    assert hard_coded_answers(STOPPED_PROGRAM) == []
    check_honest(program("found = has_velocity(cars, log_dir, min_velocity=1e3)\n"))  # a large threshold is fine


@pytest.mark.parametrize(
    ("code", "named"),
    [
        (f"found = {{'{TRACK}': [1]}}\n", TRACK),
        (f"ids = ['x', \"{TRACK.upper()}\"]\n", TRACK.upper()),
        ("t = 315969904359876000\n", "315969904359876000"),
        ("t = 3.15e17\n", "3.15e+17"),
        (f"if log_dir.name == '{TRACK}':\n    found = {{}}\n", TRACK),  # a log id is an answer too
    ],
)
def test_hard_coded_ids_and_timestamps_are_named(code: str, named: str) -> None:
    (reason,) = hard_coded_answers(program(code))
    assert named in reason and reason.startswith("line ")
    with pytest.raises(DishonestProgramError, match="atomic functions"):
        check_honest(program(code))


def test_a_program_that_does_not_parse_says_so() -> None:
    with pytest.raises(ProgramError):
        hard_coded_answers("found = (\n")


@pytest.mark.anyio
async def test_tools_refuse_to_save_or_submit_dishonest_programs(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    Store.open(db).close()
    async with Client(create_server(db)) as client:
        for tool in ("save_example", "submit_program"):
            refused = await client.call_tool(tool, {"prompt": STOPPED, "program": CHEATING_PROGRAM})
            assert refused.is_error and "hard-codes answers" in refused.content[0].text  # type: ignore[union-attr]
        saved = await client.call_tool("save_example", {"prompt": STOPPED, "program": STOPPED_PROGRAM})
        assert not saved.is_error
    with Store.open(db, read_only=True) as store:
        assert [e.program for e in search_examples(store, STOPPED)] == [STOPPED_PROGRAM]
        assert store.con.execute("SELECT count(*) FROM final_programs").fetchone() == (0,)
