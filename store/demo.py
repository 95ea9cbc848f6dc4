"""The embedded demo dataset: four real AV2 logs and RefAV ground truth shipped with avmine.

Licence: CC BY-NC-SA 4.0 for the log data (see ``demo_data/NOTICE.md``).
"""

from __future__ import annotations

from pathlib import Path

from avmine.store.database import Store, connect
from avmine.store.errors import DamagedDatabaseError
from avmine.store.ingestion import IngestReport, ingest

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
DEMO_DB_NAME = "avmine-demo.duckdb"
"""The demo database's file name in its output folder."""
MADE_BY_DEMO = ("made_by", "avmine demo")
"""The ``meta`` row that marks a database the demo built (and so may rebuild)."""
DEMO_ORIGIN = "demo"
"""The origin of the runs the demo records."""

_USER_WORK = (  # what, table, which rows
    ("library example(s)", "examples", "true"),
    ("headless agent session(s)", "agent_sessions", "true"),
    ("submitted final program(s)", "final_programs", "true"),
    ("run(s) not made by the demo", "runs", f"origin IS DISTINCT FROM '{DEMO_ORIGIN}'"),
)


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


def mark_demo_database(store: Store) -> None:
    """Record in ``store`` that the demo built it."""
    store.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(MADE_BY_DEMO))


def why_not_rebuildable(db_path: Path, default_location: bool) -> str | None:
    """Why the demo must not delete the existing file ``db_path``; None when it may rebuild it.

    It may rebuild only a database the demo built (its mark, or, for files made before the mark
    existed, the demo's own file name in its output folder) that holds nothing but the demo's data.

    Raises:
        DatabaseLockedError: a process (a server) has it open.
    """
    try:
        con = connect(db_path, read_only=True)  # one a process holds raises DatabaseLockedError: it is busy
    except DamagedDatabaseError as exc:
        return f"it cannot be opened as a database ({exc.detail})"
    try:
        tables = {str(row[0]) for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        mark = None
        if "meta" in tables:
            mark = con.execute("SELECT value FROM meta WHERE key = ?", [MADE_BY_DEMO[0]]).fetchone()
        if not (mark and mark[0] == MADE_BY_DEMO[1]) and not (default_location and db_path.name == DEMO_DB_NAME):
            return "the demo did not build it"
        found = []
        if "logs" in tables:
            demo_logs = {p.name for d in (SCENARIO_MINING_DIR, SENSOR_DIR) for p in d.iterdir() if p.is_dir()}
            other = [str(r[0]) for r in con.execute("SELECT log_id FROM logs").fetchall() if r[0] not in demo_logs]
            if other:
                found.append(f"{len(other)} log(s) not from the demo data")
        for what, table, rows in _USER_WORK:
            count = con.execute(f"SELECT count(*) FROM {table} WHERE {rows}").fetchone() if table in tables else None
            if count and count[0]:
                found.append(f"{count[0]} {what}")
        return f"it holds your own work: {', '.join(found)}" if found else None
    finally:
        con.close()
