"""``avmine stats``: what a database holds."""

from __future__ import annotations

import argparse
from typing import Any

from store import Store
from store.summary import format_summary, summarize


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``stats`` command."""
    parser = subparsers.add_parser("stats", help="summarise logs, tracks per category and ground truth")
    parser.add_argument("--log", dest="log_id", help="only this log")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    with Store.open(args.db, read_only=True) as store:
        print(f"Database: {store.path}")
        print(format_summary(summarize(store, args.log_id)))
    return 0
