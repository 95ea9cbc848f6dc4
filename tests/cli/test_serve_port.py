"""``avmine serve --transport http`` on a port another process holds: said at once, exit 2, naming the holder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from avmine.store import Store

AVMINE = [sys.executable, "-m", "avmine.server.cli"]
HOLD = (  # listens on a free port, says which, and holds it until its stdin closes
    "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
    "print(s.getsockname()[1], flush=True); sys.stdin.read()"
)


def test_a_busy_port_is_refused_before_the_address_is_announced(tmp_path: Path) -> None:
    Store.open(tmp_path / "db.duckdb").close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        port = holder.stdout.readline().strip()
        done = subprocess.run([*AVMINE, "--db", str(tmp_path / "db.duckdb"), "serve", "--transport", "http",
                               "--port", port], capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2, done.stderr
    assert "http://" not in done.stderr and "Traceback" not in done.stderr  # nothing announced, no uvicorn failure
    assert f"port {port} on 127.0.0.1 is already in use by process {holder.pid} (" in done.stderr
    assert f"--port {int(port) + 1}" in done.stderr  # what to do instead
