"""Malformed JSON-RPC (lone surrogates, broken JSON, wrong shapes): an error answer each, and serving goes on."""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

from avmine.server.mcp.stdio import check_line

from .test_http_session import serving

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
SURROGATE_ARGUMENT = (
    b'{"jsonrpc":"2.0","id":2,"method":"tools/call",'
    b'"params":{"name":"get_function_docs","arguments":{"names":["\\ud800"]}}}'
)
# (what is wrong, the raw line, the id the answer must carry, the error code, a fragment of its message)
MALFORMED: list[tuple[str, bytes, int | None, int, str]] = [
    ("lone high surrogate in an argument", SURROGATE_ARGUMENT, 2, -32600, "params.arguments.names[0]"),
    (
        "lone low surrogate in the SQL",
        b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":'
        b'"query_logs","arguments":{"sql":"SELECT \'\\udfff\'"}}}',
        3,
        -32600,
        "lone UTF-16 surrogate",
    ),
    ("surrogate in the method", b'{"jsonrpc":"2.0","id":4,"method":"\\ud800x","params":{}}', 4, -32600, "method"),
    (
        "surrogate in a key",
        b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"\\ud800":1}}',
        5,
        -32600,
        "a key in params",
    ),
    ("surrogate in the id", b'{"jsonrpc":"2.0","id":"\\ud800","method":"tools/list"}', None, -32600, "at id"),
    (
        "reversed pair",
        b'{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"mine_scenario",'
        b'"arguments":{"prompt":"\\udc00\\ud800"}}}',
        6,
        -32600,
        "surrogate",
    ),
    ("not JSON", b'{"jsonrpc":"2.0","id":7,', None, -32700, "not JSON"),
    ("params not an object", b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":"x"}', 8, -32600, "params"),
    ("a JSON array", b"[1, 2, 3]", None, -32600, "JSON-RPC 2.0"),
]


class _RawStdio:
    """``avmine serve`` over stdio, spoken to line by line."""

    def __init__(self, db: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "AVMINE_TOKEN"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def send(self, raw: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(raw + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = 60) -> dict[str, Any]:
        """The next line the server writes, as JSON; fails if none comes within ``timeout`` seconds."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, "the server did not answer"
        line = self.process.stdout.readline()
        assert line, "the server closed stdout"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def _tool_names(answer: dict[str, Any]) -> set[str]:
    return {tool["name"] for tool in answer["result"]["tools"]}


def test_stdio_answers_every_malformed_line_and_keeps_serving(db: Path) -> None:
    server = _RawStdio(db)
    try:
        server.send(json.dumps(INITIALIZE).encode())
        assert server.answer()["id"] == 1
        server.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        for what, raw, request_id, code, fragment in MALFORMED:
            server.send(raw)
            answer = server.answer(timeout=30)
            assert answer["id"] == request_id and answer["error"]["code"] == code, (what, answer)
            assert fragment in answer["error"]["message"], (what, answer)
        server.send(b"")  # a blank line is not a request: nothing to answer
        server.send(b'{"jsonrpc":"2.0","id":10,"method":"tools/list"}')
        listed = server.answer()
        assert listed["id"] == 10 and "execute_scenario" in _tool_names(listed)
        invalid_utf8 = SURROGATE_ARGUMENT.replace(b"\\ud800", b"\xed\xa0\x80").replace(b'"id":2', b'"id":11')
        server.send(invalid_utf8)  # bytes that are not UTF-8 arrive as U+FFFD: an ordinary unknown name
        unknown = server.answer()
        assert unknown["id"] == 11 and unknown["result"]["isError"] and "unknown function" in str(unknown)
    finally:
        assert server.close() == 0


def test_http_answers_every_malformed_request_and_keeps_serving(db: Path) -> None:
    token = secrets.token_urlsafe(32)
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "Authorization": f"Bearer {token}"}  # fmt: skip
    with serving(db, token) as url:
        opened = httpx2.post(url, headers=headers, content=json.dumps(INITIALIZE), timeout=60)
        assert opened.status_code == 200
        session = headers | {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        initialized = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
        assert httpx2.post(url, headers=session, content=initialized, timeout=60).status_code == 202
        for what, raw, _, _, _ in MALFORMED:
            started = time.monotonic()
            answer = httpx2.post(url, headers=session, content=raw, timeout=30)
            assert answer.status_code == 400, (what, answer.text)
            assert "error" in answer.json() and time.monotonic() - started < 30, what
        listed = httpx2.post(
            url, headers=session, content=b'{"jsonrpc":"2.0","id":10,"method":"tools/list"}', timeout=60
        )
        data = next(line for line in listed.text.splitlines() if line.startswith("data: "))
        assert "execute_scenario" in _tool_names(json.loads(data.removeprefix("data: ")))


def test_valid_lines_pass_unchanged() -> None:
    assert check_line(json.dumps(INITIALIZE)) is None
    assert check_line('{"jsonrpc":"2.0","id":3,"method":"x","params":{"a":"\\ud83d\\ude00"}}\n') is None  # a pair
    assert check_line("   \n") is None
