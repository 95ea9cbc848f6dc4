"""A second tracker-noise model, independent of ``avmine.evaluation.noise``: errors that follow occlusions.

The refinement was built and its defaults chosen against ``avmine.evaluation.noise``; this generator is
a different description of a tracker's failures, so that the refinement is also judged on noise it
was not made for. What differs from ``avmine.evaluation.noise``:

- position: a bias per track that drifts (first-order Gauss-Markov, ``bias_sigma_m`` 0.15 m with a
  ``bias_time_s`` 0.7 s correlation time) plus white jitter (``jitter_sigma_m`` 0.12 m), not white
  noise alone;
- heading: Laplace-distributed jitter (``yaw_laplace_deg`` 4°, heavy tails), and flips that last: an
  object's heading locks backwards in episodes (``flip_per_s`` 0.05 starts per second, mean
  ``flip_mean_s`` 0.5 s), not single flipped boxes;
- size: a per-track scale error (5 %) and per-box 2 %;
- missed boxes: occlusions (``occlusion_per_s`` 0.15 per second, mean ``occlusion_mean_s`` 0.6 s, twice
  as frequent beyond ``far_m`` 40 m from the ego) plus independent misses (``miss_probability`` 3 %);
- fragments: after a gap longer than 0.3 s the object comes back under a new id with
  ``new_id_after_gap_probability`` (0.6); long tracks can break many times;
- identity switches at crossings: two tracks of one coarse class (vehicles, or everything else) whose
  centres come within ``crossing_distance_m`` (3 m) exchange ids at their closest approach with
  ``crossing_swap_probability`` (0.4), as often as they meet;
- category confusion per box (``confusion_probability`` 4 %) within groups (car, truck, bus...;
  bicyclist, motorcyclist...);
- false boxes: doubled detections beside a real object (``duplicate_per_s`` 0.1 per track per second,
  2 to 6 frames, 0.8 to 1.5 m to the side, their own id), and clutter that drifts at walking pace
  (``clutter_per_s`` 3 per second, 3 to 15 frames, within 20 m of a real box);
- lag: each track's boxes lag by its own time, uniform in 0 to ``max_lag_s`` (0.12 s);
- scores: Beta(5, 2) per true box, Beta(2, 4) for doubled detections, Beta(2, 5) for clutter.

The ego vehicle is left out (its pose comes from localisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from avmine.evaluation.noise import frames_from_rows
from avmine.store.arrays import LogArrays

GAP_NEW_ID_S = 0.3
_CONFUSION_GROUPS = (
    ("REGULAR_VEHICLE", "LARGE_VEHICLE", "BOX_TRUCK", "TRUCK", "BUS"),
    ("BICYCLIST", "MOTORCYCLIST", "WHEELED_RIDER"),
    ("BICYCLE", "MOTORCYCLE", "WHEELED_DEVICE"),
    ("CONSTRUCTION_CONE", "CONSTRUCTION_BARREL", "BOLLARD"),
)
_VEHICLES = {"REGULAR_VEHICLE", "LARGE_VEHICLE", "BOX_TRUCK", "TRUCK", "BUS", "TRUCK_CAB", "VEHICULAR_TRAILER",
             "SCHOOL_BUS", "ARTICULATED_BUS"}  # fmt: skip


@dataclass(frozen=True)
class OcclusionNoise:
    """The second noise model's parameters (see the module's docstring)."""

    jitter_sigma_m: float = 0.12
    bias_sigma_m: float = 0.15
    bias_time_s: float = 0.7
    yaw_laplace_deg: float = 4.0
    flip_per_s: float = 0.05
    flip_mean_s: float = 0.5
    occlusion_per_s: float = 0.15
    occlusion_mean_s: float = 0.6
    far_m: float = 40.0
    miss_probability: float = 0.03
    new_id_after_gap_probability: float = 0.6
    crossing_distance_m: float = 3.0
    crossing_swap_probability: float = 0.4
    confusion_probability: float = 0.04
    duplicate_per_s: float = 0.1
    clutter_per_s: float = 3.0
    max_lag_s: float = 0.12
    seed: int = 0


def _episodes(rng: np.random.Generator, dt: np.ndarray, start_per_s: np.ndarray, mean_s: float) -> np.ndarray:
    """A two-state Markov chain per step (False: normal, True: in an episode), starting normal."""
    on = np.zeros(len(dt), dtype=bool)
    start = 1.0 - np.exp(-start_per_s * dt)
    stop = 1.0 - np.exp(-dt / mean_s)
    draws = rng.random(len(dt))
    state = False
    for k in range(len(dt)):
        state = draws[k] >= stop[k] if state else draws[k] < start[k]
        on[k] = state
    return on


def _crossing_swaps(
    arrays: LogArrays, identity: np.ndarray, track: np.ndarray, model: OcclusionNoise, rng: np.random.Generator
) -> np.ndarray:
    """Identities after exchanges at the closest approach of close tracks of one coarse class."""
    n_tracks, n_times = arrays.num_tracks, len(arrays.timestamps_ns)
    time_index = np.asarray(arrays.row_time_index)
    xy = np.full((n_tracks, n_times, 2), np.nan)
    xy[track, time_index] = np.asarray(arrays.xyz_city)[:, :2]
    ego = list(arrays.track_uuids).index(arrays.ego_uuid)
    vehicle = np.isin(np.asarray(arrays.track_categories), list(_VEHICLES))
    swapped = identity.copy()
    events = []
    for group in (vehicle, ~vehicle):
        members = np.flatnonzero(group & (np.arange(n_tracks) != ego))
        if len(members) < 2:
            continue
        gaps = np.nan_to_num(np.linalg.norm(xy[members][:, None] - xy[members][None], axis=-1), nan=np.inf)
        for a, b in zip(*np.nonzero(np.triu(gaps.min(axis=-1) < model.crossing_distance_m, k=1)), strict=True):
            events.append((int(np.argmin(gaps[a, b])), members[a], members[b]))
    for when, first, second in sorted(events):
        if rng.random() >= model.crossing_swap_probability:
            continue
        later = time_index >= when
        of_first, of_second = later & (track == first), later & (track == second)
        first_id, second_id = swapped[of_first][0], swapped[of_second][0]  # both are there at their closest
        swapped[of_first], swapped[of_second] = second_id, first_id
    return swapped


def occlusion_tracking_frames(arrays: LogArrays, model: OcclusionNoise | None = None) -> list[dict[str, Any]]:
    """The log's clean boxes as one log of an AV2 tracking pickle (city frame) with this model's noise."""
    model = model or OcclusionNoise()
    rng = np.random.default_rng(model.seed + 7919)  # not the first model's random stream
    ts = np.asarray(arrays.timestamps_ns)
    track = np.asarray(arrays.row_track, dtype=np.int64)
    time_index = np.asarray(arrays.row_time_index, dtype=np.int64)
    t_s = (np.asarray(arrays.row_timestamp_ns) - ts[0]) / 1e9
    ego = list(arrays.track_uuids).index(arrays.ego_uuid)
    rows = len(track)
    xyz = np.array(arrays.xyz_city, dtype=np.float64)
    yaw = np.array(arrays.yaw_city, dtype=np.float64)
    size = np.array(arrays.size, dtype=np.float64)
    names = np.asarray(arrays.categories)[np.asarray(arrays.row_category)].astype(object)
    far = np.linalg.norm(xyz[:, :2] - np.asarray(arrays.ego_xyz_city)[time_index, :2], axis=1) > model.far_m
    keep = np.zeros(rows, dtype=bool)
    starts, ends = np.asarray(arrays.track_start[:-1]), np.asarray(arrays.track_start[1:])
    for t in range(arrays.num_tracks):
        if t == ego or ends[t] <= starts[t]:
            continue
        r = np.arange(starts[t], ends[t])
        dt = np.diff(t_s[r], prepend=t_s[r[0]] - 0.1)
        xyz[r] -= np.asarray(arrays.velocity_city)[r] * rng.uniform(0.0, model.max_lag_s)
        decay = np.exp(-dt / model.bias_time_s)
        bias = np.zeros((len(r), 2))
        bias[0] = rng.normal(0.0, model.bias_sigma_m, 2)
        shocks = rng.normal(0.0, model.bias_sigma_m, (len(r), 2)) * np.sqrt(1 - decay**2)[:, None]
        for k in range(1, len(r)):
            bias[k] = decay[k] * bias[k - 1] + shocks[k]
        xyz[r, :2] += bias + rng.normal(0.0, model.jitter_sigma_m, (len(r), 2))
        flipped = _episodes(rng, dt, np.full(len(r), model.flip_per_s), model.flip_mean_s)
        yaw[r] += np.radians(rng.laplace(0.0, model.yaw_laplace_deg, len(r))) + np.pi * flipped
        size[r] *= rng.normal(1.0, 0.05) * rng.normal(1.0, 0.02, (len(r), 1))
        occluded = _episodes(rng, dt, model.occlusion_per_s * np.where(far[r], 2.0, 1.0), model.occlusion_mean_s)
        keep[r] = ~occluded & (rng.random(len(r)) >= model.miss_probability)
    yaw = (yaw + np.pi) % (2 * np.pi) - np.pi
    for group in _CONFUSION_GROUPS:
        confused = np.isin(names, group) & (rng.random(rows) < model.confusion_probability)
        names[confused] = rng.choice(group, size=int(confused.sum()))
    identity = _crossing_swaps(arrays, track.copy(), track, model, rng)
    # a new id after a long gap: walk each identity's kept boxes in time order
    kept = np.flatnonzero(keep)
    kept = kept[np.lexsort((t_s[kept], identity[kept]))]
    same = np.r_[False, identity[kept][1:] == identity[kept][:-1]]
    gap = np.r_[0.0, np.diff(t_s[kept])]
    new_segment = ~same | ((gap > GAP_NEW_ID_S) & (rng.random(len(kept)) < model.new_id_after_gap_probability))
    track_id = np.cumsum(new_segment) - 1
    out_rows: dict[str, list[np.ndarray]] = {"t": [time_index[kept]], "id": [track_id], "xyz": [xyz[kept]],
                                             "size": [size[kept]], "yaw": [yaw[kept]], "name": [names[kept]],
                                             "score": [rng.beta(5, 2, len(kept))]}  # fmt: skip
    next_id = int(track_id.max()) + 1 if len(kept) else 0
    # doubled detections beside real boxes
    frame_s = float(np.median(np.diff(ts))) / 1e9 if len(ts) > 1 else 0.1
    for start in np.flatnonzero(rng.random(len(kept)) < model.duplicate_per_s * frame_s):
        row = kept[start]
        same_track = kept[(track[kept] == track[row]) & (t_s[kept] >= t_s[row])][: int(rng.integers(2, 7))]
        side = rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.5)
        normal = np.c_[-np.sin(yaw[same_track]), np.cos(yaw[same_track]), np.zeros(len(same_track))]
        out_rows["t"].append(time_index[same_track])
        out_rows["id"].append(np.full(len(same_track), next_id))
        out_rows["xyz"].append(xyz[same_track] + side * normal)
        out_rows["size"].append(size[same_track])
        out_rows["yaw"].append(yaw[same_track])
        out_rows["name"].append(names[same_track])
        out_rows["score"].append(np.full(len(same_track), rng.beta(2, 4)))
        next_id += 1
    # clutter drifting at walking pace
    duration_s = (ts[-1] - ts[0]) / 1e9 if len(ts) > 1 else 0.0
    real = np.flatnonzero(track != ego)
    for _ in range(int(rng.poisson(model.clutter_per_s * duration_s)) if len(real) else 0):
        anchor = int(rng.choice(real))
        first = int(rng.integers(0, len(ts)))
        frames = np.arange(first, min(first + int(rng.integers(3, 16)), len(ts)))
        walk = np.cumsum(rng.normal(0.0, 0.5 * frame_s, (len(frames), 2)), axis=0)
        where = xyz[anchor, :2] + rng.uniform(-20, 20, 2) + walk
        out_rows["t"].append(frames)
        out_rows["id"].append(np.full(len(frames), next_id))
        out_rows["xyz"].append(np.c_[where, np.full(len(frames), xyz[anchor, 2])])
        out_rows["size"].append(np.tile(size[anchor], (len(frames), 1)))
        out_rows["yaw"].append(np.full(len(frames), rng.uniform(-np.pi, np.pi)))
        out_rows["name"].append(np.full(len(frames), names[anchor], dtype=object))
        out_rows["score"].append(np.full(len(frames), rng.beta(2, 5)))
        next_id += 1
    return frames_from_rows(out_rows, ts)
