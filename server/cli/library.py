"""``avmine library``: the few-shot library: search it, export it to JSON lines, import it from them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from store import Store
from store.library import export_jsonl, import_jsonl, search_examples


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``library`` command."""
    parser = subparsers.add_parser("library", help="search, export or import the few-shot library (JSON lines)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    search = actions.add_parser("search", help="the examples whose prompts best match words (BM25)")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=5)
    export = actions.add_parser("export", help="write every example to a JSON-lines file")
    export.add_argument("file", type=Path)
    load = actions.add_parser("import", help="add the examples of a JSON-lines file (duplicates skipped)")
    load.add_argument("file", type=Path)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Do the action; errors in an import file name its line."""
    with Store.open(args.db) as store:
        if args.action == "search":
            for example in search_examples(store, args.query, args.limit):
                score = f"  (Timestamp BA {example.timestamp_ba:.3f})" if example.timestamp_ba is not None else ""
                print(f"# {example.prompt}{score}\n{example.program.strip()}\n")
        elif args.action == "export":
            print(f"wrote {export_jsonl(store, args.file)} examples to {args.file}")
        else:
            added, skipped = import_jsonl(store, args.file)
            print(f"imported {added} examples from {args.file} ({skipped} already in the library)")
    return 0
