"""``avmine serve --transport http``: real MCP clients over streamable HTTP, a bearer token, concurrent clients."""

from __future__ import annotations

import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from avmine.server import __version__
from avmine.server.headless.local_server import LocalMcpServer
from avmine.server.mcp.http import MIN_TOKEN_LENGTH, check_token

from .programs import SPIN, of_category

CATEGORIES = ("REGULAR_VEHICLE", "PEDESTRIAN", "BICYCLE", "EGO_VEHICLE", "BOLLARD", "TRUCK", "VEHICLE", "MOTORCYCLE")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(python: str, db: Path, port: int, *extra: str) -> list[str]:
    """``avmine serve --transport http`` on loopback at ``port``."""
    return [python, "-m", "avmine.server.cli", "--db", str(db), "serve", "--transport", "http", "--port", str(port),
            *extra]  # fmt: skip


def wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    """Bounded wait for the server to listen."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the server did not listen on {port} (exit {server.poll()})")


@contextmanager
def serving(db: Path, token: str | None = None, *extra: str, log: Path | None = None) -> Iterator[str]:
    """``avmine serve --transport http`` as a subprocess (``token`` in its environment); yields its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "AVMINE_TOKEN"} | ({"AVMINE_TOKEN": token} if token else {})
    with open(log or os.devnull, "wb") as stderr:
        server = subprocess.Popen(serve_command(sys.executable, db, port, *extra), stdout=subprocess.DEVNULL,
                                  stderr=stderr, env=env)  # fmt: skip
    try:
        wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}/mcp"
        assert server.poll() is None, "the server exited while serving"
    finally:
        server.terminate()
        server.wait(timeout=30)


def connect(url: str, token: str | None) -> Client:
    """An MCP client that sends the bearer token (or none)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=120)))


async def _names(url: str, token: str | None = None) -> list[str]:
    async with connect(url, token) as client:
        assert client.server_info is not None and client.server_info.version == __version__  # never ""
        with anyio.fail_after(60):
            found = await client.call_tool("search_docs", {"query": "turning left"})
            assert not found.is_error and "turning(" in found.content[0].text
            return [tool.name for tool in (await client.list_tools()).tools]


def ping(url: str, token: str | None) -> int:
    """The HTTP status of a JSON-RPC ping sent with ``token`` (or none)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers).status_code


def test_loopback_without_a_token_in_the_environment_uses_an_owner_only_token_file(db: Path, tmp_path: Path) -> None:
    token_file = db.with_name(db.name + ".http-token")
    token_file.unlink(missing_ok=True)
    with serving(db, log=tmp_path / "first.log") as url:
        assert ping(url, None) == 401 and ping(url, "x" * 43) == 401
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and len(token) >= MIN_TOKEN_LENGTH
        check_token(token)
        assert "execute_scenario" in anyio.run(_names, url, token)
    said = (tmp_path / "first.log").read_text()
    assert f"made a new token in {token_file} (owner-only)" in said and token not in said
    token_file.chmod(0o644)  # loosened by hand or by a copy: the next server makes it owner-only again
    with serving(db, log=tmp_path / "second.log") as url:
        assert ping(url, None) == 401 and "execute_scenario" in anyio.run(_names, url, token)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and token_file.read_text().strip() == token
    assert "made the file owner-only (it was 644)" in (tmp_path / "second.log").read_text()


def test_a_linked_or_broken_token_file_is_refused(db: Path, tmp_path: Path) -> None:
    token_file = db.with_name(db.name + ".http-token")
    env = {k: v for k, v in os.environ.items() if k != "AVMINE_TOKEN"}
    for make, message in [
        (lambda: token_file.symlink_to(tmp_path / "elsewhere"), "cannot open the token file"),
        (lambda: token_file.write_text("short\n"), "does not hold a usable token"),
    ]:
        token_file.unlink(missing_ok=True)
        make()
        done = subprocess.run(serve_command(sys.executable, db, _free_port()), capture_output=True, text=True,
                              timeout=60, env=env)  # fmt: skip
        assert done.returncode == 2 and message in done.stderr and "remove it to make a new one" in done.stderr
    token_file.unlink()
    assert not (tmp_path / "elsewhere").exists()  # the link was not followed


