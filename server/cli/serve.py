"""``avmine serve``: the MCP server for coding agents, over stdio or streamable HTTP."""

from __future__ import annotations

import argparse
from typing import Any

from server.mcp.app import create_server
from store.paths import resolve_db_path


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser("serve", help="serve avmine's tools to an MCP client (Claude Code, ...)")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument(
        "--reveal-ground-truth",
        action="store_true",
        help="let score_run show concrete false positives and misses (for your own exploration only)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP)."""
    server = create_server(resolve_db_path(args.db), reveal_ground_truth=args.reveal_ground_truth)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
    return 0
