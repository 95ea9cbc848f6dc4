"""``avmine ingest``: recognise what a path holds and load it into the store, all or nothing.

Recognised inputs: an AV2 sensor log directory, a split directory of logs, a
dataset root of split directories, RefAV scenario-mining log directories,
tracker outputs (AV2 tracking pickles, ingested as a named track source),
RefAV ground truth (combined pickles and per-split annotation feathers), and
prompt lists. Everything one call finds is written in one transaction.

Pickles are read with a restricted unpickler (``avmine.store.readers.safe_pickle``) that builds only
containers and NumPy data. A pickle given by name is always read; a directory scan reads only
``combined_gt*.pkl`` (RefAV's ground truth) and ``*track*.pkl`` (tracker outputs, e.g.
``*_tracking_predictions_val.pkl``), names compared case-insensitively. It passes over
``*predictions*.pkl`` (scenario-mining submissions, never ingested) quietly and any other pickle
with a note.
"""

from __future__ import annotations

import fnmatch
import pickle
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from avmine.store import cache, logs_copy
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.boxes import build_boxes, with_ego_rows
from avmine.store.database import Store, now
from avmine.store.errors import IngestError
from avmine.store.prefilter import REFAV_PREFILTER, PrefilterConfig
from avmine.store.progress import bar as progress_bar
from avmine.store.readers import av2_log, ground_truth, prompts, safe_pickle, tracker

SPLITS = ("train", "val", "test")
UNKNOWN_SPLIT = "unknown"


@dataclass
class IngestReport:
    """What one ingest wrote."""

    logs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str, int, int]] = field(default_factory=list)  # source, log, tracks, boxes
    gt_pairs: int = 0
    prompts: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def num_boxes(self) -> int:
        """Boxes written, over all sources."""
        return sum(s[3] for s in self.sources)


class Preparation(Protocol):
    """Work on each source's staged cache while the ingest goes on (the runtime's map features).

    ``submit`` is called once a source's boxes are staged; the work writes its files into
    ``box_dir``, which is published with them after the commit. ``finish`` waits for all of it
    before the commit (raising the first failure, which undoes the ingest); ``cancel`` stops what
    has not started and waits for the rest before staged directories are removed.
    """

    def expect(self, sources: int) -> None:
        """About this many sources will be submitted (a hint to get ready)."""

    def submit(self, log_id: str, source: str, box_dir: Path, map_dir: Path) -> None:
        """Start the work on one staged source (``map_dir``: the log's map, staged or published)."""

    def finish(self) -> None:
        """Wait for all submitted work; raise the first failure."""

    def cancel(self) -> None:
        """Drop work not started and wait for the work running."""


SCANNED_PICKLES = ("combined_gt*.pkl", "*track*.pkl")
"""Pickle names a directory scan unpickles (lower case); other pickles are read only when named."""
QUIET_PICKLES = ("*predictions*.pkl",)
"""Pickles a scan passes over without a note: scenario-mining submissions, which are never ingested."""


ItemKind = Literal["log", "tracker", "gt_pickle", "gt_feather", "prompts", "skipped"]
"""What a discovered path is to ingest; a skipped item's payload is a note (or None)."""
SourceKind = Literal["annotations", "tracker", "refined"]
"""Where a track source's boxes came from: the logs' own annotation files, a tracker's output, or avmine refine."""


@dataclass(frozen=True)
class _Item:
    kind: ItemKind
    path: Path
    payload: Any = None


def _load_pickle(path: Path) -> Any:
    try:
        return safe_pickle.load_pickle(path)
    except safe_pickle.UnsafePickleError as exc:
        raise IngestError(
            path,
            f"was not unpickled: it asks for '{exc.refused}', which is not one of the data types of RefAV's "
            "pickle formats (built-in containers, NumPy arrays, dtypes and scalars); loading it could run "
            "code, so nothing of it was run.",
            "Ingest pickles only from sources you trust, saved as plain dicts, lists and NumPy arrays.",
        ) from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError, TypeError) as exc:
        raise IngestError(
            path,
            f"could not be read as a pickle: {exc}.",
            "The file is truncated or not a pickle; copy it again.",
        ) from exc


