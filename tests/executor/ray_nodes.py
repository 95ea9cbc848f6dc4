"""A real Ray cluster on this machine, loopback only: a head and more nodes, each started by `ray start`.

Each node has its own temp dir (short, under /tmp: Ray's socket paths must fit 107 bytes). Stopping
ends only this cluster's processes, by pid (`ray stop` would stop every node on the host): those whose
command line names the cluster's folder, and their descendants (Ray's workers rename themselves).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..unprivileged import NOBODY, nobody_python

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")
OBJECT_STORE_BYTES = 100_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # the nodes' workers import this checkout (an installed avmine is found without it)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # a node that dies is noticed within about 2 s rather than the default 30
    env.update(RAY_health_check_period_ms="500", RAY_health_check_timeout_ms="1000",
               RAY_health_check_failure_threshold="3", RAY_health_check_initial_delay_ms="1000")  # fmt: skip
    return env


class LocalCluster:
    """A head node (and ``add_node``) on 127.0.0.1; ``stop`` ends everything it started."""

    def __init__(self, cpus_per_node: int = 1) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="avr", dir="/tmp"))
        self.cpus = cpus_per_node
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[Path] = []
        self._start("--head", f"--port={self.port}", "--include-dashboard=false")

    def _start(self, *args: str, env: dict[str, str] | None = None, wrapper: tuple[str, ...] = ()) -> None:
        temp = self.root / f"n{len(self.nodes)}"
        ray = [str(RAY)] if not wrapper else [*wrapper, "-m", "ray.scripts.scripts"]
        command = [
            *ray, "start", *args, "--node-ip-address=127.0.0.1", f"--num-cpus={self.cpus}",
            f"--object-store-memory={OBJECT_STORE_BYTES}", f"--temp-dir={temp}",
            f"--dashboard-agent-listen-port={free_port()}", "--disable-usage-stats",
        ]  # fmt: skip
        done = subprocess.run(command, env=_environment() | (env or {}), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"ray start failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        self.nodes.append(temp)

    def add_node(self, env: dict[str, str] | None = None) -> Path:
        """Start one more node joined to the head (``env`` added to its environment); returns its temp dir."""
        self._start(f"--address={self.address}", env=env)
        return self.nodes[-1]

    def add_node_without_user_namespaces(self) -> Path:
        """One more node whose processes run as nobody where user namespaces are refused (no sandbox there)."""
        temp = self.root / f"n{len(self.nodes)}"
        temp.mkdir()
        os.chown(temp, NOBODY, NOBODY)
        self.root.chmod(0o755)  # nobody enters the cluster's folder to reach its own
        python = nobody_python()  # one nobody can run, with this environment's packages and this checkout
        wrapper = (sys.executable, str(Path(__file__).with_name("without_user_namespaces.py")), python)
        # that Python may differ from the head's in its patch version only (this machine's system Python)
        env = {"HOME": str(temp), "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL": "minor"}
        self._start(f"--address={self.address}", env=env, wrapper=wrapper)
        return self.nodes[-1]

    def raylet_pid(self, node: Path) -> int:
        """The pid of the node's raylet."""
        for pid in _pids():
            line = _cmdline(pid)
            if "raylet/raylet" in line and f"{node}/" in line:
                return pid
        raise LookupError(f"no raylet for {node}")

    def stop(self) -> None:
        """End every process of this cluster (by pid) and remove its folder."""
        mine = {pid for pid in _pids() if str(self.root) in _cmdline(pid)}
        children = _children()
        frontier = list(mine)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in mine:
                    mine.add(child)
                    frontier.append(child)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in mine:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(_running(pid) for pid in mine):
                time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for pid in _pids():
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(pid)
    return tree


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
