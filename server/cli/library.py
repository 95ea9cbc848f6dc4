"""``avmine library``: search the few-shot library, export it as JSON lines, import JSON lines or RefAV's examples."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from store import Store
from store.library import REFAV_EXAMPLES, export_jsonl, import_jsonl, import_refav_examples, search_examples


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``library`` command."""
    parser = subparsers.add_parser("library", help="search, export or import the few-shot library (JSON lines)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    search = actions.add_parser("search", help="the examples whose prompts best match words (BM25)")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=5)
    export = actions.add_parser("export", help="write every example to a JSON-lines file")
    export.add_argument("file", type=Path)
    load = actions.add_parser(
        "import",
        help="add the examples of a JSON-lines file, or with --refav RefAV's examples (duplicates skipped)",
    )
    load.add_argument("file", type=Path, nargs="?", help="the file (with --refav: default RefAV's, shipped)")
    load.add_argument("--refav", action="store_true", help="the file is in RefAV's examples.txt format")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Do the action; errors in an import file name its line."""
    with Store.open(args.db, create=args.action == "import") as store:
        if args.action == "search":
            for example in search_examples(store, args.query, args.limit):
                score = f"  (Timestamp BA {example.timestamp_ba:.3f})" if example.timestamp_ba is not None else ""
                print(f"# {example.prompt}{score}\n{example.program.strip()}\n")
        elif args.action == "export":
            print(f"wrote {export_jsonl(store, args.file)} examples to {args.file}")
        elif args.refav:
            source = args.file or REFAV_EXAMPLES
            added, skipped = import_refav_examples(store, source)
            print(f"imported {added} RefAV examples from {source} ({skipped} already in the library)")
        elif args.file is None:
            print("avmine library import: give a JSON-lines FILE, or --refav for RefAV's examples")
            return 2
        else:
            added, skipped = import_jsonl(store, args.file)
            print(f"imported {added} examples from {args.file} ({skipped} already in the library)")
    return 0
