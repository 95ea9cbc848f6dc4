"""Whether the model API that Claude Code needs can be reached: asked once, before a batch starts.

Claude Code retries an unreachable API for minutes per session; a batch would wait silently through
every prompt. A network failure is a set-up error, so it is found with one connection instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_API = "https://api.anthropic.com"
"""Where Claude Code sends its requests unless ``ANTHROPIC_BASE_URL`` says otherwise."""
CONNECT_SECONDS = 5.0
"""How long the connection may take before the API counts as unreachable."""


def _has_credentials(env: Mapping[str, str], home: Path) -> bool:
    """Whether Claude Code would call the API at all (without credentials it says "Not logged in" at once)."""
    keys = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_OAUTH_TOKEN")
    return any(env.get(key) for key in keys) or (home / ".claude" / ".credentials.json").is_file()


def _proxy_for(url: str, host: str, env: Mapping[str, str]) -> str | None:
    scheme = urlsplit(url).scheme
    proxy = env.get(f"{scheme.upper()}_PROXY") or env.get(f"{scheme}_proxy")
    bypass = [h.strip().lstrip(".") for h in (env.get("NO_PROXY") or env.get("no_proxy") or "").split(",")]
    if not proxy or any(h and (host == h or host.endswith("." + h)) for h in bypass):
        return None
    return proxy


def unreachable(env: Mapping[str, str] = os.environ, home: Path | None = None) -> str | None:
    """Why the model API cannot be reached (what, where, the system's reason), or None when it can."""
    if not _has_credentials(env, home or Path.home()):
        return None
    url = env.get("ANTHROPIC_BASE_URL") or DEFAULT_API
    target = urlsplit(url)
    host = target.hostname or ""
    proxy = _proxy_for(url, host, env)
    via = urlsplit(proxy) if proxy else target
    port = via.port or (443 if via.scheme == "https" else 80)
    try:
        socket.create_connection((via.hostname or "", port), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        what = f"the proxy {proxy} (for {url})" if proxy else url
        reason = exc.strerror or str(exc) or type(exc).__name__
        return (
            f"the model API could not be reached: connecting to {what} failed ({reason}). Check the network, "
            "ANTHROPIC_BASE_URL and any HTTPS_PROXY, then run the same command again; no prompt was started."
        )
    return None
