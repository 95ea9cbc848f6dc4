"""A local stand-in for the Anthropic Messages API that replays scripted turns (for the real ``claude`` binary).

It speaks what Claude Code sends and expects (``POST /v1/messages`` with ``"stream": true``, answered
with server-sent events): a scripted turn is a list of content blocks, text or ``tool_use``; the
binary runs the tools (real MCP calls) and sends their results in its next request. Requests that
offer no tools are side requests (titles, summaries) and get plain text.

A script is a function ``(conversation) -> blocks``; the conversation gives the request's messages,
how many assistant turns came before, and the latest tool results, so later turns can use ids that
earlier tools returned. Every request is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Conversation:
    """What a request carries, as a script needs it."""

    request: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.request.get("messages", []))

    @property
    def turn(self) -> int:
        """How many assistant turns came before this request."""
        return sum(message["role"] == "assistant" for message in self.messages)

    def text(self) -> str:
        """Every text the request carries (system prompt and messages), joined."""
        parts: list[str] = []
        system = self.request.get("system", "")
        parts += [system] if isinstance(system, str) else [block.get("text", "") for block in system]
        for message in self.messages:
            content = message["content"]
            if isinstance(content, str):
                parts.append(content)
                continue
            for block in content:
                if block.get("type") == "text":
                    parts.append(block["text"])
                elif block.get("type") == "tool_result":
                    parts.append(_result_text(block))
        return "\n".join(parts)

    def first_user_text(self) -> str:
        """The text of the first user message (the task)."""
        for message in self.messages:
            if message["role"] == "user":
                content = message["content"]
                if isinstance(content, str):
                    return content
                return "\n".join(block.get("text", "") for block in content if block.get("type") == "text")
        return ""

    def last_tool_results(self) -> list[str]:
        """The texts of the tool results in the latest user message."""
        if not self.messages or self.messages[-1]["role"] != "user":
            return []
        content = self.messages[-1]["content"]
        if isinstance(content, str):
            return []
        return [_result_text(block) for block in content if block.get("type") == "tool_result"]


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")


Block = dict[str, Any]
Script = Callable[[Conversation], list[Block]]


def text(words: str) -> Block:
    """A text block."""
    return {"type": "text", "text": words}


def tool(name: str, **arguments: Any) -> Block:
    """A tool_use block calling avmine's tool ``name`` (as Claude Code names MCP tools)."""
    return {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": f"mcp__avmine__{name}",
            "input": arguments}  # fmt: skip


def _events(blocks: list[Block], model: str) -> bytes:
    stop = "tool_use" if any(block["type"] == "tool_use" for block in blocks) else "end_turn"
    message = {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 100, "output_tokens": 1}}  # fmt: skip
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": message})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events += [
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 50}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


class AnthropicStandIn:
    """Serve a script on 127.0.0.1 until ``close``; ``url`` is the base URL for ``ANTHROPIC_BASE_URL``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if not self.path.startswith("/v1/messages") or self.path.startswith("/v1/messages/count_tokens"):
                    self._json({"input_tokens": 100} if "count_tokens" in self.path else {})
                    return
                stand_in.requests.append(body)
                try:
                    blocks = stand_in.script(Conversation(body)) if body.get("tools") else [text("ok")]
                except Exception as exc:  # a broken script must show in the test, not hang the binary
                    stand_in.errors.append(repr(exc))
                    blocks = [text(f"script error: {exc!r}")]
                model = str(body.get("model", "stand-in"))
                if body.get("stream"):
                    payload = _events(blocks, model)
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:
                    self._json({"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                                "content": blocks, "stop_reason": "end_turn", "stop_sequence": None,
                                "usage": {"input_tokens": 100, "output_tokens": 50}})  # fmt: skip

            def do_GET(self) -> None:
                self._json({})

            def do_HEAD(self) -> None:
                self._json({})

            def _json(self, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AnthropicStandIn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
