"""Canned statistics over the logs: what categories there are, how fast, how big, how far from the ego."""

from __future__ import annotations

import pandas as pd

from store.database import Store


def category_statistics(store: Store, source: str, log_id: str | None = None, split: str | None = None) -> pd.DataFrame:
    """Per category: tracks, boxes, median speed (m/s), median length (m), median distance to the ego (m).

    Args:
        store: the database.
        source: the track source.
        log_id: only this log.
        split: only logs of this split.
    """
    where = ["b.source = ?"]
    params: list[object] = [source]
    if log_id:
        where.append("b.log_id = ?")
        params.append(log_id)
    if split:
        where.append("b.log_id IN (SELECT log_id FROM logs WHERE split = ?)")
        params.append(split)
    return store.query_df(
        f"""
        WITH ego AS (
            SELECT b.log_id, b.timestamp_ns, b.tx_city_m AS ex, b.ty_city_m AS ey
            FROM boxes b JOIN track_sources s ON s.source = b.source AND s.log_id = b.log_id
                         AND b.track_uuid = s.ego_uuid
            WHERE {" AND ".join(where)}
        )
        SELECT b.category,
               count(DISTINCT b.log_id || '/' || b.track_uuid) AS tracks,
               count(*) AS boxes,
               round(median(sqrt(b.vx_city_mps ^ 2 + b.vy_city_mps ^ 2)), 2) AS median_speed_mps,
               round(quantile_cont(sqrt(b.vx_city_mps ^ 2 + b.vy_city_mps ^ 2), 0.95), 2) AS p95_speed_mps,
               round(median(b.length_m), 2) AS median_length_m,
               round(median(sqrt((b.tx_city_m - e.ex) ^ 2 + (b.ty_city_m - e.ey) ^ 2)), 1) AS median_distance_to_ego_m
        FROM boxes b LEFT JOIN ego e ON e.log_id = b.log_id AND e.timestamp_ns = b.timestamp_ns
        WHERE {" AND ".join(where)}
        GROUP BY b.category ORDER BY tracks DESC, b.category
        """,
        params + params,
    )
