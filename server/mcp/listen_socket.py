"""The HTTP server's listening socket, bound before anything else starts, and who holds a busy port.

Binding first means a busy port is said at once, in one line naming the port and, where this user
may see it, the process that holds it: never an address announced and then an uvicorn failure.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

LISTEN = "0A"
"""The ``st`` column of ``/proc/net/tcp`` for a listening socket."""


class PortUnavailableError(RuntimeError):
    """The address cannot be bound; the message names the port, who holds it if known, and what to do."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, as uvicorn would make it.

    Raises:
        PortUnavailableError: the port is in use, or this user may not bind it (the message says which).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port left in TIME_WAIT is free
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortUnavailableError(_refusal(host, port, exc)) from exc
    sock.set_inheritable(True)
    return sock


def _refusal(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        holder = port_holder(port)
        held = f"by {holder}" if holder else "by another process (this user may not see which)"
        return (
            f"port {port} on {host} is already in use {held}. Stop that process, or serve on another port "
            f"(`--port {port + 1}`, or any free one)."
        )
    if exc.errno == errno.EACCES:
        return f"this user may not listen on port {port} (ports below 1024 need root): choose --port 1024 or above."
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}. Check --host and --port."


def listening_inodes(port: int) -> set[int]:
    """The inodes of sockets listening on TCP ``port`` (IPv4 and IPv6), from ``/proc/net/tcp{,6}``."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], int(fields[9])
                if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port and inode:
                    inodes.add(inode)
    return inodes


def port_holder(port: int) -> str | None:
    """``process PID (COMMAND LINE)`` of the process listening on ``port``, or None where it cannot be seen.

    Another user's file descriptors are readable only by root (or that user), so this often says nothing
    for an ordinary user; the caller then says the port is busy without naming who holds it.
    """
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    if not wanted:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if not any(_link(f"/proc/{pid}/fd/{fd}") in wanted for fd in fds):
                continue
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or another user's
            continue
        return f"process {pid} ({command.strip()[:200]})"
    return None


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""
