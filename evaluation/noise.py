"""A tracker-noise model for clean boxes, and timestamp-level agreement between clean and noisy answers.

The model (defaults are typical of a good 3-D tracker on AV2):

- position jitter: Gaussian, ``position_sigma_m`` (0.2 m) on x and y;
- heading jitter: Gaussian, ``yaw_sigma_deg`` (3°), and front/back flips with ``flip_probability``
  (2 % of boxes);
- dropped frames: each box with ``drop_probability`` (10 %);
- fragmented tracks: a track longer than 4 s is cut once, with ``fragment_probability`` (30 %), at a
  random time in its middle half; the rest gets a new id;
- swapped ids: two tracks of one category whose centres come within ``swap_distance_m`` (2 m)
  exchange ids from then on, with ``swap_probability`` (50 %), each track at most once.

The ego vehicle is left clean (its pose comes from localisation, not the tracker). Every noisy row
remembers the clean track it came from, so answers can be compared on the original objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from avmine.evaluation.submission.labels import scenario_timestamps
from avmine.store.arrays import LogArrays
from avmine.store.geometry import with_city_poses

FRAGMENT_MIN_S = 4.0


@dataclass(frozen=True)
class NoiseModel:
    """Tracker noise to apply to clean boxes (see the module's docstring)."""

    position_sigma_m: float = 0.2
    yaw_sigma_deg: float = 3.0
    flip_probability: float = 0.02
    drop_probability: float = 0.1
    fragment_probability: float = 0.3
    swap_distance_m: float = 2.0
    swap_probability: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class NoisyLog:
    """Noisy boxes, and for each of their rows the clean track uuid it came from."""

    arrays: LogArrays
    origin_uuid: npt.NDArray[np.str_]


def _swaps(arrays: LogArrays, track: np.ndarray, model: NoiseModel, rng: np.random.Generator) -> np.ndarray:
    """New track index per row after id swaps between close tracks of one category."""
    n_tracks, n_times = arrays.num_tracks, len(arrays.timestamps_ns)
    xy = np.full((n_tracks, n_times, 2), np.nan)
    xy[track, arrays.row_time_index] = np.asarray(arrays.xyz_city)[:, :2]
    swapped = track.copy()
    used = np.zeros(n_tracks, dtype=bool)
    used[list(arrays.track_uuids).index(arrays.ego_uuid)] = True
    categories = np.asarray(arrays.track_categories)
    for category in np.unique(categories):
        members = np.flatnonzero((categories == category) & ~used)
        if len(members) < 2:
            continue
        gaps = np.linalg.norm(xy[members][:, None] - xy[members][None], axis=-1)  # (m, m, T), NaN where absent
        close = np.nan_to_num(gaps, nan=np.inf) < model.swap_distance_m
        for a, b in zip(*np.nonzero(np.triu(close.any(axis=-1), k=1)), strict=True):
            first, second = members[a], members[b]
            if used[first] or used[second] or rng.random() >= model.swap_probability:
                continue
            when = int(np.argmax(close[a, b]))
            after = arrays.row_time_index >= when
            swapped[(track == first) & after] = second
            swapped[(track == second) & after] = first
            used[[first, second]] = True
    return swapped


def apply_noise(arrays: LogArrays, model: NoiseModel | None = None) -> NoisyLog:
    """The boxes of ``arrays`` with tracker noise; deterministic for a model's seed."""
    model = model or NoiseModel()
    rng = np.random.default_rng(model.seed)
    rows = len(arrays.row_track)
    track = np.asarray(arrays.row_track, dtype=np.int64)
    ego = list(arrays.track_uuids).index(arrays.ego_uuid)
    noisy = track != ego
    xyz = np.array(arrays.xyz_city, dtype=np.float64)
    xyz[noisy, :2] += rng.normal(0.0, model.position_sigma_m, size=(int(noisy.sum()), 2))
    yaw = np.array(arrays.yaw_city, dtype=np.float64)
    flips = rng.random(rows) < model.flip_probability
    yaw[noisy] += np.radians(rng.normal(0.0, model.yaw_sigma_deg, size=int(noisy.sum()))) + np.pi * flips[noisy]
    yaw = (yaw + np.pi) % (2 * np.pi) - np.pi
    new_track = _swaps(arrays, track, model, rng)
    # fragments: the later part of a long track becomes a new track
    times_s = np.asarray(arrays.row_timestamp_ns) / 1e9
    starts, ends = np.asarray(arrays.track_start[:-1]), np.asarray(arrays.track_start[1:]) - 1
    duration = times_s[ends] - times_s[starts]
    cut = (duration > FRAGMENT_MIN_S) & (rng.random(arrays.num_tracks) < model.fragment_probability)
    cut[ego] = False
    cut_at = times_s[starts] + duration * rng.uniform(0.25, 0.75, size=arrays.num_tracks)
    fragment = cut[track] & (times_s > cut_at[track])
    new_track = np.where(fragment, new_track + arrays.num_tracks, new_track)
    keep = (rng.random(rows) >= model.drop_probability) | ~noisy
    return _rebuild(arrays, keep, new_track, xyz, yaw, model.seed)


def _rebuild(
    arrays: LogArrays, keep: np.ndarray, new_track: np.ndarray, xyz: np.ndarray, yaw: np.ndarray, seed: int
) -> NoisyLog:
    uuids = np.asarray(arrays.track_uuids)
    all_uuids = np.concatenate([uuids, np.char.add(uuids.astype(str), "-fragment")])
    all_categories = np.concatenate([arrays.track_categories, arrays.track_categories])
    rows = np.flatnonzero(keep)
    order = rows[np.lexsort((np.asarray(arrays.row_timestamp_ns)[rows], new_track[rows]))]
    kept_tracks, compact = np.unique(new_track[order], return_inverse=True)
    lengths = np.bincount(compact, minlength=len(kept_tracks))
    track_start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    fields: dict[str, Any] = {
        "key": f"{arrays.key}-noise{seed}",
        "source": f"{arrays.source}+noise",
        "track_uuids": all_uuids[kept_tracks],
        "track_categories": all_categories[kept_tracks],
        "track_start": track_start,
        "row_track": compact.astype(np.int32),
        "row_time_index": np.asarray(arrays.row_time_index)[order].astype(np.int32),
        "row_timestamp_ns": np.asarray(arrays.row_timestamp_ns)[order],
        "row_category": np.asarray(arrays.row_category)[order],
        "size": np.asarray(arrays.size)[order],
        "score": np.asarray(arrays.score)[order],
        "num_interior_pts": np.asarray(arrays.num_interior_pts)[order],
        "input_row": np.arange(len(order), dtype=np.int64),
    }
    rebuilt = with_city_poses(dataclasses.replace(arrays, **fields), xyz[order], yaw[order])
    origin = uuids[np.asarray(arrays.row_track)[order]]
    return NoisyLog(rebuilt, origin)


def _pairs(scenario: Mapping[str, Any]) -> set[tuple[str, int]]:
    """(uuid, timestamp) of every referred object, relationships flattened."""
    return {(uuid, t) for uuid, value in scenario.items() for t in scenario_timestamps(value)}


def agreement(clean: Mapping[str, Any], noisy: Mapping[str, Any], log: NoisyLog) -> float:
    """Timestamp-level agreement (intersection over union) of a function's answers on clean and noisy boxes.

    Both answers are compared as (clean object, timestamp) pairs, on the boxes the noisy log kept;
    1.0 when both are empty.
    """
    arrays = log.arrays
    row_of = {(str(arrays.track_uuids[t]), int(ts)): i
              for i, (t, ts) in enumerate(zip(arrays.row_track, arrays.row_timestamp_ns, strict=True))}  # fmt: skip
    surviving = {(str(log.origin_uuid[i]), ts) for (_, ts), i in row_of.items()}
    expected = _pairs(clean) & surviving
    answered = {(str(log.origin_uuid[row_of[pair]]), pair[1]) for pair in _pairs(noisy) if pair in row_of}
    union = expected | answered
    return 1.0 if not union else len(expected & answered) / len(union)


@dataclass(frozen=True)
class TrackerOutputModel:
    """What a tracker adds on top of ``NoiseModel``'s noise when its boxes are written out.

    - lag: each box is placed where its object was ``lag_s`` (50 ms) earlier, along its own track;
    - scores: a true track scores uniformly in ``true_score`` (0.35 to 0.95), each box ±0.05 around it;
    - false boxes: ``false_tracks_per_s`` (5) clutter tracks start every second, each 1 to
      ``false_track_max_frames`` (8) frames long, within 15 m of a real box, standing still with the
      position jitter, of a category and size seen in the log, scoring uniformly in ``false_score``.
    """

    lag_s: float = 0.05
    true_score: tuple[float, float] = (0.35, 0.95)
    false_score: tuple[float, float] = (0.05, 0.6)
    false_tracks_per_s: float = 5.0
    false_track_max_frames: int = 8
    seed: int = 0


def tracking_frames(log: NoisyLog, model: TrackerOutputModel | None = None) -> list[dict[str, Any]]:
    """The noisy boxes as one log of an AV2 tracking pickle (city frame), with lag, scores and clutter.

    Track ids are integers; clutter tracks' ids follow the real ones. The ego is left out.
    """
    model = model or TrackerOutputModel()
    rng = np.random.default_rng(model.seed)
    arrays = log.arrays
    ego = list(arrays.track_uuids).index(arrays.ego_uuid)
    track = np.asarray(arrays.row_track, dtype=np.int64)
    keep = track != ego
    ts = np.asarray(arrays.timestamps_ns)
    xyz = np.array(arrays.xyz_city, dtype=np.float64)
    lagged = xyz - np.asarray(arrays.velocity_city) * model.lag_s
    track_score = rng.uniform(*model.true_score, size=arrays.num_tracks)
    score = np.clip(track_score[track] + rng.uniform(-0.05, 0.05, size=len(track)), 0.01, 1.0)
    categories = np.asarray(arrays.track_categories)[track]
    rows: dict[str, list[Any]] = {"t": [], "id": [], "xyz": [], "size": [], "yaw": [], "name": [], "score": []}
    real = np.flatnonzero(keep)
    rows["t"].append(np.asarray(arrays.row_time_index)[real])
    rows["id"].append(track[real])
    rows["xyz"].append(lagged[real])
    rows["size"].append(np.asarray(arrays.size)[real])
    rows["yaw"].append(np.asarray(arrays.yaw_city)[real])
    rows["name"].append(categories[real])
    rows["score"].append(score[real])
    duration_s = (ts[-1] - ts[0]) / 1e9 if len(ts) > 1 else 0.0
    for k in range(int(rng.poisson(model.false_tracks_per_s * duration_s))):
        anchor = int(rng.choice(real))
        start = int(rng.integers(0, len(ts)))
        frames = np.arange(start, min(start + int(rng.integers(1, model.false_track_max_frames + 1)), len(ts)))
        where = xyz[anchor] + np.r_[rng.uniform(-15, 15, size=2), 0.0]
        rows["t"].append(frames)
        rows["id"].append(np.full(len(frames), arrays.num_tracks + k))
        rows["xyz"].append(where + np.c_[rng.normal(0, 0.2, size=(len(frames), 2)), np.zeros(len(frames))])
        rows["size"].append(np.tile(np.asarray(arrays.size)[anchor], (len(frames), 1)))
        rows["yaw"].append(np.full(len(frames), rng.uniform(-np.pi, np.pi)))
        rows["name"].append(np.full(len(frames), categories[anchor]))
        rows["score"].append(np.full(len(frames), rng.uniform(*model.false_score)))
    return frames_from_rows(rows, ts)


def frames_from_rows(rows: dict[str, list[Any]], ts: Any) -> list[dict[str, Any]]:
    """av2 tracker frames (one per timestamp of ``ts``) from per-chunk box columns.

    ``rows`` holds lists of arrays under ``t`` (index into ``ts``), ``id``, ``xyz``, ``size``, ``yaw``,
    ``name`` and ``score``; labels number the names in sorted order.
    """
    flat = {key: np.concatenate(value) for key, value in rows.items()}
    labels = {name: i for i, name in enumerate(sorted(set(flat["name"].tolist())))}
    out = []
    for i, timestamp in enumerate(ts):
        at = flat["t"] == i
        out.append(
            {
                "timestamp_ns": int(timestamp),
                "track_id": flat["id"][at].astype(np.int64),
                "translation_m": flat["xyz"][at],
                "size": flat["size"][at].astype(np.float32),
                "yaw": flat["yaw"][at].astype(np.float32),
                "velocity_m_per_s": np.zeros((int(at.sum()), 3)),
                "label": np.array([labels[c] for c in flat["name"][at]], dtype=np.int32),
                "name": flat["name"][at].astype(str),
                "score": flat["score"][at].astype(np.float32),
            }
        )
    return out
