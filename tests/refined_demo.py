"""A tracker-like source made from demo logs' annotations (the project's noise model) and its refined source.

Shared by the tests of refined sources over MCP, the raw-versus-refined render and headless runs on them.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import matplotlib.image
import numpy as np

from avmine.evaluation.noise import NoiseModel, TrackerOutputModel, apply_noise, tracking_frames
from avmine.server.ingestion import prepare_logs
from avmine.store import Store, ingest
from avmine.store.prefilter import PrefilterConfig
from avmine.store.refine import refine

RAW = "noisy"
REFINED = "noisy-refined"


def add_refined_sources(store: Store, log_ids: list[str], work: Path, seed: int = 7) -> None:
    """Ingest a noisy tracker source ``RAW`` of the logs' annotations, refine it into ``REFINED``, prepare both."""
    frames = {log_id: tracking_frames(apply_noise(store.load_arrays(log_id), NoiseModel(seed=seed)),
                                      TrackerOutputModel(seed=seed)) for log_id in log_ids}  # fmt: skip
    (work / f"{RAW}_tracks.pkl").write_bytes(pickle.dumps(frames))
    ingest(store, work / f"{RAW}_tracks.pkl", source=RAW, prefilter=PrefilterConfig.off(), progress=False)
    refine(store, RAW, REFINED, progress=False)
    prepare_logs(store, [(source, log_id) for source in (RAW, REFINED) for log_id in log_ids], progress=False)


def most_interpolated_track(store: Store, log_id: str) -> str:
    """The refined track of ``log_id`` with the most interpolated boxes."""
    row = store.con.execute(
        "SELECT track_uuid FROM box_provenance WHERE source = ? AND log_id = ? AND interpolated "
        "GROUP BY track_uuid ORDER BY count(*) DESC, track_uuid LIMIT 1",
        [REFINED, log_id],
    ).fetchone()
    assert row is not None, "the refinement interpolated no box"
    return str(row[0])


def colour_pixels(png: Path | bytes, colour: str, tolerance: float = 0.1) -> int:
    """How many pixels of a PNG are within ``tolerance`` (per channel, 0..1) of ``colour`` (``#rrggbb``)."""
    image = matplotlib.image.imread(io.BytesIO(png) if isinstance(png, bytes) else png, format="png")[..., :3]
    target = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image - target) <= tolerance).all(axis=-1).sum())
