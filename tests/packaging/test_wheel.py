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
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "agent_configs", "server", "atomic", "vlm", "store", "evaluation")
PACKAGES = ("avmine.server", "avmine.atomic", "avmine.vlm", "avmine.store", "avmine.evaluation")
LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


DECOY = "raise ImportError('the current directory\\'s own {name} package was imported instead of avmine\\'s')\n"


def _decoy_packages(folder: Path) -> None:
    """A user's project, as Claude Code starts the server in: its own packages named like avmine's folders.

    ``avmine/`` too: a checkout of avmine cloned into the project (a namespace portion that would win if the
    current directory were on a worker's path).
    """
    for name in PACKAGES:
        package = folder / name.removeprefix("avmine.")
        (folder / name.replace(".", "/") / "executor").mkdir(parents=True)
        (folder / name.replace(".", "/") / "__init__.py").write_text(DECOY.format(name=name))
        (folder / name.replace(".", "/") / "executor" / "__init__.py").write_text(DECOY.format(name=name))
        (package / "executor").mkdir(parents=True)
        (package / "__init__.py").write_text(DECOY.format(name=package.name))
        (package / "executor" / "__init__.py").write_text(DECOY.format(name=package.name))


@dataclass(frozen=True)
class Installed:
    venv: Path
    avmine: Path
    work: Path  # a folder outside the checkout, the current directory of every command
    wheel: Path
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
    for folder in ("agent_configs", "store/demo_data", "server"):  # a checkout that has run: bytecode everywhere
        (source / folder / "__pycache__").mkdir(exist_ok=True)
        (source / folder / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"\0")
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
    _decoy_packages(work)
    env |= {"HOME": str(root / "home"), "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    yield Installed(venv, venv / "bin" / "avmine", work, wheel, env)


def test_every_avmine_module_comes_from_the_installed_wheel(installed: Installed) -> None:
    code = f"import json, importlib; print(json.dumps({{p: importlib.import_module(p).__file__ for p in {PACKAGES}}}))"
    where = json.loads(subprocess.check_output([str(installed.venv / "bin" / "python"), "-P", "-c", code],
                                               cwd=installed.work, env=installed.env, text=True))  # fmt: skip
    for package, path in where.items():
        assert Path(path).is_relative_to(installed.venv), (package, path)
        assert not Path(path).is_relative_to(ROOT), (package, path)
    version = installed.run("--version")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert version.returncode == 0 and version.stdout.startswith("avmine "), version.stderr
    assert "version" in pyproject["project"]["dynamic"]


def test_the_wheel_is_one_avmine_package_without_bytecode(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        files = wheel.namelist()
    tops = {path.split("/", 1)[0] for path in files}
    assert tops == {"avmine", installed.wheel.name.split("-py3")[0] + ".dist-info"}, tops
    assert not [path for path in files if "__pycache__" in path or path.endswith(".pyc")]


def test_the_wheel_ships_every_agent_config(installed: Installed) -> None:
    shipped = next(installed.venv.glob("lib/python*/site-packages/avmine/server/agent_configs"))
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
    program_text = program.read_text()
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "execute_scenario", "arguments": {
            "program": program_text, "prompt": "vehicle", "logs": [LOG]}}},
    ]  # fmt: skip
    serve = [str(installed.avmine), "--db", str(db), "serve"]
    with subprocess.Popen(serve, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=installed.work, env=installed.env,
                          text=True) as served:  # fmt: skip
        assert served.stdin is not None and served.stdout is not None
        answers = {}
        for request in requests:
            served.stdin.write(json.dumps(request) + "\n")
            served.stdin.flush()
            while "id" in request and request["id"] not in answers:
                line = json.loads(served.stdout.readline())
                if "id" in line:
                    answers[line["id"]] = line
        served.stdin.close()
        assert served.wait(timeout=60) == 0
    assert answers[1]["result"]["serverInfo"]["name"] == "avmine", answers[1]
    called = answers[2]["result"]
    assert not called.get("isError"), called
    assert called["structuredContent"]["status"] == "ok", called
