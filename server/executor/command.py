"""The command line that starts an executor worker."""

from __future__ import annotations

import sys


def launch_command(*args: str) -> list[str]:
    """``python -P -m avmine.server.executor.launch ARGS``, with this interpreter.

    ``-P`` keeps the caller's working directory off the worker's module path: a user's project with its own
    ``server/`` or ``store/`` package never shadows avmine's modules.
    """
    return [sys.executable, "-P", "-m", "avmine.server.executor.launch", *args]
