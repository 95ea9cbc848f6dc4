"""avmine built as a wheel and installed into a fresh virtual environment outside the checkout works.

The wheel is built from a copy of the sources; the new environment gets only the wheel (no index), and
finds avmine's dependencies (numpy, duckdb, mcp, ...) in the running interpreter's site-packages through a
.pth file, so the test needs no network and stays fast. Every avmine module must come from the new
environment, never from the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "agent_configs", "server", "atomic", "vlm", "store", "evaluation")
PACKAGES = ("server", "atomic", "vlm", "store", "evaluation")
LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


@dataclass(frozen=True)
class Installed:
    venv: Path
    avmine: Path
    work: Path  # a folder outside the checkout, the current directory of every command
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.avmine), *args], cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    # nothing of the checkout on the path (the tests run with it on PYTHONPATH)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AVMINE_DB")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(root / "dist"),
                            str(source)], cwd=root, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("avmine-*.whl")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=env, check=True, timeout=120
    )
    python = venv / "bin" / "python"
    done = subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "Successfully installed avmine" in done.stdout, done.stdout + done.stderr
    # the dependencies only: the running interpreter's site-packages, after the new environment's own
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], cwd=root, env=env, text=True).strip())
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "avmine_test_dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(dependencies)))
    work = root / "work"
    work.mkdir()
    env |= {"HOME": str(root / "home"), "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    yield Installed(venv, venv / "bin" / "avmine", work, env)


def test_every_avmine_module_comes_from_the_installed_wheel(installed: Installed) -> None:
    code = f"import json, importlib; print(json.dumps({{p: importlib.import_module(p).__file__ for p in {PACKAGES}}}))"
    where = json.loads(subprocess.check_output([str(installed.venv / "bin" / "python"), "-c", code],
                                               cwd=installed.work, env=installed.env, text=True))  # fmt: skip
    for package, path in where.items():
        assert Path(path).is_relative_to(installed.venv), (package, path)
        assert not Path(path).is_relative_to(ROOT), (package, path)
    version = installed.run("--version")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert version.returncode == 0 and version.stdout.startswith("avmine "), version.stderr
    assert "version" in pyproject["project"]["dynamic"]


def test_the_wheel_ships_every_agent_config(installed: Installed) -> None:
    shipped = next(installed.venv.glob("lib/python*/site-packages/server/agent_configs"))
    expected = {p.relative_to(ROOT / "agent_configs") for p in (ROOT / "agent_configs").rglob("*") if p.is_file()}
    assert {p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()} == expected


def test_demo_init_agent_exec_and_serve_from_the_wheel(installed: Installed) -> None:
    demo = installed.run("demo", "--out", "demo", "--quiet", timeout=600)
    assert demo.returncode == 0, demo.stderr
    assert "Logs (4):" in demo.stdout and "Submission from these runs" in demo.stdout
    db = installed.work / "demo" / "avmine-demo.duckdb"

    configs = {"claude": ".mcp.json", "codex": ".codex/config.toml", "gemini": ".gemini/settings.json"}
    for agent, config in configs.items():
        done = installed.run("--db", str(db), "init-agent", agent, agent)
        assert done.returncode == 0, done.stderr
        text = (installed.work / agent / config).read_text()
        server = tomllib.loads(text)["mcp_servers"] if agent == "codex" else json.loads(text)["mcpServers"]
        assert server["avmine"]["command"] == str(installed.avmine)
        assert server["avmine"]["args"] == ["--db", str(db), "serve"]
    assert (installed.work / "claude" / ".claude" / "agents" / "scenario-reviewer.md").is_file()
    assert "execute_scenario" in (installed.work / "gemini" / "GEMINI.md").read_text()

    program = installed.work / "cars.py"
    program.write_text("print('hello from the sandbox')\n"
                       "output_scenario(get_objects_of_category(log_dir, category='VEHICLE'), description, "
                       "log_dir, output_dir)\n")  # fmt: skip
    ran = installed.run("--db", str(db), "exec", str(program), "--prompt", "vehicle", "--logs", LOG, "--json")
    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert document["status"] == "ok" and document["results"][LOG]
    assert document["printed"][LOG] == "hello from the sandbox\n"

    client = {"name": "wheel-test", "version": "0"}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}}  # fmt: skip
    served = subprocess.run([str(installed.avmine), "--db", str(db), "serve"], input=json.dumps(initialize) + "\n",
                            cwd=installed.work, env=installed.env, capture_output=True, text=True,
                            timeout=180)  # fmt: skip
    assert served.returncode == 0, served.stderr
    answer = json.loads(served.stdout.splitlines()[0])
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "avmine", answer
