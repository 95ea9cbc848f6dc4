"""Per-call cost of a command beside a running server: forwarded over ``<db>.sock`` vs opening the database.

Builds a database of N logs (the demo log copied under new ids, boxes and poses included), then
times ``stats`` two ways, in this process so that Python's start-up is not counted:

- forwarded: connect to the socket of a running ``avmine serve`` and run the command in it (what
  avmine does);
- open per call: open the database, run the command, close it (what every process would pay if
  the server held the file only while writing, the alternative ``avmine.server.sharing`` weighs).

    python benchmarks/bench_shared_db.py [--logs 150] [--repeat 20]
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from avmine.server.cli import build_parser
from avmine.server.sharing import socket_file
from avmine.server.sharing.commands import CommandContext
from avmine.server.sharing.protocol import COMMAND, encode
from avmine.store import Store, ingest
from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.paths import socket_path_for

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"
COPIED = ("logs", "ego_poses", "maps", "track_sources", "boxes")


def build(db: Path, logs: int) -> None:
    """The demo log and ``logs - 1`` copies of it under new ids."""
    with Store.open(db) as store:
        ingest(store, SCENARIO_MINING_DIR / LOG, split="val", progress=False)
        with store.transaction() as con:
            for i in range(1, logs):
                new_id = f"{i:08x}-0000-0000-0000-000000000000"
                for table in COPIED:
                    columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
                    chosen = ", ".join("? AS log_id" if c == "log_id" else c for c in columns)
                    con.execute(f"INSERT INTO {table} SELECT {chosen} FROM {table} WHERE log_id = ?", [new_id, LOG])


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=20)
    options = parser.parse_args()
    db = Path(tempfile.mkdtemp(prefix="avmine-shared-")) / "shared.duckdb"
    started = time.perf_counter()
    build(db, options.logs)
    print(f"{options.logs} logs built in {time.perf_counter() - started:.1f} s")
    commands = {"stats": ["stats"], "library search": ["library", "search", "turning left"]}
    opened: dict[str, list[float]] = {name: [] for name in commands}
    for name, words in commands.items():
        for _ in range(options.repeat):
            t = time.perf_counter()
            args = build_parser().parse_args(["--db", str(db), *words])
            module = importlib.import_module(f"avmine.server.cli.{args.command}")
            with Store.open(db, read_only=True) as store:
                module.operate(args, CommandContext(store, io.StringIO(), io.StringIO()))
            opened[name].append(time.perf_counter() - t)

    server = subprocess.Popen(
        [sys.executable, "-m", "avmine.server.cli", "--db", str(db), "serve"], stdin=subprocess.PIPE
    )
    forwarded: dict[str, list[float]] = {name: [] for name in commands}
    try:
        while socket_file.connect(socket_path_for(db)) is None:
            time.sleep(0.1)
        for name, words in commands.items():
            for _ in range(options.repeat):
                t = time.perf_counter()
                connection = socket_file.connect(socket_path_for(db))
                assert connection is not None
                request = {"avmine": COMMAND, "argv": ["--db", str(db), *words], "cwd": str(db.parent), "stdin": None}
                with connection, connection.makefile("rb") as replies:
                    connection.sendall(encode(request))
                    answer = json.loads(replies.readline())
                assert answer["exit"] == 0, answer
                forwarded[name].append(time.perf_counter() - t)
    finally:
        server.terminate()
        server.wait()
    for name in commands:
        print(f"{name}: opening the database per call {percentiles(opened[name])}; "
              f"forwarded to the server {percentiles(forwarded[name])}")  # fmt: skip


if __name__ == "__main__":
    main()
