"""Backups as the daemon and the CLI run them: settings -> what to back up, when one is due, and the
scheduled job that logs its outcome for `fapiao status`."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from ingest.config import Settings
from ingest.scheduler import next_run
from storage.backup import (
    SETTLED_NOTE,
    BackupBusyError,
    BackupError,
    BackupResult,
    BackupSource,
    BackupStoppedError,
    back_up,
    local_now,
    snapshots,
)
from storage.db import sqlite_path

log = logging.getLogger("fapiao")

POSTGRES_NOTE = (
    "the database is PostgreSQL and not in this snapshot: back it up with pg_dump (see the README); "
    "this snapshot holds the archive tree"
)


def backup_source(settings: Settings) -> BackupSource:
    database = sqlite_path(settings.database_url)
    return BackupSource(
        archive_root=settings.archive.root,
        database=database,
        layout=settings.archive.layout,
        config=settings.source,
        database_note="" if database is not None else POSTGRES_NOTE,
    )


def backup_due(settings: Settings, now: datetime) -> bool:
    """A scheduled time has passed since the newest snapshot (or there is none): the machine was off or
    the daemon stopped when a backup was due, and it is made up for once."""
    if settings.backup.dir is None or not settings.backup.schedule:
        return False
    try:
        taken = [snapshot.taken for snapshot in snapshots(settings.backup.dir)]
    except BackupError:
        return True  # the attempt will say what is wrong with the folder
    if not taken:
        return True
    due = next_run(settings.backup.schedule, taken[-1])
    return due is not None and due <= now


def summary(result: BackupResult) -> str:
    manifest = result.manifest
    archived = sum(1 for entry in manifest.files if entry.path.startswith("archive/"))
    database = "the database" if manifest.database else "no database"
    text = (
        f"snapshot {manifest.name}: {archived} archive files ({human_size(manifest.archive_bytes)}) and {database}; "
        f"{result.linked} unchanged (hard links), {result.copied} copied ({human_size(manifest.copied_bytes)} new)"
        f"; in {result.seconds:.1f} s"
    )
    if result.export is not None:
        text += f"; exported as {result.export}"
    if result.removed:
        text += f"; retention removed {', '.join(result.removed)}"
    return text


def human_size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = float(count)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


class BackupJob:
    """The daemon's scheduled backup: never raises, never runs beside another backup of the folder."""

    def __init__(self, settings: Settings) -> None:
        assert settings.backup.dir is not None
        self.settings = settings
        self.folder = settings.backup.dir
        self.last_error = ""
        self.last_error_at: datetime | None = None
        self._running = threading.Lock()
        self.stop = threading.Event()  # set when the daemon stops: a snapshot in progress is given up

    def next_time(self) -> datetime | None:
        return next_run(self.settings.backup.schedule, local_now()) if self.settings.backup.schedule else None

    def __call__(self) -> None:
        if not self._running.acquire(blocking=False):
            return
        try:
            result = back_up(
                backup_source(self.settings), self.folder, keep=self.settings.backup.keep, stopping=self.stop.is_set
            )
        except BackupBusyError as exc:
            log.warning("backup skipped: %s", exc)
        except BackupStoppedError as exc:
            log.info("backup: %s", exc)
        except Exception as exc:  # BackupError says what; anything else is a bug, logged with its traceback
            self.last_error, self.last_error_at = str(exc) or type(exc).__name__, local_now()
            if isinstance(exc, BackupError):
                log.error("backup failed: %s", exc)
            else:
                log.exception("backup failed")
        else:
            self.last_error, self.last_error_at = "", None
            for note in [*result.notes, *result.manifest.notes]:
                # Placements a snapshot's database settled are routine while invoices arrive.
                level = logging.INFO if note.startswith(SETTLED_NOTE) else logging.WARNING
                log.log(level, "backup %s: %s", result.manifest.name, note)
            for leftover in result.cleaned:
                log.info("backup: removed %s, left by an interrupted backup", leftover)
            log.info("backup %s", summary(result))
        finally:
            self._running.release()
