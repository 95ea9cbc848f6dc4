"""Sandboxed execution of agent-written scenario programs (see SECURITY.md for the threat model)."""

import vlm.program_functions  # noqa: F401  (registers the VLM functions: in every program's scope and the docs)
from server.executor.executor import Execution, Executor, LogSelection
from server.executor.sandbox import Layers, Limits

__all__ = ["Execution", "Executor", "Layers", "Limits", "LogSelection"]
