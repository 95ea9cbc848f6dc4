"""``avmine run``: one headless agent per prompt of a split, then a validated submission (both formats)."""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

from avmine.evaluation.submission.from_runs import submission_from_runs
from avmine.evaluation.submission.validate import validate_submission
from avmine.server.cli.agent_options import add_batch_arguments, agent_from_args, options_from_args, run_batch
from avmine.server.cli.exit_codes import ExitCode
from avmine.server.headless.batch import BatchSummary
from avmine.store import Store
from avmine.vlm.backends import VlmConfig, VlmUnavailableError, load_backend


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``run`` command."""
    parser = subparsers.add_parser(
        "run",
        help="solve a split's prompts with a headless agent each and write the submission",
        description=(
            "Per prompt: an agent session (Claude Code by default) with avmine as its only tools writes, runs, "
            "refines and submits a program; a second session reviews it; the program runs over the split. Every "
            "(log, prompt) pair of the split is in the submission: prompts without a program get all-OTHER "
            "frames. State is kept in the database: the same command resumes an interrupted batch."
        ),
    )
    add_batch_arguments(parser, split="test", attempts=2)
    parser.add_argument(
        "--vlm-check", action="store_true", help="empty the pairs whose scene the VLM rejects (set AVMINE_VLM_*)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("submission"), help="where submission[_temporal].pkl go (./submission)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch, print its summary, write and validate both submission pickles."""
    try:
        agent = agent_from_args(args)
        options = options_from_args(args, "run", screening=False, vlm_check=args.vlm_check)
        if args.vlm_check:
            load_backend(VlmConfig.from_env())  # before any agent runs: a missing VLM is a set-up error
    except (ValueError, VlmUnavailableError) as exc:
        print(f"avmine run: {exc}", file=sys.stderr)
        return ExitCode.USAGE

    def write_submissions(store: Store, summary: BatchSummary, prompts: list[str]) -> int:
        runs = {o.prompt: o.run_id for o in summary.outcomes if o.run_id}
        args.out.mkdir(parents=True, exist_ok=True)
        for temporal, name in ((False, "submission.pkl"), (True, "submission_temporal.pkl")):
            submission, report = submission_from_runs(store, options.split, options.source, temporal, prompts, runs)
            problems = validate_submission(submission)
            if problems:
                print(f"avmine run: {name} does not validate: {problems[0]}", file=sys.stderr)
                return ExitCode.FAILED
            with (args.out / name).open("wb") as out:
                pickle.dump(submission, out)
        print(
            f"wrote {args.out / 'submission.pkl'} and {args.out / 'submission_temporal.pkl'}: {report.pairs} "
            f"(log, prompt) pairs, {report.from_programs} from programs, {len(report.fallback)} all-OTHER"
        )
        return ExitCode.OK

    return run_batch(args, "run", options, agent, write_submissions)
