"""Synthetic scenario-mining cases (ground truth plus a damaged copy as predictions) for tests and benchmarks.

The predictions are derived from the ground truth with the mistakes real programs and trackers make:
dropped, shifted, jittered, split and merged tracks, wrong labels, false-positive tracks, empty
sequences and prediction-only logs. Everything is drawn from one seeded numpy generator.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from avmine.evaluation.sequences import LABEL_NAMES, OTHER_OBJECT, REFERRED_OBJECT

Frame = dict[str, Any]
Sequences = dict[tuple[str, str], list[Frame]]

_TIMESTAMP_STEP_NS = 500_000_000
"""2 Hz evaluation timestamps."""


@dataclass(frozen=True)
class CaseConfig:
    """Size and damage knobs of a synthetic case.

    Attributes:
        num_logs: logs in the ground truth.
        prompts: prompt strings; every log is paired with ``prompts_per_log`` of them.
        prompts_per_log: prompts per log.
        num_frames: evaluation timestamps per log.
        num_tracks: gt tracks per log.
        world_radius_m: objects are spread this far around the ego (beyond 50 m some get filtered).
        p_drop: probability a gt track is missing from the predictions.
        p_split: probability a predicted track changes id halfway.
        p_merge: probability two non-overlapping tracks share a predicted id.
        shift_m: maximum constant offset of a predicted track.
        jitter_m: per-frame noise on predicted positions.
        p_wrong_label: probability a predicted box's referred/other label is flipped.
        num_false_tracks: extra predicted tracks per log with no gt counterpart.
        p_no_positive: probability a (log, prompt) has no referred object at all.
        p_empty_prediction: probability a predicted sequence has no boxes at all.
        p_is_positive: probability the gt frames carry ``is_positive`` (True/False/None).
        extra_prediction_logs: prediction-only sequences (not in the ground truth).
        score_levels: if > 0, scores are drawn from this many discrete values (ties).
    """

    num_logs: int = 2
    prompts: tuple[str, ...] = ("vehicle turning left", "pedestrian crossing")
    prompts_per_log: int = 1
    num_frames: int = 8
    num_tracks: int = 5
    world_radius_m: float = 45.0
    p_drop: float = 0.15
    p_split: float = 0.15
    p_merge: float = 0.15
    shift_m: float = 1.5
    jitter_m: float = 0.4
    p_wrong_label: float = 0.1
    num_false_tracks: int = 1
    p_no_positive: float = 0.15
    p_empty_prediction: float = 0.05
    p_is_positive: float = 0.0
    extra_prediction_logs: int = 0
    score_levels: int = 0


def _log_id(rng: np.random.Generator) -> str:
    hex_digits = "".join(rng.choice(list("0123456789abcdef"), size=32))
    return f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-{hex_digits[16:20]}-{hex_digits[20:]}"


@dataclass(frozen=True)
class _LogWorld:
    """Ground-truth boxes of one log: T tracks x N frames, with presence."""

    timestamps: np.ndarray
    ego_xyz_city: np.ndarray  # (N, 3)
    xyz_city: np.ndarray  # (T, N, 3)
    size_lwh: np.ndarray  # (T, 3)
    yaw_city: np.ndarray  # (T, N)
    present: np.ndarray  # (T, N) bool


def _world(rng: np.random.Generator, config: CaseConfig) -> _LogWorld:
    n, t = config.num_frames, config.num_tracks
    start_ns = int(rng.integers(10**17, 2 * 10**17)) // _TIMESTAMP_STEP_NS * _TIMESTAMP_STEP_NS
    timestamps = start_ns + _TIMESTAMP_STEP_NS * np.arange(n, dtype=np.int64)
    ego_xyz_city = np.cumsum(rng.normal(0, 2.0, size=(n, 3)), axis=0) + rng.uniform(-500, 500, size=3)
    start_xy = rng.uniform(-config.world_radius_m, config.world_radius_m, size=(t, 1, 2))
    walk_xy = np.cumsum(rng.normal(0, 1.0, size=(t, n, 2)), axis=1)
    xyz_city = np.concatenate([start_xy + walk_xy, rng.normal(0, 0.2, size=(t, n, 1))], axis=2)
    xyz_city += ego_xyz_city[np.newaxis, :, :] * np.array([1.0, 1.0, 0.0])
    first = rng.integers(0, n, size=t)
    last = np.minimum(n, first + rng.integers(1, n + 1, size=t))
    frames = np.arange(n)
    present = (frames[np.newaxis, :] >= first[:, np.newaxis]) & (frames[np.newaxis, :] < last[:, np.newaxis])
    size_lwh = rng.uniform([0.5, 0.5, 1.0], [6.0, 2.5, 3.0], size=(t, 3))
    yaw_city = rng.uniform(-np.pi, np.pi, size=(t, 1)) + np.cumsum(rng.normal(0, 0.1, size=(t, n)), axis=1)
    return _LogWorld(timestamps, ego_xyz_city, xyz_city, size_lwh, yaw_city, present)


def _frames(
    world: _LogWorld,
    key: tuple[str, str],
    track_ids: np.ndarray,
    xyz_city: np.ndarray,
    present: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray | None,
    is_positive: list[bool | None] | None,
) -> list[Frame]:
    # False-positive tracks (beyond the world's tracks) borrow shapes from a fixed box.
    extra = xyz_city.shape[0] - world.size_lwh.shape[0]
    sizes = np.concatenate([world.size_lwh, np.tile([[4.5, 1.9, 1.6]], (extra, 1))])
    yaws = np.concatenate([world.yaw_city, np.zeros((extra, world.yaw_city.shape[1]))])
    frames = []
    for j, ts in enumerate(world.timestamps.tolist()):
        rows = np.flatnonzero(present[:, j])
        label = labels[rows, j].astype(np.int32)
        frame: Frame = {
            "seq_id": key,
            "timestamp_ns": int(ts),
            "ego_translation_m": [float(v) for v in world.ego_xyz_city[j]],
            "description": key[1],
            "translation_m": xyz_city[rows, j].astype(np.float64),
            "size": sizes[rows].astype(np.float32),
            "yaw": yaws[rows, j].astype(np.float32),
            "label": label,
            "name": np.array([LABEL_NAMES[v] for v in label], dtype="<U31"),
            "track_id": track_ids[rows, j].astype(np.int32),
        }
        if scores is not None:
            frame["score"] = scores[rows, j].astype(np.float32)
        if is_positive is not None:
            frame["is_positive"] = is_positive[j]
        frames.append(frame)
    return frames


def _referred_labels(rng: np.random.Generator, present: np.ndarray, no_positive: bool) -> np.ndarray:
    t, n = present.shape
    labels = np.full((t, n), OTHER_OBJECT, dtype=np.int64)
    if no_positive:
        return labels
    referred_tracks: np.ndarray = np.asarray(rng.random(t) < 0.4)
    start = np.asarray(rng.integers(0, n, size=t))
    stop = start + np.asarray(rng.integers(1, n + 1, size=t))
    frames = np.arange(n)
    window = (frames[np.newaxis, :] >= start[:, np.newaxis]) & (frames[np.newaxis, :] < stop[:, np.newaxis])
    labels[referred_tracks[:, np.newaxis] & window & present] = REFERRED_OBJECT
    labels[(rng.random((t, n)) < 0.1) & (labels == OTHER_OBJECT)] = 1  # a few RELATED boxes
    return labels


def _is_positive(rng: np.random.Generator, labels: np.ndarray, present: np.ndarray) -> list[bool | None]:
    has = ((labels == REFERRED_OBJECT) & present).any(axis=0)
    flags: list[bool | None] = []
    for value in has.tolist():
        flags.append(None if value and rng.random() < 0.2 else bool(value))
    return flags


def _damaged_prediction(
    rng: np.random.Generator,
    config: CaseConfig,
    world: _LogWorld,
    gt_labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Predicted (track ids, xyz, present, labels, scores), each (T', N[, 3])."""
    t, n = world.present.shape
    kept_tracks: np.ndarray = np.asarray(rng.random(t) >= config.p_drop)
    present = world.present & kept_tracks[:, np.newaxis]
    xyz = world.xyz_city + rng.uniform(-config.shift_m, config.shift_m, size=(t, 1, 3)) * [1, 1, 0]
    xyz = xyz + rng.normal(0, config.jitter_m, size=xyz.shape) * [1, 1, 0]
    track_ids = np.repeat(np.arange(t)[:, np.newaxis], n, axis=1) + 1000
    split = rng.random(t) < config.p_split
    track_ids[split, n // 2 :] += 500
    merged_into = np.arange(t)
    last_frame = np.where(present.any(axis=1), n - 1 - np.argmax(present[:, ::-1], axis=1), -1)
    first_frame = np.where(present.any(axis=1), np.argmax(present, axis=1), n)
    for a in range(t):
        if merged_into[a] == a and rng.random() < config.p_merge:
            later = np.flatnonzero((first_frame > last_frame[a]) & (merged_into == np.arange(t)))
            if later.size:
                b = int(rng.choice(later))
                track_ids[b] = track_ids[a, 0]
                merged_into[b] = a
                last_frame[a] = last_frame[b]
    labels = gt_labels.copy()
    flip = rng.random((t, n)) < config.p_wrong_label
    labels[flip] = np.where(labels[flip] == REFERRED_OBJECT, OTHER_OBJECT, REFERRED_OBJECT)
    # False-positive tracks: new objects, sometimes labelled referred.
    f = config.num_false_tracks
    if f:
        fp_xy = world.ego_xyz_city[np.newaxis, :, :2] + rng.uniform(-40, 40, size=(f, 1, 2))
        fp_xyz = np.concatenate([fp_xy, np.zeros((f, n, 1))], axis=2)
        xyz = np.concatenate([xyz, fp_xyz])
        present = np.concatenate([present, rng.random((f, n)) < 0.6])
        track_ids = np.concatenate([track_ids, 5000 + np.repeat(np.arange(f)[:, np.newaxis], n, axis=1)])
        fp_labels = np.where(rng.random((f, n)) < 0.5, REFERRED_OBJECT, OTHER_OBJECT)
        labels = np.concatenate([labels, fp_labels])
    if config.score_levels > 0:
        scores = rng.integers(1, config.score_levels + 1, size=present.shape) / config.score_levels
    else:
        scores = rng.uniform(0.05, 1.0, size=present.shape)
    if rng.random() < config.p_empty_prediction:
        present = np.zeros_like(present)
    return track_ids, xyz, present, labels, scores


def make_case(seed: int, config: CaseConfig = CaseConfig()) -> tuple[Sequences, Sequences]:
    """Generate (predictions, ground_truth) in av2's scenario-mining format.

    Args:
        seed: random seed.
        config: size and damage knobs.

    Returns:
        (predictions, ground_truth) sequences dicts.
    """
    rng = np.random.default_rng(seed)
    predictions: Sequences = {}
    ground_truth: Sequences = {}
    for log_index in range(config.num_logs + config.extra_prediction_logs):
        log_id = _log_id(rng)
        world = _world(rng, config)
        chosen = rng.choice(len(config.prompts), size=min(config.prompts_per_log, len(config.prompts)), replace=False)
        for prompt_index in sorted(chosen.tolist()):
            key = (log_id, config.prompts[prompt_index])
            gt_labels = _referred_labels(rng, world.present, rng.random() < config.p_no_positive)
            gt_ids = np.repeat(np.arange(world.present.shape[0])[:, np.newaxis], world.present.shape[1], axis=1)
            flags = _is_positive(rng, gt_labels, world.present) if rng.random() < config.p_is_positive else None
            if log_index < config.num_logs:
                ground_truth[key] = _frames(world, key, gt_ids, world.xyz_city, world.present, gt_labels, None, flags)
            ids, xyz, present, labels, scores = _damaged_prediction(rng, config, world, gt_labels)
            predictions[key] = _frames(world, key, ids, xyz, present, labels, scores, None)
    return predictions, ground_truth
