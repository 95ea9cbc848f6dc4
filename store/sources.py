"""The track sources in a store: what each is, how much it holds, and how it was made.

A source is the logs' own annotations, a tracker's output (ingested from a file), or a refined
source ``avmine refine`` derived from another (its steps and parameters are in ``refinements``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from avmine.store.database import Store
from avmine.store.schema import REFINED_KIND

MAX_FILES = 5
"""Tracker files listed per source; more are counted."""


@dataclass(frozen=True)
class Refinement:
    """How (some of) a refined source's logs were made: from which source, with which steps and parameters."""

    parent_source: str
    steps: list[str]
    parameters: dict[str, Any]
    logs: int
    changes: dict[str, int]
    """What the steps changed, summed over these logs (tracks before and after, joins, flips, ...)."""


@dataclass(frozen=True)
class SourceSummary:
    """One track source over every log that has it."""

    name: str
    kind: str
    """``annotations``, ``tracker`` or ``refined``."""
    logs: int
    logs_per_split: dict[str, int]
    tracks: int
    boxes: int
    files: list[str] = field(default_factory=list)
    """Where a tracker's boxes were ingested from (at most ``MAX_FILES``)."""
    more_files: int = 0
    refinements: list[Refinement] = field(default_factory=list)
    """A refined source's making; one entry unless its logs were refined differently."""
    derived: list[str] = field(default_factory=list)
    """Refined sources made from this one."""


def _refinements(store: Store, source: str) -> list[Refinement]:
    rows = store.con.execute(
        "SELECT parent_source, steps, parameters, counts FROM refinements WHERE source = ? ORDER BY log_id", [source]
    ).fetchall()
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for parent, steps, parameters, counts in rows:
        groups.setdefault((str(parent), str(steps), str(parameters)), []).append(json.loads(counts))
    made = []
    for (parent, steps, parameters), counts in groups.items():
        changes: Counter[str] = Counter()
        for one in counts:
            changes.update({k: int(v) for k, v in one.items() if isinstance(v, int) and not isinstance(v, bool)})
        made.append(Refinement(parent, json.loads(steps), json.loads(parameters), len(counts), dict(changes)))
    return made


def list_sources(store: Store) -> list[SourceSummary]:
    """Every track source in the store, annotations first, then by name."""
    rows = store.con.execute(
        """SELECT t.source, t.kind, l.split, count(*) AS logs, sum(t.num_tracks) AS tracks, sum(t.num_boxes) AS boxes
           FROM track_sources t LEFT JOIN logs l USING (log_id)
           GROUP BY t.source, t.kind, l.split"""
    ).fetchall()
    by_source: dict[str, dict[str, Any]] = {}
    for source, kind, split, logs, tracks, boxes in rows:
        entry = by_source.setdefault(str(source), {"kinds": set(), "splits": {}, "tracks": 0, "boxes": 0})
        entry["kinds"].add(str(kind))
        entry["splits"][str(split)] = entry["splits"].get(str(split), 0) + int(logs)
        entry["tracks"] += int(tracks)
        entry["boxes"] += int(boxes)
    parents: dict[str, list[str]] = {}
    for source, parent in store.con.execute(
        "SELECT DISTINCT source, parent_source FROM refinements ORDER BY source"
    ).fetchall():
        parents.setdefault(str(parent), []).append(str(source))
    summaries = []
    for name in sorted(by_source, key=lambda n: (n != "annotations", n)):
        entry = by_source[name]
        # one kind per source; should a name hold two (a tracker ingested under a refined name on some logs), say so
        kind = "/".join(sorted(entry["kinds"]))
        files: list[str] = []
        if "tracker" in entry["kinds"]:
            files = [str(r[0]) for r in store.con.execute(
                "SELECT DISTINCT source_path FROM track_sources WHERE source = ? AND kind = 'tracker' ORDER BY 1",
                [name]).fetchall()]  # fmt: skip
        summaries.append(
            SourceSummary(
                name=name,
                kind=kind,
                logs=sum(entry["splits"].values()),
                logs_per_split=dict(sorted(entry["splits"].items())),
                tracks=entry["tracks"],
                boxes=entry["boxes"],
                files=files[:MAX_FILES],
                more_files=max(len(files) - MAX_FILES, 0),
                refinements=_refinements(store, name) if REFINED_KIND in entry["kinds"] else [],
                derived=parents.get(name, []),
            )
        )
    return summaries