def _classify_pickle(path: Path, explicit: bool) -> _Item | None:
    obj = _load_pickle(path)
    if tracker.is_tracker_pickle(obj):
        return _Item("tracker", path, obj)
    if ground_truth.is_sequence_pickle(obj):
        if ground_truth.looks_like_predictions(obj):
            if explicit:
                raise IngestError(
                    path,
                    "is a scenario-mining prediction (a submission with tracker scores), not ground truth "
                    "or a tracker output.",
                    f"Score it against ground truth with `avmine score {path} GT.pkl`.",
                )
            return None
        return _Item("gt_pickle", path, obj)
    raise IngestError(
        path,
        f"is a pickle of an unrecognised shape ({type(obj).__name__}).",
        "avmine ingests AV2 tracking pickles {log_id: [frame, ...]} and scenario-mining ground truth "
        "{(log_id, prompt): [frame, ...]}.",
    )


def _classify_file(path: Path, explicit: bool) -> _Item | None:
    name = path.name
    if path.suffix == ".pkl":
        if explicit or any(fnmatch.fnmatchcase(name.lower(), p) for p in SCANNED_PICKLES):
            return _classify_pickle(path, explicit)
        if any(fnmatch.fnmatchcase(name.lower(), p) for p in QUIET_PICKLES):
            return _Item("skipped", path)
        note = (
            f"{name} was not read: a directory scan unpickles only {' and '.join(SCANNED_PICKLES)}; "
            "to ingest it, give the file itself."
        )
        return _Item("skipped", path, note)
    if path.suffix == ".feather":
        if name in av2_log.ANNOTATION_FILES or name == av2_log.POSES_FILE:
            return _Item("log", path.parent)
        if "scenario_mining" in name or explicit:
            return _Item("gt_feather", path)
        return None
    if path.suffix == ".json" and (explicit or "prompt" in name):
        return _Item("prompts", path)
    if path.suffix == ".txt" and (explicit or "prompt" in name):
        return _Item("prompts", path)
    if explicit:
        raise IngestError(
            path,
            "is not a kind of file avmine ingests.",
            "Give a log directory, a split directory, a tracker or ground-truth .pkl, a RefAV "
            "scenario_mining_<split>_annotations.feather, or a prompt list (.txt/.json).",
        )
    return None


def check_exists(path: Path) -> None:
    """Raise ``IngestError`` (with what to give instead) when ``path`` does not exist."""
    if not path.exists():
        raise IngestError(
            path,
            "does not exist.",
            "Check the spelling, or give the directory of an AV2 log (with annotations.feather, "
            "city_SE3_egovehicle.feather and map/), a split directory of such logs, or a .pkl/.json file.",
        )


def discover(path: Path) -> list[_Item]:
    """Find everything ingestible at ``path``: logs first, then tracker outputs, ground truth, prompts.

    Raises:
        IngestError: the path does not exist or holds nothing avmine recognises.
    """
    check_exists(path)
    if path.is_file():
        item = _classify_file(path, explicit=True)
        return [item] if item else []
    items: list[_Item] = []
    if av2_log.is_log_dir(path):
        items.append(_Item("log", path))
    else:
        for child in sorted(p for p in path.iterdir() if p.is_dir()):
            if av2_log.is_log_dir(child):
                items.append(_Item("log", child))
            else:
                items.extend(_Item("log", g) for g in sorted(child.iterdir()) if av2_log.is_log_dir(g))
        for file in sorted(p for p in path.iterdir() if p.is_file()):
            item = _classify_file(file, explicit=False)
            if item is not None:
                items.append(item)
    if all(item.kind == "skipped" for item in items):
        raise IngestError(
            path,
            "holds no recognisable log or file"
            + (f" (its pickles were not read: a scan reads only {' and '.join(SCANNED_PICKLES)})." if items else "."),
            "A log directory is named by its log id and holds city_SE3_egovehicle.feather, map/ and "
            "annotations.feather (or RefAV's sm_annotations.feather); give such a directory, its "
            "parent split directory, or the dataset root.",
        )
    order: dict[ItemKind, int] = {"log": 0, "tracker": 1, "gt_pickle": 2, "gt_feather": 2, "prompts": 3, "skipped": 4}
    return sorted(items, key=lambda item: order[item.kind])


