"""Where the kernel refuses user namespaces, avmine stops at start with one paragraph and runs nothing.

The refusal is made real, not mocked: the check runs as nobody inside a user namespace whose limit
of nested user namespaces is 0 (``user.max_user_namespaces`` is per namespace), as on a machine
whose administrator disabled them.
"""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path

from ..unprivileged import NOBODY, nobody_python

CLONE_NEWUSER = 0x10000000


def _check_without_user_namespaces(python: str) -> tuple[int, str]:
    """``launch --check`` as nobody where creating a user namespace is refused; (exit code, stdout)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    out_read, out_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a fork of the test runner: single-threaded, so it may unshare a user namespace
        try:
            os.close(ready_read), os.close(go_write), os.close(out_read)
            if libc.unshare(CLONE_NEWUSER) != 0:
                os._exit(90)
            os.write(ready_write, b"x")
            os.read(go_read, 1)  # the parent wrote our id maps
            Path("/proc/sys/user/max_user_namespaces").write_text("0")
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            os.dup2(out_write, 1)
            env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
            os.execve(python, [python, "-m", "server.executor.launch", "--check"], env)
        finally:
            os._exit(91)
    for fd in (ready_write, go_read, out_write):
        os.close(fd)
    assert os.read(ready_read, 1) == b"x"
    Path(f"/proc/{pid}/uid_map").write_text("0 0 65536\n")
    Path(f"/proc/{pid}/gid_map").write_text("0 0 65536\n")
    os.write(go_write, b"x")
    output = b""
    while chunk := os.read(out_read, 65536):
        output += chunk
    _, status = os.waitpid(pid, 0)
    for fd in (ready_read, go_write, out_read):
        os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode()


def test_refused_user_namespaces_are_explained_in_one_paragraph() -> None:
    code, output = _check_without_user_namespaces(nobody_python())
    assert code == 0, output
    reply = json.loads(output.strip().splitlines()[-1])
    assert reply["ready"] is False
    paragraph = reply["error"]
    assert "\n" not in paragraph
    assert "creating a user namespace failed" in paragraph
    assert "nothing is wrong with the program" in paragraph  # never blamed on a program
    assert "max_user_namespaces" in paragraph and "unshare -Urnm true" in paragraph  # what to change, how to check
