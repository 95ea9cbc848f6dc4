"""RefAV's confidence prefilter for tracker outputs (``refAV/dataset_conversion.py: filter_ids_by_score``).

Trackers emit many short, low-confidence tracks. Before a tracker output
becomes a track source, RefAV keeps, per class, the tracks with the highest
summed score, then makes sure every frame keeps at least one track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

COMMON_CLASSES = ("REGULAR_VEHICLE", "PEDESTRIAN", "BOLLARD", "CONSTRUCTION_CONE", "CONSTRUCTION_BARREL")
"""Classes the RefAV paper keeps 200 tracks of; every other class keeps 100."""


@dataclass(frozen=True)
class PrefilterConfig:
    """How many tracks per class survive the prefilter.

    The default reproduces RefAV's code: 100 tracks for every class (its check
    for the common classes compares integer labels with names, so it never
    matches). ``PrefilterConfig.paper()`` is the variant the paper describes.
    """

    enabled: bool = True
    top_k: int = 100
    common_top_k: int = 100

    @classmethod
    def paper(cls) -> PrefilterConfig:
        """The paper's variant: 200 tracks for the five common classes, 100 for the others."""
        return cls(enabled=True, top_k=100, common_top_k=200)

    @classmethod
    def off(cls) -> PrefilterConfig:
        """Keep every track."""
        return cls(enabled=False)


REFAV_PREFILTER = PrefilterConfig()
"""The prefilter of RefAV's code, the default everywhere."""


def prefilter_track_ids(
    frame_index: npt.NDArray[np.int64],
    track_ids: npt.NDArray[np.str_],
    scores: npt.NDArray[np.float64],
    classes: npt.NDArray[np.str_],
    class_names: npt.NDArray[np.str_],
    num_frames: int,
    config: PrefilterConfig = REFAV_PREFILTER,
) -> set[str]:
    """Select the tracker track ids that survive the confidence prefilter.

    One entry per detection, in input order (frame by frame). A track's class is
    its class at its last detection; its rank within the class is its summed
    score (longer tracks rank higher), ties kept in order of first appearance.
    After the top-k of a class are kept, every frame that still has no kept
    track takes the next tracks of that class's ranking that appear in it; the
    position in the ranking carries over from frame to frame, as in RefAV.

    Args:
        frame_index: the frame of each detection, shape (D,).
        track_ids: the track id of each detection, shape (D,).
        scores: the detection confidence, shape (D,).
        classes: the class key of each detection (RefAV uses the integer label), shape (D,).
        class_names: the category name of each detection, for the common-class rule, shape (D,).
        num_frames: number of frames, including frames without detections.
        config: how many tracks to keep.

    Returns:
        The kept track ids.
    """
    if not config.enabled or len(track_ids) == 0:
        return set(np.asarray(track_ids).tolist())
    detections = pd.DataFrame(
        {"frame": frame_index, "track": track_ids, "score": scores, "cls": classes, "name": class_names}
    )
    per_track = detections.groupby("track", sort=False).agg(
        score=("score", "sum"), cls=("cls", "last"), name=("name", "last")
    )
    tracks = per_track.index.to_numpy()
    position = {track: i for i, track in enumerate(tracks)}
    presence = np.zeros((len(tracks), num_frames), dtype=bool)
    presence[detections["track"].map(position).to_numpy(), detections["frame"].to_numpy()] = True

    kept = np.zeros(len(tracks), dtype=bool)
    frame_has_kept = np.zeros(num_frames, dtype=bool)
    for cls in pd.unique(per_track["cls"]):
        members = np.flatnonzero(per_track["cls"].to_numpy() == cls)
        ranking = members[np.argsort(-per_track["score"].to_numpy()[members], kind="stable")]
        common = str(per_track["name"].to_numpy()[ranking[0]]) in COMMON_CLASSES
        top_k = min(config.common_top_k if common else config.top_k, len(ranking))
        kept[ranking[:top_k]] = True
        frame_has_kept |= presence[ranking[:top_k]].any(axis=0)
        # RefAV resumes from the last kept rank (an index that its top-k loop leaves behind).
        rank = max(top_k - 1, 0)
        for frame in range(num_frames):
            while not frame_has_kept[frame] and rank < len(ranking):
                candidate = ranking[rank]
                if presence[candidate, frame]:
                    kept[candidate] = True
                    frame_has_kept |= presence[candidate]
                rank += 1
    return set(tracks[kept].tolist())
