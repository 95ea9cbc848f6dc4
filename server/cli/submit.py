"""``avmine submit``: build and validate a challenge submission from the runs stored for a split."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any

from avmine.evaluation.submission.from_runs import submission_from_runs
from avmine.evaluation.submission.validate import validate_submission
from avmine.server.cli.exit_codes import ExitCode
from avmine.server.sharing.client import run_on_database
from avmine.server.sharing.commands import CommandContext
from avmine.store.arrays import ANNOTATIONS_SOURCE


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``submit`` command."""
    parser = subparsers.add_parser(
        "submit",
        help="build and validate a submission pickle from the latest stored run of each prompt",
        description=(
            "Every (log, prompt) pair of the split gets frames: the latest run's scenario where its program "
            "succeeded on that log, otherwise all objects labelled OTHER. The pickle is validated before "
            "it is written."
        ),
    )
    parser.add_argument("--split", required=True, help="the split to submit (e.g. test)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the pickle")
    parser.add_argument("--source", default=ANNOTATIONS_SOURCE, help="track source the runs used (default annotations)")
    parser.add_argument("--temporal", action="store_true", help="temporal-track format instead of spatio-temporal")
    parser.add_argument("--prompt", action="append", help="only this prompt (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build, validate and write the submission (through the server where one holds the database)."""
    return run_on_database(args, operate, read_only=True)


def operate(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Build, validate and write the submission from the open database.

    Returns:
        ``ExitCode.USAGE`` when the split has no (log, prompt) pairs, ``FAILED`` when it does not validate.
    """
    out = ctx.out
    submission, report = submission_from_runs(ctx.store, args.split, args.source, args.temporal, args.prompt)
    if not submission:
        print(
            f"avmine submit: split {args.split!r} has no (log, prompt) pairs; ingest its logs and prompts first.",
            file=ctx.err,
        )
        return ExitCode.USAGE
    problems = validate_submission(submission)
    if problems:
        print(f"avmine submit: the submission does not validate ({len(problems)} problems):", file=ctx.err)
        for problem in problems[:20]:
            print(f"  {problem}", file=ctx.err)
        return ExitCode.FAILED
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as f:
        pickle.dump(submission, f)
    print(
        f"Wrote {args.out}: {report.pairs} (log, prompt) pairs, {report.from_programs} from programs, "
        f"{len(report.fallback)} all-OTHER fallbacks.",
        file=out,
    )
    for log_id, prompt, why in report.fallback[:20]:
        print(f"  fallback {log_id} / {prompt}: {why}", file=out)
    return ExitCode.OK
