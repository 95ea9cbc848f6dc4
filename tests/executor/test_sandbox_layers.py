"""The executor's own probe reports every layer active (the attacks themselves: test_os_boundary.py)."""

from __future__ import annotations

import os

from avmine.server.executor import Executor


def test_every_layer_is_active(executor: Executor) -> None:
    layers = executor.layers()
    assert layers.missing() == [], f"sandbox layers not active: {layers.missing()}"
    assert layers.mode == ("root" if os.getuid() == 0 else "user-namespace")
