"""Where the kernel refuses user namespaces, avmine stops at start with one paragraph and runs nothing.

The refusal is made real, not mocked: the check runs as nobody inside a user namespace whose limit
of nested user namespaces is 0 (``user.max_user_namespaces`` is per namespace), as on a machine
whose administrator disabled them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..unprivileged import nobody_python

WRAPPER = Path(__file__).with_name("without_user_namespaces.py")


def _check_without_user_namespaces(python: str) -> tuple[int, str]:
    """``launch --check`` as nobody where creating a user namespace is refused; (exit code, stdout)."""
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(WRAPPER), python, "-m", "avmine.server.executor.launch", "--check"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


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
