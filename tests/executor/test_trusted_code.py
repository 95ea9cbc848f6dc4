"""Trusted code survives whatever a sandboxed child, or a compromised worker, writes to its pipes.

A program that escaped every Python layer could write any bytes to its result and VLM pipes. Here
hand-made child processes do exactly that to the worker's real ``run_job``, and a hand-made worker
process does it to the real executor: each time the result is an error that says why, the run is
recorded, and nothing trusted raises.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from avmine.atomic.program import MAX_NESTING, ProgramError, prepare
from avmine.server.executor import Executor, LogSelection, policy
from avmine.server.executor.arming import Armed, disarm
from avmine.server.executor.child_results import run_job
from avmine.server.executor.executor import _Worker
from avmine.server.executor.messages import MAX_DEPTH, nesting_depth
from avmine.store import Store
from avmine.store.bounds import ERROR_CHARS, STDOUT_CHARS
from avmine.store.runs import LogResult, Run, load_run, record_run

from .conftest import LOG, TEST_LIMITS

DEEP = b"[" * 100_000
JOB = {"job_id": LOG, "program": "", "prompt": "forged", "log_id": LOG}


def _forged_child(result: bytes, ask: bytes = b"") -> Armed:
    """A child that ignores its job and writes ``result`` (after ``ask`` on its VLM pipe, then the answer)."""
    job_read, job_write = os.pipe()
    result_read, result_write = os.pipe()
    ask_read, ask_write = os.pipe()
    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.read(job_read, 1 << 16)
            payload = result
            if ask:
                data = ask
                while data:
                    data = data[os.write(ask_write, data) :]
                answer = b""
                while b"\n" not in answer and (chunk := os.read(answer_read, 1 << 16)):
                    answer += chunk
                payload = json.dumps({"status": "error", "error": answer.decode()}).encode()
            while payload:
                payload = payload[os.write(result_write, payload) :]
        finally:
            os._exit(0)
    for fd in (job_read, result_write, ask_write, answer_read):
        os.close(fd)
    return Armed(pid, job_write, result_read, Path(tempfile.mkdtemp()), 0, ask_read, answer_write)


def _run_forged(result: bytes, ask: bytes = b"") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    relayed: list[dict[str, Any]] = []

    def relay(request: dict[str, Any]) -> dict[str, Any]:
        relayed.append(request)
        return {"scenario": {}}

    reply, child = run_job(dict(JOB), _forged_child(result, ask), TEST_LIMITS, relay)
    if child is not None:
        disarm(child)
    json.dumps(reply)  # what the worker prints next: it must serialise
    return reply, relayed


FORGED_RESULTS = [
    (DEEP, "the program's result is nested more than 64 levels deep"),
    (b'{"status": "ok", "scenario": 5}', "scenario: Input should be an object"),
    (b'{"status": "ok", "scenario": {"t": "x"}}', "scenario.t: Input should be a list of timestamps"),
    (b'{"status": "ok", "scenario": {"t": {"u": [1.5]}}}', "Input should be a valid integer"),
    (b'{"status": "ok", "scenario": {"t": [1]}, "seconds": "fast"}', "seconds: Input should be a valid number"),
    (b'{"status": "ok", "scenario": {}, "function_seconds": {"f": null}}', "function_seconds.f"),
    (b'{"status": "ok", "scenario": {}, "layers": {"rlimits": "yes"}}', "layer rlimits is not true or false"),
    (b'{"status": "ok", "scenario": {}, "layers": {"root": true}}', "unknown sandbox layer(s) root"),
    (b'{"status": "ok", "scenario": {}, "job_id": "other"}', "job_id: Extra inputs are not permitted"),
    (b'{"status": "cancelled", "error": "x"}', "status: Input should be 'ok' or 'error'"),
    (b'{"status": "error", "error": 5}', "error: Input should be a valid string"),
    (b'{"status": "ok"}', "an 'ok' result has no scenario"),
    (b'[1, 2]', "is malformed: Input should be an object"),
    (b'{"status": "ok", "scenario": {"t": [1' + b"1" * 5000 + b"]}}", "Invalid JSON: number out of range"),
    (b'{"status": "ok", "scenario": {"t": [99999999999999999999]}}', "less than 9223372036854775808"),
    (b'{"status": "error", "error": "e", "function_seconds": {"f": NaN}}',
     "function_seconds.f: Input should be a finite"),
    (b"\xff\xfe not json", "is malformed: Invalid JSON"),
    (b'{"status": "ok", "scenario": 5, "stdout": "\\ud800"}', "scenario: Input should be a valid dictionary"),
]  # fmt: skip


@pytest.mark.parametrize(("result", "message"), FORGED_RESULTS, ids=[m for _, m in FORGED_RESULTS])
def test_a_forged_result_becomes_an_error_with_its_reason(result: bytes, message: str) -> None:
    reply, _ = _run_forged(result)
    assert reply["status"] == "error"
    assert message in reply["error"], reply["error"]


def test_texts_of_a_result_are_bounded_by_the_worker() -> None:
    long = "é" * 200_000  # within the result limit (1 MiB): bounded, not refused
    reply, _ = _run_forged(json.dumps({"status": "error", "error": long, "stdout": long}, ensure_ascii=False).encode())
    assert reply["error"].startswith("éé") and len(reply["error"]) <= ERROR_CHARS
    assert "more characters cut (limit" in reply["error"]
    assert len(reply["stdout"]) < TEST_LIMITS.stdout_chars + 400 and "more characters cut" in reply["stdout"]


VLM_REQUESTS = [
    (DEEP + b"\n", "the VLM request is nested more than 64 levels deep"),
    (b'{"function": "f", "log_id": "x", "scenario": {"t": ["1"]}}\n', "malformed VLM request: scenario.t.0"),
    (b'{"function": "f", "log_id": "x", "scenario": {"t": [1]}, "extra": 1}\n', "extra: Extra inputs"),
    (b'{"function": "f", "scenario": {"t": [1]}}\n', "malformed VLM request: log_id: Field required"),
    (b"[[[[1]]]]\n", "malformed VLM request: Input should be a valid dictionary"),
    (b"nonsense\n", "the VLM request is not valid JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("request_line", "message"), VLM_REQUESTS, ids=[m for _, m in VLM_REQUESTS])
def test_a_forged_vlm_request_is_answered_with_its_reason_and_never_relayed(request_line: bytes, message: str) -> None:
    reply, relayed = _run_forged(b"", ask=request_line)
    assert relayed == []
    assert message in reply["error"], reply["error"]


def test_a_well_formed_vlm_request_is_relayed() -> None:
    line = b'{"function": "object_color", "log_id": "x", "scenario": {"t": [1, 2]}, "value": "red"}\n'
    reply, relayed = _run_forged(b"", ask=line)
    assert relayed == [{"function": "object_color", "log_id": "x", "scenario": {"t": [1, 2]}, "value": "red"}]
    assert json.loads(reply["error"]) == {"scenario": {}}


def test_nesting_depth_counts_brackets_outside_strings_only_and_quickly() -> None:
    assert nesting_depth(b'{"a": [[1], {"b": "[[[[[[["}], "c": "\\"]]]"}') == 3
    assert nesting_depth(b'"unterminated [[[[') == 0
    started = time.perf_counter()
    assert nesting_depth(b'"' + b'\\"' * 4_000_000) == 0  # no quadratic scan of an unterminated string
    assert nesting_depth(b"[" * 16_000_000) > MAX_DEPTH
    assert time.perf_counter() - started < 3


HOSTILE_WORKER = """
import json, sys
print(json.dumps({"ready": True}), flush=True)
reply = open(sys.argv[1]).read()
for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.write(reply.replace("JOB", job["job_id"]) + "\\n")
    sys.stdout.flush()
    if "vlm_request" in reply:
        answer = sys.stdin.readline()
        print(json.dumps({"job_id": job["job_id"], "status": "error", "error": answer}), flush=True)
