"""avmine's evaluate vs av2's scenario-mining evaluate on the same inputs, printed as a speed ratio.

Usage: python benchmarks/bench_evaluate.py [--big] [--repeat N]
  default: the av2 demo fixture (road-region filter off, then on)
  --big:   also a generated case of 150 logs x 5 prompts (filter off); av2 takes minutes on it
"""

import argparse
import contextlib
import copy
import io
import sys
import time
import warnings
from typing import Any

import numpy as np

from avmine.evaluation import evaluate
from avmine.evaluation.filters import load_roi_map
from avmine.evaluation.synthetic import CaseConfig, make_case
from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.readers.safe_pickle import load_pickle

DATA = SCENARIO_MINING_DIR
BIG = CaseConfig(
    num_logs=150,
    prompts=tuple(f"prompt {i}" for i in range(5)),
    prompts_per_log=5,
    num_frames=32,
    num_tracks=40,
    world_radius_m=60.0,
    num_false_tracks=5,
    p_is_positive=0.0,
)


def _av2(predictions: Any, ground_truth: Any, dataset_dir: str | None) -> tuple[float, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from av2.evaluation.scenario_mining.eval import evaluate as av2_evaluate

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return tuple(
                av2_evaluate(copy.deepcopy(predictions), copy.deepcopy(ground_truth), "HOTA", 50, dataset_dir, None)
            )


def _timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def compare(name: str, predictions: Any, ground_truth: Any, dataset_dir: str | None, repeat: int) -> bool:
    if dataset_dir is not None:  # both sides then pay map loading once; time the warm path for both
        load_roi_map.cache_clear()
    t_av2, ref = _timed(lambda: _av2(predictions, ground_truth, dataset_dir), 1 if repeat == 1 else 2)
    t_ours, ours = _timed(lambda: tuple(evaluate(predictions, ground_truth, "HOTA", 50, dataset_dir)), repeat)
    same = bool(np.allclose(ref, ours, atol=1e-6, rtol=0))
    print(
        f"{name}: av2 {t_av2:.3f} s, avmine {t_ours:.4f} s, ratio {t_av2 / t_ours:.1f}x, "
        f"identical={same}\n  av2    {tuple(round(v, 6) for v in ref)}\n  avmine {tuple(round(v, 6) for v in ours)}"
    )
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", action="store_true", help="also run the 150 logs x 5 prompts case")
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs for avmine (default 5)")
    args = parser.parse_args()
    predictions = load_pickle(DATA / "combined_predictions_dev.pkl")
    ground_truth = load_pickle(DATA / "combined_gt_dev.pkl")
    ok = compare("demo, road filter off", predictions, ground_truth, None, args.repeat)
    ok &= compare(
        "demo, road filter on (maps cached after first run)", predictions, ground_truth, str(DATA), args.repeat
    )
    if args.big:
        start = time.perf_counter()
        predictions, ground_truth = make_case(0, BIG)
        rows = sum(len(f["track_id"]) for frames in predictions.values() for f in frames)
        print(
            f"generated big case in {time.perf_counter() - start:.1f} s: {len(ground_truth)} sequences, "
            f"{rows} predicted boxes"
        )
        ok &= compare("big (150 logs x 5 prompts), road filter off", predictions, ground_truth, None, 1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
