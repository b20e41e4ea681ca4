"""One daemon per archive: an exclusive lock on a file in the archive's state folder.

Two daemons (or the service and a cron `--once`) on one archive would race for
the same dropped files. The lock is the operating system's, so it is released
when the holder exits, however it exits; a stale lock file means nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class ArchiveBusyError(Exception):
    """Another process holds the lock; the message names its pid."""


@contextmanager
def held(path: Path, *, what: str, using: str = "this archive") -> Iterator[None]:
    """Hold the lock on `path` (created if needed) for the block, or raise ArchiveBusyError at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ArchiveBusyError(f"another {what} (pid {holder}) is using {using}; lock file {path}")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield  # closing the file releases the lock


if sys.platform == "win32":
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        # msvcrt locks bytes from the current position, which append mode puts at the end (and which moves
        # as the holder writes its pid): always lock the first byte, so that every process locks the same one.
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
