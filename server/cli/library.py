"""``avmine library``: search the few-shot library, export it as JSON lines, import JSON lines or RefAV's examples."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.sharing.client import run_on_database
from avmine.server.sharing.commands import CommandContext
from avmine.store import Store
from avmine.store.library import REFAV_EXAMPLES, export_jsonl, import_jsonl, import_refav_examples, search_examples


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
    """Do the action (through the server where one holds the database); errors in an import file name its line."""
    if args.action == "import" and args.file is None and not args.refav:
        print("avmine library import: give a JSON-lines FILE, or --refav for RefAV's examples", file=sys.stderr)
        return ExitCode.USAGE
    return run_on_database(args, operate, read_only=args.action != "import", create=args.action == "import")


def _nothing_found(store: Store, query: str, db: str | None) -> str:
    held = int(store.query_df("SELECT count(*) AS n FROM examples")["n"][0])
    if held:
        return f"no example of the {held} in the library matches {query!r}; try other words."
    command = shlex.join(["avmine", *(["--db", db] if db else []), "library", "import", "--refav"])
    return (
        f"the library is empty. Import RefAV's examples (shipped with avmine): `{command}`; agents add their own "
        "with the save_example tool."
    )


def operate(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Do the action on the open database."""
    store, out = ctx.store, ctx.out
    if args.action == "search":
        found = search_examples(store, args.query, args.limit)
        for example in found:
            score = f"  (Timestamp BA {example.timestamp_ba:.3f})" if example.timestamp_ba is not None else ""
            print(f"# {example.prompt}{score}\n{example.program.strip()}\n", file=out)
        if not found:
            print(_nothing_found(store, args.query, args.db), file=ctx.err)
    elif args.action == "export":
        print(f"wrote {export_jsonl(store, args.file)} examples to {args.file}", file=out)
    elif args.refav:
        source = args.file or REFAV_EXAMPLES
        added, skipped = import_refav_examples(store, source)
        print(f"imported {added} RefAV examples from {source} ({skipped} already in the library)", file=out)
    else:
        added, skipped = import_jsonl(store, args.file)
        print(f"imported {added} examples from {args.file} ({skipped} already in the library)", file=out)
    return ExitCode.OK
