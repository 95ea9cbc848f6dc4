"""The embedded demo dataset: four real AV2 logs and RefAV ground truth shipped with avmine.

Licence: CC BY-NC-SA 4.0 for the log data (see ``demo_data/NOTICE.md``).
"""

from __future__ import annotations

from pathlib import Path

from store.database import Store
from store.ingestion import IngestReport, ingest

DEMO_DATA = Path(__file__).parent / "demo_data"
DEMO_SPLIT = "val"
SCENARIO_MINING_DIR = DEMO_DATA / "scenario_mining"
"""Two RefAV scenario-mining logs (ego included), their ground truth and a tracker's predictions."""
SENSOR_DIR = DEMO_DATA / "sensor" / "val"
"""Two AV2 sensor logs; one has camera calibration."""
DEMO_GROUND_TRUTH = SCENARIO_MINING_DIR / "combined_gt_dev.pkl"
DEMO_PREDICTIONS = SCENARIO_MINING_DIR / "combined_predictions_dev.pkl"
DEMO_PROGRAMS = DEMO_DATA / "programs.py"
"""Example programs the demo runs: ``PROGRAMS = {prompt: program text}``."""


def demo_programs() -> dict[str, str]:
    """The demo's example programs by prompt."""
    namespace: dict[str, dict[str, str]] = {}
    exec(compile(DEMO_PROGRAMS.read_text(), str(DEMO_PROGRAMS), "exec"), namespace)  # trusted, shipped data
    return dict(namespace["PROGRAMS"])


def ingest_demo(store: Store, progress: bool = True) -> list[IngestReport]:
    """Ingest the demo logs, ground truth and prompts into ``store`` (split ``val``)."""
    return [
        ingest(store, SCENARIO_MINING_DIR, split=DEMO_SPLIT, progress=progress),
        ingest(store, SENSOR_DIR, split=DEMO_SPLIT, progress=progress),
    ]
