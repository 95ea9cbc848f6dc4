"""The executor's workers on a Ray cluster: long-lived actors, each relaying to the worker process it started.

A Ray actor runs threads, and a user namespace can only be entered by a single-threaded process;
so an actor never forks sandboxes itself. It starts the same worker process the local pool starts
(``python -m avmine.server.executor.launch``, which enters the namespaces and forks a sandbox per batch)
and relays the pipe protocol's lines both ways. The head process dispatches, answers VLM requests,
reads what scoring needs and writes every record (one DuckDB writer); nodes run programs and, when
asked for many runs at once (``score``), compute their metrics. Per-log caches are
read where the database keeps them (``<db>.cache/``) on nodes that see that folder at the same path
(a shared filesystem); other nodes get each log's cache shipped once through the object store
(``avmine.server.executor.cache_shipping``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import subprocess
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from avmine.evaluation.score_runs import RunScore, ScoringInputs, score_inputs
from avmine.server import __version__
from avmine.server.executor import cache_shipping
from avmine.server.executor.cluster import ClusterError
from avmine.server.executor.command import launch_command
from avmine.server.executor.link import WorkerLink
from avmine.server.executor.namespaces import SandboxUnavailableError
from avmine.server.executor.sandbox import Limits

logger = logging.getLogger(__name__)

UNAUTHENTICATED = (
    "the Ray cluster at %s let this process in without a token: anyone who can reach its ports can run code on its "
    "nodes outside avmine's sandbox. Start every node with RAY_AUTH_MODE=token (and the token from `ray "
    "get-auth-token --generate`), and set the same two variables for avmine (README: Running on a Ray cluster)."
)
"""Said when the cluster accepted a client with no token (Ray's token authentication is off)."""

CONNECT_SECONDS = 5.0
"""How long the head's address may take to accept a connection before ``--ray`` gives up."""
START_SECONDS = 180.0
"""How long starting a node's workers may take (importing the runtime, the sandbox check)."""
READ_SECONDS = 1.0
"""How long one relayed read waits on the actor for a line (the head's reader asks again at once)."""
MAX_PER_NODE = 4
"""Workers per node when not given: one per core of the node, at most this many (as the local pool)."""
NODE_VARIABLES = ("PATH", "LANG", "LC_ALL", "TMPDIR")
"""Taken from the node's own environment for its worker; everything else comes from the head's minimal set."""


class WorkerRelay:
    """A Ray actor (``ray.remote`` applied below): one worker process on this node and its pipe, relayed.

    Reads run on their own actor thread, so a long-waiting read never holds up a send or a kill.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.local: Path | None = None
        """Where this node keeps shipped caches; None: it reads the head's cache folder (shared)."""

    def start(self, cache_root: str, argv: list[str], head_env: dict[str, str]) -> dict[str, Any]:
        """Start the worker and return its first line ("ready" or why not), with this node's address."""
        where = {"node": ray.util.get_node_ip_address(), "version": __version__}  # type: ignore[no-untyped-call]
        if cache_shipping.ships(cache_root):  # no shared folder here: the head ships each log's cache once
            self.local = cache_shipping.local_root(cache_root)
            self.local.mkdir(parents=True, exist_ok=True)
            cache_root = str(self.local)
        env = {name: os.environ[name] for name in NODE_VARIABLES if name in os.environ} | head_env
        self.process = subprocess.Popen(
            launch_command(cache_root, *argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            first = self.lines.get(timeout=START_SECONDS)
        except queue.Empty:
            first = ""
        return {**where, "line": first, "shipped": self.local is not None}

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def send(self, line: str, shipped: list[tuple[str, str, Any]] | None = None) -> bool:
        """Write one protocol line, after unpacking the shipped caches of its logs; False when the worker is gone."""
        assert self.process is not None and self.process.stdin is not None
        for log_id, cache_key, packed in shipped or []:
            if self.local is not None:
                cache_shipping.unpack(self.local, log_id, cache_key, packed)
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except OSError:
            return False
        return True

    def read(self, wait: float) -> list[str]:
        """The lines the worker wrote since the last read, waiting up to ``wait`` seconds for one ("" at its end)."""
        try:
            lines = [self.lines.get(timeout=wait)]
        except queue.Empty:
            return []
        while lines[-1] and not self.lines.empty():
            lines.append(self.lines.get())
        return lines

    def ping(self) -> bool:
        """Answers while the actor lives."""
        return True

    def kill(self) -> None:
        """SIGKILL the worker (a cancelled run); its sandboxed program dies with it (parent-death signal)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)

    def stop(self) -> None:
        """Close the job stream (the worker exits), then make sure it is gone."""
        if self.process is None:
            return
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


_remote: Any = ray.remote  # its overloads do not list actor options
_Relay: Any = _remote(num_cpus=0, max_concurrency=4)(WorkerRelay)


class RayWorker(WorkerLink):
    """The head's link to one relay actor: a reader thread moves the actor's lines onto ``lines``."""

    def __init__(
        self, actor: Any, node_id: str, node: str, limits: Limits, shipping: tuple[Any, str] | None = None
    ) -> None:
        super().__init__(limits, f"actor on node {node}")
        self.actor = actor
        self.node_id = node_id
        self.shipping = shipping
        """(the head's ``Shipments``, its cache folder) where this node keeps shipped caches; None: it shares ours."""
        self._ended = threading.Event()
        self._actor_died = False
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while not self._ended.is_set():
            try:
                lines = ray.get(self.actor.read.remote(READ_SECONDS))
            except RayError:  # the actor or its node died
                self._actor_died = True
                break
            for line in lines:
                if not line:
                    self._ended.set()
                    break
                self.lines.put(line)
        self._ended.set()
        self.lines.put("")

    def send(self, job: dict[str, Any]) -> None:
        """Relay one message (waiting for it to be written: messages must arrive in order)."""
        shipped = None
        if self.shipping is not None:
            shipments, cache_root = self.shipping
            logs = job.get("logs") or ([{"log_id": job["log_id"], "cache_key": ""}] if "log_id" in job else [])
            shipped = [
                (x["log_id"], x["cache_key"], shipments.ref(cache_root, x["log_id"], x["cache_key"])) for x in logs
            ]
        try:
            if ray.get(self.actor.send.remote(json.dumps(job), shipped)):
                return
            logger.error("could not write to executor worker %s: it exited", self.name)
        except RayError as exc:  # the actor died, or could not unpack a cache: its logs are run elsewhere
            self._actor_died = True
            self._ended.set()
            self.lines.put("")
            logger.error("could not reach executor worker %s: %s", self.name, exc)

    def alive(self) -> bool:
        """Whether the worker's stream is still open."""
        return not self._ended.is_set()

    def lost(self) -> bool:
        """The actor died with its worker (its node went away), rather than the worker alone exiting."""
        if self._actor_died:
            return True
        try:
            ray.get(self.actor.ping.remote(), timeout=5.0)
        except (RayError, GetTimeoutError):
            self._actor_died = True
        return self._actor_died

    def kill(self) -> None:
        """Kill the worker on its node, then the actor."""
        self._end(self.actor.kill)

    def stop(self) -> None:
        """Stop the worker on its node, then the actor."""
        self._end(self.actor.stop)

    def _end(self, method: Any) -> None:
        self._ended.set()
        with contextlib.suppress(RayError, GetTimeoutError):
            ray.get(method.remote(), timeout=20.0)
        with contextlib.suppress(RayError):
            ray.kill(self.actor)


def _check_reachable(address: str) -> None:
    """Fail at once, saying so, where a ``HOST:PORT`` accepts no connection (ray.init would wait a long time)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(
            f"--ray {address!r} is not a cluster address: give the head's HOST:PORT (what `ray start --head` "
            "prints, e.g. 10.0.0.5:6379) or 'auto' on a machine that joined the cluster."
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ClusterError(
            f"no Ray cluster answers at {address} ({exc}). Start its head with `ray start --head` (it prints the "
            "address), check the address and that this machine can reach that port, or leave out --ray (and "
            "unset AVMINE_RAY_ADDRESS) to run on this machine."
        ) from None


def _alive_nodes() -> list[dict[str, Any]]:
    return [node for node in ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call]


class RayBackend:
    """Workers as relay actors spread over a Ray cluster's nodes (``workers`` per node, else one per core up to 4).

    ``memory_budget`` is per node: each node's workers share it evenly.
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self.shipments = cache_shipping.Shipments()
        self._checked: set[str] = set()
        self._refused: set[str] = set()
        """Nodes whose workers could not start (no sandbox, no cache folder, another avmine): never used again."""
        self.scored_on: dict[str, int] = {}
        """Runs scored per node id (``score``)."""

    @classmethod
    def connect(cls, address: str) -> RayBackend:
        """Join the cluster at ``address`` ('auto': the one this machine belongs to).

        Raises:
            ClusterError: nothing answers there, or it is not a Ray cluster.
        """
        if address != "auto":
            _check_reachable(address)
        if not ray.is_initialized():
            try:
                ray.init(address=address, namespace="avmine", log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(
                    f"could not join the Ray cluster at {address}: {exc}. Start one with `ray start --head`, or "
                    "give its address as --ray HOST:PORT."
                ) from None
        if not _alive_nodes():
            raise ClusterError(f"the Ray cluster at {address} has no live node")
        if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            logger.warning(UNAUTHENTICATED, address)
        return cls(address)

    def check(self) -> None:
        """Make sure the nodes' workers can enter every sandbox layer (each node once); refuse those that cannot.

        Raises:
            SandboxUnavailableError: no node can; the message is the first node's, naming it.
        """
        from avmine.server.executor.executor import _worker_environment

        nodes = [node for node in self._usable() if node["NodeID"] not in self._checked]
        pending = [
            _sandbox_check.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote({k: v for k, v in _worker_environment().items() if k not in NODE_VARIABLES})
            for node in nodes
        ]
        refusals = []
        for node, reply in zip(nodes, ray.get(pending, timeout=START_SECONDS), strict=True):
            self._checked.add(node["NodeID"])
            if not reply.get("ready"):
                self._refused.add(node["NodeID"])
                where = f"{node.get('NodeManagerAddress')} ({node['NodeID'][:8]})"
                refusals.append(f"on node {where}: {reply.get('error') or reply}")
                logger.error("a node of the Ray cluster was refused: %s", refusals[-1])
        if refusals and not self._usable():
            raise SandboxUnavailableError(refusals[0])

    def _per_node(self, node: dict[str, Any], requested: int | None) -> int:
        return requested or max(1, min(MAX_PER_NODE, int(node.get("Resources", {}).get("CPU", 1))))

    def _usable(self) -> list[dict[str, Any]]:
        return [node for node in _alive_nodes() if node["NodeID"] not in self._refused]

    def size(self, requested: int | None) -> int:
        """Workers over the live nodes (less those refused)."""
        return sum(self._per_node(node, requested) for node in self._usable())

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
        """Start relay actors on the nodes with the fewest of theirs running, then wait for their workers."""
        from avmine.server.executor.executor import _worker_environment  # the same minimal environment as local workers

        head_env = {k: v for k, v in _worker_environment().items() if k not in NODE_VARIABLES}
        held: dict[str, int] = {}
        for worker in running:
            if isinstance(worker, RayWorker):
                held[worker.node_id] = held.get(worker.node_id, 0) + 1
        nodes = self._usable()
        placed: list[tuple[str, Any, Any]] = []
        for _ in range(count):
            free = [(self._per_node(n, requested) - held.get(n["NodeID"], 0), n) for n in nodes]
            room, node = max(free, key=lambda item: item[0], default=(0, {}))
            if room <= 0:
                break
            held[node["NodeID"]] = held.get(node["NodeID"], 0) + 1
            share = max(1, memory_budget // self._per_node(node, requested))
            argv = [source, json.dumps(asdict(limits)), f"--memory-budget={share}"]
            actor = _Relay.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote()
            placed.append((node["NodeID"], actor, actor.start.remote(cache_root, argv, head_env)))
        started: list[WorkerLink] = []
        problems: list[Exception] = []
        for node_id, actor, pending in placed:
            try:
                reply = ray.get(pending, timeout=START_SECONDS)
            except GetTimeoutError:
                problems.append(ClusterError(f"a worker on node {node_id[:8]} did not start in {START_SECONDS:.0f} s"))
                ray.kill(actor)
                continue
            except RayError as exc:
                if "ModuleNotFoundError" in str(exc):
                    raise ClusterError(
                        f"a node of the Ray cluster cannot import avmine ({str(exc).splitlines()[-1]}): install "
                        "avmine with its Ray extra on every node, in the Python environment `ray start` runs."
                    ) from None
                problems.append(ClusterError(f"a worker on node {node_id[:8]} failed to start: {exc}"))
                continue
            error = self._start_problem(reply)
            if error is not None:  # that node refuses jobs from now on; the others serve
                ray.kill(actor)
                self._refused.add(node_id)
                problems.append(error)
                continue
            shipping = (self.shipments, cache_root) if reply.get("shipped") else None
            started.append(RayWorker(actor, node_id, str(reply["node"]), limits, shipping))
        if problems and not started and not running:
            if all(isinstance(problem, SandboxUnavailableError) for problem in problems):
                raise problems[0]
            raise ClusterError("; ".join(str(problem) for problem in problems))
        for problem in problems:
            logger.error("a node of the Ray cluster was refused: %s", problem)
        return started

    def _start_problem(self, reply: dict[str, Any]) -> Exception | None:
        node = reply.get("node", "?")
        if reply.get("version") != __version__:
            return ClusterError(
                f"node {node} runs avmine {reply.get('version')}, this process {__version__}: install the same "
                "avmine on every node."
            )
        try:
            ready = json.loads(reply.get("line") or "{}")
        except json.JSONDecodeError:
            ready = {}
        if ready.get("ready"):
            return None
        if ready.get("error"):
            return SandboxUnavailableError(f"on node {node}: {ready['error']}")
        return ClusterError(
            f"an executor worker failed to start on node {node} (python -m avmine.server.executor.launch)"
        )

    def close(self) -> None:
        """Nothing: the connection serves every executor of this process until it exits."""

    def score(self, inputs: list[ScoringInputs], reveal: bool = False) -> list[RunScore]:
        """Each run's metrics computed on the cluster's nodes (one task per run, nodes in turn), in ``inputs``' order.

        The head read ``inputs`` from the database; tasks only compute (``score_inputs``) and never write.
        Refused nodes get none. ``scored_on`` counts the runs each node scored.
        """
        started = time.perf_counter()
        nodes = [node["NodeID"] for node in self._usable()] or [node["NodeID"] for node in _alive_nodes()]
        replies = ray.get([
            _score.options(scheduling_strategy=NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True))
            .remote(one, reveal)
            for i, one in enumerate(inputs)
        ])  # fmt: skip
        for node_id, _ in replies:
            self.scored_on[node_id] = self.scored_on.get(node_id, 0) + 1
        logger.info("scored %d runs on the cluster in %.2f s", len(inputs), time.perf_counter() - started)
        return [score for _, score in replies]

    def precompute(self, items: list[tuple[str, str]]) -> None:
        """Compute the map features of each (log directory, source) on the cluster's nodes, one task per log."""
        started = time.perf_counter()
        ray.get([_precompute.remote(log_dir, source) for log_dir, source in items])
        logger.info("map features of %d logs on the cluster in %.1f s", len(items), time.perf_counter() - started)


@ray.remote(num_cpus=0)
def _sandbox_check(head_env: dict[str, str]) -> dict[str, Any]:
    env = {name: os.environ[name] for name in NODE_VARIABLES if name in os.environ} | head_env
    done = subprocess.run(
        launch_command("--check"),
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    try:
        return dict(json.loads(lines[-1])) if lines else {"error": done.stderr.strip()[-2000:]}
    except json.JSONDecodeError:
        return {"error": lines[-1]}


@ray.remote(num_cpus=1)
def _score(inputs: ScoringInputs, reveal: bool) -> tuple[str, RunScore]:
    return ray.get_runtime_context().get_node_id(), score_inputs(inputs, reveal)


@ray.remote(num_cpus=1)
def _precompute(log_dir: str, source: str) -> None:
    from avmine.atomic.context import set_active_source
    from avmine.atomic.map_features import precompute

    set_active_source(source)
    precompute(Path(log_dir))
