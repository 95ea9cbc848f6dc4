"""Robust vs faithful functions on the demo logs: agreement between clean and noisy boxes, and cost.

For each pair (a RefAV-faithful call and its robust counterpart) and each demo log and noise seed,
the call runs on the clean annotations and on the same boxes with tracker noise
(``avmine.evaluation.noise``); the agreement is the intersection over union of the (object, timestamp)
answers. Cost: warm wall time of the robust call over the faithful one, on clean boxes.

    .venv/bin/python benchmarks/bench_robust.py [--seeds N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from avmine.atomic.context import LogContext, context_for, pin_context
from avmine.atomic.functions import FUNCTIONS
from avmine.evaluation.noise import NoiseModel, agreement, apply_noise
from avmine.store import Store
from avmine.store.demo import ingest_demo

F = FUNCTIONS
Call = Callable[[Any, Path], Any]
INF = np.inf


def _ego(log_dir: Path) -> Any:
    return F["get_objects_of_category"](log_dir, category="EGO_VEHICLE")


def _peds(log_dir: Path) -> Any:
    return F["get_objects_of_category"](log_dir, category="PEDESTRIAN")


PAIRS: list[tuple[str, Call, Call]] = [
    ("turning left", lambda v, d: F["turning"](v, d, direction="left"),
     lambda v, d: F["robust_turning"](v, d, direction="left")),
    ("changing lanes", lambda v, d: F["changing_lanes"](v, d), lambda v, d: F["robust_changing_lanes"](v, d)),
    ("speed >= 5 m/s", lambda v, d: F["has_velocity"](v, d, min_velocity=5),
     lambda v, d: F["robust_has_velocity"](v, d, min_velocity=5)),
    ("speed <= 2 m/s", lambda v, d: F["has_velocity"](v, d, max_velocity=2),
     lambda v, d: F["robust_has_velocity"](v, d, max_velocity=2)),
    ("accelerating >= 1 m/s²", lambda v, d: F["accelerating"](v, d, min_accel=1),
     lambda v, d: F["robust_accelerating"](v, d, min_accel=1)),
    ("decelerating <= -1 m/s²", lambda v, d: F["accelerating"](v, d, min_accel=-INF, max_accel=-1),
     lambda v, d: F["robust_accelerating"](v, d, min_accel=-INF, max_accel=-1)),
    ("stationary", lambda v, d: F["stationary"](v, d), lambda v, d: F["robust_stationary"](v, d)),
    ("ego: vehicle ahead in 20 m", lambda v, d: F["has_objects_in_relative_direction"](
        _ego(d), v, d, direction="forward", within_distance=20),
     lambda v, d: F["robust_has_objects_in_relative_direction"](_ego(d), v, d, direction="forward",
                                                                within_distance=20)),
    ("vehicles left of ego in 10 m", lambda v, d: F["get_objects_in_relative_direction"](
        _ego(d), v, d, direction="left", within_distance=10),
     lambda v, d: F["robust_get_objects_in_relative_direction"](_ego(d), v, d, direction="left",
                                                                within_distance=10)),
    ("vehicle heading toward ego", lambda v, d: F["heading_toward"](v, _ego(d), d),
     lambda v, d: F["robust_heading_toward"](v, _ego(d), d)),
    ("vehicle facing ego", lambda v, d: F["facing_toward"](v, _ego(d), d),
     lambda v, d: F["robust_facing_toward"](v, _ego(d), d)),
    ("same direction as ego", lambda v, d: F["heading_in_relative_direction_to"](v, _ego(d), d, direction="same"),
     lambda v, d: F["robust_heading_in_relative_direction_to"](v, _ego(d), d, direction="same")),
    ("opposite side from ego", lambda v, d: F["on_relative_side_of_road"](v, _ego(d), d, side="opposite"),
     lambda v, d: F["robust_on_relative_side_of_road"](v, _ego(d), d, side="opposite")),
    ("vehicle following ego", lambda v, d: F["following"](v, _ego(d), d),
     lambda v, d: F["robust_following"](v, _ego(d), d)),
    ("vehicle near ego in 10 m", lambda v, d: F["near_objects"](v, _ego(d), d),
     lambda v, d: F["robust_near_objects"](v, _ego(d), d)),
    ("vehicle crossed by pedestrian", lambda v, d: F["being_crossed_by"](v, _peds(d), d),
     lambda v, d: F["robust_being_crossed_by"](v, _peds(d), d)),
]  # fmt: skip


def _timed(call: Call, vehicles: Any, log_dir: Path, repeats: int = 3) -> float:
    call(vehicles, log_dir)  # warm: caches of the context filled
    started = time.perf_counter()
    for _ in range(repeats):
        call(vehicles, log_dir)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="noise seeds per log (default 2)")
    args = parser.parse_args()
    agreements: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, *_ in PAIRS}
    seconds: dict[str, tuple[float, float]] = dict.fromkeys(agreements, (0.0, 0.0))
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "robust.duckdb") as store:
        ingest_demo(store, progress=False)
        logs = [str(log) for log in store.query_df("SELECT log_id FROM logs ORDER BY log_id")["log_id"]]
        for log in logs:
            clean = context_for(store.log_dir(log))
            clean_dir = Path(tmp) / "clean" / log
            pin_context(clean_dir, clean)
            vehicles = F["get_objects_of_category"](clean_dir, category="VEHICLE")
            for name, faithful, robust in PAIRS:
                before = seconds[name]
                seconds[name] = (before[0] + _timed(faithful, vehicles, clean_dir),
                                 before[1] + _timed(robust, vehicles, clean_dir))  # fmt: skip
            for seed in range(args.seeds):
                noisy = apply_noise(clean.arrays, NoiseModel(seed=seed))
                noisy_dir = Path(tmp) / "noisy" / f"{log}-{seed}"
                pin_context(noisy_dir, LogContext(noisy.arrays))
                noisy_vehicles = F["get_objects_of_category"](noisy_dir, category="VEHICLE")
                for name, faithful, robust in PAIRS:
                    for index, call in enumerate((faithful, robust)):
                        score = agreement(call(vehicles, clean_dir), call(noisy_vehicles, noisy_dir), noisy)
                        agreements[name][index].append(score)
    print(f"{len(logs)} demo logs x {args.seeds} noise seeds ({NoiseModel()})\n")
    print(f"{'function':<32} {'faithful':>9} {'robust':>8}   {'faithful s':>10} {'robust s':>9} {'cost':>6}")
    for name, (faithful_scores, robust_scores) in agreements.items():
        t_faithful, t_robust = seconds[name]
        print(f"{name:<32} {np.mean(faithful_scores):>9.3f} {np.mean(robust_scores):>8.3f}   "
              f"{t_faithful:>10.3f} {t_robust:>9.3f} {t_robust / t_faithful:>5.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
