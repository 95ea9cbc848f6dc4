"""The executor's seam between dispatch and where workers run: a link to one worker, and a backend that starts them.

A link speaks the worker's pipe protocol (``avmine.server.executor.messages``): the executor sends job
messages and reads reply lines, whether the worker process is a child of this process (the local
pool, ``avmine.server.executor.executor``) or of a Ray actor on another node (``avmine.server.executor.ray_backend``).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Protocol

from avmine.server.executor import messages
from avmine.server.executor.sandbox import Limits

logger = logging.getLogger(__name__)


class WorkerLink:
    """One warm worker: reply lines arrive on ``lines`` ("" once the worker is gone); jobs go out through ``send``."""

    def __init__(self, limits: Limits, name: str) -> None:
        self._name = name
        self.max_line = 8 * limits.result_bytes + (1 << 20)
        """The longest reply line accepted: a result re-encoded as ASCII JSON (``\\uXXXX``) and the rest."""
        self.lines: queue.Queue[str] = queue.Queue()
        self.busy = threading.Lock()
        """Held while a job is in flight: concurrent runs share the pool, one job per worker at a time."""

    @property
    def name(self) -> str:
        """Says which worker this is in logs and errors (a pid, or an actor and its node)."""
        return self._name

    def read(self, timeout: float) -> dict[str, Any] | None:
        """The next reply, or None when the worker exited, hung past ``timeout`` or wrote garbage."""
        try:
            return self.take(self.lines.get(timeout=timeout))
        except queue.Empty:
            return None

    def take(self, line: str) -> dict[str, Any] | None:
        """A reply line parsed; None at the end of the stream or for garbage."""
        if not line:
            self.lines.put("")  # keep the end-of-stream for later readers
            return None
        try:
            reply = messages.parse(line, self.max_line, "the worker's reply")
        except messages.MessageError as exc:
            logger.error("executor worker %s sent a malformed line: %s", self.name, exc)
            return None
        if not isinstance(reply, dict):
            logger.error("executor worker %s sent a reply that is not an object", self.name)
            return None
        return reply

    def send(self, job: dict[str, Any]) -> None:
        """Write one message; a worker that is gone is logged here and its reader sees the end of its stream."""
        raise NotImplementedError

    def alive(self) -> bool:
        """Whether the worker may still answer."""
        raise NotImplementedError

    def lost(self) -> bool:
        """Whether the worker went away with the machine or actor holding it (not through a program it ran).

        A log in flight on a lost worker is run again elsewhere, once; a worker that a program brought
        down is the program's error and is not retried.
        """
        return False

    def kill(self) -> None:
        """Stop at once (a cancelled run): the program it runs dies with it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Close the job stream (the worker exits), then make sure it is gone."""
        raise NotImplementedError


class WorkerBackend(Protocol):
    """Where an executor's workers run: this machine (the default) or a cluster."""

    def check(self) -> None:
        """Raise ``SandboxUnavailableError`` when no worker could enter every sandbox layer (checked at start)."""

    def size(self, requested: int | None) -> int:
        """How many workers the pool should hold now (``requested``: the caller's count, per machine)."""

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
        """Start up to ``count`` more workers beside ``running`` (``requested`` as for ``size``).

        Raises:
            SandboxUnavailableError: a worker's machine refused a sandbox layer.
            RuntimeError: a worker failed to start.
        """

    def close(self) -> None:
        """Release what the backend holds (its workers are stopped by the executor first)."""
