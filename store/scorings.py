"""The record of every scoring against ground truth: what the per-prompt budget counts and audits read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from avmine.store.database import Store, now

PURPOSES = ("refinement", "admission")


@dataclass(frozen=True)
class Scoring:
    """One scoring of a run on some of its prompt's ground-truth logs."""

    prompt: str
    run_id: str
    purpose: str
    """``refinement`` (an agent's score_run) or ``admission`` (the library's decision, on held-out logs)."""
    origin: str
    """``mcp`` (an agent asked for it) or ``screen`` (a screening batch decided)."""
    logs: tuple[str, ...]


def record_scoring(store: Store, scoring: Scoring) -> None:
    """Note one scoring (before its numbers are shown, so a failed answer still counts)."""
    if scoring.purpose not in PURPOSES:
        raise ValueError(f"purpose {scoring.purpose!r} is not one of {PURPOSES}")
    store.con.execute(
        "INSERT INTO scorings VALUES (?, ?, ?, ?, ?, ?)",
        [scoring.prompt, scoring.run_id, scoring.purpose, scoring.origin, json.dumps(list(scoring.logs)), now()],
    )


def count_scorings(store: Store, prompt: str, origins: Sequence[str] = ("mcp",)) -> int:
    """How often runs of ``prompt`` were scored at the request of these origins (all time, this database)."""
    marks = ", ".join("?" for _ in origins)
    row = store.con.execute(
        f"SELECT count(*) FROM scorings WHERE prompt = ? AND origin IN ({marks})", [prompt, *origins]
    ).fetchone()
    return int(row[0]) if row else 0


def scorings(store: Store, prompt: str) -> list[Scoring]:
    """Every scoring of ``prompt``'s runs, oldest first."""
    rows = store.con.execute(
        "SELECT prompt, run_id, purpose, origin, logs FROM scorings WHERE prompt = ? ORDER BY scored_at, rowid",
        [prompt],
    ).fetchall()
    return [Scoring(str(r[0]), str(r[1]), str(r[2]), str(r[3]), tuple(json.loads(r[4]))) for r in rows]
