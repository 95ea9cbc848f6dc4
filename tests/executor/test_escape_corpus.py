"""The escape corpus: programs that try to leave the sandbox. Each is stopped with a specific, clear error;
the ground truth's secret never shows; nothing connects out; and the executor serves the next program.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from avmine.server.executor import Executor, Limits, LogSelection
from avmine.store import Store
from avmine.store.bounds import ERROR_CHARS, STDOUT_CHARS

from .conftest import LOG, SECRET, Listener

ONE_LOG = LogSelection(logs=(LOG,))
OUT = "\noutput_scenario({}, description, log_dir, output_dir)\n"
GOOD = (
    "v = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "output_scenario(turning(v, log_dir), description, log_dir, output_dir)\n"
)

REJECTED = [
    ("import os", "import of 'os' is not allowed"),
    ("import subprocess", "import of 'subprocess' is not allowed"),
    ("import sys", "import of 'sys' is not allowed"),
    ("import ctypes", "import of 'ctypes' is not allowed"),
    ("import importlib", "import of 'importlib' is not allowed"),
    ("import pickle", "import of 'pickle' is not allowed"),
    ("import socket", "import of 'socket' is not allowed"),
    ("import fcntl", "import of 'fcntl' is not allowed"),  # F_SETOWN/F_SETSIG: the OS boundary refuses it too
    ("import signal", "import of 'signal' is not allowed"),
    ("import urllib.request", "import of 'urllib.request' is not allowed"),
    ("import time\ntime.sleep(100)", "import of 'time' is not allowed"),
    ("from os import system", "import from 'os' is not allowed"),
    ("import os\nos.fork()", "import of 'os' is not allowed"),
    ("__import__('os').system('id')", "the name '__import__' is not available"),
    ("open('/etc/passwd').read()", "the name 'open' is not available"),
    ("exec('import os')", "the name 'exec' is not available"),
    ("eval('1 + 1')", "the name 'eval' is not available"),
    ("compile('1', 'x', 'exec')", "the name 'compile' is not available"),
    ("g = globals()", "the name 'globals' is not available"),
    ("v = vars()", "the name 'vars' is not available"),
    ("f = getattr(np, 'load')", "the name 'getattr' is not available"),
    ("s = ().__class__.__bases__[0].__subclasses__()", "attribute '__class__'"),
    ("t = type(1)", "the name 'type' is not available"),
    ("o = object", "the name 'object' is not available"),
    ("b = print.__self__", "attribute '__self__'"),
    ("p = log_dir.parent.parent", "attribute 'parent'"),
    ("t = log_dir.read_text()", "attribute 'read_text'"),
    ("l = list(log_dir.iterdir())", "attribute 'iterdir'"),
    ("output_dir.write_text('x')", "attribute 'write_text'"),
    ("a = np.load('/etc/passwd', allow_pickle=True)", "attribute 'load'"),
    ("a = np.fromfile('/etc/passwd')", "attribute 'fromfile'"),
    ("a = np.loadtxt('/etc/passwd')", "attribute 'loadtxt'"),
    ("a = np.memmap('/etc/passwd')", "attribute 'memmap'"),
    ("np.save('/tmp/x.npy', np.zeros(3))", "attribute 'save'"),
    ("c = np.ctypeslib", "attribute 'ctypeslib'"),
    ("n = np.lib.npyio", "attribute 'lib'"),
    ("s = '{0.__class__}'.format(1)", "format strings may not reach private attributes"),
    ("f = (x for x in []).gi_frame", "attribute 'gi_frame'"),
    ("try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame", "attribute '__traceback__'"),
    ("def f():\n    global np\n    np = None", "global and nonlocal"),
    ("m = [].__class__.__mro__", "attribute '__class__'"),
    ("p = open('/proc/1/environ')", "the name 'open' is not available"),
    ("s = ('{0.' + '_' * 2 + 'globals' + '_' * 2 + '}').format(turning)", "attribute 'format'"),
    ("s = format(turning, '')", "the name 'format' is not available"),
    # routes an outside review found past the first policy: each closed with its own error
    (
        "import functools\ndef f():\n    pass\nfunctools.update_wrapper(f, turning, updated=('__globals__',))",
        "strings naming dunder attributes are not allowed",
    ),
    (
        "import functools\ndef f():\n    pass\nfunctools.update_wrapper(f, np.mean, updated=('__globals__',))",
        "strings naming dunder attributes are not allowed",
    ),
    (
        "import functools\ndef f():\n    pass\nfunctools.update_wrapper(f, print, updated=('__globals__',))",
        "strings naming dunder attributes are not allowed",
    ),
    (
        "import functools\nd = functools.singledispatch(len)\n@d.register\ndef g(x: 'int'):\n    return x",
        "string annotations are not allowed",
    ),
    ("x: 'np.ctypeslib' = 1", "string annotations are not allowed"),
    ("match 1:\n    case int(__class__=c):\n        pass", "class patterns may not read private attributes"),
    (
        "class A:\n    def __getattr__(self, name):\n"
        "        return {'data': (8, False), 'shape': (8,), 'typestr': '|u1', 'version': 3}\na = np.asarray(A())",
        "dunder methods and classes are not allowed",
    ),
    (
        "class A:\n    __array_interface__ = {'data': (8, False), 'shape': (8,), 'typestr': '|u1', 'version': 3}",
        "the name '__array_interface__' is not available",
    ),
    ("x = " + " + ".join(["1"] * 20_000), "the program is nested too deeply to parse"),
    ("x = " + "-" * 90_000 + "1", "the program is nested too deeply to parse"),
    ("x = 1\n" * 20_000, "the program is too long (120055 characters, limit 100000)"),
]

RUNTIME = [
    ("x = [0] * (10 ** 10)", "MemoryError"),
    ("x = np.ones(10 ** 11)", "MemoryError"),
    ("while True:\n    pass", "used up its CPU time limit (3 s) and was stopped"),
    ("x = 0\nfor i in range(10 ** 12):\n    x += i", "used up its CPU time limit (3 s) and was stopped"),
    ("def f(n):\n    return f(n + 1)\nf(0)", "RecursionError"),
    ("import statistics\nr = statistics.random", "has no attribute 'random'"),
    ("import copy\nc = copy.copyreg", "has no attribute 'copyreg'"),
    ("import functools\nf = functools.reduce(lambda a, b: a + b, range(10))\nundefined_name", "NameError"),
    # the same routes with names built at run time, past the syntax check: the members are not there
    ("import functools\nw = functools.update_wrapper", "has no attribute 'update_wrapper'"),
    ("import functools\nw = functools.wraps", "has no attribute 'wraps'"),
    ("import functools\nd = functools.singledispatch", "has no attribute 'singledispatch'"),
    ("output_scenario({str(i): list(range(2000)) for i in range(2000)}, description, log_dir, output_dir)",
     "too large"),
    ("raise ValueError(str(list(range(2_000_000))))", "more characters cut (limit 4096)"),  # 16 MB, incompressible
    ("output_scenario({'t': 'text'}, description, log_dir, output_dir)",
     "the program's result is malformed: scenario.t: Input should be a list of timestamps (integers)"),
]  # fmt: skip


def _never_leaks(store: Store, run_id: str, texts: list[str], executor: Executor) -> None:
    for text in texts:
        assert SECRET not in text
    executor.flush()
    rows = store.query_df("SELECT * FROM run_results WHERE run_id = ?", [run_id]).astype(str)
    assert len(rows) == 1  # the run was recorded
    lengths = "SELECT coalesce(length(error), 0), coalesce(length(stdout), 0) FROM run_results WHERE run_id = ?"
    error_chars, stdout_chars = store.con.execute(lengths, [run_id]).fetchone() or (0, 0)
    assert error_chars <= ERROR_CHARS and stdout_chars <= STDOUT_CHARS  # bounded, as stored
    assert not rows.apply(lambda column: column.str.contains(SECRET)).any().any()


def _still_serves(executor: Executor) -> None:
    # a fresh comment makes the code new, so the executor really runs it instead of re-using a result
    good = executor.run(GOOD + f"# {uuid.uuid4()}\n", "turning", ONE_LOG)
    assert good.status == "ok", good.results[0].error
    assert good.function_seconds  # it ran
    assert any(good.results[0].scenario.values())  # type: ignore[union-attr]


@pytest.mark.parametrize(("code", "message"), REJECTED, ids=[c[0][:40] for c in REJECTED])
def test_rejected_before_running(executor: Executor, canary_store: Store, listener: Listener, code: str,
                                 message: str) -> None:  # fmt: skip
    execution = executor.run(code + OUT, "escape", ONE_LOG)
    assert execution.status == "rejected"
    error = execution.results[0].error or ""
    assert message in error, error
    _never_leaks(canary_store, execution.run_id, [error], executor)
    assert listener.connections == 0


@pytest.mark.parametrize(("code", "message"), RUNTIME, ids=[c[0][:40] for c in RUNTIME])
def test_stopped_while_running(executor: Executor, canary_store: Store, listener: Listener, code: str,
                               message: str) -> None:  # fmt: skip
    program = code if "output_scenario" in code else code + OUT
    execution = executor.run(program, "escape", ONE_LOG)
    result = execution.results[0]
    assert result.status in ("error", "timeout"), result
    assert message in (result.error or ""), result.error
    _never_leaks(canary_store, execution.run_id, [result.error or "", result.stdout], executor)
    _still_serves(executor)
    assert listener.connections == 0


@pytest.mark.parametrize("code", ["print('a' * 10 ** 7)", "print(str(list(range(10 ** 6))))"], ids=["same", "varied"])
def test_huge_prints_are_bounded(executor: Executor, canary_store: Store, code: str) -> None:
    execution = executor.run(code + OUT, "print", ONE_LOG)
    result = execution.results[0]
    assert result.status == "ok"
    assert len(result.stdout) < 5000 and "more characters of output dropped" in result.stdout
    _never_leaks(canary_store, execution.run_id, [result.stdout], executor)


def test_secret_is_in_the_database_but_never_reachable(executor: Executor, canary_store: Store) -> None:
    """The canary is really there (so the checks above are not vacuous), and a probe cannot find it."""
    assert SECRET in canary_store.query_df("SELECT prompt FROM gt_frames")["prompt"].tolist()
    probe = (
        "found = [str(log_dir), str(output_dir), description]\n"
        "print(found)\n"
        "output_scenario({}, description, log_dir, output_dir)\n"
    )
    execution = executor.run(probe, "probe", ONE_LOG)
    assert execution.status == "ok"
    _never_leaks(canary_store, execution.run_id, [execution.results[0].stdout], executor)
    assert Path(str(canary_store.canary_path)).is_file()  # type: ignore[attr-defined]


def test_each_program_starts_clean(executor: Executor) -> None:
    """A program that rebinds a library name cannot change the next program's result (modules are read-only)."""
    tamper = "np.median = None\nturning = None\nv = get_objects_of_category(log_dir, category='VEHICLE')" + OUT
    refused = executor.run(tamper, "tamper", ONE_LOG).results[0]
    assert refused.status == "error" and "cannot change a module's attributes (tried to set 'median')" in (
        refused.error or ""
    )
    rebinds = "turning = None\nv = get_objects_of_category(log_dir, category='VEHICLE')" + OUT
    assert executor.run(rebinds, "tamper", ONE_LOG).status == "ok"
    _still_serves(executor)


def test_wall_clock_limit_kills_the_process_group(canary_store: Store) -> None:
    with Executor(canary_store, workers=1, limits=Limits(wall_seconds=1.5, cpu_seconds=30)) as slow:
        execution = slow.run("while True:\n    pass" + OUT, "spin", ONE_LOG)
        assert execution.results[0].status == "timeout"
        assert "ran past its 1.5 s limit and was killed" in (execution.results[0].error or "")
        assert execution.seconds < 10
        _still_serves(slow)
