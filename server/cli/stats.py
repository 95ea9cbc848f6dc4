"""``avmine stats``: what a database holds."""

from __future__ import annotations

import argparse
from typing import Any

from store import Store, ids
from store.summary import format_summary, summarize


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``stats`` command."""
    parser = subparsers.add_parser("stats", help="summarise logs, tracks per category and ground truth")
    parser.add_argument("--log", dest="log_id", help="only this log (its id or a unique prefix)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    with Store.open(args.db, read_only=True) as store:
        print(f"Database: {store.path}")
        log_id = ids.log_id(store, args.log_id) if args.log_id else None  # a unique prefix will do
        print(format_summary(summarize(store, log_id)))
    return 0
