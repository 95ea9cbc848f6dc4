"""``avmine colors``: build RefAV's colour cache of each log's vehicles with the configured VLM."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.store import Store, ids, progress
from avmine.vlm.backends import VlmConfig, VlmUnavailableError, load_backend
from avmine.vlm.colors import build_color_cache
from avmine.vlm.service import VlmService


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``colors`` command."""
    parser = subparsers.add_parser(
        "colors",
        help="build RefAV's vehicle colour cache (read by is_color) with the configured VLM",
        description="The VLM is configured by AVMINE_VLM_BACKEND, AVMINE_VLM_MODEL and AVMINE_VLM_URL.",
    )
    parser.add_argument("--logs", nargs="+", default=(), help="log ids or unique prefixes (default: every log)")
    parser.add_argument("--split", help="every log of this split")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the cache log by log, with a progress bar; prints the colours found."""
    try:
        backend = load_backend(VlmConfig.from_env())
    except VlmUnavailableError as exc:
        print(f"avmine colors: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    with Store.open(args.db, create=False) as store:
        service = VlmService(backend, store)
        rows = store.con.execute("SELECT log_id, source_path, split FROM logs ORDER BY log_id").fetchall()
        wanted = {ids.log_id(store, log) for log in args.logs}  # unique prefixes will do
        chosen = [(log, path) for log, path, split in rows
                  if (not wanted or log in wanted) and (args.split is None or split == args.split)]  # fmt: skip
        if not chosen:
            print("avmine colors: no logs match; `avmine stats` lists them.", file=sys.stderr)
            return ExitCode.USAGE
        for log_id, path in chosen:
            arrays = store.load_arrays(log_id)
            source = Path(path) if Path(path).is_dir() else None
            with progress.bar(desc=log_id[:8], unit="vehicle") as bar:
                colours = build_color_cache(arrays, service, source, lambda _: bar.update())
            counts = Counter(c or "unknown" for c in colours.values())
            print(f"{log_id}: " + ", ".join(f"{name} {n}" for name, n in counts.most_common()))
    return ExitCode.OK
