"""The tracker-noise model and clean-vs-noisy agreement, on a real demo log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avmine.atomic.context import LogContext, context_for, pin_context
from avmine.atomic.functions import FUNCTIONS
from avmine.evaluation.noise import NoiseModel, agreement, apply_noise
from avmine.store import Store

LOG = "3b3570b4-7b0b-3268-a571-b0889dbf40b6"


@pytest.fixture(scope="module")
def clean(demo_store: Store) -> LogContext:
    return context_for(demo_store.log_dir(LOG))


def test_noise_is_deterministic_and_keeps_track_of_origins(clean: LogContext) -> None:
    model = NoiseModel(seed=3)
    first, again = apply_noise(clean.arrays, model), apply_noise(clean.arrays, model)
    np.testing.assert_array_equal(first.arrays.xyz_city, again.arrays.xyz_city)
    noisy = first.arrays
    rows = len(clean.arrays.row_track)
    ego_rows = int(np.sum(np.asarray(clean.arrays.track_uuids)[clean.arrays.row_track] == clean.ego_uuid))
    dropped = rows - len(noisy.row_track)
    assert 0.05 * (rows - ego_rows) < dropped < 0.15 * (rows - ego_rows)  # 10 % of the tracked boxes
    assert noisy.num_tracks > clean.arrays.num_tracks  # fragments got new ids
    assert any(str(u).endswith("-fragment") for u in noisy.track_uuids)
    # every noisy box sits near its clean original (jitter 0.2 m), whatever id it now has
    clean_row = {(str(clean.track_uuids[t]), int(ts)): i
                 for i, (t, ts) in enumerate(zip(clean.row_track, clean.row_timestamp_ns, strict=True))}  # fmt: skip
    originals = [clean_row[(str(o), int(ts))] for o, ts in zip(first.origin_uuid, noisy.row_timestamp_ns, strict=True)]
    offsets = np.linalg.norm(np.asarray(noisy.xyz_city)[:, :2] - clean.xyz_city[originals, :2], axis=1)
    assert np.percentile(offsets, 99) < 1.0
    ego = np.asarray(noisy.track_uuids)[noisy.row_track] == clean.ego_uuid
    np.testing.assert_allclose(offsets[ego], 0.0)  # the ego is never noised
    # rows are grouped by track and sorted by time, as every reader expects
    context = LogContext(noisy)
    assert np.all(np.diff(context.row_track) >= 0)
    assert np.all(np.diff(context.row_timestamp_ns)[np.diff(context.row_track) == 0] > 0)


def test_agreement_is_one_for_the_same_answers_and_robust_functions_agree_more(
    clean: LogContext, tmp_path: Path
) -> None:
    noisy = apply_noise(clean.arrays, NoiseModel(seed=0))
    clean_dir, noisy_dir = tmp_path / "clean" / LOG, tmp_path / "noisy" / LOG
    pin_context(clean_dir, clean)
    pin_context(noisy_dir, LogContext(noisy.arrays))
    vehicles = FUNCTIONS["get_objects_of_category"](clean_dir, category="VEHICLE")
    noisy_vehicles = FUNCTIONS["get_objects_of_category"](noisy_dir, category="VEHICLE")
    assert agreement(vehicles, noisy_vehicles, noisy) == 1.0  # categories survive any noise
    assert agreement({}, {}, noisy) == 1.0
    for faithful, robust, kwargs in (
        ("turning", "robust_turning", {"direction": "left"}),
        ("accelerating", "robust_accelerating", {"min_accel": 1.0}),
        ("has_velocity", "robust_has_velocity", {"max_velocity": 2.0}),
        ("changing_lanes", "robust_changing_lanes", {}),
    ):
        scores = [
            agreement(
                FUNCTIONS[name](vehicles, clean_dir, **kwargs),
                FUNCTIONS[name](noisy_vehicles, noisy_dir, **kwargs),
                noisy,
            )
            for name in (faithful, robust)
        ]
        assert scores[1] > scores[0], (faithful, scores)
    ego, noisy_ego = (FUNCTIONS["get_objects_of_category"](d, category="EGO_VEHICLE") for d in (clean_dir, noisy_dir))
    for faithful, robust in (("heading_toward", "robust_heading_toward"), ("facing_toward", "robust_facing_toward")):
        scores = [
            agreement(
                FUNCTIONS[name](vehicles, ego, clean_dir), FUNCTIONS[name](noisy_vehicles, noisy_ego, noisy_dir), noisy
            )
            for name in (faithful, robust)
        ]
        assert scores[1] > scores[0], (faithful, scores)
