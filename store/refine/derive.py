"""``refine``: read a track source from the store, refine every log, write the result as a new source.

The refined source is written like an ingested tracker output (one transaction, per-log caches
published after the commit, the SQL copy of the log tables rewritten), with a ``refinements`` row
per log saying how it was made and a ``box_provenance`` row per box naming the parent's box it
came from, or that it was interpolated.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.boxes import EGO_CATEGORY
from avmine.store.database import Store, now
from avmine.store.geometry import city_to_ego
from avmine.store.ingestion import writing
from avmine.store.progress import bar as progress_bar
from avmine.store.refine import pipeline
from avmine.store.refine.params import STEPS, RefineError, RefineParams, check_steps
from avmine.store.refine.tracks import Tracks
from avmine.store.schema import REFINED_KIND

_EGO_COLUMNS = {"tx_ego_m": "tx_m", "ty_ego_m": "ty_m", "tz_ego_m": "tz_m",
                "qw_ego": "qw", "qx_ego": "qx", "qy_ego": "qy", "qz_ego": "qz"}  # fmt: skip


@dataclass
class RefineReport:
    """What one refinement wrote: per log, the step counts."""

    source: str
    out: str
    steps: tuple[str, ...]
    logs: dict[str, pipeline.StepCounts] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def seconds_per_log(self) -> float:
        """Mean seconds of the refinement steps per log (reading and writing excluded)."""
        return sum(sum(c.seconds.values()) for c in self.logs.values()) / max(len(self.logs), 1)


def _check(store: Store, source: str, out: str) -> list[str]:
    """The source's logs; raise ``RefineError`` for a request that cannot run."""
    known = [str(r[0]) for r in store.con.execute("SELECT DISTINCT source FROM track_sources ORDER BY 1").fetchall()]
    if source not in known:
        raise RefineError(
            f"no track source '{source}' in {store.path} (it has: {', '.join(known) or 'none'}). "
            "Ingest a tracker output first: avmine ingest TRACKS.pkl --source NAME."
        )
    if out in (source, ANNOTATIONS_SOURCE):
        raise RefineError(f"cannot write the refined boxes as '{out}': give --out a new source name.")
    if out in known:
        made = store.con.execute("SELECT count(*) FROM refinements WHERE source = ?", [out]).fetchone()
        if not made or not made[0]:
            raise RefineError(
                f"source '{out}' exists and was not made by avmine refine; refining would replace it. "
                "Give --out another name."
            )
    rows = store.con.execute(
        "SELECT log_id, num_tracks FROM track_sources WHERE source = ? ORDER BY log_id", [source]
    ).fetchall()
    if all(int(n) <= 1 for _, n in rows):  # the ego is always one of them
        raise RefineError(f"source '{source}' has no tracks besides the ego vehicle's: there is nothing to refine.")
    return [str(r[0]) for r in rows]


def _tracks(boxes: pd.DataFrame) -> Tracks:
    uuids, track = np.unique(boxes["track_uuid"].to_numpy(str), return_inverse=True)
    return Tracks(
        uuids=uuids,
        track=track.astype(np.int64),
        t_ns=boxes["timestamp_ns"].to_numpy(np.int64),
        xyz=boxes[["tx_city_m", "ty_city_m", "tz_city_m"]].to_numpy(np.float64),
        yaw=boxes["yaw_city_rad"].to_numpy(np.float64),
        size=boxes[["length_m", "width_m", "height_m"]].to_numpy(np.float64),
        category=boxes["category"].to_numpy(str),
        score=boxes["score"].to_numpy(np.float64, na_value=np.nan),
        raw_row=np.arange(len(boxes), dtype=np.int64),
        yaw_flipped=np.zeros(len(boxes), dtype=bool),
    ).sorted()


def _ego_frame_rows(refined: Tracks, parent: pd.DataFrame, poses: pd.DataFrame) -> pd.DataFrame:
    """Refined boxes as ego-frame rows for ``build_boxes``; untouched boxes keep their parent's values."""
    pose_ts = poses["timestamp_ns"].to_numpy(np.int64)
    at = np.searchsorted(pose_ts, refined.t_ns)
    xyz_ego, quat_ego = city_to_ego(
        refined.xyz,
        refined.yaw,
        poses[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64)[at],
        poses[["qw", "qx", "qy", "qz"]].to_numpy(np.float64)[at],
    )
    raw = refined.raw_row
    has_raw = raw >= 0
    parent_xyz = parent[["tx_city_m", "ty_city_m", "tz_city_m"]].to_numpy(np.float64)
    same_xyz = has_raw & np.all(parent_xyz[np.maximum(raw, 0)] == refined.xyz, axis=1)
    same_yaw = has_raw & ~refined.yaw_flipped
    xyz_ego[same_xyz] = parent[["tx_ego_m", "ty_ego_m", "tz_ego_m"]].to_numpy(np.float64)[raw[same_xyz]]
    quat_ego[same_yaw] = parent[["qw_ego", "qx_ego", "qy_ego", "qz_ego"]].to_numpy(np.float64)[raw[same_yaw]]
    interior = parent["num_interior_pts"].to_numpy(np.float64, na_value=np.nan)
    # rows in the parent's input order (interpolated ones after their predecessor), so track order is kept
    order_key = np.where(has_raw, parent["input_row"].to_numpy(np.int64)[np.maximum(raw, 0)], -1)
    rows = pd.DataFrame(
        {
            "timestamp_ns": refined.t_ns,
            "track_uuid": refined.uuids[refined.track],
            "category": refined.category,
            "length_m": refined.size[:, 0], "width_m": refined.size[:, 1], "height_m": refined.size[:, 2],
            "qw": quat_ego[:, 0], "qx": quat_ego[:, 1], "qy": quat_ego[:, 2], "qz": quat_ego[:, 3],
            "tx_m": xyz_ego[:, 0], "ty_m": xyz_ego[:, 1], "tz_m": xyz_ego[:, 2],
            "score": refined.score,
            "num_interior_pts": np.where(has_raw, interior[np.maximum(raw, 0)], np.nan),
            "_order": np.where(order_key >= 0, order_key, np.iinfo(np.int64).max),
        }
    )  # fmt: skip
    return rows.sort_values(["timestamp_ns", "_order"], kind="stable").drop(columns="_order")


