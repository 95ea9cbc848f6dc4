import contextlib
import copy
import io
import multiprocessing
import multiprocessing.dummy
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from avmine.store.demo import SCENARIO_MINING_DIR
from avmine.store.readers.safe_pickle import load_pickle

# The demo dataset in the repository: the two pickles and, per log, map/ and poses for the road filter.
DATA_DIR = SCENARIO_MINING_DIR

Av2Evaluate = Callable[..., tuple[float, float, float, float]]


@contextlib.contextmanager
def _thread_pool() -> Iterator[None]:
    # av2 starts a process pool per call; a thread pool computes the same thing without the fork cost.
    original = multiprocessing.Pool
    multiprocessing.Pool = multiprocessing.dummy.Pool  # type: ignore[assignment]
    try:
        yield
    finally:
        multiprocessing.Pool = original  # type: ignore[assignment]


def run_av2(
    predictions: Any,
    ground_truth: Any,
    objective_metric: str = "HOTA",
    max_range_m: float = 50,
    dataset_dir: str | None = None,
) -> tuple[float, float, float, float]:
    """av2's official evaluate on deep copies (it mutates its inputs), quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from av2.evaluation.scenario_mining.eval import evaluate

        with _thread_pool(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = evaluate(
                copy.deepcopy(predictions),
                copy.deepcopy(ground_truth),
                objective_metric,
                max_range_m,
                dataset_dir,
                None,
            )
    return (float(result[0]), float(result[1]), float(result[2]), float(result[3]))


@pytest.fixture(scope="session")
def av2_evaluate() -> Av2Evaluate:
    return run_av2


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def demo_gt() -> dict[Any, Any]:
    return load_pickle(DATA_DIR / "combined_gt_dev.pkl")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def demo_predictions() -> dict[Any, Any]:
    return load_pickle(DATA_DIR / "combined_predictions_dev.pkl")  # type: ignore[no-any-return]
