"""Where the kernel refuses user namespaces, avmine stops at start with one paragraph and runs nothing.

The refusal is made real, not mocked: the check runs as nobody inside a user namespace whose limit
of nested user namespaces is 0 (``user.max_user_namespaces`` is per namespace), as on a machine
whose administrator disabled them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


WITHOUT_SYS_ADMIN = ("setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="drops CAP_SYS_ADMIN from root")
def test_root_without_cap_sys_admin_is_told_the_capability_and_demo_writes_nothing(tmp_path: Path) -> None:
    check = subprocess.run(
        [*WITHOUT_SYS_ADMIN, sys.executable, "-P", "-m", "avmine.server.executor.launch", "--check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    reply = json.loads(check.stdout.strip().splitlines()[-1])
    assert reply["ready"] is False
    assert "CAP_SYS_ADMIN" in reply["error"] and "--cap-add SYS_ADMIN" in reply["error"]
    assert "unprivileged_userns_clone" not in reply["error"]  # not the advice for ordinary users
    # the check it suggests fails here as the sandbox does (the user-namespace check would pass)
    suggested = re.findall(r"Check root's with `([^`]+)`", reply["error"])[0]
    assert subprocess.run([*WITHOUT_SYS_ADMIN, *shlex.split(suggested)], capture_output=True).returncode != 0
    demo = subprocess.run(
        [*WITHOUT_SYS_ADMIN, sys.executable, "-m", "avmine.server.cli", "demo", "--out", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert demo.returncode == 2, demo.stderr
    assert "CAP_SYS_ADMIN" in demo.stderr and "Traceback" not in demo.stderr
    assert not (tmp_path / "demo").exists()  # checked before it ingested anything
