"""``avmine refine --source NAME``: derive a refined track source from a tracker's boxes."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from avmine.server.cli.exit_codes import ExitCode
from avmine.server.ingestion import prepare_logs
from avmine.store import Store
from avmine.store.refine import STEPS, RefineParams, refine
from avmine.store.refine.params import RefineError


def _parameter_help() -> str:
    fields = dataclasses.fields(RefineParams)
    return "; ".join(f"{f.name} (default {f.default})" for f in fields)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``refine`` command."""
    parser = subparsers.add_parser(
        "refine",
        help="derive a refined track source (yaw repair, reconnection, ghost removal, smoothing)",
        description=(
            "Reads the track source NAME and writes a new source (default NAME-refined) with headings "
            "repaired, swapped identities cut, fragments reconnected forward and backward in time, one "
            "category per track, ghost tracks removed, short gaps interpolated and positions smoothed. "
            "Every refined box records the parent box it came from (table box_provenance); every tool "
            "and program can then run on either source. One transaction: a failure changes nothing."
        ),
    )
    parser.add_argument("--source", required=True, help="the track source to refine")
    parser.add_argument("--out", help="name of the refined source (default: SOURCE-refined)")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated steps to run, in fixed order (default: all: {','.join(STEPS)})",
    )
    parser.add_argument("--skip", default="", help="comma-separated steps to leave out")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"set a parameter (SI units). Parameters: {_parameter_help()}",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Refine, compute the new source's map features, and print what changed per log."""
    params = RefineParams.from_assignments(args.set)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    steps = [s.strip() for s in args.steps.split(",") if s.strip() and s.strip() not in skip]
    if not steps:
        raise RefineError("no steps left to run; name at least one of: " + ", ".join(STEPS))
    with Store.open(args.db, create=False) as store:
        report = refine(store, args.source, args.out, steps, params, progress=not args.quiet)
        prepare_logs(store, [(report.out, log_id) for log_id in report.logs], progress=not args.quiet)
    print(f"Refined '{report.source}' into '{report.out}' ({', '.join(report.steps)}) in {report.seconds:.1f} s:")
    for log_id, c in report.logs.items():
        print(
            f"  {log_id}: tracks {c.tracks_before} -> {c.tracks_after}; {c.yaw_flips} yaw flips, {c.splits} splits, "
            f"{c.category_changes} category changes, {c.forward_joins} forward + {c.backward_joins} backward joins, "
            f"{c.ghosts_removed} ghosts removed, {c.interpolated} boxes interpolated; "
            f"{sum(c.seconds.values()):.2f} s"
        )
    return ExitCode.OK
