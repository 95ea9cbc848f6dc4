"""The HTTP server's bearer token when the environment gives none: a 0600 file beside the database.

``avmine serve --transport http`` reads it, or writes a new one (``secrets.token_urlsafe(32)``), so that no
other account of the machine can use the server even on 127.0.0.1. The file's mode is enforced every time:
a file readable by others is made owner-only again, and a file that belongs to someone else (who could read or
replace it) is refused. Links are never followed.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from avmine.server.mcp.http import HttpConfigError, check_token

MODE = 0o600


def token_path(db: Path) -> Path:
    """Where the token of the server of ``db`` is kept."""
    return db.with_name(f"{db.name}.http-token")


def load_or_create(path: Path) -> tuple[str, str]:
    """The token in ``path``, written first when the file does not exist; and what was done, for the person.

    Raises:
        HttpConfigError: the file is not a regular file, belongs to another user, or holds no valid token.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, MODE)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise HttpConfigError(
            f"cannot write the token file {path} ({exc.strerror}); set AVMINE_TOKEN instead (e.g. `export "
            "AVMINE_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`)."
        ) from exc
    token = secrets.token_urlsafe(32)
    try:
        os.fchmod(fd, MODE)  # whatever the umask was
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return token, "made a new token"


def _read(path: Path) -> tuple[str, str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:  # ELOOP: a link, which another user may have planted
        why = f"cannot open the token file {path} ({exc.strerror}); remove it to make a new one."
        raise HttpConfigError(why) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HttpConfigError(f"the token file {path} is not a regular file; remove it to make a new one.")
        if info.st_uid != os.geteuid():
            raise HttpConfigError(
                f"the token file {path} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}): its owner "
                "could read or replace the token. Remove it to make a new one, or set AVMINE_TOKEN."
            )
        done = "read the token"
        if stat.S_IMODE(info.st_mode) != MODE:
            os.fchmod(fd, MODE)
            done = f"read the token and made the file owner-only (it was {stat.S_IMODE(info.st_mode):o})"
        text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)
    try:
        check_token(text)
    except HttpConfigError as exc:
        raise HttpConfigError(
            f"the token file {path} does not hold a usable token; remove it to make a new one."
        ) from exc
    return text, done
