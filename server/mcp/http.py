"""Streamable HTTP for the MCP server: loopback by default, and a bearer token on every request.

The token comes from the environment (``AVMINE_TOKEN``) or an owner-only file beside the database
(``avmine.server.mcp.token_file``), never the command line, where other users of the machine could read it.
Beyond loopback the token must come from the environment; serving without one takes ``--no-auth`` and
loopback. It must be at least 43 URL-safe characters (what ``secrets.token_urlsafe(32)`` makes: 256 random
bits), so it cannot be guessed. With a token set, every request must carry ``Authorization: Bearer <token>``;
others get 401 before reaching the MCP app.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_VARIABLE = "AVMINE_TOKEN"
MIN_TOKEN_LENGTH = 43
"""Characters of ``secrets.token_urlsafe(32)``: 32 random bytes in URL-safe base64."""
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*")


class HttpConfigError(ValueError):
    """The HTTP options are unsafe or inconsistent; the message says how to fix them."""


class BearerAuth:
    """ASGI middleware: refuse HTTP requests whose bearer token is not the configured one."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass authorised HTTP requests (and lifespan events) on; answer the rest with 401."""
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):  # constant time: no guessing by timing
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="avmine"')]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": b'{"error": "missing or wrong bearer token"}'})
                return
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token(token: str) -> None:
    """Refuse a token that could be guessed: fewer than 43 URL-safe characters.

    Raises:
        HttpConfigError: the token is too short or holds other characters.
    """
    url_safe = _URL_SAFE.fullmatch(token) is not None
    if len(token) < MIN_TOKEN_LENGTH or not url_safe:
        problem = "too few characters" if url_safe else "characters other than A-Z a-z 0-9 - _"
        raise HttpConfigError(
            f"{TOKEN_VARIABLE} is refused ({len(token)} characters, {problem}): a bearer token must be at least "
            f"{MIN_TOKEN_LENGTH} URL-safe characters (A-Z a-z 0-9 - _), so it cannot be guessed. Make one with "
            f"`export {TOKEN_VARIABLE}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`."
        )


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token, or with a weak one (see ``check_token``).

    Raises:
        HttpConfigError: a non-loopback address without a token, or a token that could be guessed.
    """
    if token:
        check_token(token)
    if not is_loopback(host) and not token:
        raise HttpConfigError(
            f"refusing to serve on {host} without a token: anyone who can reach it could run programs. "
            f"Set {TOKEN_VARIABLE} (e.g. `export {TOKEN_VARIABLE}=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')`) or bind 127.0.0.1."
        )


def http_app(server: MCPServer[Any], host: str, token: str | None) -> ASGIApp:
    """The server's streamable-HTTP app, behind bearer auth when a token is given (see ``check_exposure``)."""
    check_exposure(host, token)
    app: ASGIApp = server.streamable_http_app(host=host)
    return BearerAuth(app, token) if token else app


def serve_http(server: MCPServer[Any], listener: socket.socket, token: str | None) -> None:
    """Serve over streamable HTTP on ``listener`` (``listen_socket.bind_listener``), at ``/mcp``, until stopped."""
    host = listener.getsockname()[0]
    config = uvicorn.Config(http_app(server, host, token), log_level="warning")
    uvicorn.Server(config).run(sockets=[listener])
