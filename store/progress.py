"""Progress bars: drawn only on a terminal, so logs and pipes never get carriage-return noise."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def on_terminal() -> bool:
    """Whether standard error is a terminal, where a progress bar may be drawn."""
    return sys.stderr.isatty()


def bar(*items: Any, wanted: bool = True, **options: Any) -> tqdm:
    """A tqdm bar on standard error, disabled unless ``wanted`` and standard error is a terminal."""
    return tqdm(*items, file=sys.stderr, disable=not (wanted and on_terminal()), **options)
