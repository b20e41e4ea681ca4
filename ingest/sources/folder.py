"""Watched folders: files saved from a browser, a scanner or a synced drive (the only watchdog import).

Change events (or, on network shares, a polling observer) put a file into the
stability tracker; once it has held still it goes to the ingest queue. A scan at
start takes what arrived while the daemon was down, and a periodic rescan
catches events a watcher missed. Files already handed over are remembered by
path, size and modification time, so nothing is read twice across restarts.
After everything in a file is safely in the archive, it is kept, deleted or
moved, as the folder's `after` says.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from ingest.config import WatchSettings
from ingest.logs import printable
from ingest.model import Candidate
from ingest.pipeline import Result
from ingest.sources.mail_file import MailFileKind
from ingest.sources.mail_parts import DEFAULT_LIMITS
from ingest.sources.saved_mail import read_saved_mail, saved_mail_kind, store_saved_mail
from ingest.sources.settle import StabilityTracker, is_ignored_folder, is_ignored_name, is_ignored_path
from ingest.worker import Intake, Work
from storage.archive import STORED, Filed, Outcome, sha256_hex
from storage.atomic import PlacementError, fsync_folder, link_into_place, write_temp
from storage.hashed_io import file_sha256
from storage.source_files import FileState, Remembered, SourceFiles, Stamp

log = logging.getLogger("fapiao")

# watchdog's inotify emitter registers a new subfolder twice when folders are created in quick succession
# (mkdir -p) and warns about it from its thread; the second registration is the same callback, so the
# warning is noise on the daemon's stderr.
warnings.filterwarnings("ignore", message="Callback with id .* already exists for watch", category=RuntimeWarning)

_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
]


@dataclass(frozen=True)
class DroppedFile:
    """A settled file on its way through the ingest queue."""

    folder: FolderSource
    path: Path
    stamp: Stamp

    @property
    def source(self) -> str:
        return self.folder.name

    @property
    def label(self) -> str:
        return str(self.path)

    def ingest(self, intake: Intake) -> list[Result]:
        return self.folder.ingest(self, intake)

    def crashed(self, reason: str) -> None:
        self.folder.crashed(self, reason)


class FolderSource:
    def __init__(
        self,
        watch: WatchSettings,
        *,
        files: SourceFiles,
        put: Callable[[Work], None],
        max_attempts: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watch = watch
        self.root = watch.path
        self.name = f"folder:{watch.path}"
        self.files = files
        self.put = put
        self.max_attempts = max_attempts
        self.max_bytes = max_bytes
        self.clock = clock
        self.tracker = StabilityTracker(watch.settle_seconds)
        # 'watching', 'polling', 'missing' (the folder is not there), 'rescans only' (no watcher could start),
        # 'scanning' (one pass, `run --once`) or 'stopped'.
        self.state = "stopped"
        self._observe = True
        self.last_scan: datetime | None = None
        self._observer: BaseObserver | None = None
        self._queued: set[Path] = set()
        self._lock = threading.Lock()

    # --- finding files ------------------------------------------------------------------------------

    def start(self, *, observe: bool = True) -> None:
        """Watch the folder (unless `observe` is False, for one pass) and take what is already there."""
        self._observe = observe
        self.scan()

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)
        self.state = "stopped"

    def scan(self) -> int:
        """Put every file that is new or changed since it was handed over into the tracker; how many."""
        if not self.root.is_dir():
            if self.state != "missing":
                log.warning("watched folder %s is not there; looking again at the next rescan", self.root)
            self.stop()  # a watch on a folder that went away (an unplugged disk) sees nothing when it returns
            self.state = "missing"
            return 0
        if self._observe and self._observer is None:
            self._start_observer()
        elif not self._observe:
            self.state = "scanning"
        remembered = self.files.remembered(self.name)
        now, wall = self.clock(), datetime.now(UTC)
        queued = self._queued_now()
        count = 0
        for path in _files_under(self.root):
            stamp = _look(path)
            known = remembered.get(str(path))
            if stamp is None or path in queued or (known is not None and known.settled(stamp, wall)):
                continue
            self.tracker.saw(path, now, stamp)
            count += 1
        self.last_scan = wall
        return count

    def retry_due(self) -> int:
        """Put files whose retry time has come back into the tracker; how many."""
        queued = self._queued_now()
        now = self.clock()
        count = 0
        for text in self.files.due(self.name):
            path = Path(text)
            stamp = _look(path)
            if stamp is not None and path not in queued:
                self.tracker.saw(path, now, stamp)
                count += 1
        return count

    def noticed(self, path: Path, *, is_directory: bool) -> None:
        """A change event: a file to settle, or a folder (created or moved in) whose files are."""
        now = self.clock()
        if is_directory:
            if path.is_dir() and not is_ignored_folder(path, self.root):
                for inner in _files_under(path):
                    self.tracker.saw(inner, now)
        elif not is_ignored_path(path, self.root):
            self.tracker.saw(path, now)

    def tick(self) -> int:
        """Hand files that have settled to the ingest queue; how many."""
        ready = self.tracker.settled(self.clock(), look=_look, can_open=_can_open)
        for path, stamp in ready:
            with self._lock:
                self._queued.add(path)
            self.put(DroppedFile(self, path, stamp))
        return len(ready)

    @property
    def settling(self) -> int:
        return len(self.tracker)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queued)

    def _queued_now(self) -> set[Path]:
        """Files on the ingest queue (handed over, not yet taken): a scan must not hand them over again."""
        with self._lock:
            return set(self._queued)

    def _start_observer(self) -> None:
        """Native events, or polling when configured or when native watching fails (typically the inotify
        limits, fs.inotify.max_user_watches); if both fail, rescans alone find files, and the next rescan
        tries again."""
        polling = self.watch.polling
        try:
            try:
                self._observer = self._observer_started(polling=polling)
            except OSError as exc:
                if polling:
                    raise
                log.warning("cannot watch %s for changes (%s); polling it instead", self.root, exc.strerror or exc)
                self._observer, polling = self._observer_started(polling=True), True
        except Exception as exc:
            self.state = "rescans only"
            log.error("cannot watch %s (%s); it is rescanned every few minutes instead", self.root, exc)
            return
        self.state = "polling" if polling else "watching"
        log.info("%s %s (settle %.1f s, after: %s)", self.state, self.root, self.watch.settle_seconds, self.watch.after)

    def _observer_started(self, *, polling: bool) -> BaseObserver:
        observer = PollingObserver(timeout=self.watch.poll_seconds) if polling else Observer()
        observer.schedule(_Handler(self), str(self.root), recursive=True, event_filter=_EVENTS)
        observer.daemon = True
        try:
            observer.start()
        except BaseException:
            observer.stop()
            raise
        return observer

    # --- taking a file (in the ingest worker) -----------------------------------------------------------

    def ingest(self, item: DroppedFile, intake: Intake) -> list[Result]:
        with self._lock:
            self._queued.discard(item.path)
        key = str(item.path)
        stamp = _look(item.path)
        if stamp is None:
            return []  # gone before its turn: deleted, or renamed (the new name has its own event)
        if stamp != item.stamp:
            self.tracker.saw(item.path, self.clock(), stamp)  # written to again: let it settle again
            return []
        known = self.files.get(self.name, key)
        if known is not None and known.settled(stamp, datetime.now(UTC)):
            return []
        try:
            kind = saved_mail_kind(item.path)
        except OSError:
            kind = None  # the read below says why
        if kind is not None:
            return self._ingest_mail_file(item, kind, known, intake)
        if stamp.size > self.max_bytes:
            reason = f"file is {stamp.size} bytes, over the {self.max_bytes}-byte limit"
            self.files.failed(self.name, key, stamp, "", reason, max_attempts=1)
            return [intake.refuse(self.name, key, reason)]
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
            self._failed(item, "", reason)
            return [intake.refuse(self.name, key, reason)]
        if _look(item.path) != stamp:
            self.tracker.saw(item.path, self.clock())  # changed while we read it
            return []
        digest = sha256_hex(data)
        if known is not None and known.state is FileState.DONE and known.sha256 == digest:
            self.files.done(self.name, key, stamp, digest)  # touched, not changed
            return []
        # Named by its place in the folder ('scans/a.pdf'), so the log says which file it was.
        name = item.path.relative_to(self.root).as_posix()
        results = intake.process(Candidate(self.name, key, name, data))
        failures = [r for r in results if r.filed.outcome is Outcome.FAILED]
        if failures:
            self._failed(item, digest, "; ".join(f"{r.name}: {r.filed.reason}" for r in failures))
            return results
        self._after(item, data, results)
        self.files.done(self.name, key, stamp, digest)
        return results

    def _ingest_mail_file(
        self, item: DroppedFile, kind: MailFileKind, known: Remembered | None, intake: Intake
    ) -> list[Result]:
        """Saved mail: streamed message by message (an mbox may be gigabytes), each message stored like one from
        IMAP. A changed mbox is read again whole; the messages read before add nothing (mail_identity).

        An .eml whose every file is in the archive is then kept, deleted or moved like any file; an mbox is a
        mailbox, not one delivery, and is always kept.
        """
        key = str(item.path)
        try:
            digest = file_sha256(item.path)
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
            self._failed(item, "", reason)
            return [intake.refuse(self.name, key, reason)]
        if known is not None and known.state is FileState.DONE and known.sha256 == digest:
            self.files.done(self.name, key, item.stamp, digest)  # touched, not changed
            return []
        results: list[Result] = []
        try:
            for mail in read_saved_mail(item.path, kind, source=self.name, file_key=key, limits=DEFAULT_LIMITS):
                for problem in mail.problems:
                    log.info("%s %s: %s", self.name, printable(key), printable(problem))
                results += store_saved_mail(intake, self.name, mail)
        except OSError as exc:
            reason = f"cannot read the rest of this {kind} file: {exc.strerror or exc}"
            self._failed(item, digest, reason)
            return [*results, intake.refuse(self.name, key, reason)]
        if _look(item.path) != item.stamp:
            self.tracker.saw(item.path, self.clock())  # written to while read: read again once it settles
            return results
        failures = [r for r in results if r.filed.outcome is Outcome.FAILED]
        if failures:
            self._failed(item, digest, "; ".join(f"{r.name}: {r.filed.reason}" for r in failures))
            return results
        if kind == "eml" and self.watch.after.kind != "keep":
            try:
                self._after(item, item.path.read_bytes(), results)
            except OSError as exc:
                log.warning("could not %s %s: %s", self.watch.after.kind, printable(key), exc)
        self.files.done(self.name, key, item.stamp, digest)
        return results

    def crashed(self, item: DroppedFile, reason: str) -> None:
        self._failed(item, "", reason)

    def _failed(self, item: DroppedFile, digest: str, reason: str) -> None:
        state = self.files.failed(self.name, str(item.path), item.stamp, digest, reason, max_attempts=self.max_attempts)
        if state.state is FileState.QUARANTINED:
            log.warning(
                "quarantined %s after %d failures; it is tried again when it changes: %s",
                printable(str(item.path)),
                state.attempts,
                printable(reason),
            )
        elif state.next_try is not None:
            log.info("will retry %s at %s", printable(str(item.path)), f"{state.next_try.astimezone():%H:%M:%S}")

    def _after(self, item: DroppedFile, data: bytes, results: list[Result]) -> None:
        """Delete or move the file, if configured, when everything in it is in the archive. Files that are
        not invoices (skipped) stay where they are; a failure here is logged, never lost data."""
        action = self.watch.after
        safe = bool(results) and all(_in_archive(r.filed) for r in results)
        if action.kind == "keep" or not safe:
            return
        shown = printable(str(item.path))
        try:
            if action.folder is not None:
                target = _move_out(item.path, data, item.stamp, self.root, action.folder)
                log.info("moved %s to %s", shown, printable(str(target)))
            else:
                item.path.unlink()
                fsync_folder(item.path.parent)
                log.info("deleted %s (it is in the archive)", shown)
        except (OSError, PlacementError) as exc:
            log.warning("could not %s %s: %s", action.kind, shown, exc)


class _Handler(FileSystemEventHandler):
    def __init__(self, folder: FolderSource) -> None:
        self.folder = folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        raw = event.dest_path if event.event_type == "moved" else event.src_path
        if not raw:
            return
        if event.is_directory and event.event_type not in ("created", "moved"):
            return
        try:
            self.folder.noticed(Path(os.fsdecode(raw)), is_directory=event.is_directory)
        except Exception:  # an exception here would end the observer's thread: never let one through
            log.exception("error handling a change event in %s", self.folder.root)


def _files_under(folder: Path) -> Iterator[Path]:
    """Regular files under `folder`, hidden folders and ignored names left out, links not followed."""
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(current)
        for name in sorted(names):
            if not is_ignored_name(name):
                yield here / name


def _look(path: Path) -> Stamp | None:
    """Size and modification time of a regular file; None for anything else (gone, a link, a pipe)."""
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return Stamp(info.st_size, info.st_mtime_ns)


def _can_open(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


def _in_archive(filed: Filed) -> bool:
    """Whether what a file brought is in the archive (stored now, or before: a duplicate, a mail seen before)."""
    outcome = filed.earlier if filed.outcome is Outcome.SEEN else filed.outcome
    return outcome in STORED or outcome is Outcome.DUPLICATE


def _move_out(path: Path, data: bytes, stamp: Stamp, root: Path, folder: Path) -> Path:
    """Copy `data` to the same relative place under `folder` (never over an existing file), then remove
    `path`. A copy rather than a rename works across disks; the file keeps its modification time."""
    relative = path.relative_to(root)
    target_folder = folder / relative.parent
    temp = write_temp(target_folder, data)
    os.utime(temp, ns=(stamp.mtime_ns, stamp.mtime_ns))
    number = 1
    while True:
        name = relative.name if number == 1 else f"{Path(relative.name).stem} ({number}){Path(relative.name).suffix}"
        target = target_folder / name
        if link_into_place(temp, target):
            break
        number += 1
    path.unlink()
    fsync_folder(path.parent)
    return target
