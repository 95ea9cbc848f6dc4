"""No other account drives someone's HTTP server on 127.0.0.1: root's server refuses nobody, nobody's refuses root.

Root can read nobody's token file, so the reverse direction checks the server itself: a client without the token
gets 401 whoever it is.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from ..unprivileged import NOBODY, as_nobody, give_to_nobody, nobody_dir, nobody_python
from .test_http_session import _free_port, _names, ping, serve_command, serving, wait_for_port

PROBE = """
import json, sys, urllib.request, urllib.error
url, token_file = sys.argv[1], sys.argv[2]
found = {}
try:
    open(token_file).read()
    found["read_token_file"] = "yes"
except OSError as exc:
    found["read_token_file"] = type(exc).__name__
for name, header in [("none", None), ("guess", "Bearer " + "A" * 43)]:
    request = urllib.request.Request(url, data=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}', method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    if header:
        request.add_header("Authorization", header)
    try:
        found[name] = urllib.request.urlopen(request, timeout=30).status
    except urllib.error.HTTPError as exc:
        found[name] = exc.code
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def python() -> str:
    return nobody_python()


@pytest.fixture
def nobodys_db(db: Path, python: str) -> Iterator[Path]:
    """A copy of the test database, its folder world-readable (only file modes protect it), owned by nobody."""
    home = nobody_dir("avmine-http-users-")
    shutil.copytree(db.parent, home / "db", ignore=shutil.ignore_patterns("*.http-token"))
    give_to_nobody(home)
    os.chmod(home, 0o755)
    os.chmod(home / "db", 0o755)
    yield home / "db" / db.name
    shutil.rmtree(home, ignore_errors=True)


@contextmanager
def nobody_serving(python: str, db: Path) -> Iterator[str]:
    port = _free_port()
    env = {"HOME": str(db.parent), "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(as_nobody(serve_command(python, db, port)), cwd=db.parent, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_for_port(port, server)
        yield f"http://127.0.0.1:{port}/mcp"
        assert server.poll() is None, "the server exited while serving"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_nobody_cannot_use_roots_server(python: str, nobodys_db: Path) -> None:
    db = nobodys_db.with_name("roots.duckdb")
    shutil.copyfile(nobodys_db, db)
    shutil.copytree(Path(str(nobodys_db) + ".cache"), Path(str(db) + ".cache"))
    os.chmod(db, 0o644)  # readable: the token file's mode and the server's check are all that stop nobody
    with serving(db) as url:
        probe = subprocess.run(as_nobody([python, "-c", PROBE, url, str(db) + ".http-token"]), capture_output=True,
                               text=True, timeout=120, cwd="/")  # fmt: skip
        assert probe.returncode == 0, probe.stderr
        found = json.loads(probe.stdout)
        assert found == {"read_token_file": "PermissionError", "none": 401, "guess": 401}
        token = Path(str(db) + ".http-token").read_text().strip()
        assert "execute_scenario" in anyio.run(_names, url, token)  # the owner's client works


def test_root_without_the_token_cannot_use_nobodys_server(python: str, nobodys_db: Path) -> None:
    token_file = Path(str(nobodys_db) + ".http-token")
    with nobody_serving(python, nobodys_db) as url:
        assert ping(url, None) == 401 and ping(url, "A" * 43) == 401
        info = token_file.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (NOBODY, 0o600)
        assert "execute_scenario" in anyio.run(_names, url, token_file.read_text().strip())


def test_a_token_file_of_another_user_is_refused(python: str, nobodys_db: Path) -> None:
    token_file = Path(str(nobodys_db) + ".http-token")
    token_file.write_text("A" * 43 + "\n")  # root's file where nobody's server looks: root could read or replace it
    os.chmod(token_file, 0o644)
    done = subprocess.run(as_nobody(serve_command(python, nobodys_db, _free_port())), cwd=nobodys_db.parent,
                          env={"HOME": str(nobodys_db.parent), "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"the token file {token_file} belongs to uid 0, not to you (uid {NOBODY})" in done.stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o644  # someone else's file is left as it was
