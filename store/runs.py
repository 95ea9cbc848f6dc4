"""Recorded program runs: what ran, on which logs, with what result. Nothing is lost: failures are rows too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from avmine.store import ids
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.bounds import ERROR_CHARS, STDOUT_CHARS, bound
from avmine.store.database import Store, now
from avmine.store.errors import StoreError


@dataclass(frozen=True)
class LogResult:
    """One log's outcome of a run.

    Attributes:
        log_id: the log.
        status: "ok", "error", "timeout" or "cancelled".
        scenario: the post-processed scenario the program output (None when it failed).
        error: what went wrong, for people and agents.
        stdout: what the program printed (bounded by the executor).
        seconds: wall time on this log.
        trace: what each atomic call of the program kept (``avmine.atomic.trace``); None when it never ran.
    """

    log_id: str
    status: str
    scenario: dict[str, Any] | None = None
    error: str | None = None
    stdout: str = ""
    seconds: float = 0.0
    trace: dict[str, Any] | None = None


@dataclass(frozen=True)
class Run:
    """A program run over a selection of logs."""

    prompt: str
    program: str
    source: str = ANNOTATIONS_SOURCE
    log_selection: dict[str, Any] = field(default_factory=dict)
    origin: str = "cli"
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return sorted(int(t) for t in value)
    return value


def _counts(scenario: dict[str, Any] | None) -> tuple[int | None, int | None]:
    if scenario is None:
        return None, None
    referred: set[int] = set()
    tracks = 0
    for value in scenario.values():
        stamps = _timestamps(value)
        tracks += bool(stamps)
        referred |= stamps
    return tracks, len(referred)


def _timestamps(value: Any) -> set[int]:
    if isinstance(value, dict):
        out: set[int] = set()
        for child in value.values():
            out |= _timestamps(child)
        return out
    return {int(t) for t in value}


def _text(value: str | None, limit: int) -> str | None:
    """Text a program produced, bounded and made storable (a lone surrogate cannot be encoded as UTF-8)."""
    return None if value is None else bound(value, limit).encode("utf-8", "replace").decode("utf-8")


def record_run(store: Store, run: Run, results: list[LogResult], con: duckdb.DuckDBPyConnection | None = None) -> str:
    """Store a run and its per-log results in one transaction; returns the run id.

    Args:
        store: the database.
        run: the run.
        results: its per-log results.
        con: a cursor of the store's connection to write with (for writing from another thread).
    """
    failed = [r for r in results if r.status != "ok"]
    status = "ok" if not failed else ("failed" if len(failed) == len(results) else "partial")
    if any(r.status == "cancelled" for r in results):
        status = "cancelled"
    seconds = sum(r.seconds for r in results)
    rows = []
    for result in results:
        tracks, stamps = _counts(result.scenario)
        rows.append(
            {
                "run_id": run.run_id,
                "log_id": result.log_id,
                "status": result.status,
                "error": _text(result.error, ERROR_CHARS),
                "stdout": _text(result.stdout, STDOUT_CHARS),
                "seconds": result.seconds,
                "scenario": None if result.scenario is None else json.dumps(_jsonable(result.scenario)),
                "num_referred_tracks": tracks,
                "num_referred_timestamps": stamps,
                "trace": None if result.trace is None else json.dumps(result.trace),
            }
        )
    # plain parameterised inserts: a run is a handful of rows, where DataFrame registration costs more
    writer = con if con is not None else store.con
    writer.execute("BEGIN TRANSACTION")
    try:
        writer.execute(
            "INSERT INTO runs (run_id, created_at, prompt, program, source, log_selection, status, error, seconds, "
            "origin, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id, now(), run.prompt, run.program, run.source, json.dumps(run.log_selection), status,
                _text(failed[0].error, ERROR_CHARS) if failed else None, seconds, run.origin, json.dumps(run.details),
            ],
        )  # fmt: skip
        columns = list(rows[0]) if rows else []
        if rows:
            writer.executemany(
                f"INSERT INTO run_results ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                [[row[c] for c in columns] for row in rows],
            )
    except BaseException:
        writer.execute("ROLLBACK")
        raise
    writer.execute("COMMIT")
    return run.run_id


def load_run(store: Store, run_id: str) -> tuple[dict[str, Any], list[LogResult]]:
    """A stored run's record and per-log results; ``run_id`` may be a unique prefix of the id.

    Raises:
        StoreError: no run with that id, or an ambiguous prefix.
    """
    run_id = ids.run_id(store, run_id)  # a unique prefix will do
    record = store.query_df("SELECT * FROM runs WHERE run_id = ?", [run_id])
    if record.empty:
        latest = store.query_df("SELECT run_id, prompt FROM runs ORDER BY created_at DESC LIMIT 5")
        known = "; ".join(f"{r.run_id} ({r.prompt!r})" for r in latest.itertuples()) or "none yet"
        raise StoreError(
            f"no run {run_id!r} in {store.path}; a run id is what `avmine exec` or execute_scenario printed. "
            f"Latest runs: {known}."
        )
    results = store.query_df("SELECT * FROM run_results WHERE run_id = ? ORDER BY log_id", [run_id])
    first = {str(k): v for k, v in record.iloc[0].to_dict().items()}
    return first, [_result(row) for row in results.to_dict("records")]


def _result(row: Mapping[Hashable, Any]) -> LogResult:
    return LogResult(
        log_id=str(row["log_id"]),
        status=str(row["status"]),
        scenario=json.loads(row["scenario"]) if isinstance(row["scenario"], str) else None,
        error=row["error"] if isinstance(row["error"], str) else None,
        stdout=str(row["stdout"] or ""),
        seconds=float(row["seconds"] or 0.0),
        trace=json.loads(row["trace"]) if isinstance(row.get("trace"), str) else None,  # absent in a read-only old file
    )


def latest_results(store: Store, prompt: str, source: str) -> dict[str, LogResult]:
    """Per log, the result of the most recent run of a prompt on a track source."""
    rows = store.query_df(
        """
        SELECT r.* FROM run_results r JOIN runs USING (run_id)
        WHERE runs.prompt = ? AND runs.source = ?
        QUALIFY row_number() OVER (PARTITION BY r.log_id ORDER BY runs.created_at DESC) = 1
        """,
        [prompt, source],
    )
    return {str(row["log_id"]): _result(row) for row in rows.to_dict("records")}
