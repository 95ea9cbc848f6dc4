"""Canned statistics over the logs: what categories there are, how fast, how big, how long, how far from the ego."""

from __future__ import annotations

import pandas as pd

from avmine.store.database import Store


def category_statistics(
    store: Store, source: str, log_id: str | None = None, split: str | None = None, per_log: bool = False
) -> pd.DataFrame:
    """Per category (and per log if asked): tracks, boxes, speeds, sizes, track durations, distances to the ego.

    Columns: tracks, boxes, median_speed_mps, p95_speed_mps, median_length_m, median_width_m,
    median_track_s (how long a track is observed), median_distance_to_ego_m, median_closest_to_ego_m
    (per track, its smallest distance to the ego).

    Args:
        store: the database.
        source: the track source.
        log_id: only this log.
        split: only logs of this split.
        per_log: one row per (log, category) instead of per category.
    """
    where = ["b.source = ?"]
    params: list[object] = [source]
    if log_id:
        where.append("b.log_id = ?")
        params.append(log_id)
    if split:
        where.append("b.log_id IN (SELECT log_id FROM logs WHERE split = ?)")
        params.append(split)
    keys = "log_id, category" if per_log else "category"
    return store.query_df(
        f"""
        WITH ego AS (
            SELECT b.log_id, b.timestamp_ns, b.tx_city_m AS ex, b.ty_city_m AS ey
            FROM boxes b JOIN track_sources s ON s.source = b.source AND s.log_id = b.log_id
                         AND b.track_uuid = s.ego_uuid
            WHERE {" AND ".join(where)}
        ),
        box AS (
            SELECT b.log_id, b.track_uuid, b.category, b.timestamp_ns, b.length_m, b.width_m,
                   sqrt(b.vx_city_mps ^ 2 + b.vy_city_mps ^ 2) AS speed,
                   sqrt((b.tx_city_m - e.ex) ^ 2 + (b.ty_city_m - e.ey) ^ 2) AS to_ego
            FROM boxes b LEFT JOIN ego e ON e.log_id = b.log_id AND e.timestamp_ns = b.timestamp_ns
            WHERE {" AND ".join(where)}
        ),
        track AS (
            SELECT log_id, track_uuid, any_value(category) AS category,
                   (max(timestamp_ns) - min(timestamp_ns)) / 1e9 AS seconds, min(to_ego) AS closest
            FROM box GROUP BY log_id, track_uuid
        ),
        per_box AS (
            SELECT {keys}, count(*) AS boxes,
                   round(median(speed), 2) AS median_speed_mps, round(quantile_cont(speed, 0.95), 2) AS p95_speed_mps,
                   round(median(length_m), 2) AS median_length_m, round(median(width_m), 2) AS median_width_m,
                   round(median(to_ego), 1) AS median_distance_to_ego_m
            FROM box GROUP BY {keys}
        ),
        per_track AS (
            SELECT {keys}, count(*) AS tracks, round(median(seconds), 1) AS median_track_s,
                   round(median(closest), 1) AS median_closest_to_ego_m
            FROM track GROUP BY {keys}
        )
        SELECT {keys}, tracks, boxes, median_speed_mps, p95_speed_mps, median_length_m, median_width_m,
               median_track_s, median_distance_to_ego_m, median_closest_to_ego_m
        FROM per_box JOIN per_track USING ({keys})
        ORDER BY {"log_id, " if per_log else ""}tracks DESC, category
        """,
        params + params,
    )
