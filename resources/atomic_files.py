"""Small files that must never be seen half-written or lost to a crash: tokens, keys, secrets.

Written to a private temporary file beside the target, flushed to disk, renamed over it and
the folder flushed too, so after a crash (even SIGKILL or power loss) the file holds either
the old content or the new, never a mixture and never nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from resources.private_files import PRIVATE_FILE_MODE


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably (owner-only)."""
    with atomic_writer(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A handle whose bytes replace `path` atomically and durably when the block ends without an
    error (owner-only); on an error `path` is left as it was. For files too large to hold in memory."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError):  # some filesystems refuse to open a folder
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
