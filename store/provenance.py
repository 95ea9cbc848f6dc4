"""Which raw tracks a refined track came from, and which of its boxes were interpolated (``box_provenance``)."""

from __future__ import annotations

from dataclasses import dataclass

from avmine.store.database import Store

MAX_LINKED = 12
"""Tracks followed on each side of a comparison; more make an unreadable picture."""


@dataclass(frozen=True)
class Lineage:
    """Tracks of one log linked through provenance: refined tracks and the parent tracks their boxes came from."""

    refined_source: str
    parent_source: str
    refined_tracks: tuple[str, ...]
    parent_tracks: tuple[str, ...]
    interpolated: dict[str, tuple[int, ...]]
    """Per refined track, the timestamps (ns) of its interpolated boxes."""


def refined_pair(store: Store, source: str, other: str) -> tuple[str, str] | None:
    """``(refined, parent)`` when one of the two sources was refined from the other, else None."""
    for refined, parent in ((source, other), (other, source)):
        row = store.con.execute(
            "SELECT count(*) FROM refinements WHERE source = ? AND parent_source = ?", [refined, parent]
        ).fetchone()
        if row and row[0]:
            return refined, parent
    return None


def lineage(store: Store, refined: str, parent: str, log_id: str, track: str, track_is_refined: bool) -> Lineage:
    """The refined and parent tracks linked to ``track`` (of the refined source or of its parent).

    Followed both ways until nothing new is linked: a refined track joined from fragments brings every
    fragment; a parent track cut in two brings both halves. At most ``MAX_LINKED`` tracks a side.
    """
    refined_tracks = {track} if track_is_refined else set()
    parent_tracks = set() if track_is_refined else {track}
    while True:
        more_parents = {str(r[0]) for r in store.con.execute(
            "SELECT DISTINCT parent_track_uuid FROM box_provenance WHERE source = ? AND log_id = ? "
            "AND track_uuid IN (SELECT unnest(?)) AND parent_track_uuid IS NOT NULL",
            [refined, log_id, sorted(refined_tracks)]).fetchall()}  # fmt: skip
        more_refined = {str(r[0]) for r in store.con.execute(
            "SELECT DISTINCT track_uuid FROM box_provenance WHERE source = ? AND log_id = ? "
            "AND parent_track_uuid IN (SELECT unnest(?))",
            [refined, log_id, sorted(parent_tracks | more_parents)]).fetchall()}  # fmt: skip
        if more_parents <= parent_tracks and more_refined <= refined_tracks:
            break
        # past the cap (a long chain of fragments), the first tracks by id are kept and the walk stops
        parent_tracks |= set(sorted(more_parents - parent_tracks)[: max(MAX_LINKED - len(parent_tracks), 0)])
        refined_tracks |= set(sorted(more_refined - refined_tracks)[: max(MAX_LINKED - len(refined_tracks), 0)])
        if max(len(parent_tracks), len(refined_tracks)) >= MAX_LINKED:
            break
    interpolated: dict[str, list[int]] = {t: [] for t in refined_tracks}
    for uuid, timestamp in store.con.execute(
        "SELECT track_uuid, timestamp_ns FROM box_provenance WHERE source = ? AND log_id = ? AND interpolated "
        "AND track_uuid IN (SELECT unnest(?)) ORDER BY timestamp_ns",
        [refined, log_id, sorted(refined_tracks)],
    ).fetchall():
        interpolated[str(uuid)].append(int(timestamp))
    return Lineage(
        refined_source=refined,
        parent_source=parent,
        refined_tracks=tuple(sorted(refined_tracks)),
        parent_tracks=tuple(sorted(parent_tracks)),
        interpolated={t: tuple(v) for t, v in interpolated.items()},
    )
