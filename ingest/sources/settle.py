"""Pure rules of the folder watcher: which names to leave alone, and when a file has stopped changing.

Browsers, scanners and sync clients write a file in pieces, often under a
temporary name. A file is taken only when its size and modification time have
held still for the settle time, no change event came meanwhile, and it can be
opened; names that mark an unfinished download are not taken until renamed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from storage.atomic import TEMP_PREFIX
from storage.source_files import Stamp

# Unfinished downloads and copies: Firefox .part, Chrome/Edge .crdownload, Safari .download, Opera .opdownload,
# qBittorrent .!qB, rsync/office temp files; and the litter file managers leave.
UNFINISHED_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".opdownload", ".!qb", ".tmp", ".temp", ".swp")
LITTER_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store", "icon\r"})
# A file that settled but still cannot be opened (locked by the program writing it) is handed over after this
# long anyway, so that the failure is recorded instead of waited on forever.
GIVE_UP_OPENING_SECONDS = 60.0


def is_ignored_name(name: str) -> bool:
    """Hidden files (which includes our own temp files), unfinished downloads, Office lock files, litter."""
    lowered = name.lower()
    return name.startswith((".", "~$", TEMP_PREFIX)) or lowered.endswith(UNFINISHED_SUFFIXES) or lowered in LITTER_NAMES


def is_ignored_path(path: PurePath, root: PurePath) -> bool:
    """`path` is under a hidden folder of `root` (.git, .Trash-1000, .sync) or has an ignored name."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True  # outside the watched folder (a rename out of it)
    if not parts:
        return True
    return any(part.startswith(".") for part in parts[:-1]) or is_ignored_name(parts[-1])


def is_ignored_folder(folder: PurePath, root: PurePath) -> bool:
    """`folder` is a hidden folder of `root` or inside one (or outside `root`)."""
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        return True
    return any(part.startswith(".") for part in parts)


@dataclass
class _Settling:
    stamp: Stamp | None  # as last looked at; None until the first look
    since: float  # when it last changed (or an event said so)
    first_seen: float


class StabilityTracker:
    """Files that were seen to change, until they hold still. Thread-safe: watcher threads call `saw`,
    the daemon's loop calls `settled`. Times are plain seconds from a monotonic clock, passed in."""

    def __init__(self, settle_seconds: float) -> None:
        self.settle_seconds = settle_seconds
        self._files: dict[Path, _Settling] = {}
        self._lock = threading.Lock()

    def saw(self, path: Path, now: float, stamp: Stamp | None = None) -> None:
        """A change event (no `stamp`) for `path` starts its settle time again; a scan (with the `stamp` it
        saw) does only if the file changed, or frequent rescans would keep a file from ever settling."""
        with self._lock:
            entry = self._files.get(path)
            if entry is None:
                self._files[path] = _Settling(stamp, now, now)
            elif stamp is None or stamp != entry.stamp:
                entry.since = now
                entry.stamp = stamp if stamp is not None else entry.stamp

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def settled(
        self, now: float, *, look: Callable[[Path], Stamp | None], can_open: Callable[[Path], bool]
    ) -> list[tuple[Path, Stamp]]:
        """Files that have held still for the settle time; they leave the tracker. `look` stats a file
        (None: gone, and it is forgotten). Only files due for a decision are looked at, so a tick is cheap
        however many files are settling."""
        with self._lock:
            due = [
                (path, entry)
                for path, entry in self._files.items()
                if entry.stamp is None or now - entry.since >= self.settle_seconds
            ]
        ready: list[tuple[Path, Stamp]] = []
        for path, entry in due:
            stamp = look(path)
            with self._lock:
                if self._files.get(path) is not entry:
                    continue  # forgotten meanwhile
                if stamp is None:
                    del self._files[path]
                elif entry.stamp is None:
                    entry.stamp = stamp  # the first look: the settle time runs from the event
                elif stamp != entry.stamp:
                    entry.stamp, entry.since = stamp, now
                elif now - entry.since < self.settle_seconds:
                    continue  # an event came in while we looked
                elif can_open(path) or now - entry.first_seen >= GIVE_UP_OPENING_SECONDS:
                    del self._files[path]
                    ready.append((path, stamp))
        return ready

    def forget(self, path: Path) -> None:
        with self._lock:
            self._files.pop(path, None)
