"""Summaries of a store's contents, for ``avmine stats`` and ``avmine demo``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.database import Store
from avmine.store.errors import StoreError


@dataclass(frozen=True)
class Summary:
    """What a store holds, optionally for one log."""

    logs: pd.DataFrame  # log_id, split, city, duration_s, sources, tracks, boxes
    categories: pd.DataFrame  # category, tracks, boxes (annotation source)
    ground_truth: pd.DataFrame  # prompt, split, logs, positive_logs, referred_tracks


def summarize(store: Store, log_id: str | None = None) -> Summary:
    """Summarise logs, tracks per category and prompts with ground truth.

    Raises:
        StoreError: ``log_id`` is given but not in the store.
    """
    where = "WHERE l.log_id = ?" if log_id else ""
    params: list[object] = [log_id] if log_id else []
    logs = store.query_df(
        f"""
        SELECT l.log_id, l.split, l.city, round((l.end_ns - l.start_ns) / 1e9, 1) AS duration_s,
               coalesce(string_agg(s.source, ', ' ORDER BY s.source), '') AS sources,
               coalesce(max(CASE WHEN s.source = ? THEN s.num_tracks END), 0) AS tracks,
               CAST(coalesce(sum(s.num_boxes), 0) AS BIGINT) AS boxes
        FROM logs l LEFT JOIN track_sources s USING (log_id) {where}
        GROUP BY ALL ORDER BY l.split, l.log_id
        """,
        [ANNOTATIONS_SOURCE, *params],
    )
    if log_id and logs.empty:
        raise StoreError(f"log {log_id} is not in {store.path}; `avmine stats` lists the logs it has.")
    box_where = "AND log_id = ?" if log_id else ""
    categories = store.query_df(
        f"""
        SELECT category, count(DISTINCT log_id || '/' || track_uuid) AS tracks, count(*) AS boxes
        FROM boxes WHERE source = ? {box_where}
        GROUP BY category ORDER BY tracks DESC, category
        """,
        [ANNOTATIONS_SOURCE, *params],
    )
    gt_where = "WHERE p.log_id = ?" if log_id else ""
    ground_truth = store.query_df(
        f"""
        SELECT p.prompt, p.split, count(DISTINCT p.log_id) AS logs,
               count(DISTINCT CASE WHEN g.label = 'REFERRED' THEN g.log_id END) AS positive_logs,
               count(DISTINCT CASE WHEN g.label = 'REFERRED'
                     THEN g.log_id || '/' || coalesce(g.track_uuid, CAST(g.track_id AS VARCHAR)) END)
                   AS referred_tracks
        FROM log_prompt_pairs p
        LEFT JOIN ground_truth g ON g.log_id = p.log_id AND g.prompt = p.prompt {gt_where}
        GROUP BY p.prompt, p.split ORDER BY p.split, p.prompt
        """,
        params,
    )
    return Summary(logs=logs, categories=categories, ground_truth=ground_truth)


def format_summary(summary: Summary) -> str:
    """Render a summary as plain-text tables."""
    parts = [f"Logs ({len(summary.logs)}):", _table(summary.logs)]
    parts += [f"\nTracks per category (annotations, {int(summary.categories['tracks'].sum())} tracks):"]
    parts += [_table(summary.categories)]
    parts += [f"\nPrompts with ground truth ({len(summary.ground_truth)}):", _table(summary.ground_truth)]
    return "\n".join(parts)


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "  (none)"
    return "\n".join("  " + line for line in frame.to_string(index=False).splitlines())
