"""Ids as people type them back: a full id, or any unique prefix of one (the tools show 8 characters).

Log ids and track uuids are UUIDs and run ids 16 hex digits; what the tools print (``3b3570b4``,
``7bd6176d``) must be accepted wherever an id is taken, so every tool resolves its ids here.
"""

from __future__ import annotations

from collections.abc import Iterable

from avmine.store.database import Store
from avmine.store.errors import StoreError

SHOWN = 5
"""How many candidates an ambiguous prefix lists."""


def by_prefix(text: str, known: Iterable[str], what: str, fix: str) -> str:
    """The one id of ``known`` that is ``text`` or starts with it (case and surrounding space ignored).

    Args:
        text: the id or prefix as given.
        known: the ids it may name.
        what: what the ids are, for the error ("log", "run", "track of log 3b3570b4").
        fix: where to find valid ids, for the error.

    Raises:
        StoreError: no id starts with ``text``, or several do (they are listed).
    """
    wanted = text.strip().lower()
    if not wanted:
        raise StoreError(f"an empty {what} id; {fix}")
    matches = []
    for candidate in known:
        if candidate.lower() == wanted:
            return candidate
        if candidate.lower().startswith(wanted):
            matches.append(candidate)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise StoreError(f"unknown {what} {text!r} (no {what} id is or starts with it); {fix}")
    listed = ", ".join(sorted(matches)[:SHOWN]) + (f" and {len(matches) - SHOWN} more" if len(matches) > SHOWN else "")
    raise StoreError(f"the {what} id prefix {text!r} is ambiguous: {listed} start with it; give more characters.")


def _starting(store: Store, table: str, column: str, text: str) -> list[str]:
    rows = store.con.execute(
        f"SELECT {column} FROM {table} WHERE starts_with(lower({column}), ?) ORDER BY 1 LIMIT {SHOWN + 1}",
        [text.strip().lower()],
    ).fetchall()
    return [str(row[0]) for row in rows]


def log_id(store: Store, text: str) -> str:
    """The full id of the log ``text`` names (itself or a unique prefix).

    Raises:
        StoreError: unknown or ambiguous.
    """
    return by_prefix(text, _starting(store, "logs", "log_id", text), "log", "list_logs (or `avmine stats`) lists them.")


def run_id(store: Store, text: str) -> str:
    """The full id of the run ``text`` names (itself or a unique prefix).

    Raises:
        StoreError: unknown or ambiguous.
    """
    return by_prefix(text, _starting(store, "runs", "run_id", text), "run", "execute_scenario returns a run's id.")


def track_uuid(uuids: Iterable[str], text: str, log: str) -> str:
    """The full uuid of the track ``text`` names among a log's tracks (itself or a unique prefix).

    Raises:
        StoreError: no such track in the log, or an ambiguous prefix.
    """
    return by_prefix(text, uuids, "track", f"it is not in log {log}; get_run lists a run's referred tracks.")
