"""The ``<db>.sock`` file: binding it owner-only, connecting to it, and checking who is on the other end."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

MAX_ADDRESS_BYTES = 100
"""Linux keeps 108 bytes of a socket path; a longer one is reached through the directory's descriptor."""


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits a ``sockaddr_un``, valid inside the block."""
    if len(os.fsencode(path)) < MAX_ADDRESS_BYTES:
        yield str(path)
        return
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)


def bind(path: Path) -> socket.socket:
    """A listening socket at ``path``, readable and writable by its owner only.

    Whatever file is there is stale: only the process holding the database writable binds, and the
    caller holds it.
    """
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _address(path) as address:
            server.bind(address)
        os.chmod(path, 0o600)  # peers are checked too (peer_is_owner): this is the first of two locks
        server.listen()
    except BaseException:
        server.close()
        raise
    return server


def connect(path: Path) -> socket.socket | None:
    """A connection to the writer listening at ``path``; None when nothing listens there (none, or stale)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _address(path) as address:
            client.connect(address)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError, PermissionError):
        client.close()
        return None
    except BaseException:
        client.close()
        raise
    return client


def peer(connection: socket.socket) -> tuple[int, int]:
    """The process id and user id of the other end (as it was when it connected; still known once it is gone)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", credentials)
    return int(pid), int(uid)


def peer_is_owner(connection: socket.socket) -> bool:
    """Whether the process on the other end runs as this process's user."""
    return peer(connection)[1] == os.getuid()


def remove_if_ours(path: Path, bound: os.stat_result) -> None:
    """Remove the socket file, unless a newer writer has replaced it since ``bound`` was taken."""
    with contextlib.suppress(FileNotFoundError):
        now = path.stat()
        if (now.st_ino, now.st_dev) == (bound.st_ino, bound.st_dev):
            path.unlink()
