"""Running avmine as an ordinary user (``nobody``) from tests that run as root, as CI does.

``setpriv`` drops to nobody. The interpreter must be one nobody can run, seeing avmine and its
dependencies: where this environment or the checkout lives in a directory only root may enter,
``nobody_python`` makes a throw-away virtualenv over a readable, hard-linked copy of both.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
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


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link ``source``'s files under ``target`` (a copy where linking fails), in folders anyone may read.

    Bytecode and setuptools' editable-install hooks (which point into the checkout) are left out.
    """
    for root, dirs, files in os.walk(source):
        here = target / Path(root).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        here.chmod(0o755)
        for name in [d for d in dirs if d == "__pycache__" or (Path(root) / d).is_symlink()]:
            dirs.remove(name)
            if name != "__pycache__":
                (here / name).symlink_to(os.readlink(Path(root) / name))
        for name in files:
            if name.startswith("__editable__") or name.endswith(".pyc"):
                continue
            try:
                os.link(Path(root) / name, here / name, follow_symlinks=False)
            except OSError:  # another file system
                shutil.copy2(Path(root) / name, here / name, follow_symlinks=False)


def readable_environment() -> Path:
    """A tree anyone may read with this checkout's ``avmine`` package and this environment's packages.

    ``tree/avmine`` holds the package folders as pyproject.toml maps them; ``tree/site-N`` each
    site-packages folder of this interpreter. Files are hard links, so making it is cheap where the
    temporary folder shares the checkout's file system.
    """
    tree = Path(tempfile.mkdtemp(prefix="avmine-nobody-tree-"))
    tree.chmod(0o755)
    atexit.register(shutil.rmtree, tree, ignore_errors=True)
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items()):  # parents before the folders mapped inside them
        _link_tree(REPO / folder, tree.joinpath(*package.split(".")))
    for index, folder in enumerate(p for p in dict.fromkeys(sys.path) if p.endswith("-packages") and Path(p).is_dir()):
        _link_tree(Path(folder), tree / f"site-{index}")
    return tree


@functools.cache
def nobody_python() -> str:
    """An interpreter nobody can run, with this environment's packages and this checkout's avmine importable.

    Where the interpreter or the checkout sits in a directory nobody cannot enter (a clone in root's
    home, a ``mktemp -d``), it is a virtualenv of the system's Python of the same minor version over a
    readable copy of both (``readable_environment``), made once per test session. Skips (a stated
    limit of the machine) only where the tests do not run as root or ``setpriv`` is missing.
    """
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping to another user needs root and setpriv (util-linux)")
    if _runs_as_nobody(sys.executable, module="avmine.server.executor.launch"):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for base in (getattr(sys, "_base_executable", ""), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not base or not _runs_as_nobody(base, module="sys"):
            continue
        tree = readable_environment()
        subprocess.run([base, "-m", "venv", "--without-pip", str(tree / "venv")], check=True)
        site = next((tree / "venv").glob("lib/python*/site-packages"))
        sites = sorted(tree.glob("site-*"), key=lambda p: int(p.name.removeprefix("site-")))
        lines = [str(tree), *(f"import site; site.addsitedir({str(s)!r})" for s in sites)]
        (site / "avmine-test-env.pth").write_text("\n".join(lines) + "\n")
        python = str(tree / "venv" / "bin" / "python")
        if _runs_as_nobody(python, module="avmine.server.executor.launch"):
            return python
    raise AssertionError(
        f"no Python {sys.version_info.major}.{sys.version_info.minor} that the user nobody can run was found "
        f"({sys.executable} is in a directory nobody cannot enter); install the system's python3"
    )