def test_no_auth_is_explicit_loopback_only_and_warns(db: Path, tmp_path: Path) -> None:
    with serving(db, None, "--no-auth", log=tmp_path / "serve.log") as url:
        assert "execute_scenario" in anyio.run(_names, url)
    assert "WARNING: --no-auth: any account on this machine can run programs" in (tmp_path / "serve.log").read_text()
    env = {k: v for k, v in os.environ.items() if k != "AVMINE_TOKEN"}
    wide = serve_command(sys.executable, db, _free_port(), "--no-auth", "--host", "0.0.0.0")
    done = subprocess.run(wide, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and "refusing to serve on 0.0.0.0 without a token" in done.stderr
    both = env | {"AVMINE_TOKEN": secrets.token_urlsafe(32)}
    done = subprocess.run(serve_command(sys.executable, db, _free_port(), "--no-auth"), capture_output=True,
                          text=True, timeout=60, env=both)  # fmt: skip
    assert done.returncode == 2 and "--no-auth and AVMINE_TOKEN contradict each other" in done.stderr


def test_a_token_is_required_once_set(db: Path) -> None:
    token = secrets.token_urlsafe(32)
    with serving(db, token) as url:
        for sent in (None, "wrong"):
            headers = {"Authorization": f"Bearer {sent}"} if sent else {}
            answer = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)
            assert answer.status_code == 401 and "bearer token" in answer.text
        file = db.with_name(db.name + ".http-token")
        assert not file.exists() or ping(url, file.read_text().strip()) == 401  # the environment's token wins
        assert "execute_scenario" in anyio.run(_names, url, token)


def test_non_loopback_without_a_token_is_refused_before_binding(db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AVMINE_TOKEN"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "avmine.server.cli",
            "--db",
            str(db),
            "serve",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without a token" in done.stderr and "AVMINE_TOKEN" in done.stderr


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("s3cret-" + "x" * 24, "31 characters, too few characters"),
        (secrets.token_urlsafe(32)[:42], "42 characters, too few characters"),
        (secrets.token_urlsafe(32) + "+/=", "characters other than A-Z a-z 0-9 - _"),
        ("ä" * 50, "characters other than A-Z a-z 0-9 - _"),
    ],
)
def test_a_guessable_token_is_refused_before_binding(db: Path, token: str, problem: str) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "AVMINE_TOKEN"} | {"AVMINE_TOKEN": token}
    for host in ("127.0.0.1", "0.0.0.0"):
        done = subprocess.run(
            [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "serve", "--transport", "http",
             "--host", host, "--port", str(port)],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "AVMINE_TOKEN is refused" in done.stderr and problem in done.stderr, done.stderr
        assert "at least 43 URL-safe characters" in done.stderr and "token_urlsafe(32)" in done.stderr
        assert token not in done.stderr  # the refusal does not echo the secret
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing was bound


def test_the_headless_servers_token_is_accepted(db: Path) -> None:
    with LocalMcpServer(db) as local:
        check_token(local.token)
        assert len(local.token) >= MIN_TOKEN_LENGTH
        assert httpx2.post(local.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}).status_code == 401
        assert "execute_scenario" in anyio.run(_names, local.url, local.token)


async def _overlapping(url: str, token: str) -> dict[str, list[str]]:
    """Two clients, four calls each, all in flight at once; returns each category's referred tracks."""
    found: dict[str, list[str]] = {}

    async def one_client(categories: tuple[str, ...]) -> None:
        async with connect(url, token) as client:

            async def run(category: str) -> None:
                result = await client.call_tool(
                    "execute_scenario", {"program": of_category(category), "prompt": category}
                )
                assert not result.is_error, result.content
                run_id = result.structured_content["run_id"]
                shown = await client.call_tool("get_run", {"run_id": run_id})
                assert shown.structured_content["run"]["prompt"] == category
                found[category] = [str(log["referred_tracks"]) for log in shown.structured_content["logs"]]

            async with anyio.create_task_group() as group:
                for category in categories:
                    group.start_soon(run, category)

    with anyio.fail_after(300):
        async with anyio.create_task_group() as group:
            group.start_soon(one_client, CATEGORIES[:4])
            group.start_soon(one_client, CATEGORIES[4:])
    return found


async def _sequential(url: str, token: str) -> dict[str, list[str]]:
    async with connect(url, token) as client:
        found = {}
        for category in CATEGORIES:
            result = await client.call_tool(
                "execute_scenario", {"program": of_category(category) + "# alone\n", "prompt": category}
            )
            found[category] = [str(log["referred_tracks"]) for log in result.structured_content["per_log"]]
        return found


async def _disconnect_mid_call(url: str, token: str) -> None:
    with anyio.move_on_after(2):  # leaves the client (closing its session) while the call runs
        async with connect(url, token) as client:
            await client.call_tool("execute_scenario", {"program": SPIN + of_category("ANY"), "prompt": "abandoned"})


def test_two_clients_with_overlapping_calls_and_a_client_that_disconnects(db: Path) -> None:
    token = secrets.token_urlsafe(32)
    with serving(db, token) as url:
        alone = anyio.run(_sequential, url, token)
        together = anyio.run(_overlapping, url, token)
        anyio.run(_disconnect_mid_call, url, token)
        after = anyio.run(_sequential, url, token)  # the server is healthy and still right
    assert together == alone == after
    assert alone["EGO_VEHICLE"] == ["1"] and alone["REGULAR_VEHICLE"] == ["84"] and alone["PEDESTRIAN"] == ["12"]