"""


class _HostileWorker(_Worker):
    """A worker process that writes ``reply`` to every job (what a compromised worker could do)."""

    def __init__(self, reply: Path) -> None:
        self.max_line = 8 * TEST_LIMITS.result_bytes + (1 << 20)
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOSTILE_WORKER, str(reply)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.busy = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.read(30) == {"ready": True}


HOSTILE_REPLIES = [
    ('{"job_id": "JOB", "status": "ok", "scenario": 5}', "the worker's result was malformed: scenario"),
    ('{"job_id": "JOB", "status": "ok", "scenario": {}, "function_seconds": {"f": "slow"}}', "function_seconds.f"),
    ('{"job_id": "JOB", "status": "ok", "scenario": {"t": [1]}, "layers": {"x": true}}', "unknown sandbox layer"),
    ('{"job_id": "JOB", "status": "cancelled", "error": "e"}', "status: Input should be 'ok', 'error' or 'timeout'"),
    ('{"job_id": "JOB", "status": "error", "error": "' + "e" * 5_000_000 + '"}', "more characters cut (limit"),
    ("[" * 100_000, "the worker running this log stopped responding"),
    ('{"vlm_request": {"function": "f", "log_id": "' + LOG + '", "scenario": {"t": [1.5]}}}',
     "malformed VLM request: scenario.t.0"),
    ('{"vlm_request": {"function": "f", "log_id": "' + LOG + '", "scenario": {"t": [1]}}}', "broker answered"),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "message"), HOSTILE_REPLIES, ids=[m for _, m in HOSTILE_REPLIES])
def test_a_hostile_worker_cannot_break_a_run_or_its_record(
    canary_store: Store, tmp_path: Path, reply: str, message: str
) -> None:
    (tmp_path / "reply").write_text(reply)
    asked: list[dict[str, Any]] = []

    def broker(log_id: str, request: dict[str, Any]) -> dict[str, Any]:
        asked.append(request)
        return {"error": "broker answered"}

    with Executor(canary_store, workers=1, limits=TEST_LIMITS, broker=broker) as executor:
        executor._pool = [_HostileWorker(tmp_path / "reply")]
        execution = executor.run(f"output_scenario({{}}, description, log_dir, output_dir)  # {reply[:40]}",
                                 "hostile", LogSelection(logs=(LOG,)))  # fmt: skip
        executor.flush()
    result = execution.results[0]
    assert execution.status == "failed" and result.status == "error"
    assert message in (result.error or ""), result.error
    assert len(result.error or "") <= ERROR_CHARS
    assert asked == ([{"function": "f", "log_id": LOG, "scenario": {"t": [1]}}] if "broker" in message else [])
    record, stored = load_run(canary_store, execution.run_id)
    assert record["status"] == "failed" and stored[0].error == result.error


DEEP_PROGRAMS = [
    "x = " + " + ".join(["1"] * 20_000),
    "x = " + "-" * 90_000 + "1",
    "x = y" + "[0]" * 5_000,
    "x = " + "not " * (MAX_NESTING + 10) + "y",
]


@pytest.mark.parametrize("program", DEEP_PROGRAMS, ids=["operators", "unary", "subscripts", "not"])
def test_programs_nested_too_deeply_are_rejected_quickly(program: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ProgramError, match="nested too deeply to parse"):
        prepare(program + "\noutput_scenario({}, description, log_dir, output_dir)\n", check=policy.enforce)
    assert time.perf_counter() - started < 2


def test_programs_that_are_too_long_or_hold_null_bytes_are_rejected() -> None:
    with pytest.raises(ProgramError, match="the program is too long"):
        prepare("x = 1\n" * 30_000)
    with pytest.raises(ProgramError, match="cannot be parsed"):
        prepare("x = 1\0\noutput_scenario({}, description, log_dir, output_dir)\n")


def test_stored_texts_are_bounded(canary_store: Store) -> None:
    incompressible = str(list(range(2_500_000)))  # 17 MB
    run = Run(prompt="bounded", program="output_scenario({}, description, log_dir, output_dir)")
    result = LogResult(log_id=LOG, status="error", error=incompressible, stdout=incompressible)
    record_run(canary_store, run, [result])
    record, (stored,) = load_run(canary_store, run.run_id)
    assert len(stored.error or "") <= ERROR_CHARS and "more characters cut" in (stored.error or "")
    assert len(stored.stdout) <= STDOUT_CHARS and stored.stdout.startswith("[0, 1, 2")
    assert len(str(record["error"])) <= ERROR_CHARS
