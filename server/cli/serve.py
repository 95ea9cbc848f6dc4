"""``avmine serve``: the MCP server for coding agents, over stdio or streamable HTTP."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from avmine.evaluation.guarded_scoring import BUDGET_VARIABLE, DEFAULT_SCORING_BUDGET, scoring_budget_from_env
from avmine.server.cli.exit_codes import ExitCode
from avmine.server.executor.cluster import add_ray_option
from avmine.server.executor.executor import default_backend
from avmine.server.executor.memory import add_budget_option
from avmine.server.mcp import token_file
from avmine.server.mcp.app import create_server
from avmine.server.mcp.http import TOKEN_VARIABLE, HttpConfigError, check_exposure, serve_http
from avmine.server.mcp.listen_socket import PortUnavailableError, bind_listener
from avmine.server.mcp.stdio import run_stdio
from avmine.server.sharing.client import open_or_wait
from avmine.server.sharing.proxy import run_proxy
from avmine.store import Store
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.database import missing_database_message
from avmine.store.errors import NoDatabaseError, StoreError
from avmine.store.paths import resolve_db_path


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve avmine's tools to an MCP client (Claude Code, ...)",
        description=f"Over HTTP the endpoint is http://HOST:PORT/mcp and every request must carry 'Authorization: "
        f"Bearer <token>': the token is ${TOKEN_VARIABLE} if set, else the one in the owner-only file <db>.http-token "
        "(made on first use; the server says where).",
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="HTTP without a token (loopback only): every account on this machine can then use the server",
    )
    parser.add_argument("--image-dir", type=Path, help="where rendered images are written (default: beside the db)")
    parser.add_argument(
        "--source",
        default=ANNOTATIONS_SOURCE,
        help="track source of calls that name none (default annotations; a tracker's name for the test split)",
    )
    add_budget_option(parser)
    add_ray_option(parser)
    parser.add_argument(
        "--reveal-ground-truth",
        action="store_true",
        help="let score_run show concrete false positives and misses (for your own exploration only)",
    )
    parser.add_argument(
        "--scoring-budget",
        type=int,
        help=f"scorings per prompt agents may ask for in this database (score_run, save_example; default "
        f"${BUDGET_VARIABLE} or {DEFAULT_SCORING_BUDGET})",
    )
    parser.add_argument(
        "--library-threshold",
        type=float,
        default=0.8,
        help="save_example admits a labelled prompt's program above this held-out Timestamp BA (default 0.8)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP)."""
    token = os.environ.get(TOKEN_VARIABLE) or None
    listener = None
    if args.transport == "http":
        try:
            if args.no_auth and token:
                raise HttpConfigError(f"--no-auth and {TOKEN_VARIABLE} contradict each other; drop one.")
            check_exposure(args.host, token)  # before anything opens: a refusal must not half-start
            listener = bind_listener(args.host, args.port)  # a busy port is said now, not after the announcement
        except (HttpConfigError, PortUnavailableError) as exc:
            print(f"avmine serve: {exc}", file=sys.stderr)
            return ExitCode.USAGE
    try:
        return _serve(args, token, listener)
    finally:
        if listener is not None:
            listener.close()


def _serve(args: argparse.Namespace, token: str | None, listener: socket.socket | None) -> int:
    if args.scoring_budget is not None and args.scoring_budget < 1:
        print("avmine serve: --scoring-budget must be at least 1", file=sys.stderr)
        return ExitCode.USAGE
    try:  # a malformed $AVMINE_SCORING_BUDGET is refused before the database is looked at
        scoring_budget = args.scoring_budget if args.scoring_budget is not None else scoring_budget_from_env()
    except ValueError as exc:
        print(f"avmine serve: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    db = resolve_db_path(args.db)
    if not db.is_file():
        raise NoDatabaseError(missing_database_message(db))
    if args.transport == "http" and token is None and not args.no_auth:
        try:
            token, done = token_file.load_or_create(token_file.token_path(db))
        except HttpConfigError as exc:
            print(f"avmine serve: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        print(
            f"avmine serve: {done} in {token_file.token_path(db)} (owner-only); clients send "
            "'Authorization: Bearer <its contents>'.",
            file=sys.stderr,
        )
    opened = open_or_wait(db, read_only=False, create=False)
    if not isinstance(opened, Store):  # another server holds the database: this one passes its session there
        if args.transport == "stdio":
            return run_proxy(db, opened)
        opened.close()
        raise StoreError(
            f"{db} is served by another avmine server; over HTTP a second server cannot pass its sessions "
            "through. Point your HTTP client at that server, or run `avmine serve` over stdio (the default), "
            "which does."
        )
    try:
        default_backend().check()  # at start, in one paragraph: never a server whose every program fails
    except BaseException:
        opened.close()
        raise
    server = create_server(
        db,
        args.reveal_ground_truth,
        args.image_dir,
        scoring_budget=scoring_budget,
        library_threshold=args.library_threshold,
        source=args.source,
        memory_budget=args.memory_budget,
        store=opened,
    )
    if args.transport == "stdio":
        if sys.stdin.isatty():  # a person, not a client: say what this is (a client only logs stderr)
            # the transport's thread blocked reading the terminal would outlive a KeyboardInterrupt; sandbox
            # workers die with this process (their parent-death signal)
            signal.signal(signal.SIGINT, _stop_now)
            print(
                f"avmine serve: MCP server for {db} on standard input and output, waiting for a client's messages "
                "(an MCP client such as Claude Code starts this itself: see `avmine init-agent`); Ctrl-C stops it.",
                file=sys.stderr,
            )
        run_stdio(server)
    else:
        assert listener is not None  # bound in run() for HTTP
        where = f"http://{args.host}:{listener.getsockname()[1]}/mcp"  # the port bound (--port 0: any free one)
        if token is None:
            print(
                f"avmine serve: WARNING: --no-auth: any account on this machine can run programs and read and "
                f"change this database's runs through {where}.",
                file=sys.stderr,
            )
        print(f"avmine serve: MCP server for {db} at {where}; Ctrl-C stops it.", file=sys.stderr)
        serve_http(server, listener, token)
    return ExitCode.OK


def _stop_now(signum: int, frame: object) -> None:
    print("avmine serve: stopped.", file=sys.stderr, flush=True)
    os._exit(128 + signum)
