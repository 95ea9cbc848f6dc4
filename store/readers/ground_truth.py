"""RefAV scenario-mining ground truth: combined pickles and per-split annotation feathers."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avmine.store.errors import IngestError
from avmine.store.readers.av2_log import ANNOTATION_BOUNDS, ANNOTATION_COLUMNS
from avmine.store.readers.feather import read_feather_checked
from avmine.store.readers.values import (
    POSITION,
    SIZE,
    TIMESTAMP,
    TRACK_ID,
    YAW,
    checked_numbers,
    checked_rows,
    checked_scalar,
)

SEQUENCE_FRAME_KEYS = ("timestamp_ns", "ego_translation_m", "translation_m", "size", "yaw", "label", "track_id")
LABEL_NAMES = {0: "REFERRED", 1: "RELATED", 2: "OTHER"}
MINING_CATEGORIES = {"REFERRED_OBJECT": "REFERRED", "RELATED_OBJECT": "RELATED"}
GT_FEATHER_COLUMNS = (*ANNOTATION_COLUMNS, "log_id", "prompt", "mining_category")

_FORMAT_HINT = (
    "Scenario-mining pickles map (log_id, prompt) to a list of frames; each frame has timestamp_ns, "
    "ego_translation_m, translation_m (N, 3), size (N, 3), yaw (N,), label (N,) with 0 referred / "
    "1 related / 2 other, track_id (N,), and optionally is_positive."
)


@dataclass(frozen=True)
class GroundTruth:
    """Ground truth of several (log, prompt) pairs, as rows for the store."""

    frames: pd.DataFrame  # log_id, prompt, timestamp_ns, frame_index, ego_t*_m, is_positive
    labels: pd.DataFrame  # log_id, prompt, timestamp_ns, track_uuid, track_id, label, geometry


def sequence_key(key: object) -> tuple[str, str] | None:
    """The (log_id, prompt) of a scenario-mining pickle key (a tuple or its ``str()`` form)."""
    if isinstance(key, str) and key.startswith("("):
        try:
            key = ast.literal_eval(key)
        except (ValueError, SyntaxError):
            return None
    if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
        return str(key[0]), str(key[1])
    return None


def is_sequence_pickle(obj: object) -> bool:
    """Whether a loaded pickle maps (log_id, prompt) keys to frame lists."""
    return isinstance(obj, dict) and len(obj) > 0 and all(sequence_key(k) is not None for k in obj)


def looks_like_predictions(obj: dict[Any, Any]) -> bool:
    """Whether a sequence pickle is a prediction (tracker scores) rather than ground truth."""
    for frames in obj.values():
        for frame in frames:
            if isinstance(frame, dict) and "score" in frame:
                scores = np.asarray(frame["score"], dtype=np.float64)
                if scores.size and not np.all(scores == 1.0):
                    return True
    return False


def read_sequence_pickle(obj: dict[Any, Any], path: Path) -> GroundTruth:
    """Flatten a ground-truth sequence pickle into frame and label rows.

    Raises:
        IngestError: a frame is malformed (missing keys, mismatched lengths, labels outside 0-2).
    """
    frame_rows: list[dict[str, Any]] = []
    label_parts: list[pd.DataFrame] = []
    for key, frames in obj.items():
        log_id, prompt = sequence_key(key) or ("", "")
        if not isinstance(frames, list):
            raise IngestError(path, f"entry ({log_id}, {prompt}) is not a list of frames.", _FORMAT_HINT)
        for i, frame in enumerate(frames):
            where = f"({log_id}, {prompt}) frame {i}"
            if not isinstance(frame, dict):
                raise IngestError(path, f"{where} is not a dict.", _FORMAT_HINT)
            missing = [k for k in SEQUENCE_FRAME_KEYS if k not in frame]
            if missing:
                raise IngestError(path, f"{where} lacks the key(s) {', '.join(missing)}.", _FORMAT_HINT)
            xyz = checked_rows(frame["translation_m"], POSITION, path, where, "translation_m", 3)
            size = checked_rows(frame["size"], SIZE, path, where, "size", 3)
            yaw = checked_numbers(frame["yaw"], YAW, path, where, "yaw").reshape(-1)
            label = np.asarray(frame["label"]).reshape(-1)
            track_id = checked_numbers(frame["track_id"], TRACK_ID, path, where, "track_id").reshape(-1)
            if len({len(xyz), len(size), len(yaw), len(label), len(track_id)}) != 1:
                raise IngestError(path, f"{where}: per-box arrays have different lengths.", _FORMAT_HINT)
            if not np.isin(label, list(LABEL_NAMES)).all():
                raise IngestError(
                    path, f"{where}: labels must be 0, 1 or 2, found {sorted(set(label.tolist()))}.", _FORMAT_HINT
                )
            ego = checked_rows(frame["ego_translation_m"], POSITION, path, where, "ego_translation_m", 3, per_box=False)
            if len(ego) != 1:
                raise IngestError(path, f"{where}: 'ego_translation_m' must be one (x, y, z).", _FORMAT_HINT)
            ego = ego[0]
            timestamp = int(checked_scalar(frame["timestamp_ns"], TIMESTAMP, path, where, "timestamp_ns"))
            is_positive = frame.get("is_positive")
            frame_rows.append(
                {
                    "log_id": log_id,
                    "prompt": prompt,
                    "timestamp_ns": timestamp,
                    "frame_index": i,
                    "ego_tx_m": ego[0],
                    "ego_ty_m": ego[1],
                    "ego_tz_m": ego[2],
                    "is_positive": None if is_positive is None else bool(is_positive),
                }
            )
            label_parts.append(
                pd.DataFrame(
                    {
                        "log_id": log_id,
                        "prompt": prompt,
                        "timestamp_ns": timestamp,
                        "track_uuid": None,
                        "track_id": track_id.astype(np.int64),
                        "label": [LABEL_NAMES[int(v)] for v in label],
                        "tx_city_m": xyz[:, 0],
                        "ty_city_m": xyz[:, 1],
                        "tz_city_m": xyz[:, 2],
                        "length_m": size[:, 0],
                        "width_m": size[:, 1],
                        "height_m": size[:, 2],
                        "yaw_city_rad": yaw,
                    }
                )
            )
    frames_df = pd.DataFrame(frame_rows)
    duplicated = frames_df.duplicated(["log_id", "prompt", "timestamp_ns"])
    if duplicated.any():
        row = frames_df[duplicated].iloc[0]
        raise IngestError(
            path,
            f"({row['log_id']}, {row['prompt']}) has two frames at timestamp {row['timestamp_ns']}.",
            "Each evaluation timestamp appears once per (log, prompt); drop the duplicate frame.",
        )
    labels = pd.concat(label_parts, ignore_index=True) if label_parts else pd.DataFrame()
    return GroundTruth(frames=frames_df, labels=labels)


def read_split_feather(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read RefAV's per-split ``scenario_mining_<split>_annotations.feather``.

    Returns:
        ``(labels, boxes_ego)``: label rows (log_id, prompt, timestamp_ns, track_uuid, label) at
        every annotated timestamp, and the same rows' ego-frame boxes for placing them in the city.
    """
    frame = read_feather_checked(path, GT_FEATHER_COLUMNS, "RefAV scenario-mining annotations", ANNOTATION_BOUNDS)
    labels = pd.DataFrame(
        {
            "log_id": frame["log_id"].astype(str),
            "prompt": frame["prompt"].astype(str),
            "timestamp_ns": frame["timestamp_ns"].to_numpy(np.int64),
            "track_uuid": frame["track_uuid"].astype(str),
            "label": frame["mining_category"].astype(str).map(MINING_CATEGORIES).fillna("OTHER"),
        }
    )
    return labels, frame
