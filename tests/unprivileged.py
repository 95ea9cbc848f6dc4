"""Running avmine as an ordinary user (``nobody``) from tests that run as root, as CI does.

``setpriv`` drops to nobody. The interpreter must be one nobody can run: where this environment's
interpreter lives in a directory only root may enter, a throw-away virtualenv is made from the
system's Python of the same minor version, seeing this environment's packages and this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

NOBODY = 65534
REPO = Path(__file__).resolve().parents[1]
SETPRIV = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
_CHECK = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', 'import {}']).returncode)"


def as_nobody(command: list[str]) -> list[str]:
    """``command`` run as the user nobody."""
    return [*SETPRIV, *command]


def _runs_as_nobody(python: str, module: str = "numpy") -> bool:
    """Whether nobody can run ``python`` and import ``module`` in a process it starts (as the executor does)."""
    try:
        command = as_nobody([python, "-c", _CHECK.format(module)])
        done = subprocess.run(command, capture_output=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def nobody_dir(prefix: str) -> Path:
    """A fresh directory that belongs to nobody."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(path, NOBODY, NOBODY)
    return path


def give_to_nobody(path: Path) -> None:
    """Make ``path`` and everything under it nobody's."""
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(Path(root) / name, NOBODY, NOBODY, follow_symlinks=False)
    os.chown(path, NOBODY, NOBODY)


def nobody_python() -> str:
    """An interpreter nobody can run, with this environment's packages and this checkout importable.

    Skips (a stated limit of the machine) only where the tests do not run as root or ``setpriv`` is missing.
    """
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping to another user needs root and setpriv (util-linux)")
    if _runs_as_nobody(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for base in (getattr(sys, "_base_executable", ""), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not base or not _runs_as_nobody(base, module="sys"):
            continue
        venv = Path(tempfile.mkdtemp(prefix="avmine-nobody-venv-"))
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python*/site-packages"))
        paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], str(REPO)])
        # as site directories, so that their own .pth files (editable installs, shared dependencies) are read too
        lines = [f"import site; site.addsitedir({path!r})" for path in paths]
        (site / "avmine-test-env.pth").write_text("\n".join(lines) + "\n")
        os.chmod(venv, 0o755)
        python = str(venv / "bin" / "python")
        if _runs_as_nobody(python, module="avmine.server.executor.launch"):
            return python
    raise AssertionError(
        f"no Python {sys.version_info.major}.{sys.version_info.minor} that the user nobody can run was found "
        f"({sys.executable} is in a directory nobody cannot enter); install the system's python3"
    )
