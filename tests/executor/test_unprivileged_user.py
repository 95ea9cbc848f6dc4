"""An ordinary user (not root) runs avmine as users do: the demo, ``avmine exec`` and the MCP server.

Each program must run inside every layer, in the user-namespace mode, and say so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from ..unprivileged import SETPRIV, nobody_dir, nobody_python

LEFT_TURNS = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "output_scenario(turning(vehicles, log_dir, direction='left'), description, log_dir, output_dir)\n"
)


def _all_layers(layers: dict[str, object]) -> None:
    assert layers.get("mode") == "user-namespace", layers
    assert [k for k, on in layers.items() if k not in ("mode", "distinct_uid") and not on] == [], layers


@pytest.fixture(scope="module")
def home() -> Iterator[tuple[str, Path]]:
    """nobody's interpreter and home, with the demo built by nobody (``avmine demo``, as ``make demo`` runs it)."""
    python = nobody_python()
    home = nobody_dir("avmine-nobody-home-")
    done = subprocess.run(
        [*SETPRIV, python, "-m", "avmine.server.cli", "demo", "--out", str(home / "demo"), "--quiet"],
        capture_output=True, text=True, timeout=900, cwd=home, env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "vehicle turning left: ok" in done.stdout, done.stdout
    counts = re.findall(r"(\d+) ran, (\d+) failed", done.stdout)
    assert counts and all(failed == "0" for _, failed in counts), done.stdout
    yield python, home
    shutil.rmtree(home, ignore_errors=True)


def _db(home: Path) -> Path:
    return next((home / "demo").glob("*.duckdb"))


def test_exec_runs_every_layer(home: tuple[str, Path]) -> None:
    python, path = home
    program = path / "left.py"
    program.write_text(LEFT_TURNS)
    command = ["-m", "avmine.server.cli", "--db", str(_db(path)), "exec", str(program), "--prompt", "left", "--json"]
    done = subprocess.run(
        [*SETPRIV, python, *command],
        capture_output=True, text=True, timeout=600, cwd=path, env={"HOME": str(path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["status"] == "ok"
    _all_layers(report["sandbox"])


def test_execute_scenario_runs_every_layer(home: tuple[str, Path]) -> None:
    python, path = home

    async def session() -> dict[str, object]:
        params = StdioServerParameters(
            command=SETPRIV[0],
            args=[*SETPRIV[1:], python, "-m", "avmine.server.cli", "--db", str(_db(path)), "serve"],
            env={"HOME": str(path), "PATH": "/usr/bin:/bin"},
            cwd=path,
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            with anyio.fail_after(300):
                await client.initialize()
                run = await client.call_tool("execute_scenario", {"program": LEFT_TURNS, "prompt": "left"})
                assert not run.is_error, run
                assert run.structured_content is not None
                return run.structured_content

    summary = anyio.run(session)
    assert summary["status"] == "ok"
    assert isinstance(summary["sandbox"], dict)
    _all_layers(summary["sandbox"])