SPOOLED_ROWS = 1000
"""Inserts of this many rows or more (a log's boxes and poses) go through a Parquet file (see ``_insert``)."""
FLUSH_ROWS = 250_000
"""Spooled rows are inserted once this many have gathered (about 20 logs' boxes and poses)."""
INGEST_MEMORY_LIMIT = "192MB"
"""DuckDB's memory limit while an ingest runs: the uncommitted rows of a large split spill to disk
rather than grow the process (the SQL copy's connection has its own, ``logs_copy.STREAM_MEMORY_LIMIT``)."""


class _Ingest:
    """One ingest: writes go to the open transaction and the streamed SQL copy, caches to staging.

    Logs are read, converted and written one at a time; rows of the logs an ingest replaces are
    deleted once, before the first log, so a split costs time in proportion to its size.
    """

    def __init__(
        self,
        store: Store,
        split: str | None,
        source: str | None,
        prefilter: PrefilterConfig,
        copy: logs_copy.StreamedCopy,
        spool: Path,
        preparation: Preparation | None = None,
        move_split: bool = False,
    ) -> None:
        self.store = store
        self.move_split = move_split
        self.preparation = preparation
        self.staged_maps: dict[str, Path] = {}
        """Log id -> the map directory this ingest staged for it."""
        self.spool = spool
        self.split = split
        self.source = source
        self.prefilter = prefilter
        self.copy = copy
        self.report = IngestReport()
        self.staged: list[cache.StagedDir] = []
        self.known_splits: dict[str, str] = {}
        self.spooled: defaultdict[str, list[Path]] = defaultdict(list)
        self.spooled_rows = 0

    def _delete(self, table: str, where: str, params: list[object]) -> None:
        self.flush()  # rows still spooled may be among those to delete
        sql = f"DELETE FROM {table} WHERE {where}"
        self.store.con.execute(sql, params)
        if table in logs_copy.LOG_TABLES:
            self.copy.execute(sql, params)

    def _insert(self, table: str, rows: pd.DataFrame) -> None:
        arrow = pa.Table.from_pandas(rows, preserve_index=False)
        if arrow.num_rows < SPOOLED_ROWS:
            self.store.insert(table, arrow)
            self.copy.insert(table, arrow)
            return
        # DuckDB keeps the Arrow buffers of rows inserted in an open transaction alive until the commit
        # (it references their strings), which would grow with the split. Big tables go through
        # Parquet files, which it copies from, a batch of logs per statement.
        path = self.spool / f"{table}-{len(self.spooled[table])}.parquet"
        pq.write_table(arrow, path, compression="none", write_statistics=False)
        self.spooled[table].append(path)
        self.spooled_rows += arrow.num_rows
        if self.spooled_rows >= FLUSH_ROWS:
            self.flush()

    def insert(self, table: str, rows: pd.DataFrame) -> None:
        """Append rows to a table in this transaction, and to the SQL copy where it holds the table."""
        self._insert(table, rows)

    def flush(self) -> None:
        """Insert the spooled rows into the database and the SQL copy, and delete their files."""
        for table, paths in self.spooled.items():
            if paths:
                sql = f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)"
                files = [str(p) for p in paths]
                self.store.con.execute(sql, [files])
                if table in logs_copy.LOG_TABLES:
                    self.copy.execute(sql, [files])
                for path in paths:
                    path.unlink()
        self.spooled.clear()
        self.spooled_rows = 0

    def replace_logs(self, log_dirs: list[Path]) -> None:
        """Delete, in one statement per table, what the logs about to be ingested replace.

        The splits the store knows for them are kept first (a log ingested again keeps its split).
        """
        log_ids = [d.name for d in log_dirs]
        if not log_ids:
            return
        rows = self.store.con.execute(
            "SELECT log_id, split FROM logs WHERE log_id IN (SELECT unnest(?))", [log_ids]
        ).fetchall()
        self.known_splits = {str(log_id): str(split) for log_id, split in rows}
        for table in ("logs", "ego_poses", "maps"):
            self._delete(table, "log_id IN (SELECT unnest(?))", [log_ids])
        annotated = [d.name for d in log_dirs if any((d / name).is_file() for name in av2_log.ANNOTATION_FILES)]
        for table in ("boxes", "track_sources"):
            self._delete(table, "source = ? AND log_id IN (SELECT unnest(?))", [ANNOTATIONS_SOURCE, annotated])

    def _split_for(self, log_dir: Path, log_id: str) -> str:
        known = self.known_splits.get(log_id) or self._known_split(log_id)
        split = self.split or (log_dir.parent.name if log_dir.parent.name in SPLITS else None) or known
        if known not in (None, UNKNOWN_SPLIT, split) and not self.move_split:
            raise IngestError(
                log_dir,
                f"log {log_id} is in split '{known}', and this ingest would move it to split '{split}'.",
                f"Ingest it with --split {known} to keep it there, or add --move-split to move it.",
            )
        return split or UNKNOWN_SPLIT

    def _known_split(self, log_id: str) -> str | None:
        row = self.store.con.execute("SELECT split FROM logs WHERE log_id = ?", [log_id]).fetchone()
        return str(row[0]) if row else None

    def _poses(self, log_id: str) -> pd.DataFrame | None:
        self.flush()
        poses = self.store.query_df("SELECT * FROM ego_poses WHERE log_id = ? ORDER BY timestamp_ns", [log_id])
        return None if poses.empty else poses

    def write_source(
        self,
        raw: pd.DataFrame,
        poses: pd.DataFrame,
        *,
        log_id: str,
        source: str,
        kind: SourceKind,
        path: Path,
        ego_timestamps: np.ndarray,
        num_before_prefilter: int | None,
    ) -> None:
        rows, ego_uuid, ego_added = with_ego_rows(raw, ego_timestamps)
        boxes = build_boxes(rows, poses, source=source, log_id=log_id, path=path)
        if kind != "annotations":  # a log's annotation rows were deleted up front (replace_logs)
            # a refined source's provenance goes with its boxes (refinement writes it anew after this)
            for table in ("boxes", "track_sources", "box_provenance", "refinements"):
                self._delete(table, "log_id = ? AND source = ?", [log_id, source])
        self._insert("boxes", boxes)
        key = cache.new_key()
        has_score = bool(boxes["score"].notna().all())
        num_tracks = int(boxes["track_index"].max()) + 1
        self._insert(
            "track_sources",
            pd.DataFrame(
                [
                    {
                        "source": source,
                        "log_id": log_id,
                        "kind": kind,
                        "source_path": str(path),
                        "num_tracks": num_tracks,
                        "num_boxes": len(boxes),
                        "num_timestamps": int(boxes["timestamp_ns"].nunique()),
                        "ego_uuid": ego_uuid,
                        "ego_added": ego_added,
                        "has_score": has_score,
                        "num_tracks_before_prefilter": num_before_prefilter,
                        "cache_key": key,
                        "ingested_at": now(),
                    }
                ]
            ),
        )
        meta = {"log_id": log_id, "source": source, "ego_uuid": ego_uuid, "has_score": has_score, "kind": kind}
        staged = cache.stage_boxes(self.store.cache_root, key, boxes, poses, meta)
        self.staged.append(staged)
        self.report.sources.append((source, log_id, num_tracks, len(boxes)))
        if self.preparation is not None:
            map_dir = self.staged_maps.get(log_id, cache.log_cache_dir(self.store.cache_root, log_id) / "log" / "map")
            self.preparation.submit(log_id, source, staged.path, map_dir)

    def log(self, log_dir: Path) -> None:
        files = av2_log.find_log_files(log_dir)
        log_id = files.log_id
        poses = av2_log.read_poses(files.poses)
        summary = av2_log.read_map_summary(files)
        raw = av2_log.read_annotations(files.annotations) if files.annotations else None
        split = self._split_for(log_dir, log_id)
        key = cache.new_key()
        pose_ts = poses["timestamp_ns"].to_numpy(np.int64)
        self._insert(
            "logs",
            pd.DataFrame(
                [
                    {
                        "log_id": log_id,
                        "split": split,
                        "city": summary.city,
                        "start_ns": int(pose_ts[0]),
                        "end_ns": int(pose_ts[-1]),
                        "num_pose_timestamps": len(pose_ts),
                        "source_path": str(log_dir.resolve()),
                        "has_calibration": files.calibration_dir is not None,
                        "cache_key": key,
                        "ingested_at": now(),
                    }
                ]
            ),
        )
        self._insert("ego_poses", poses.assign(log_id=log_id))
        bounds = summary.bounds_city or (None, None, None, None)
        self._insert(
            "maps",
            pd.DataFrame(
                [
                    {
                        "log_id": log_id,
                        "city": summary.city,
                        "source_path": str(files.map_dir.resolve()),
                        "num_lane_segments": summary.num_lane_segments,
                        "num_intersection_lane_segments": summary.num_intersection_lane_segments,
                        "num_pedestrian_crossings": summary.num_pedestrian_crossings,
                        "num_drivable_areas": summary.num_drivable_areas,
                        "x_min_m": bounds[0],
                        "y_min_m": bounds[1],
                        "x_max_m": bounds[2],
                        "y_max_m": bounds[3],
                    }
                ]
            ),
        )
        meta = {"log_id": log_id, "split": split, "city": summary.city}
        staged_log = cache.stage_log(
            self.store.cache_root, key, log_id, poses, files.map_dir, files.calibration_dir, meta
        )
        self.staged.append(staged_log)
        self.staged_maps[log_id] = staged_log.path / "map"
        if raw is not None and files.annotations is not None:
            self.write_source(
                raw,
                poses,
                log_id=log_id,
                source=ANNOTATIONS_SOURCE,
                kind="annotations",
                path=files.annotations,
                ego_timestamps=np.unique(raw["timestamp_ns"].to_numpy(np.int64)),
                num_before_prefilter=None,
            )
        else:
            self.report.notes.append(f"{log_id}: no annotation file; ingest a tracker output to give it boxes.")
        self.report.logs.append(log_id)

    def tracker(self, path: Path, data: dict[str, list[Any]]) -> None:
        source = self.source or path.stem
        if source == ANNOTATIONS_SOURCE:
            raise IngestError(
                path,
                f"cannot be ingested as source '{ANNOTATIONS_SOURCE}': that name is kept for the logs' own "
                "annotations.",
                "Name the tracker with --source NAME.",
            )
        missing = [log_id for log_id in data if self._poses(log_id) is None]
        if missing:
            raise IngestError(
                path,
                f"has tracks for {len(missing)} log(s) that are not in the store ({', '.join(missing[:3])}"
                f"{', ...' if len(missing) > 3 else ''}).",
                "Ingest the logs first (their poses and maps are needed): `avmine ingest SPLIT_DIR`.",
            )
        if self.preparation is not None:
            self.preparation.expect(len(data))
        for log_id, frames in data.items():
            log = tracker.read_tracker_log(log_id, frames, path)
            poses = self._poses(log_id)
            assert poses is not None  # checked above
            raw, num_before = tracker.tracker_rows_in_ego_frame(log, poses, path, self.prefilter)
            # Unlike RefAV, the ego is kept at every frame, so timestamps without detections survive.
            self.write_source(
                raw,
                poses,
                log_id=log_id,
                source=source,
                kind="tracker",
                path=path,
                ego_timestamps=log.frame_timestamps_ns,
                num_before_prefilter=num_before,
            )

    def _replace_ground_truth(self, gt: ground_truth.GroundTruth, path: Path) -> None:
        pairs = gt.frames[["log_id", "prompt"]].drop_duplicates()
        con = self.store.con
        for log_id, prompt in pairs.itertuples(index=False):
            for table in ("gt_frames", "ground_truth"):
                con.execute(f"DELETE FROM {table} WHERE log_id = ? AND prompt = ?", [log_id, prompt])
        self.store.insert("gt_frames", gt.frames.assign(source_path=str(path)))
        self.store.insert("ground_truth", gt.labels)
        pair_rows = [
            {"log_id": log_id, "prompt": prompt, "split": self.split or self._known_split(log_id) or UNKNOWN_SPLIT}
            for log_id, prompt in pairs.itertuples(index=False)
        ]
        self._register_pairs(pd.DataFrame(pair_rows), path)
        self.resolve_gt_tracks([str(log_id) for log_id in pairs["log_id"].unique()])
        self.report.gt_pairs += len(pairs)

    def _register_pairs(self, pairs: pd.DataFrame, path: Path) -> None:
        con = self.store.con
        for row in pairs.itertuples(index=False):
            con.execute("DELETE FROM log_prompt_pairs WHERE log_id = ? AND prompt = ?", [row.log_id, row.prompt])
        self.store.insert("log_prompt_pairs", pairs)
        prompt_rows = pairs[["prompt", "split"]].drop_duplicates().assign(source_path=str(path))
        self._register_prompts(prompt_rows)

    def _register_prompts(self, rows: pd.DataFrame) -> None:
        for row in rows.itertuples(index=False):
            self._delete("prompts", "prompt = ? AND split = ?", [row.prompt, row.split])
        self._insert("prompts", rows)
        self.report.prompts += len(rows)

    def gt_pickle(self, path: Path, data: dict[Any, Any]) -> None:
        self._replace_ground_truth(ground_truth.read_sequence_pickle(data, path), path)

    def gt_feather(self, path: Path) -> None:
        labels, _ = ground_truth.read_split_feather(path)
        frames = []
        for (log_id, prompt), group in labels.groupby(["log_id", "prompt"], sort=False):
            timestamps = np.unique(group["timestamp_ns"].to_numpy(np.int64))
            # RefAV's evaluation timestamps: every 5th annotation timestamp once there are more than 50.
            eval_ts = timestamps[::5] if len(timestamps) > 50 else timestamps
            poses = self._poses(str(log_id))
            ego = np.full((len(eval_ts), 3), np.nan)
            if poses is not None:
                at = np.clip(np.searchsorted(poses["timestamp_ns"].to_numpy(np.int64), eval_ts), 0, len(poses) - 1)
                ego = poses[["tx_m", "ty_m", "tz_m"]].to_numpy(np.float64)[at]
            frames.append(
                pd.DataFrame(
                    {
                        "log_id": log_id,
                        "prompt": prompt,
                        "timestamp_ns": eval_ts,
                        "frame_index": np.arange(len(eval_ts)),
                        "ego_tx_m": ego[:, 0],
                        "ego_ty_m": ego[:, 1],
                        "ego_tz_m": ego[:, 2],
                        "is_positive": None,
                    }
                )
            )
        gt = ground_truth.GroundTruth(frames=pd.concat(frames, ignore_index=True), labels=labels)
        self._replace_ground_truth(gt, path)

    def prompt_list(self, path: Path) -> None:
        listing = prompts.read_prompt_list(path)
        stem_split = next((s for s in SPLITS if s in path.stem.split("_")), None)
        split = self.split or stem_split or UNKNOWN_SPLIT
        if listing.pairs:
            pairs = pd.DataFrame(listing.pairs, columns=["log_id", "prompt"]).assign(split=split)
            self._register_pairs(pairs.drop_duplicates(["log_id", "prompt"]), path)
        else:
            self._register_prompts(pd.DataFrame({"prompt": listing.prompts, "split": split, "source_path": str(path)}))

    def resolve_gt_tracks(self, log_ids: list[str]) -> None:
        """Name ground-truth objects of these logs by track uuid where the logs' annotations match them.

        Ground-truth pickles name objects by ``track_id``, the index of the track in the
        annotation file's order of first appearance; a match is accepted only where the
        annotated box is at the same place (1 cm), so a file of another order never mislabels.
        """
        self.store.con.execute(
            """
            UPDATE ground_truth AS g SET track_uuid = b.track_uuid
            FROM boxes AS b
            WHERE g.log_id IN (SELECT unnest(?)) AND g.track_uuid IS NULL AND g.track_id IS NOT NULL
              AND b.source = ? AND b.log_id = g.log_id AND b.track_index = g.track_id
              AND b.timestamp_ns = g.timestamp_ns
              AND abs(b.tx_city_m - g.tx_city_m) < 0.01 AND abs(b.ty_city_m - g.ty_city_m) < 0.01
            """,
            [log_ids, ANNOTATIONS_SOURCE],
        )


