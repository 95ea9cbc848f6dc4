"""Where the database and its per-log caches live."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV_VAR = "AVMINE_DB"
DB_FILENAME = "avmine.duckdb"


def user_data_dir() -> Path:
    """The user's data directory for avmine (``$XDG_DATA_HOME/avmine`` or ``~/.local/share/avmine``)."""
    base = os.environ.get("XDG_DATA_HOME")
    root = Path(base) if base else Path.home() / ".local" / "share"
    return root / "avmine"


def resolve_db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the database file: the explicit path, else ``$AVMINE_DB``, else the user data dir."""
    if db is not None:
        return Path(db).expanduser().resolve()
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return user_data_dir() / DB_FILENAME


def cache_root_for(db_path: Path) -> Path:
    """Directory holding the per-log array caches that belong to ``db_path``."""
    return db_path.with_name(db_path.name + ".cache")


def socket_path_for(db_path: Path) -> Path:
    """The Unix socket on which the process writing ``db_path`` serves the others (``<db>.sock``)."""
    return db_path.with_name(db_path.name + ".sock")
