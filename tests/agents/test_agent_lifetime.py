"""An agent session dies with the ``avmine run`` that started it, even one killed by SIGKILL, as root and as nobody."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avmine.server.headless.agents import CommandAgent, run_session

from ..processes import descendants, exited
from ..unprivileged import as_nobody, nobody_dir, nobody_python

BATCH = """
import sys, threading
from pathlib import Path
from avmine.server.headless.agents import CommandAgent, run_session
session = threading.Thread(target=run_session, args=(CommandAgent("sleep 300"), "task", Path(sys.argv[1]), [], 600))
session.start()  # from a thread, as the batch runs its sessions
session.join()
"""


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_an_agent_session_dies_with_the_process_that_started_it(user: str) -> None:
    python = sys.executable if user == "root" else nobody_python()
    home = nobody_dir("avmine-agent-lifetime-")
    command = [python, "-c", BATCH, str(home / "mcp.json")]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    batch = subprocess.Popen(as_nobody(command) if user == "nobody" else command, env=env, cwd=home)
    agents: list[int] = []
    try:
        until = time.monotonic() + 60
        while time.monotonic() < until and not agents:
            time.sleep(0.2)
            agents = [p for p in descendants(batch.pid) if Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"sleep")]
    finally:
        batch.send_signal(signal.SIGKILL)
        batch.wait()
    assert agents, "the agent session never started"
    until = time.monotonic() + 5
    while not all(exited(pid) for pid in agents) and time.monotonic() < until:
        time.sleep(0.1)
    survivors = [pid for pid in agents if not exited(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    subprocess.run(["rm", "-rf", str(home)], check=False)
    assert not survivors, "the agent session outlived the process that started it"


def test_a_missing_agent_command_is_a_set_up_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="the agent's command 'no-such-agent-cli' was not found"):
        run_session(CommandAgent("no-such-agent-cli --print"), "task", tmp_path / "mcp.json", [], 60)
