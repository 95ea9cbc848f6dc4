"""Real MCP clients from npm against ``avmine serve`` over stdio: the MCP Inspector CLI and Claude Code.

``make test`` installs them into tests/clients/node_modules (see tests/clients/package.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

CLIENTS = Path(__file__).parents[1] / "clients" / "node_modules" / ".bin"
AVMINE = str(Path(sys.executable).parent / "avmine")


def client(name: str) -> str:
    binary = CLIENTS / name
    assert binary.exists(), f"{binary} is missing: run `make test` (it installs tests/clients with npm)"
    return str(binary)


def inspector(db: Path, *method: str) -> dict[str, object]:
    done = subprocess.run(
        [client("mcp-inspector"), "--cli", AVMINE, "--db", str(db), "serve", *method],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_inspector_lists_and_calls_tools(db: Path) -> None:
    tools = inspector(db, "--method", "tools/list")["tools"]
    assert isinstance(tools, list)
    assert {"execute_scenario", "query_logs", "render_bev", "score_run"} <= {tool["name"] for tool in tools}
    program = (
        "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
        "output_scenario(peds, description, log_dir, output_dir)\n"
    )
    called = inspector(
        db, "--method", "tools/call", "--tool-name", "execute_scenario",
        "--tool-arg", f"program={program}", "--tool-arg", "prompt=pedestrian",
    )  # fmt: skip
    summary = called["structuredContent"]
    assert isinstance(summary, dict) and summary["status"] == "ok"
    assert summary["per_log"][0]["referred_tracks"] == 12
    resources = inspector(db, "--method", "resources/list")["resources"]
    assert isinstance(resources, list) and "avmine://docs/functions" in {r["uri"] for r in resources}


def test_claude_code_adds_and_connects_to_avmine(db: Path, tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE"))} | {"HOME": str(home)}

    def claude(*args: str) -> str:
        done = subprocess.run(
            [client("claude"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    added = claude("mcp", "add", "-s", "local", "avmine", "--", AVMINE, "--db", str(db), "serve")
    assert "Added stdio MCP server avmine" in added
    listed = claude("mcp", "list")
    assert "avmine:" in listed and "✔ Connected" in listed, listed


def test_stdio_writes_nothing_but_protocol_messages(db: Path) -> None:
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "execute_scenario", "arguments": {
            "program": "print('to stdout?')\n" + "output_scenario({}, description, log_dir, output_dir)\n",
            "prompt": "noise"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_logs", "arguments": {}}},
    ]  # fmt: skip
    server = subprocess.Popen(
        [AVMINE, "--db", str(db), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    watchdog = threading.Timer(180, server.kill)  # a hung server fails the test instead of hanging it
    watchdog.start()
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
    server.stdin.flush()
    messages: list[dict[str, Any]] = []
    while len([m for m in messages if "id" in m]) < 3 and (line := server.stdout.readline()):
        messages.append(json.loads(line))  # every line is JSON-RPC: nothing else may reach stdout
    server.stdin.close()
    rest = server.stdout.read()
    server.wait(timeout=60)
    watchdog.cancel()
    assert rest.strip() == "" or all(json.loads(line)["jsonrpc"] == "2.0" for line in rest.splitlines() if line)
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    answered = {m["id"]: m for m in messages if "id" in m}
    assert set(answered) == {1, 2, 3}
    assert answered[2]["result"]["structuredContent"]["status"] == "ok"