def _provenance(refined: Tracks, parent: pd.DataFrame, source: str, log_id: str) -> pd.DataFrame:
    raw = refined.raw_row
    has_raw = raw >= 0
    safe = np.maximum(raw, 0)
    parent_uuid = parent["track_uuid"].to_numpy(object)[safe]
    parent_uuid[~has_raw] = None
    parent_xyz = parent[["tx_city_m", "ty_city_m", "tz_city_m"]].to_numpy(np.float64)[safe]
    return pd.DataFrame(
        {
            "source": source,
            "log_id": log_id,
            "track_uuid": refined.uuids[refined.track],
            "timestamp_ns": refined.t_ns,
            "parent_track_uuid": pd.array(parent_uuid, dtype="string"),
            "interpolated": ~has_raw,
            "yaw_flipped": refined.yaw_flipped,
            "category_changed": has_raw & (parent["category"].to_numpy(str)[safe] != refined.category),
            "moved_m": np.where(has_raw, np.linalg.norm(parent_xyz - refined.xyz, axis=1), 0.0),
        }
    )


def refine(
    store: Store,
    source: str,
    out: str | None = None,
    steps: list[str] | tuple[str, ...] = STEPS,
    params: RefineParams | None = None,
    progress: bool = True,
) -> RefineReport:
    """Derive the track source ``out`` (default ``<source>-refined``) from ``source``, all logs in one transaction.

    Re-running replaces an earlier refinement of the same name; a failure leaves the database and the
    caches as they were.

    Raises:
        RefineError: an unknown source or step, a source without tracks, a parameter out of range, or an
            ``out`` name that would replace a source the refinement did not make.
    """
    started = time.perf_counter()
    params = params or RefineParams()
    params.validate()
    chosen = check_steps(list(steps))
    out = out or f"{source}-refined"
    log_ids = _check(store, source, out)
    report = RefineReport(source=source, out=out, steps=chosen)
    with writing(store, source=out) as job:
        for log_id in progress_bar(log_ids, wanted=progress, desc=f"refine {source}", unit="log", leave=False):
            boxes = store.query_df(
                "SELECT * FROM boxes WHERE source = ? AND log_id = ? ORDER BY track_index, timestamp_ns",
                [source, log_id],
            )
            poses = store.query_df("SELECT * FROM ego_poses WHERE log_id = ? ORDER BY timestamp_ns", [log_id])
            is_ego = boxes["category"].to_numpy(str) == EGO_CATEGORY
            parent = boxes[~is_ego].reset_index(drop=True)
            frame_ns = np.unique(boxes["timestamp_ns"].to_numpy(np.int64))
            refined, counts = pipeline.run(_tracks(parent), frame_ns, chosen, params)
            ego_columns = ["timestamp_ns", "track_uuid", "category", "length_m", "width_m", "height_m",
                           *_EGO_COLUMNS.values(), "score", "num_interior_pts"]  # fmt: skip
            ego = boxes[is_ego].rename(columns=_EGO_COLUMNS)[ego_columns]
            ego = ego.assign(
                score=ego["score"].to_numpy(np.float64, na_value=np.nan),
                num_interior_pts=ego["num_interior_pts"].to_numpy(np.float64, na_value=np.nan),
            )
            rows = pd.concat([_ego_frame_rows(refined, parent, poses), ego], ignore_index=True)
            job.write_source(
                rows, poses, log_id=log_id, source=out, kind=REFINED_KIND, path=Path(f"refine:{source}"),
                ego_timestamps=frame_ns, num_before_prefilter=None,
            )  # fmt: skip
            # write_source dropped the log's earlier provenance; both tables go to the SQL copy too
            job.insert("box_provenance", _provenance(refined, parent, out, log_id))
            job.insert(
                "refinements",
                pd.DataFrame(
                    [
                        {
                            "source": out,
                            "log_id": log_id,
                            "parent_source": source,
                            "steps": json.dumps(list(chosen)),
                            "parameters": json.dumps(dataclasses.asdict(params)),
                            "counts": json.dumps(dataclasses.asdict(counts)),
                            "refined_at": now(),
                        }
                    ]
                ),
            )
            report.logs[log_id] = counts
    report.seconds = time.perf_counter() - started
    return report
