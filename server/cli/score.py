"""``avmine score PRED.pkl GT.pkl``: the four challenge metrics with per-prompt and per-log breakdowns."""

import argparse
import json
import pickle
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from avmine.evaluation import EvaluationInputError, EvaluationResult, evaluate
from avmine.server.cli.exit_codes import ExitCode
from avmine.store.readers.safe_pickle import UnsafePickleError, load_pickle

HELP = "score a submission pickle against ground truth (av2's scenario-mining metrics)"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``score`` subcommand.

    Args:
        subparsers: the ``avmine`` CLI's subparsers.
    """
    parser = subparsers.add_parser("score", help=HELP, description=HELP)
    parser.add_argument("predictions", type=Path, help="submission pickle {(log_id, prompt): [frame, ...]}")
    parser.add_argument("ground_truth", type=Path, help="ground-truth pickle in the same format")
    parser.add_argument("--max-range-m", type=float, default=50, help="ignore boxes further from the ego (50)")
    parser.add_argument(
        "--dataset-dir",
        type=Path,
        default=None,
        help="split directory with <log_id>/map: turns on the road-region filter",
    )
    parser.add_argument(
        "--objective-metric",
        choices=("HOTA", "MOTA"),
        default="HOTA",
        help="what the per-prompt score threshold is tuned for (HOTA)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(func=run)


def _load(path: Path, what: str) -> Any:
    try:
        return load_pickle(path)
    except FileNotFoundError:
        raise EvaluationInputError(f"{what}: no such file {path}") from None
    except UnsafePickleError as err:
        raise EvaluationInputError(f"{what}: {err}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as err:
        raise EvaluationInputError(
            f"{what}: {path} is not a readable pickle ({type(err).__name__}: {err}); write it with pickle.dump(dict, f)"
        ) from None


def _table(result: EvaluationResult) -> str:
    # a temporal-only submission has no HOTA: its 0.0 placeholders are never printed as if they were scores
    lines = [] if result.tracking else ["temporal-only submission (no track ids): HOTA is not computed", ""]
    lines += ["metric          value", "--------------  --------"]
    for name, value in result.metrics().items():
        shown = "-" if name.startswith("HOTA") and not result.tracking else f"{value:.6f}"
        lines.append(f"{name:<14}  {shown}")
    lines += [
        "",
        "per prompt",
        f"{'HOTA-Temp':>9} {'HOTA-Trk':>9} {'TS BA':>6} {'Log BA':>6} {'thresh':>6} logs  prompt",
    ]
    for prompt, s in result.by_prompt.items():
        threshold = "-" if s.score_threshold is None else f"{s.score_threshold:.3f}"
        hota = f"{s.hota_temporal:9.4f} {s.hota_track:9.4f}" if result.tracking else f"{'-':>9} {'-':>9}"
        lines.append(f"{hota} {s.timestamp_ba:6.3f} {s.log_ba:6.3f} {threshold:>6} {s.num_logs:4d}  {prompt}")
    lines += ["", "per log", "gt  pred  tp  fp  fn  tn  fp-tracks  missed-tracks  log / prompt"]
    for seq in result.sequences:
        c = seq.timestamp_counts
        lines.append(
            f"{'Y' if seq.gt_positive else 'N':>2}  {'Y' if seq.pred_positive else 'N':>4} {c['tp']:3d} "
            f"{c['fp']:3d} {c['fn']:3d} {c['tn']:3d} {len(seq.false_positive_tracks):10d} "
            f"{len(seq.missed_tracks):14d}  {seq.log_id} / {seq.prompt}"
        )
    if result.ignored_sequences:
        lines.append(f"\n{len(result.ignored_sequences)} prediction sequence(s) not in the ground truth were ignored")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Score and print; exit code 0 on success, 2 on bad input.

    Args:
        args: parsed arguments of the ``score`` subcommand.

    Returns:
        The exit code.
    """
    try:
        predictions = _load(args.predictions, "predictions")
        ground_truth = _load(args.ground_truth, "ground truth")
        result = evaluate(
            predictions,
            ground_truth,
            objective_metric=args.objective_metric,
            max_range_m=args.max_range_m,
            dataset_dir=args.dataset_dir,
        )
    except EvaluationInputError as err:
        print(f"avmine score: {err}", file=sys.stderr)
        return ExitCode.USAGE
    if args.json:
        payload = {
            "metrics": result.metrics(),
            "tracking": result.tracking,
            "by_prompt": {p: asdict(s) for p, s in result.by_prompt.items()},
            "sequences": [asdict(s) for s in result.sequences],
            "ignored_sequences": [list(k) for k in result.ignored_sequences],
        }
        print(json.dumps(payload, indent=2))
    else:
        print(_table(result))
    return ExitCode.OK
