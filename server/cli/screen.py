"""``avmine screen``: solve train prompts with scores on; programs above the threshold go into the library."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from server.cli.agent_options import add_batch_arguments, agent_from_args, options_from_args, run_batch


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``screen`` command."""
    parser = subparsers.add_parser(
        "screen",
        help="screen labelled prompts with a headless agent; keep good programs in the few-shot library",
        description=(
            "Like `avmine run`, with score_run available to the agent (scores only, never ground truth). A "
            "prompt's program is scored over all its ground-truth (log, prompt) pairs, negative logs included; "
            "one whose Timestamp BA exceeds the threshold goes into the library with its scores and provenance."
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
        options = options_from_args(args, "screen", screening=True, threshold=args.threshold)
    except ValueError as exc:
        print(f"avmine screen: {exc}", file=sys.stderr)
        return 2
    return run_batch(args, "screen", options, agent, None)
