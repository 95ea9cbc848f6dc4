"""A worker dies with the process that started it, even in the middle of a job, as root and as ``nobody``.

The process that started it (the executor, a Ray actor) is killed with SIGKILL while its worker runs a
program that would go on for minutes: the launcher, the worker and the program's sandbox all end
within seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from avmine.server.executor import Limits
from avmine.server.executor.worker import RAW_FOR_TESTS
from avmine.store import Store

from ..processes import descendants, exited
from ..unprivileged import as_nobody, give_to_nobody, nobody_dir, nobody_python
from .conftest import LOG

PARENT = """
import subprocess, sys
worker = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
assert b'"ready": true' in worker.stdout.readline()
job = {"job_id": "spin", "program": "while True:\\n    pass", "prompt": "spin", "log_id": sys.argv[1]}
worker.stdin.write((__import__("json").dumps(job) + "\\n").encode())
worker.stdin.flush()
print(worker.pid, flush=True)
worker.wait()
"""


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_worker_in_a_job_dies_with_the_process_that_started_it(user: str, canary_store: Store) -> None:
    python = sys.executable if user == "root" else nobody_python()
    home = nobody_dir("avmine-parent-death-")
    shutil.copytree(canary_store.cache_root / LOG, home / "cache" / LOG)
    give_to_nobody(home)
    limits = Limits(wall_seconds=600.0, cpu_seconds=600, memory_bytes=512 << 20)
    worker = [python, "-m", "avmine.server.executor.launch", str(home / "cache"), "annotations",
              json.dumps(asdict(limits)), RAW_FOR_TESTS]  # fmt: skip
    command = [python, "-c", PARENT, LOG, *worker]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "OPENBLAS_NUM_THREADS": "1"}
    parent = subprocess.Popen(as_nobody(command) if user == "nobody" else command, stdout=subprocess.PIPE,
                              text=True, env=env, cwd=home)  # fmt: skip
    try:
        assert parent.stdout is not None
        launcher = int(parent.stdout.readline())
        below = descendants(launcher)
        started = time.monotonic()
        while len(below) < 2 and time.monotonic() - started < 60:  # the worker and the program's sandbox
            time.sleep(0.2)
            below = descendants(launcher)
        assert len(below) >= 2, below
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    processes = [launcher, *below]
    until = time.monotonic() + 5
    while not all(exited(pid) for pid in processes) and time.monotonic() < until:
        time.sleep(0.1)
    survivors = [pid for pid in processes if not exited(pid)]
    for pid in survivors:  # never leave a spinning program behind a failed test
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(home, ignore_errors=True)
    assert not survivors, "the worker outlived the process that started it"
