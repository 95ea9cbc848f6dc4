"""The scenario-program runtime: RefAV's atomic functions over per-log arrays, and the scenario algebra.

Importing ``atomic`` registers the per-log context resolver, so lifted functions find their log
from ``log_dir`` (a log's cache directory).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avmine.atomic.context import context_for
from avmine.atomic.timelines import set_context_resolver

set_context_resolver(context_for)

from avmine.atomic.functions import FUNCTIONS  # noqa: E402  (the resolver must be registered first)


def program_namespace() -> dict[str, Any]:
    """The names a scenario program sees besides log_dir, output_dir and description: the functions and np."""
    return {**FUNCTIONS, "np": np}


__all__ = ["FUNCTIONS", "program_namespace"]