def ingest(
    store: Store,
    path: Path | str,
    *,
    split: str | None = None,
    source: str | None = None,
    prefilter: PrefilterConfig = REFAV_PREFILTER,
    progress: bool = True,
    preparation: Preparation | None = None,
    move_split: bool = False,
) -> IngestReport:
    """Ingest everything found at ``path`` in one transaction.

    Re-ingesting replaces what an earlier ingest of the same log, source or
    (log, prompt) wrote; nothing is duplicated. On any error the database and
    the caches are left exactly as they were. Logs are read, converted and written
    one at a time, each with its cache staged as it goes; the label-free copy that
    SQL queries read (``avmine.store.logs_copy``) is streamed alongside and published after
    the commit.

    Args:
        store: the open store.
        path: a log, split or dataset directory, or a tracker/ground-truth/prompt file.
        split: the split to record (default: the parent directory's name when it is
            train/val/test, else what the store already knows, else "unknown").
        source: the track source name for tracker outputs (default: the file's stem).
        prefilter: RefAV's confidence prefilter for tracker outputs.
        progress: show a progress bar on stderr.
        preparation: work on each source's staged cache, done alongside and finished before the commit.
        move_split: let a log the store keeps in one split move to another (otherwise that is refused).

    Raises:
        IngestError: bad input, or a log that would move to another split; nothing was written.
    """
    started = time.perf_counter()
    items = discover(Path(path).expanduser())
    log_dirs = [item.path for item in items if item.kind == "log"]
    _check_distinct_logs(log_dirs)
    with writing(store, split, source, prefilter, preparation, move_split) as job:
        steps: dict[ItemKind, Callable[[_Item], None]] = {
            "log": lambda item: job.log(item.path),
            "tracker": lambda item: job.tracker(item.path, item.payload),
            "gt_pickle": lambda item: job.gt_pickle(item.path, item.payload),
            "gt_feather": lambda item: job.gt_feather(item.path),
            "prompts": lambda item: job.prompt_list(item.path),
            "skipped": lambda item: job.report.notes.extend([item.payload] if item.payload else []),
        }
        job.replace_logs(log_dirs)
        if preparation is not None:
            preparation.expect(len(log_dirs))
        with progress_bar(total=len(items), wanted=progress, desc="ingest", unit="item", leave=False) as bar:
            for item in items:
                bar.set_postfix_str(f"{item.kind} {item.path.name}")
                steps[item.kind](item)
                bar.update(1)
            # the last count is shown, however fast the last item went; iterating the bar itself would close
            # it (and clear it) before this line could
            bar.refresh()
        job.flush()
        job.resolve_gt_tracks(job.report.logs)
    job.report.seconds = time.perf_counter() - started
    return job.report


