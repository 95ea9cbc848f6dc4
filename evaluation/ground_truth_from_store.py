"""Ground-truth sequences rebuilt from the store, in the pickle format ``evaluate`` reads."""

from typing import Any

import numpy as np

from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.database import Store

LABEL_CODES = {"REFERRED": 0, "RELATED": 1, "OTHER": 2}
LABEL_NAMES = np.array(["REFERRED_OBJECT", "RELATED_OBJECT", "OTHER_OBJECT"], dtype="<U31")


def ground_truth_pairs(store: Store, prompt: str) -> list[str]:
    """The logs a prompt has ground truth for (positive and negative ones)."""
    rows = store.con.execute(
        "SELECT DISTINCT log_id FROM gt_frames WHERE prompt = ? ORDER BY log_id", [prompt]
    ).fetchall()
    return [str(r[0]) for r in rows]


def ground_truth_frames(store: Store, log_id: str, prompt: str) -> list[dict[str, Any]]:
    """One (log, prompt)'s ground-truth frames, as the challenge's pickle holds them.

    Boxes come from the ground-truth rows where they carry geometry (ingested pickles), else from
    the log's annotated boxes at the same timestamp (RefAV's per-split feather).
    """
    frames = store.con.execute(
        "SELECT timestamp_ns, ego_tx_m, ego_ty_m, ego_tz_m, is_positive FROM gt_frames "
        "WHERE log_id = ? AND prompt = ? ORDER BY frame_index",
        [log_id, prompt],
    ).fetchall()
    rows = store.query_df(
        """
        SELECT g.timestamp_ns, g.label,
               coalesce(g.track_id, b.track_index) AS track_id,
               coalesce(g.tx_city_m, b.tx_city_m) AS x, coalesce(g.ty_city_m, b.ty_city_m) AS y,
               coalesce(g.tz_city_m, b.tz_city_m) AS z,
               coalesce(g.length_m, b.length_m) AS l, coalesce(g.width_m, b.width_m) AS w,
               coalesce(g.height_m, b.height_m) AS h, coalesce(g.yaw_city_rad, b.yaw_city_rad) AS yaw
        FROM ground_truth g
        LEFT JOIN boxes b ON b.source = ? AND b.log_id = g.log_id AND b.track_uuid = g.track_uuid
             AND b.timestamp_ns = g.timestamp_ns
        WHERE g.log_id = ? AND g.prompt = ? AND g.timestamp_ns IN (
            SELECT timestamp_ns FROM gt_frames WHERE log_id = ? AND prompt = ?)
        ORDER BY g.timestamp_ns, g.rowid
        """,
        [ANNOTATIONS_SOURCE, log_id, prompt, log_id, prompt],
    )
    by_time = dict(tuple(rows.groupby("timestamp_ns", sort=False)))
    out = []
    for timestamp_ns, ego_x, ego_y, ego_z, is_positive in frames:
        group = by_time.get(timestamp_ns)
        labels = np.array([LABEL_CODES[v] for v in group["label"]] if group is not None else [], dtype=np.int32)
        document: dict[str, Any] = {
            "seq_id": (log_id, prompt),
            "timestamp_ns": int(timestamp_ns),
            "ego_translation_m": [float(ego_x), float(ego_y), float(ego_z)],
            "description": prompt,
            "translation_m": group[["x", "y", "z"]].to_numpy(np.float64) if group is not None else np.zeros((0, 3)),
            "size": group[["l", "w", "h"]].to_numpy(np.float32) if group is not None else np.zeros((0, 3), np.float32),
            "yaw": group["yaw"].to_numpy(np.float32) if group is not None else np.zeros(0, np.float32),
            "label": labels,
            "name": LABEL_NAMES[labels],
            "track_id": group["track_id"].to_numpy(np.int32) if group is not None else np.zeros(0, np.int32),
        }
        if is_positive is not None:  # NULL: absent from the input (the evaluator then reads the labels)
            document["is_positive"] = bool(is_positive)
        out.append(document)
    return out
