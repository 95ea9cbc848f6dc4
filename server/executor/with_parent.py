"""Run a command that dies with the avmine process that started it, even when that one is killed by SIGKILL.

    python -P -m avmine.server.executor.with_parent PARENT_PID COMMAND [ARG ...]

A parent-death signal (``namespaces.die_with_parent``) survives ``exec``; arming it here, in a
process of its own that then becomes COMMAND, keeps the process that starts it safe when it has
threads (``subprocess``'s ``preexec_fn`` is not). Start it from a thread that waits for it.
"""

from __future__ import annotations

import os
import sys

from avmine.server.executor.namespaces import die_with_parent


def command(argv: list[str]) -> list[str]:
    """``argv`` started so that it dies with this process."""
    return [sys.executable, "-P", "-m", __name__, str(os.getpid()), *argv]


def main(argv: list[str]) -> None:
    """Arm the signal, then become the command (exit status 127 if it cannot be run, as a shell says)."""
    die_with_parent(int(argv[0]))
    try:
        os.execvp(argv[1], argv[1:])
    except OSError as exc:
        print(f"avmine: cannot run {argv[1]}: {exc.strerror}", file=sys.stderr)
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
