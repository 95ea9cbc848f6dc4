"""A local stand-in for an OpenAI-compatible chat-completions server on 127.0.0.1, answering by script."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[str], str]
"""The reply text for a question text."""


def always_yes(_: str) -> str:
    return "Yes."


@dataclass
class StandIn:
    """Where it listens, and every request it received."""

    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def chat_completions(script: Script = always_yes) -> Iterator[StandIn]:
    """Serve chat completions; the reply's first token carries log-probabilities (yes 0.9)."""
    stand_in = StandIn("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stand_in.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            if body["model"] == "missing":
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b'{"error": "model not found"}')
                return
            question = body["messages"][0]["content"][-1]["text"]
            text = script(question)
            first = text.split()[0].strip(".,") if text.split() else ""
            logprobs = {"content": [{"token": first, "logprob": -0.1, "top_logprobs": [
                {"token": "Yes", "logprob": -0.10536}, {"token": "No", "logprob": -2.302585}]}]}  # fmt: skip
            reply = {"choices": [{"message": {"role": "assistant", "content": text}, "logprobs": logprobs}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield stand_in
    finally:
        server.shutdown()
