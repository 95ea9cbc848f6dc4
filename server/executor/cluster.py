"""Which cluster this process runs programs on: ``--ray ADDRESS`` or ``AVMINE_RAY_ADDRESS``, else none.

Imports nothing of Ray: a process without a cluster never loads it (``avmine[ray]`` is an extra).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avmine.server.executor.ray_backend import RayBackend

ENVIRONMENT = "AVMINE_RAY_ADDRESS"

_selected: RayBackend | None = None


class ClusterError(RuntimeError):
    """A Ray cluster that cannot be used: unreachable, Ray missing, or a node without avmine; says what to do."""


def add_ray_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray ADDRESS`` to a command that runs programs or builds caches."""
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help=f"run on a Ray cluster: its head's HOST:PORT (what `ray start --head` prints) or 'auto' for the "
        f"cluster this machine joined (default ${ENVIRONMENT}; unset: workers on this machine). Needs avmine[ray] "
        "on every node; nodes read the database's cache folder where they share it, else get logs shipped",
    )


def address_from(args: argparse.Namespace) -> str | None:
    """The cluster address the arguments (or the environment) name; None: run locally."""
    address = getattr(args, "ray", None) or os.environ.get(ENVIRONMENT, "")
    return address.strip() or None


def select(address: str | None) -> None:
    """Connect this process to the cluster at ``address`` (None: keep the local pool); executors made later use it.

    Raises:
        ClusterError: Ray is not installed, or no cluster answers at ``address``.
    """
    global _selected
    if address is None:
        return
    try:
        from avmine.server.executor.ray_backend import RayBackend
    except ImportError as exc:
        raise ClusterError(
            f"--ray needs Ray, which is not installed here ({exc}); install avmine with its Ray extra "
            "(pip install 'avmine[ray]') on this machine and on every node of the cluster."
        ) from None
    _selected = RayBackend.connect(address)


def selected_backend() -> RayBackend | None:
    """The cluster this process runs on, or None (the local pool)."""
    return _selected
