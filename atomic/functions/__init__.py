"""The RefAV-compatible atomic functions, grouped by what they look at.

Importing the package imports each of its modules, whose functions are listed where they are
declared (``avmine.atomic.listing.listed``). ``FUNCTIONS`` maps each public name to its function, in the
order the docs list them; ``EXTENSION_KINDS`` labels those that are not RefAV's.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import avmine.atomic.algebra  # lists the combinators
import avmine.atomic.output  # noqa: F401  (lists output_scenario)
from avmine.atomic.listing import EXTENSION_KINDS, FUNCTIONS, LISTED, list_functions

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def register_functions(functions: dict[str, Callable[..., Any]], kind: str) -> None:
    """Add functions from a higher layer (the VLM functions) to every program's scope and to the docs.

    Raises:
        ValueError: a name that another function already has (each name is declared once), or a key
            that is not its function's name.
    """
    list_functions(functions, kind)


def map_mask_functions() -> frozenset[str]:
    """Names of the functions that read a log's default map masks (declared with ``uses_map_masks``)."""
    return frozenset(name for name, entry in LISTED.items() if entry.uses_map_masks)


__all__ = ["EXTENSION_KINDS", "FUNCTIONS", "map_mask_functions", "register_functions"]
