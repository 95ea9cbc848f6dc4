"""Several processes on one database: commands and a second MCP client beside a running ``avmine serve``."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from avmine.store.demo import DEMO_GROUND_TRUTH, SCENARIO_MINING_DIR
from avmine.store.paths import socket_path_for
from avmine.store.readers.safe_pickle import load_pickle

from .programs import BICYCLE_PROMPT, BICYCLES, LEFT_TURNS, LOG, SPIN

AVMINE = [sys.executable, "-m", "avmine.server.cli"]


def _avmine(db: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AVMINE, "--db", str(db), *args], capture_output=True, text=True, timeout=180, cwd=cwd)


def _serve(db: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "avmine.server.cli", "--db", str(db), "serve"],
                                 cwd=os.getcwd())  # fmt: skip


def _text(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in getattr(result, "content", []))


async def _beside_a_server(db: Path, work: Path) -> dict[str, Any]:
    (work / "left.py").write_text(LEFT_TURNS)
    truth = {key: frames for key, frames in load_pickle(DEMO_GROUND_TRUTH).items() if key == (LOG, BICYCLE_PROMPT)}
    (work / "truth.pkl").write_bytes(pickle.dumps(truth))
    outcome: dict[str, Any] = {}
    async with stdio_client(_serve(db)) as (read, write), ClientSession(read, write) as first:
        with anyio.fail_after(240):
            await first.initialize()
            assert socket_path_for(db).exists()

            async def command(name: str, *args: str) -> None:
                outcome[name] = await anyio.to_thread.run_sync(lambda: _avmine(db, *args, cwd=work))

            async def submit_then_score() -> None:  # relative paths are the client's, not the server's
                await command(
                    "submit", "submit", "--split", "val", "--prompt", BICYCLE_PROMPT, "--out", "submission.pkl"
                )
                await command("score", "score", "submission.pkl", "truth.pkl")

            async def library() -> None:
                await command("import", "library", "import", "--refav")
                await command("search", "library", "search", "turning left")

            async def second_client() -> None:
                async with stdio_client(_serve(db)) as (read2, write2), ClientSession(read2, write2) as second:
                    await second.initialize()
                    run = await second.call_tool("execute_scenario", {"program": BICYCLES, "prompt": BICYCLE_PROMPT})
                    rows = await second.call_tool("query_logs", {"sql": "SELECT count(*) AS n FROM boxes"})
                    outcome["second"] = (run, rows)

            async with anyio.create_task_group() as group:
                group.start_soon(command, "ingest", "ingest", str(SCENARIO_MINING_DIR / LOG))  # needs the file itself
                group.start_soon(command, "demo", "demo", "--replace-db", "--quiet")  # deletes nothing in use
                group.start_soon(command, "stats", "stats")
                group.start_soon(command, "exec", "exec", "left.py", "--prompt", "vehicle turning left", "--json")
                group.start_soon(submit_then_score)
                group.start_soon(library)
                group.start_soon(second_client)

            exec_run = json.loads(outcome["exec"].stdout)["run_id"] if outcome["exec"].returncode == 0 else None
            second_run = outcome["second"][0].structured_content["run_id"]
            outcome["seen"] = [await first.call_tool("get_run", {"run_id": run}) for run in (exec_run, second_run)]
    return outcome


def test_commands_and_a_second_client_beside_a_server(labelled_db: Path, tmp_path: Path) -> None:
    outcome = anyio.run(_beside_a_server, labelled_db, tmp_path)
    for name in ("stats", "exec", "submit", "score", "import", "search"):
        assert outcome[name].returncode == 0, (name, outcome[name].stdout, outcome[name].stderr)
        assert "Could not set lock" not in outcome[name].stderr
    assert "Logs (1):" in outcome["stats"].stdout and "REGULAR_VEHICLE" in outcome["stats"].stdout
    refused = outcome["ingest"]
    assert refused.returncode == 2 and f"{labelled_db} is open in process " in refused.stderr, refused.stderr
    assert "`ingest`, `demo`, `colors`, `coverage`, `run` and `screen` need the file itself" in refused.stderr
    assert outcome["demo"].returncode == 2 and "is open in process" in outcome["demo"].stderr
    executed = json.loads(outcome["exec"].stdout)
    assert executed["status"] == "ok" and executed["sandbox"]  # ran in the server's sandboxed executor
    assert outcome["submit"].stdout.startswith(f"Wrote {tmp_path / 'submission.pkl'}:")
    assert "HOTA-Temporal" in outcome["score"].stdout
    assert outcome["import"].stdout.startswith("imported ") and "# " in outcome["search"].stdout
    run, rows = outcome["second"]
    assert not run.is_error and run.structured_content["status"] == "ok", _text(run)
    assert rows.structured_content["rows"] == [[13820]]
    for seen, prompt in zip(outcome["seen"], ("vehicle turning left", BICYCLE_PROMPT), strict=True):
        assert not seen.is_error and seen.structured_content["run"]["prompt"] == prompt, _text(seen)
        assert seen.structured_content["logs"][0]["status"] == "ok"  # both runs are the first server's
    assert not socket_path_for(labelled_db).exists()  # gone with the server
    # the same output as without a server: stats now opens the database itself
    assert _avmine(labelled_db, "stats").stdout == outcome["stats"].stdout
    again = _avmine(labelled_db, "library", "import", "--refav")
    assert again.stdout.startswith("imported 0 RefAV examples")  # the forwarded import was committed


HOLD = "import duckdb, sys, time\nc = duckdb.connect(sys.argv[1])\nprint('holding', flush=True)\ntime.sleep(2)\n"
"""Holds the database writable for 2 s, serving nobody (as a short command does)."""


def _connections(path: Path) -> int:
    """Sockets bound to ``path``: the listener and one per accepted connection."""
    return sum(line.rstrip().endswith(str(path)) for line in Path("/proc/net/unix").read_text().splitlines())


async def _stopped_in_flight(db: Path, work: Path) -> dict[str, Any]:
    (work / "spin.py").write_text(SPIN + LEFT_TURNS)
    server = subprocess.Popen([*AVMINE, "--db", str(db), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    outcome: dict[str, Any] = {}
    try:
        path = socket_path_for(db)
        with anyio.fail_after(120):
            while _connections(path) < 1:
                await anyio.sleep(0.1)
            cli = subprocess.Popen([*AVMINE, "--db", str(db), "exec", "spin.py", "--prompt", "spin"], cwd=work,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
            async with stdio_client(_serve(db)) as (read, write), ClientSession(read, write) as proxied:
                await proxied.initialize()
                async with anyio.create_task_group() as group:

                    async def call() -> None:
                        try:
                            outcome["tool"] = await proxied.call_tool(
                                "execute_scenario", {"program": SPIN + LEFT_TURNS, "prompt": "x"}
                            )
                        except MCPError as exc:
                            outcome["tool"] = exc

                    group.start_soon(call)
                    while _connections(path) < 3:  # the listener, the command and the proxied session
                        await anyio.sleep(0.1)
                    await anyio.sleep(0.5)  # the tool call reaches the server
                    server.send_signal(signal.SIGTERM)
            outcome["cli"] = cli.communicate(timeout=60)
            outcome["cli_code"] = cli.returncode
    finally:
        server.kill()
        server.wait()
    return outcome


def test_server_stopping_mid_command_is_reported(db: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = anyio.run(_stopped_in_flight, db, tmp_path)
    out, err = outcome["cli"]
    assert outcome["cli_code"] == 2, (out, err)
    assert "stopped before `avmine exec` finished" in err and "Run it again" in err
    assert isinstance(outcome["tool"], MCPError), outcome["tool"]
    assert "stopped before this call finished" in str(outcome["tool"]) and "reconnect it" in str(outcome["tool"])
    # the socket the killed server left is stale: commands open the database themselves again, waiting
    # for a short holder that serves nobody
    assert socket_path_for(db).exists()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    stats = _avmine(db, "stats")
    assert holder.wait(timeout=30) == 0
    assert stats.returncode == 0 and "Logs (1):" in stats.stdout, stats.stderr
    assert time.monotonic() - started < 120


def test_socket_is_private_and_works_beside_a_long_path(tmp_path: Path) -> None:
    from avmine.server.sharing import socket_file

    path = tmp_path / ("x" * 60) / ("y" * 60) / "avmine.duckdb.sock"  # beyond sockaddr_un's 108 bytes
    path.parent.mkdir(parents=True)
    with socket_file.bind(path) as listener:
        assert path.stat().st_mode & 0o777 == 0o600
        client = socket_file.connect(path)
        assert client is not None
        accepted, _ = listener.accept()
        with client, accepted:
            assert socket_file.peer(accepted)[0] == os.getpid() and socket_file.peer_is_owner(accepted)
    assert socket_file.connect(path) is None  # stale: nothing listens
