"""Errors raised by the store: each names the file, what was wrong and what to do."""

from __future__ import annotations

import shlex
from pathlib import Path


class StoreError(Exception):
    """Base class for every error the store raises on purpose."""


class IngestError(StoreError):
    """Input that cannot be ingested.

    The message is one paragraph a person can act on: which file, what was wrong
    with it, and how to fix it. Raising it inside an ingest rolls the whole
    ingest back, so the database is left as it was.
    """

    def __init__(self, path: Path | str | None, problem: str, fix: str) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem} {fix}")


class SchemaVersionError(StoreError):
    """The database file was written by an incompatible avmine version."""


class NoDatabaseError(StoreError):
    """A command that only reads or adds to a database was given a path where there is none."""


class DatabaseLockedError(StoreError):
    """Another process holds the database file open for writing (DuckDB allows one such process).

    ``pid`` is the holder's process id where DuckDB names it.
    """

    def __init__(self, path: Path, pid: int | None, message: str | None = None) -> None:
        self.path = path
        self.pid = pid
        if message is not None:
            super().__init__(message)
            return
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"{path} is open in {holder}: DuckDB lets one process write a database, and no other may open it "
            "meanwhile. `avmine stats`, `exec`, `submit`, `library` and a second `avmine serve` run through an "
            "avmine server that holds it; `ingest`, `demo`, `colors`, `coverage`, `run` and `screen` need the file "
            f"itself: run them once {holder} has ended (for a server: stop it, or close the agent that started it)."
        )


DAMAGE_SIGNS = ("not a valid DuckDB database", "Corrupt database file", "Could not read enough bytes")
"""What DuckDB says of a file that is empty, not a DuckDB file, truncated or has a block that fails its checksum."""


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error says the database file itself is damaged (not a query or lock problem)."""
    return any(sign in str(exc) for sign in DAMAGE_SIGNS)


class DamagedDatabaseError(StoreError):
    """The database file is empty, truncated, damaged or not a DuckDB file; nothing was written to it."""

    def __init__(self, path: Path, detail: str, sources: list[str] | None = None) -> None:
        self.path = path
        self.detail = detail.splitlines()[0].rstrip("!.")
        """What DuckDB said, its first line."""
        db = shlex.quote(str(path))
        where = " ".join(sources) if sources else "FOLDER (each AV2 log, split or dataset folder you ingested)"
        super().__init__(
            f"{path} cannot be used: {self.detail}. The file is empty, truncated, damaged or not a "
            "DuckDB database, and avmine left it exactly as it was. To recover, put back a copy if you have one; "
            f"otherwise move it aside (`mv {db} {db}.damaged`) and rebuild it from the source folders: "
            f"`avmine --db {db} ingest {where}` (for the demo's database: `avmine --db {db} demo`). Runs, "
            "library examples and agent sessions kept only in that file cannot be rebuilt."
        )