@contextmanager
def writing(
    store: Store,
    split: str | None = None,
    source: str | None = None,
    prefilter: PrefilterConfig = REFAV_PREFILTER,
    preparation: Preparation | None = None,
    move_split: bool = False,
) -> Iterator[_Ingest]:
    """One transaction of writes to the log tables, as ingest makes them (refinement derives sources with it).

    The block's writes, the staged caches and the streamed SQL copy commit together or not at all;
    caches and the copy are published after the commit.
    """
    copy = logs_copy.StreamedCopy(store)
    spool = Path(tempfile.mkdtemp(prefix="avmine-ingest-"))
    job = _Ingest(store, split, source, prefilter, copy, spool, preparation, move_split)
    memory_limit = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
    store.con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
    try:
        with store.transaction():
            yield job
            job.flush()
            if preparation is not None:
                preparation.finish()
            stamp = logs_copy.new_stamp(store)
            copy.commit()
    except BaseException:
        if preparation is not None:
            preparation.cancel()
        copy.discard()
        cache.discard(store.cache_root, job.staged)
        raise
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        if memory_limit:
            store.con.execute(f"SET memory_limit = '{memory_limit[0]}'")
    cache.publish(store.cache_root, job.staged)
    try:
        copy.publish(stamp)
    except OSError as exc:  # committed all the same: the next query rebuilds the copy
        copy.discard()
        job.report.notes.append(f"the SQL copy of the log tables was not written ({exc}); it is rebuilt when read.")
    store.generation += 1


def _check_distinct_logs(log_dirs: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for log_dir in log_dirs:
        if log_dir.name in seen:
            raise IngestError(
                log_dir,
                f"is log {log_dir.name}, which this ingest also found at {seen[log_dir.name]}.",
                "A log id names one log: ingest one of the two directories (or each split separately).",
            )
        seen[log_dir.name] = log_dir
