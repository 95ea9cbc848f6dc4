"""Streamable HTTP for the MCP server: loopback by default, a bearer token required anywhere else.

The token comes from the environment (``AVMINE_TOKEN``), never the command line, where other
users of the machine could read it. With a token set, every request must carry
``Authorization: Bearer <token>``; others get 401 before reaching the MCP app.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_VARIABLE = "AVMINE_TOKEN"


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


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token.

    Raises:
        HttpConfigError: a non-loopback address without a token.
    """
    if not is_loopback(host) and not token:
        raise HttpConfigError(
            f"refusing to serve on {host} without a token: anyone who can reach it could run programs. "
            f"Set {TOKEN_VARIABLE} (e.g. `export {TOKEN_VARIABLE}=$(openssl rand -hex 32)`) or bind 127.0.0.1."
        )


def http_app(server: MCPServer[Any], host: str, token: str | None) -> ASGIApp:
    """The server's streamable-HTTP app, behind bearer auth when a token is given (see ``check_exposure``)."""
    check_exposure(host, token)
    app: ASGIApp = server.streamable_http_app(host=host)
    return BearerAuth(app, token) if token else app


def serve_http(server: MCPServer[Any], host: str, port: int, token: str | None) -> None:
    """Serve over streamable HTTP at ``http://host:port/mcp`` until stopped."""
    uvicorn.run(http_app(server, host, token), host=host, port=port, log_level="warning")
