"""The executor: untrusted scenario programs in, per-log results, diagnostics and run records out.

The server process never runs program code. It checks the program's text (syntax and policy),
resolves the log selection, and hands the logs in batches to a pool of warm worker processes
(``avmine.server.executor.worker``), each of which runs the program in a fresh sandboxed fork per batch
(every log with fresh globals and its own limits). Each call may name its track source. The workers are
child processes here, or on a Ray cluster's nodes (``avmine.server.executor.ray_backend``, behind ``link``'s seam).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import queue
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import avmine.vlm.program_functions  # noqa: F401  (registers the VLM functions: in every program's scope and the docs)
from avmine.atomic import compat
from avmine.atomic.program import ProgramError, ascii_quotes, prepare
from avmine.server.executor import memory, messages, policy
from avmine.server.executor.command import launch_command
from avmine.server.executor.link import WorkerBackend, WorkerLink
from avmine.server.executor.namespaces import SandboxUnavailableError
from avmine.server.executor.sandbox import Layers, Limits
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.bounds import ERROR_CHARS, bound
from avmine.store.database import Store
from avmine.store.errors import StoreError
from avmine.store.ids import by_prefix
from avmine.store.runs import LogResult, Run, record_run

PROBE_PROGRAM = "output_scenario({}, description, log_dir, output_dir)\n"
REUSE_LIMIT = 2048
"""Per-log results kept for re-use by identical runs."""
GRACE_SECONDS = 30.0
"""How long past a job's own wall-clock limit the executor waits for its worker before replacing it."""
POLL_SECONDS = 0.1
"""How often a waiting run looks at its cancellation flag."""
BATCHES_PER_WORKER = 2
"""A run's logs are cut into about this many batches per worker (fewer forks; the last ones balance the load)."""

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""Called as ``progress(logs_done, logs_total, log_id)`` each time a log finishes."""
Broker = Callable[[str, dict[str, Any]], dict[str, Any]]
"""Answers a program's VLM request for a log: ``broker(log_id, request) -> {"scenario": ...} | {"error": ...}``."""


@dataclass(frozen=True)
class LogSelection:
    """Which logs to run on: explicit ids, a split, or (neither) every log in the store."""

    logs: tuple[str, ...] = ()
    split: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The selection as stored with the run."""
        return {"logs": list(self.logs)} if self.logs else {"split": self.split} if self.split else {"all": True}


@dataclass
class Execution:
    """A finished run: per-log results and how long it took."""

    run_id: str
    prompt: str
    status: str
    results: list[LogResult]
    seconds: float
    function_seconds: dict[str, float] = field(default_factory=dict)
    layers: dict[str, bool | str] = field(default_factory=dict)
    error: str | None = None
    program: str = ""


_checked = False


def check_sandbox() -> None:
    """Make sure a worker can enter every sandbox layer on this machine (checked once per process).

    Raises:
        SandboxUnavailableError: the kernel refused a namespace or libseccomp is missing; the message is
            one paragraph saying what to change. No program runs until it is fixed.
    """
    global _checked
    if _checked:
        return
    done = subprocess.run(
        launch_command("--check"),
        capture_output=True, text=True, timeout=120, env=_worker_environment(),
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    reply = json.loads(lines[-1]) if lines else {}
    if not reply.get("ready"):
        why = f"the sandbox check failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        raise SandboxUnavailableError(str(reply.get("error") or why))
    _checked = True


def _worker_environment() -> dict[str, str]:
    """A minimal environment: nothing of the server's (API keys, tokens) is inherited by workers."""
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["AVMINE_COMPAT"] = json.dumps(asdict(compat.current()))
    return env


