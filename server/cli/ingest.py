"""``avmine ingest PATH``: load logs, tracker outputs, ground truth or prompts into the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.executor.cluster import add_ray_option
from avmine.server.ingestion import ingest_and_prepare
from avmine.store import PrefilterConfig, Store
from avmine.store.ingestion import SPLITS, UNKNOWN_SPLIT, check_exists


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``ingest`` command."""
    parser = subparsers.add_parser(
        "ingest",
        help="ingest AV2 logs, tracker outputs, RefAV ground truth or prompt lists",
        description=(
            "Recognises an AV2 log directory, a split directory of logs, a dataset root, RefAV "
            "scenario-mining logs, tracker pickles ({log_id: [frames]}), RefAV ground truth (.pkl or "
            "scenario_mining_<split>_annotations.feather) and prompt lists (.txt/.json). Re-ingesting "
            "replaces; a failure leaves the database unchanged."
        ),
    )
    parser.add_argument("path", help="file or directory to ingest")
    parser.add_argument("--split", help="split to record (default: from the directory name)")
    parser.add_argument(
        "--move-split",
        action="store_true",
        help="move logs the database keeps in another split to this one (refused without it)",
    )
    parser.add_argument("--source", help="track source name for a tracker output (default: file stem)")
    parser.add_argument(
        "--prefilter",
        choices=("refav", "paper", "off"),
        default="refav",
        help="tracker confidence prefilter: RefAV's code (100 tracks/class), the paper's (200 for "
        "common classes), or none",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Ingest and print what was written."""
    prefilter = {"refav": PrefilterConfig(), "paper": PrefilterConfig.paper(), "off": PrefilterConfig.off()}
    check_exists(Path(args.path).expanduser())  # before the database opens: nothing to ingest creates nothing
    if args.split is not None and args.split not in SPLITS:
        print(
            f"avmine ingest: warning: split '{args.split}' is none of AV2's ({', '.join(SPLITS)}); RefAV's "
            "evaluation and `avmine submit` know only those.",
            file=sys.stderr,
        )
    with Store.open(args.db) as store:
        unknown_before = in_unknown_split(store)
        report = ingest_and_prepare(
            store,
            args.path,
            split=args.split,
            source=args.source,
            prefilter=prefilter[args.prefilter],
            progress=not args.quiet,
            move_split=args.move_split,
        )
        print(
            f"Ingested into {store.path}: {len(report.logs)} log(s), {len(report.sources)} track source(s) "
            f"with {report.num_boxes} boxes, {report.gt_pairs} ground-truth (log, prompt) pair(s), "
            f"{report.prompts} prompt(s) in {report.seconds:.1f} s."
        )
        for note in report.notes:
            print(f"  note: {note}")
        report_splits(store, report.logs, unknown_before)
    return ExitCode.OK


def in_unknown_split(store: Store) -> set[tuple[str, str]]:
    """The prompts and (log, prompt) pairs the database keeps in the unknown split, as (table, row key)."""
    rows = store.con.execute(
        "SELECT 'prompt', prompt FROM prompts WHERE split = $u "
        "UNION ALL SELECT 'pair', log_id || ' ' || prompt FROM log_prompt_pairs WHERE split = $u",
        {"u": UNKNOWN_SPLIT},
    ).fetchall()
    return {(str(kind), str(key)) for kind, key in rows}


def report_splits(store: Store, logs: list[str], unknown_before: set[tuple[str, str]]) -> None:
    """Say which split the ingested logs went to; warn about what this ingest left in the unknown split."""
    if logs:
        counts = store.con.execute(
            "SELECT split, count(*) FROM logs WHERE list_contains(?, log_id) GROUP BY split ORDER BY split", [logs]
        ).fetchall()
        print("  split: " + ", ".join(f"{split} {n} log(s)" for split, n in counts))
        unknown = dict(counts).get(UNKNOWN_SPLIT, 0)
        if unknown:
            print(
                f"avmine ingest: warning: {unknown} log(s) went to split '{UNKNOWN_SPLIT}': neither --split nor a "
                f"{'/'.join(SPLITS)} folder above them named one. Ingest again with --split (it replaces).",
                file=sys.stderr,
            )
    added = in_unknown_split(store) - unknown_before
    if added:
        prompts = sum(kind == "prompt" for kind, _ in added)
        print(
            f"avmine ingest: warning: {prompts} prompt(s) and {len(added) - prompts} (log, prompt) pair(s) went to "
            f"split '{UNKNOWN_SPLIT}': neither --split nor the file's name nor the logs named one. Ingest the file "
            "again with --split for a split that `avmine run --split` can use.",
            file=sys.stderr,
        )
