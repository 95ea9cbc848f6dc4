"""avmine's MCP server inside the orchestrating process, over HTTP on loopback, for headless agents.

One server serves every agent session of a batch: one database writer (DuckDB allows one
process), one warm executor shared by parallel sessions. A random bearer token keeps other
local users out; the config files that carry it are private to the batch's directory.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from avmine.server.mcp.app import create_server
from avmine.server.mcp.http import http_app
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.vlm.backends import VlmConfig

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


class LocalMcpServer:
    """Serve the database at ``db_path`` on a free loopback port until ``close``."""

    def __init__(
        self,
        db_path: Path,
        source: str = ANNOTATIONS_SOURCE,
        image_dir: Path | None = None,
        vlm_config: VlmConfig | None = None,
        library_threshold: float = 0.8,
        memory_budget: int | None = None,
        keep_single_log: bool = False,
    ) -> None:
        self.token = secrets.token_urlsafe(32)
        logging.getLogger("mcp").setLevel(logging.WARNING)  # session-manager chatter would bury the progress bar
        server = create_server(
            db_path,
            image_dir=image_dir,
            vlm_config=vlm_config,
            source=source,
            library_threshold=library_threshold,
            memory_budget=memory_budget,
            keep_single_log=keep_single_log,
        )
        app = http_app(server, HOST, self.token)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, 0))
        self.url = f"http://{HOST}:{self._socket.getsockname()[1]}/mcp"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"avmine's MCP server did not start on {self.url}")
            time.sleep(0.05)

    def write_config(self, path: Path) -> Path:
        """Write a Claude Code style MCP config for this server to ``path`` (owner-only: it holds the token)."""
        config = {"mcpServers": {"avmine": {"type": "http", "url": self.url,
                                            "headers": {"Authorization": f"Bearer {self.token}"}}}}  # fmt: skip
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(config, out)
        return path

    def close(self) -> None:
        """Stop serving (the server's executor and store close with it)."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()

    def __enter__(self) -> LocalMcpServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