class _Worker(WorkerLink):
    """One warm worker process on this machine and the pipe protocol to it."""

    def __init__(self, cache_root: str, source: str, limits: Limits, memory_budget: int | None = None) -> None:
        env = _worker_environment()
        budget = [] if memory_budget is None else [f"--memory-budget={memory_budget}"]
        self.process = subprocess.Popen(
            launch_command(cache_root, source, json.dumps(asdict(limits)), *budget),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            process_group=0,  # a terminal's Ctrl-C reaches the command, which stops its workers; never a worker first
        )
        super().__init__(limits, str(self.process.pid))
        threading.Thread(target=self._pump, daemon=True).start()
        ready = self.read(120.0)
        if ready is None or not ready.get("ready"):
            self.stop()
            if ready is not None and ready.get("error"):  # the kernel refused a sandbox layer: say what to change
                raise SandboxUnavailableError(str(ready["error"]))
            raise RuntimeError("an executor worker failed to start (python -m avmine.server.executor.launch)")

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of stream: the worker exited; readers stop waiting at once

    @property
    def name(self) -> str:
        """The process id."""
        return str(self.process.pid)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def send(self, job: dict[str, Any]) -> None:
        """Write one message; a worker that is gone is logged here and its reader sees the end of its stream."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
        except OSError as exc:
            logger.error("could not write to executor worker %d: %s", self.process.pid, exc)

    def kill(self) -> None:
        """Stop at once (a cancelled run): the program it runs dies with it (its parent-death signal)."""
        with contextlib.suppress(ProcessLookupError):  # it exited already
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            logger.error("executor worker %d did not exit within 10 s of SIGKILL", self.process.pid)

    def stop(self) -> None:
        """Close the job stream (the worker disarms its waiting child and exits), then make sure it is gone."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # a broken pipe: it exited already
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            logger.warning("executor worker %d did not exit within 5 s of its job stream closing; killing it",
                           self.process.pid)  # fmt: skip
        self.kill()


