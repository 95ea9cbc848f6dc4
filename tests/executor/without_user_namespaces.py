"""Run a command as nobody where creating a user namespace is refused, as on a machine that disabled them.

``python without_user_namespaces.py COMMAND...`` (as root): the command runs as nobody inside a user
namespace (mapped to the host's ids 0-65535) whose ``user.max_user_namespaces`` is 0 (the limit is per
namespace), so nothing it starts can create one. Exits with the command's status.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

CLONE_NEWUSER = 0x10000000
NOBODY = 65534


def main(command: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # single-threaded: it may unshare a user namespace
        try:
            for fd in (ready_read, go_write):
                os.close(fd)
            if libc.unshare(CLONE_NEWUSER) != 0:
                os._exit(90)
            os.write(ready_write, b"x")
            os.read(go_read, 1)  # the parent wrote our id maps
            Path("/proc/sys/user/max_user_namespaces").write_text("0")
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            os.execvp(command[0], command)
        except BaseException as exc:
            os.write(2, f"without_user_namespaces: {exc!r}\n".encode())
        finally:
            os._exit(91)
    for fd in (ready_write, go_read):
        os.close(fd)
    if os.read(ready_read, 1) != b"x":
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    Path(f"/proc/{pid}/uid_map").write_text("0 0 65536\n")
    Path(f"/proc/{pid}/gid_map").write_text("0 0 65536\n")
    os.write(go_write, b"x")
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
