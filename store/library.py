"""The few-shot library of prompt -> program pairs, and the final programs agents submit."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from store.database import Store, now


@dataclass(frozen=True)
class Example:
    """A library entry."""

    example_id: str
    prompt: str
    program: str
    timestamp_ba: float | None
    scores: dict[str, float]
    provenance: dict[str, Any]


def save_example(
    store: Store,
    prompt: str,
    program: str,
    scores: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> str:
    """Add a prompt -> program pair to the library; returns its id."""
    example_id = uuid.uuid4().hex[:12]
    scores = scores or {}
    store.con.execute(
        "INSERT INTO examples VALUES (?, ?, ?, ?, ?, ?, ?)",
        [example_id, prompt, program, scores.get("Timestamp BA"), json.dumps(scores), json.dumps(provenance or {}),
         now()],
    )  # fmt: skip
    return example_id


def _words(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2}


def search_examples(store: Store, query: str, limit: int = 5) -> list[Example]:
    """Library entries whose prompts share the most words with ``query`` (best score first among ties)."""
    rows = store.con.execute(
        "SELECT example_id, prompt, program, timestamp_ba, scores, provenance FROM examples"
    ).fetchall()
    wanted = _words(query)
    ranked = sorted(
        rows, key=lambda r: (-len(wanted & _words(str(r[1]))), -(r[3] if r[3] is not None else -1.0), str(r[0]))
    )
    return [
        Example(str(r[0]), str(r[1]), str(r[2]), r[3], json.loads(r[4] or "{}"), json.loads(r[5] or "{}"))
        for r in ranked[:limit]
        if wanted & _words(str(r[1]))
    ]


def submit_final_program(store: Store, prompt: str, program: str, origin: str, run_id: str | None = None) -> None:
    """Record the program an agent submits as its final answer for a prompt."""
    store.con.execute("INSERT INTO final_programs VALUES (?, ?, ?, ?, ?)", [prompt, program, now(), origin, run_id])


def final_program(store: Store, prompt: str) -> str | None:
    """The latest final program submitted for a prompt."""
    row = store.con.execute(
        "SELECT program FROM final_programs WHERE prompt = ? ORDER BY submitted_at DESC LIMIT 1", [prompt]
    ).fetchone()
    return None if row is None else str(row[0])