class LocalBackend:
    """Workers as child processes of this one (the default backend)."""

    def check(self) -> None:
        """Make sure a worker can enter every sandbox layer on this machine."""
        check_sandbox()

    def size(self, requested: int | None) -> int:
        """``requested``, else one worker per core up to 4."""
        return requested or max(1, min(4, os.cpu_count() or 1))

    def start(
        self,
        count: int,
        cache_root: str,
        source: str,
        limits: Limits,
        memory_budget: int,
        running: list[WorkerLink],
        requested: int | None,
    ) -> list[WorkerLink]:
        """Start ``count`` worker processes, each with an even share of the budget."""
        share = max(1, memory_budget // (count + len(running)))
        return [_Worker(cache_root, source, limits, share) for _ in range(count)]

    def close(self) -> None:
        """Nothing to release."""


def default_backend() -> WorkerBackend:
    """The cluster chosen for this process (``--ray``, ``AVMINE_RAY_ADDRESS``), else the local pool."""
    from avmine.server.executor import cluster  # no Ray import unless a cluster was chosen

    return cluster.selected_backend() or LocalBackend()


class Executor:
    """Runs programs over logs in sandboxed workers and records every run in the store.

    Use as a context manager, or call ``close``. One executor serves many programs; its workers
    stay warm (runtime imported, logs loaded within ``memory_budget`` bytes, all workers together;
    ``memory.configured_budget`` when None) between them. ``source`` is the track source of calls
    that name none. ``backend`` says where workers run (``default_backend()`` when None: a Ray
    cluster chosen for this process, else child processes here); ``workers`` is then per node.
    """

    def __init__(
        self,
        store: Store,
        workers: int | None = None,
        source: str = ANNOTATIONS_SOURCE,
        limits: Limits | None = None,
        allow_missing_layers: bool = False,
        broker: Broker | None = None,
        memory_budget: int | None = None,
        backend: WorkerBackend | None = None,
    ) -> None:
        self.backend = backend or default_backend()
        self.backend.check()
        self.store = store
        self.broker = broker
        """Where programs' VLM calls go (the server's VLM); None: programs that call one get a clear error."""
        self.source = source
        self.limits = limits or Limits()
        self.allow_missing_layers = allow_missing_layers
        self._requested = workers
        self.memory_budget = memory.configured_budget(memory_budget)
        """Bytes all workers together may hold in loaded logs (each an even share)."""
        self._pool: list[WorkerLink] = []
        self._holder: dict[str, WorkerLink] = {}  # log id -> the worker that last ran it (holds it loaded)
        self._lock = threading.Lock()
        self._resolved: dict[tuple[LogSelection, str, int], dict[str, str]] = {}  # (.., source, generation) -> keys
        self._reuse: dict[tuple[str, ...], LogResult] = {}  # identical code on identical data: same answer
        # runs are written by a background thread on its own cursor, off the latency of each call
        self._records: queue.Queue[tuple[Run, list[LogResult]] | None] = queue.Queue()
        self._recorder = threading.Thread(target=self._record_loop, args=(store.con.cursor(),), daemon=True)
        self._recorder.start()

    def _record_loop(self, cursor: Any) -> None:
        while (item := self._records.get()) is not None:
            try:
                record_run(self.store, *item, con=cursor)
            except Exception:  # one bad record must not stop the recording of every later run
                logger.exception("could not record run %s", item[0].run_id)
            finally:
                self._records.task_done()
        self._records.task_done()
        cursor.close()

    def flush(self) -> None:
        """Wait until every finished run is written to the store."""
        self._records.join()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write the pending run records and stop the workers."""
        if self._recorder.is_alive():
            self._records.put(None)
            self._recorder.join()
        for worker in self._pool:
            worker.stop()
        self._pool.clear()
        self.backend.close()

    def _workers(self) -> list[WorkerLink]:
        with self._lock:
            self._pool = [w for w in self._pool if w.alive()]
            self._holder = {log_id: w for log_id, w in self._holder.items() if w.alive()}
            missing = self.backend.size(self._requested) - len(self._pool)
            if missing > 0:
                self._pool += self.backend.start(
                    missing,
                    str(self.store.cache_root),
                    self.source,
                    self.limits,
                    self.memory_budget,
                    self._pool,
                    self._requested,
                )
            return list(self._pool)

    def resolve(self, selection: LogSelection, source: str | None = None) -> list[str]:
        """The log ids of a selection that have the track source (this executor's default when None).

        Raises:
            StoreError: an unknown source or log id, or a selection with no logs.
        """
        source = source or self.source
        known = self.store.con.execute(
            "SELECT l.log_id, l.split FROM logs l JOIN track_sources s USING (log_id) "
            "WHERE s.source = ? ORDER BY log_id",
            [source],
        ).fetchall()
        if not known:
            sources = [str(r[0]) for r in self.store.con.execute(
                "SELECT DISTINCT source FROM track_sources ORDER BY source").fetchall()]  # fmt: skip
            raise StoreError(
                f"no log has track source {source!r} (sources: {', '.join(sources) or 'none; ingest logs first'}); "
                "name one of them, or ingest a tracker's output with `avmine ingest FILE --source NAME`."
            )
        if selection.logs:
            ids = [str(log) for log, _ in known]
            found, missing = [], []
            for wanted in selection.logs:  # a unique prefix (the 8 characters the tools show) will do
                if not wanted.strip() or not any(log.startswith(wanted.strip().lower()) for log in ids):
                    missing.append(wanted)
                else:
                    found.append(by_prefix(wanted, ids, "log", "list logs with `avmine stats`."))  # or ambiguous
            if missing:
                raise StoreError(
                    f"unknown log(s) for source '{source}': {', '.join(missing[:5])}; list logs with `avmine stats`."
                )
            return list(dict.fromkeys(found))
        chosen = [str(log) for log, split in known if selection.split is None or split == selection.split]
        if not chosen:
            splits = ", ".join(sorted({str(split) for _, split in known})) or "none"
            raise StoreError(f"no logs in split {selection.split!r} (splits with logs: {splits}).")
        return chosen

    def memory(self) -> list[dict[str, int]]:
        """Per worker: how many logs it holds loaded, the bytes they hold and its share of the budget."""
        reports = []
        for worker in self._workers():
            with worker.busy:
                worker.send({"job_id": "memory", "memory": True})
                reply = worker.read(GRACE_SECONDS)
            if reply is None or reply.get("job_id") != "memory":
                worker.stop()  # out of step with its replies: never reuse it
                continue
            reports.append({name: int(reply.get(name, 0)) for name in ("loaded_logs", "held_bytes", "budget_bytes")})
        return reports

    def layers(self) -> Layers:
        """Run a probe program and report which sandbox layers its process actually entered."""
        log_id = self.resolve(LogSelection())[0]
        self.store.load_arrays(log_id, self.source)
        worker = self._workers()[0]
        with worker.busy:
            worker.send({"job_id": "probe", "program": PROBE_PROGRAM, "prompt": "probe", "log_id": log_id,
                         "limits": asdict(self.limits), "allow_missing_layers": True})  # fmt: skip
            reply = worker.read(self.limits.wall_seconds + GRACE_SECONDS)
            if reply is None or reply.get("job_id") != "probe":
                worker.stop()  # out of step with its replies: never reuse it
                return Layers()
        return Layers(**messages.worker_result(reply, self.limits).get("layers", {}))

    def run(
        self,
        program: str,
        prompt: str,
        selection: LogSelection,
        origin: str = "cli",
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        source: str | None = None,
    ) -> Execution:
        """Run a program on every selected log and record the run (written in the background; see ``flush``).

        ``source`` is the track source the program sees (the log's annotations or a tracker's
        boxes); None: the executor's default.

        Nothing the program does raises here: syntax, policy and runtime errors, timeouts and
        limit breaches come back as per-log results with an error an agent can act on. Runs may
        overlap (from several threads); they share the worker pool. Setting ``cancel`` stops the
        run: logs in flight are abandoned (their workers replaced) and unstarted ones skipped, all
        recorded as cancelled.

        Raises:
            StoreError: the selection names unknown logs or none at all.
        """
        started = time.perf_counter()
        program = ascii_quotes(program)  # stored, hashed and run as the same text
        source = source or self.source
        cached = (selection, source, self.store.generation)
        if cached not in self._resolved:
            # checked once per selection until the next ingest: both cost a query per call otherwise
            resolved = self.resolve(selection, source)
            keys = self.store.ensure_caches(resolved, source)  # workers must read current caches
            self._resolved[cached] = {log_id: keys[log_id] for log_id in resolved}
        log_keys = self._resolved[cached]
        log_ids = list(log_keys)
        run = Run(
            prompt=prompt,
            program=program,
            source=source,
            log_selection=(LogSelection(tuple(log_ids)) if selection.logs else selection).as_json(),  # full ids
            origin=origin,
            details={"code_sha256": hashlib.sha256(program.encode()).hexdigest(), "limits": asdict(self.limits)},
        )
        if (cluster_address := getattr(self.backend, "address", None)) is not None:
            run.details["ray_cluster"] = cluster_address  # where its logs ran: the cluster's nodes, not this machine
        try:
            prepare(program, check=policy.enforce)
        except (ProgramError, policy.PolicyError) as exc:
            error = bound(str(exc), ERROR_CHARS)  # a policy error lists every violation: a program chooses how many
            results = [LogResult(log_id=log_id, status="error", error=error) for log_id in log_ids]
            self._records.put((run, results))
            return Execution(
                run.run_id, prompt, "rejected", results, time.perf_counter() - started, error=error, program=program
            )
        code_hash = str(run.details["code_sha256"])
        compat_key = json.dumps(asdict(compat.current()), sort_keys=True)

        def reuse_key(log_id: str) -> tuple[str, ...]:
            return (code_hash, prompt, log_id, log_keys[log_id], source, compat_key)

        reused = {
            log_id: dataclasses.replace(self._reuse[reuse_key(log_id)], seconds=0.0)
            for log_id in log_ids
            if reuse_key(log_id) in self._reuse
        }
        done = [len(reused)]
        if progress and reused:
            progress(len(reused), len(log_ids), "re-used results")

        def finished(log_id: str) -> None:
            done[0] += 1
            if progress:
                progress(done[0], len(log_ids), log_id)

        to_run = {k: v for k, v in log_keys.items() if k not in reused}
        replies = self._dispatch(program, prompt, to_run, finished, cancel or threading.Event(), source)
        results = [
            reused.get(log_id)
            or LogResult(
                log_id=log_id,
                status=replies[log_id]["status"],
                scenario=replies[log_id].get("scenario"),
                error=replies[log_id].get("error"),
                stdout=replies[log_id].get("stdout", ""),
                seconds=replies[log_id].get("seconds", 0.0),
                trace=replies[log_id].get("trace"),
            )
            for log_id in log_ids
        ]
        for result in results:
            if result.status == "ok" and result.log_id not in reused:
                self._reuse[reuse_key(result.log_id)] = result
        while len(self._reuse) > REUSE_LIMIT:  # oldest first: dicts keep insertion order
            del self._reuse[next(iter(self._reuse))]
        if reused:
            run.details["reused_logs"] = sorted(reused)
        self._records.put((run, results))
        function_seconds: dict[str, float] = {}
        layers: dict[str, bool | str] = {}
        for reply in replies.values():  # reused logs add no time: nothing ran for them
            for name, seconds in reply.get("function_seconds", {}).items():
                function_seconds[name] = function_seconds.get(name, 0.0) + seconds
            layers = reply.get("layers", layers)
        failed = sum(r.status != "ok" for r in results)
        status = "ok" if not failed else "failed" if failed == len(results) else "partial"
        if cancel is not None and cancel.is_set():
            status = "cancelled"
        seconds = time.perf_counter() - started
        return Execution(run.run_id, prompt, status, results, seconds, function_seconds, layers, program=program)

    def _dispatch(
        self,
        program: str,
        prompt: str,
        log_keys: dict[str, str],
        finished: Callable[[str], None],
        cancel: threading.Event,
        source: str,
        lost_once: set[str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Each log's reply; logs a lost worker held are run again once, logs no worker started get a second round."""
        last_round = lost_once is not None
        lost_once = set() if lost_once is None else lost_once
        try:
            workers = self._workers()
        except (RuntimeError, SandboxUnavailableError):
            if not last_round:
                raise
            workers = []  # a second round after a lost node: what cannot be started fails below, per log
        # each log goes to the worker that ran it last (it stays loaded there only), else to one by its id's
        # hash; an idle worker takes batches from the others' queues, so a slow log or a busy worker does not
        # hold a run back
        own: list[list[str]] = [[] for _ in workers]
        index_of = {id(worker): index for index, worker in enumerate(workers)}
        fair = math.ceil(len(log_keys) / max(1, len(workers)))  # a new worker gets its share, not only stolen work
        for log_id in log_keys if workers else ():
            holder = index_of.get(id(self._holder.get(log_id)))
            chosen = zlib.crc32(log_id.encode()) % len(workers) if holder is None else holder
            if len(own[chosen]) >= fair:
                chosen = min(range(len(workers)), key=lambda index: len(own[index]))
            own[chosen].append(log_id)
        per_worker = BATCHES_PER_WORKER if len(workers) > 1 else 1  # a lone worker has no one to balance with
        size = max(1, math.ceil(len(log_keys) / (max(1, len(workers)) * per_worker)))
        queues: list[collections.deque[list[str]]] = [
            collections.deque(names[start : start + size] for start in range(0, len(names), size)) for names in own
        ]
        taking = threading.Lock()
        replies: dict[str, dict[str, Any]] = {}

        def next_batch(index: int) -> list[str] | None:
            with taking:
                if queues[index]:
                    return queues[index].popleft()
                fullest = max(queues, key=len)
                return fullest.pop() if fullest else None

        def put_back(index: int, batch: list[str]) -> None:
            with taking:
                queues[index].appendleft(batch)

        def serve(index: int, worker: WorkerLink) -> None:
            while not cancel.is_set():
                with worker.busy:  # another run may hold this worker; its jobs wait for a free one
                    if not worker.alive():
                        return
                    batch = next_batch(index)
                    if batch is None:
                        return
                    job_id = f"{batch[0]}+{len(batch) - 1}"
                    worker.send(
                        {
                            "job_id": job_id,
                            "program": program,
                            "prompt": prompt,
                            "source": source,
                            # a re-ingested log is reloaded by the worker
                            "logs": [{"log_id": log_id, "cache_key": log_keys[log_id]} for log_id in batch],
                            "limits": asdict(self.limits),
                            "allow_missing_layers": self.allow_missing_layers,
                        }
                    )
                    waiting = list(batch)
                    while waiting:
                        reply = self._await(worker, cancel, waiting[0], job_id)
                        log_id = reply.get("log_id", waiting[0]) if reply is not None else None  # answered in order
                        if reply is None or reply.get("job_id") != job_id or log_id not in waiting:
                            # died, hung, cancelled or out of step: the log it ran fails (unless its machine
                            # was lost: then it runs again elsewhere, once), the others go back
                            lost = reply is None and not cancel.is_set() and worker.lost()
                            worker.kill() if cancel.is_set() else worker.stop()
                            if lost and waiting[0] not in lost_once:
                                logger.warning("executor worker %s was lost running %s; running it again elsewhere",
                                               worker.name, waiting[0])  # fmt: skip
                                lost_once.add(waiting[0])
                            else:
                                if cancel.is_set():
                                    replies[waiting[0]] = {"status": "cancelled", "error": "cancelled by the client"}
                                else:
                                    why = "the machines running this log were lost twice" if lost else (
                                        "the worker running this log stopped responding")  # fmt: skip
                                    replies[waiting[0]] = {"status": "error", "error": why}
                                finished(waiting[0])
                                waiting = waiting[1:]
                            if waiting:
                                put_back((index + 1) % len(queues), waiting)
                            return
                        waiting.remove(str(log_id))
                        replies[str(log_id)] = messages.worker_result(reply, self.limits)
                        self._holder[str(log_id)] = worker
                        finished(str(log_id))

        threads = [threading.Thread(target=serve, args=(i, w)) for i, w in enumerate(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        left = {log_id: key for log_id, key in log_keys.items() if log_id not in replies}
        if left and not last_round and not cancel.is_set():  # put back after the worker that would take them ended
            replies.update(self._dispatch(program, prompt, left, finished, cancel, source, lost_once))
        for log_id in log_keys:  # jobs left when every worker died, or never started before a cancel
            if cancel.is_set():
                replies.setdefault(log_id, {"status": "cancelled", "error": "cancelled by the client"})
            replies.setdefault(log_id, {"status": "error", "error": "no worker was available to run this log"})
        return replies

    def _await(self, worker: WorkerLink, cancel: threading.Event, log_id: str, job_id: str) -> dict[str, Any] | None:
        """The worker's next reply, or None when it stopped responding or the run was cancelled.

        VLM requests the program makes on the way are answered here, through the broker.
        """
        deadline = time.monotonic() + self.limits.wall_seconds + GRACE_SECONDS
        while not cancel.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                reply = worker.take(worker.lines.get(timeout=min(POLL_SECONDS, remaining)))
            except queue.Empty:
                continue
            if reply is None or "vlm_request" not in reply:
                return reply
            # the worker runs a batch's logs in order: the program asking is the one on the first unanswered log
            worker.send({"vlm_answer": self._broker_answer(log_id, reply["vlm_request"])})
        return None

    def _broker_answer(self, log_id: str, document: Any) -> dict[str, Any]:
        try:
            request = messages.vlm_request(document)  # checked by the worker too: this is the server's own check
        except messages.MessageError as exc:
            return {"error": str(exc)}
        if self.broker is None:
            return {"error": "no VLM is configured for this server; see AVMINE_VLM_BACKEND in the README"}
        if request.get("log_id") != log_id:  # a program asks only about its own log
            return {"error": "a VLM request may only concern the program's own log"}
        try:
            return self.broker(log_id, request)
        except (ValueError, RuntimeError) as exc:  # said for the program's author: bad argument, no VLM
            return {"error": str(exc)}
        except Exception as exc:  # the VLM's failure is the program's error, never the executor's
            return {"error": f"{type(exc).__name__}: {exc}"}
