"""Answering programs' VLM calls: the brokered requests sandboxed programs send.

See ``avmine.vlm.program_functions``.
"""

from __future__ import annotations

import threading
from typing import Any

from avmine.store import Store
from avmine.vlm.backends import VlmConfig, load_backend
from avmine.vlm.functions import evaluate, occluded_by
from avmine.vlm.program_functions import is_occluded_by
from avmine.vlm.service import VlmService


class VlmBroker:
    """The VLM service for one store and track source, loaded on first use (a local model takes a while)."""

    def __init__(self, store: Store, source: str, config: VlmConfig) -> None:
        self.store = store
        self.source = source
        self.config = config
        self._service: VlmService | None = None
        self._lock = threading.Lock()

    def service(self) -> VlmService:
        """The service (loaded once).

        Raises:
            VlmUnavailableError: none configured; the message says how to configure one.
        """
        with self._lock:
            if self._service is None:
                self._service = VlmService(load_backend(self.config), self.store)
            return self._service

    def answer(self, log_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a program's VLM call: the candidates' timestamps to keep.

        Raises:
            VlmUnavailableError: no VLM configured (the executor hands the message to the program).
            ValueError: an unknown function or a bad argument.
        """
        service = self.service()
        scenario = {str(uuid): [int(t) for t in stamps] for uuid, stamps in request["scenario"].items()}
        arrays = self.store.load_arrays(log_id, self.source)
        images = self.store.log_directory(log_id)
        if request.get("function") == is_occluded_by.__name__:  # the one relation: it sends its related objects
            related = {str(uuid): [int(t) for t in stamps] for uuid, stamps in dict(request["related"]).items()}
            return {"scenario": occluded_by(scenario, related, arrays, service, images)}
        kept = evaluate(str(request.get("function")), scenario, arrays, service, request.get("value"), images)
        return {"scenario": kept}
