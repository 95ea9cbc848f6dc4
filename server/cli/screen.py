"""``avmine screen``: solve train prompts with scores on; programs above the threshold go into the library."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from avmine.evaluation.guarded_scoring import scoring_budget_from_env
from avmine.server.cli.agent_options import add_batch_arguments, agent_from_args, options_from_args, run_batch
from avmine.server.cli.exit_codes import ExitCode


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``screen`` command."""
    parser = subparsers.add_parser(
        "screen",
        help="screen labelled prompts with a headless agent; keep good programs in the few-shot library",
        description=(
            "Like `avmine run`, with score_run available to the agent (scores only, never ground truth, on the "
            "prompt's ground-truth logs except a held-out half; at most $AVMINE_SCORING_BUDGET (30) scorings per "
            "prompt). A prompt's final program is scored on the held-out (log, prompt) pairs, negatives included; "
            "one whose Timestamp BA there exceeds the threshold goes into the library with those scores."
        ),
    )
    add_batch_arguments(parser, split="train", attempts=5)
    parser.add_argument("--threshold", type=float, default=0.8, help="keep above this Timestamp BA (default 0.8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Screen, then print the kept and rejected prompts."""
    try:
        agent = agent_from_args(args)
        if not 0 <= args.threshold <= 1:
            raise ValueError("--threshold is a Timestamp BA, between 0 and 1")
        scoring_budget_from_env()  # a malformed $AVMINE_SCORING_BUDGET is refused before anything opens
        options = options_from_args(args, "screen", screening=True, threshold=args.threshold)
    except ValueError as exc:
        print(f"avmine screen: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return run_batch(args, "screen", options, agent, None)
