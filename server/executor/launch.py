"""A worker process's entry point: its namespaces first, then the runtime.

    python -m avmine.server.executor.launch CACHE_ROOT [SOURCE [LIMITS_JSON]]
    python -m avmine.server.executor.launch --check   # can a worker enter every layer here? (one JSON line)

A user namespace can only be created by a single-threaded process, and importing pandas starts a
thread; so this module imports nothing but the namespace code until the namespaces are entered.
"""

from __future__ import annotations

import json
import os
import sys

from avmine.server.executor import namespaces


def main(argv: list[str]) -> None:
    """Enter the worker's namespaces (or say why not, on the protocol stream), then serve jobs."""
    try:
        identity = namespaces.enter_worker_namespaces()
    except namespaces.SandboxUnavailableError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), flush=True)
        return
    if argv == ["--check"]:
        from avmine.server.executor import sandbox

        try:
            sandbox.prepare(identity)
        except sandbox.SandboxError as exc:
            print(json.dumps({"ready": False, "error": str(exc)}), flush=True)
            return
        print(json.dumps({"ready": True}), flush=True)
        return
    from avmine.server.executor import worker

    worker.main(argv, identity)
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: freeing hundreds of loaded logs one object at a time takes seconds


if __name__ == "__main__":
    main(sys.argv[1:])
