"""Files that hold personal or financial data are readable by their owner only.

The warehouse, the event inbox, exports, the token store, the audit log and the key file hold
names, notes, payloads, invoices and secrets. Folders are created 0700 and files 0600, so on a
shared machine no other account can read them; files written by an earlier version with the
usual 0644 are narrowed when next opened. The process umask is narrowed too, for the files
the libraries create beside ours (DuckDB's WAL, SQLite's -wal and -shm, Dagster's storage).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_by_default() -> None:
    """Narrow this process's umask so everything it creates is owner-only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents owner-only, narrowing `path` if it already exists.

    Parents that exist already are left as they are (they may be /tmp or a home folder).
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):  # `mkdir(parents=True)` would give parents the umask's mode
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=PRIVATE_DIR_MODE)
    _narrow(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make an existing file owner-only (after a library created it with its own mode)."""
    _narrow(path, PRIVATE_FILE_MODE)
    return path


def _narrow(path: Path, mode: int) -> None:
    # Only the owner may chmod; a file someone else created (a shared mount) keeps its mode.
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
