"""Sandboxed execution of agent-written scenario programs (see SECURITY.md for the threat model)."""

from server.executor.executor import Execution, Executor, LogSelection
from server.executor.sandbox import Layers, Limits

__all__ = ["Execution", "Executor", "Layers", "Limits", "LogSelection"]
