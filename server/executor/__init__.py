"""Sandboxed execution of agent-written scenario programs (see SECURITY.md for the threat model).

The package imports its parts lazily: a worker process must enter its namespaces while it is still
single-threaded, before NumPy, pandas and the runtime are imported (``avmine.server.executor.launch``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avmine.server.executor.executor import Execution, Executor, LogSelection
    from avmine.server.executor.sandbox import Layers, Limits

__all__ = ["Execution", "Executor", "Layers", "Limits", "LogSelection"]
_HOMES = {
    "Execution": "executor",
    "Executor": "executor",
    "LogSelection": "executor",
    "Layers": "sandbox",
    "Limits": "sandbox",
}


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(f"avmine.server.executor.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'avmine.server.executor' has no attribute {name!r}")
