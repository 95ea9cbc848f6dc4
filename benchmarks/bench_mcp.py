"""MCP round-trip latency: listing tools, fetching docs and execute_scenario on the demo logs.

The same calls through the SDK's client over an in-memory session (no transport: the server's own
cost), over stdio to ``avmine serve`` and over streamable HTTP to it. Prints p50/p95 per call and
the transport's ratio to in-memory. execute_scenario runs one program on the four demo logs, with
a fresh comment each call so no result is re-used.

    python benchmarks/bench_mcp.py [--repeat N]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from avmine.server.ingestion import prepare_logs
from avmine.server.mcp.app import create_server
from avmine.store import Store
from avmine.store.demo import ingest_demo

PROGRAM = (
    "vehicles = get_objects_of_category(log_dir, category='VEHICLE')\n"
    "peds = get_objects_of_category(log_dir, category='PEDESTRIAN')\n"
    "output_scenario(near_objects(vehicles, peds, log_dir, distance_thresh=10), description, log_dir, output_dir)\n"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def connect(transport: str, db: Path) -> AsyncIterator[Client]:
    """A connected client over the named transport."""
    if transport == "memory":
        async with Client(create_server(db)) as client:
            yield client
        return
    command = [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "serve"]
    if transport == "stdio":
        async with Client(StdioServerParameters(command=command[0], args=command[1:])) as client:
            yield client
        return
    port = _free_port()
    server = subprocess.Popen([*command, "--transport", "http", "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


async def measure(transport: str, db: Path, repeat: int) -> dict[str, list[float]]:
    """Seconds per call of each kind, after one warm-up call each."""
    times: dict[str, list[float]] = {"list_tools": [], "get_function_docs": [], "execute_scenario": []}
    counter = iter(range(1_000_000))
    async with connect(transport, db) as client:
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "list_tools": client.list_tools,
            "get_function_docs": lambda: client.call_tool("get_function_docs", {"names": ["near_objects", "turning"]}),
            "execute_scenario": lambda: client.call_tool(
                "execute_scenario", {"program": PROGRAM + f"# {transport} {next(counter)}\n", "prompt": "bench"}
            ),
        }
        for name, call in calls.items():
            await call()  # warm: workers started, logs loaded, docs built
            for _ in range(repeat):
                started = time.perf_counter()
                result = await call()
                times[name].append(time.perf_counter() - started)
                assert not getattr(result, "is_error", False), result
                await anyio.sleep(0.05)  # an agent reads each answer before the next call
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        with Store.open(db) as store:
            reports = ingest_demo(store, progress=False)
            prepare_logs(store, [(s, log) for r in reports for s, log, *_ in r.sources], progress=False)
        transports = ("memory", "stdio", "http")
        results = {transport: anyio.run(measure, transport, db, args.repeat) for transport in transports}
    print(f"{'call':<20}{'transport':<10}{'p50 ms':>9}{'p95 ms':>9}{'p50 vs memory':>15}")
    for name in results["memory"]:
        base = statistics.median(results["memory"][name])
        for transport, times in results.items():
            p50 = statistics.median(times[name])
            p95 = statistics.quantiles(times[name], n=20)[-1]
            print(f"{name:<20}{transport:<10}{p50 * 1e3:9.1f}{p95 * 1e3:9.1f}{p50 / base:14.2f}x")


if __name__ == "__main__":
    main()
