"""`fapiao run`: wiring only. Sources feed one ingest worker through a queue; the scheduler runs the
periodic jobs; a stop request (SIGTERM, SIGINT) lets the current item finish and exits cleanly.

Everything still waiting in the queue at a stop is taken again at the next
start: the startup scan finds those files, since they were never marked done.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ingest.backup_job import BackupJob, backup_due
from ingest.config import Settings
from ingest.daemon_status import HEARTBEAT_SECONDS, DaemonStatus, SourceStatus, write_status
from ingest.logs import printable
from ingest.model import Extraction
from ingest.notify.digest_job import DigestJob
from ingest.notify.notifier import Notifier, describe_from, notify_problem
from ingest.scheduler import Scheduler
from ingest.sources.folder import FolderSource
from ingest.sources.imap import MailboxSource
from ingest.unpack import UnpackLimits
from ingest.worker import Intake, SourceCounts, Worker
from storage.archive import STATE_FOLDER, Archive, Outcome
from storage.mail_state import MailState
from storage.source_files import SourceFiles

log = logging.getLogger("fapiao")

TICK_SECONDS = 0.1  # how often settled files are looked for; well under any settle time
RETRY_CHECK_SECONDS = 30.0  # failed files are due again after a minute or more
STATUS_SECONDS = 2.0  # the status file is rewritten this often while things change
# `--once` waits this long past the settle time for files still being written, then leaves them for next time.
ONCE_PATIENCE_SECONDS = 60.0
# At a stop, notifications still waiting get this long to go out (a webhook that hangs is not waited for);
# `--once` waits longer, since nothing else would deliver them.
NOTIFY_GRACE_SECONDS = 5.0
ONCE_NOTIFY_GRACE_SECONDS = 30.0


class Daemon:
    def __init__(
        self,
        settings: Settings,
        archive: Archive,
        *,
        extract: Callable[[bytes, str], Extraction],
        unpack_limits: UnpackLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.clock = clock
        notify = settings.notify
        self.notifier = Notifier(notify, describe=describe_from(archive)) if notify.webhooks else None
        self.worker = Worker(
            Intake(archive, extract, unpack_limits), on_result=self.notifier.result if self.notifier else None
        )
        self.digest = DigestJob(notify.digest, archive) if notify.digest is not None else None
        files = SourceFiles(archive.engine)
        self.folders = [
            FolderSource(
                watch,
                files=files,
                put=self.worker.put,
                max_attempts=settings.daemon.max_attempts,
                max_bytes=unpack_limits.max_total_bytes,
                clock=clock,
            )
            for watch in settings.watches
        ]
        mail_state = MailState(archive.engine)
        self.mailboxes = [
            MailboxSource(
                mailbox, mail_state=mail_state, put=self.worker.put, max_attempts=settings.daemon.max_attempts
            )
            for mailbox in settings.mailboxes
        ]
        self.sources: list[FolderSource | MailboxSource] = [*self.folders, *self.mailboxes]
        self.backup = BackupJob(settings) if settings.backup.dir is not None and settings.backup.schedule else None
        self.started_at = datetime.now(UTC)
        self._status_written = -HEARTBEAT_SECONDS
        self._status_shape: object = None

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Until `stop` is set (or, with `once`, after one pass); the exit code."""
        for note in self.archive.recover():
            log.info("recovered: %s", printable(note))
        if self.notifier is not None:
            self.notifier.start()
        if once:
            return self._one_pass(stop)
        scheduler = Scheduler()
        if self.backup is not None:
            self.backup.stop = stop  # a snapshot in progress is given up at a stop, not waited for
        for source in self.sources:
            scheduler.every(self.settings.daemon.rescan_minutes * 60, source.scan, f"rescan {source.name}")
            scheduler.every(RETRY_CHECK_SECONDS, source.retry_due, f"retries {source.name}")
        if self.backup is not None:
            missed = backup_due(self.settings, datetime.now().astimezone())
            if missed:
                log.info("a scheduled backup was missed (or none was ever made): making one now")
            scheduler.cron(self.settings.backup.schedule, self.backup, "backup", run_now=missed)
        if self.digest is not None:
            self.digest.stop = stop  # its retries are cut short at a stop
            missed = self.digest.prepare()
            if missed:
                log.info("a digest fell due while the daemon was not running: sending it now")
            scheduler.cron(self.digest.settings.schedule, self.digest, "digest", run_now=missed)
        try:
            for source in self.sources:
                try:
                    source.start()
                except Exception:  # e.g. the database unreadable for a moment: the next rescan starts it
                    log.exception("cannot start %s; trying again at the next rescan", source.name)
            scheduler.start()
            log.info(
                "running; archive %s; drop invoices into: %s%s",
                self.archive.root,
                ", ".join(str(source.root) for source in self.folders) or "(no watched folder)",
                f"; mailboxes: {', '.join(m.mailbox.name for m in self.mailboxes)}" if self.mailboxes else "",
            )
            last_tick = self.clock()
            while not stop.is_set():
                if self.clock() - last_tick >= TICK_SECONDS:
                    last_tick = self.clock()
                    for source in self.sources:
                        source.tick()
                self.worker.run_one(timeout=TICK_SECONDS)
                self._write_status()
        finally:
            for source in self.sources:
                source.stop()
            scheduler.shutdown()
            self.worker.write_index()
            if self.notifier is not None:
                self.notifier.stop(NOTIFY_GRACE_SECONDS)
            left = self.worker.queue.qsize()
            self._write_status(stopped=True)
            log.info("stopped%s", f"; {left} waiting files are taken at the next start" if left else "")
        return 0

    def _one_pass(self, stop: threading.Event) -> int:
        """Every source once: what is there now, settled, stored; then exit (for cron and Task Scheduler)."""
        for source in self.sources:
            source.start(observe=False)
        patience = max((w.settle_seconds for w in self.settings.watches), default=0) + ONCE_PATIENCE_SECONDS
        deadline = self.clock() + patience
        while not stop.is_set():
            for source in self.sources:
                source.tick()
            if not self.worker.run_one(timeout=TICK_SECONDS):
                if not any(source.settling for source in self.sources):
                    break
                # A mailbox's backfill may take long: only files still being written are given up on.
                if self.clock() > deadline and not any(mailbox.settling for mailbox in self.mailboxes):
                    log.warning("some files were still being written; they are taken next time")
                    break
        for source in self.sources:
            source.stop()
        self.worker.write_index()
        if self.backup is not None and backup_due(self.settings, datetime.now().astimezone()):
            self.backup()  # cron users run --once; a backup that fell due since the last one is made now
        if self.digest is not None and self.digest.prepare():
            self.digest.retry_delays = ()  # not waited for here: the next run tries again
            self.digest()  # the same for a digest that fell due
        if self.notifier is not None:
            self.notifier.troubles(self._troubles(once=True))
            self.notifier.stop(ONCE_NOTIFY_GRACE_SECONDS)
        self._write_status(stopped=True)
        failed = sum(counts.outcomes[Outcome.FAILED] for counts in self.worker.counts.values())
        if failed:
            log.warning("%d files failed (see above); they are tried again next time unless quarantined", failed)
        unread = [mailbox.mailbox.name for mailbox in self.mailboxes if mailbox.pass_failed]
        if unread:
            log.warning("mailboxes not read (see above): %s", ", ".join(unread))
        backup_failed = self.backup is not None and bool(self.backup.last_error)
        return 1 if failed or unread or backup_failed else 0

    def status(self, *, stopped: bool = False) -> DaemonStatus:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        sources = []
        for source in self.sources:
            counts = self.worker.counts.get(source.name)
            error, error_at = _last_error(source, counts)
            sources.append(
                SourceStatus(
                    name=source.name,
                    kind="folder" if isinstance(source, FolderSource) else "mailbox",
                    state=source.state,
                    settling=source.settling,
                    queued=source.queued,
                    last_scan=source.last_scan.isoformat(timespec="seconds") if source.last_scan else None,
                    outcomes={str(k): v for k, v in sorted(counts.outcomes.items())} if counts else {},
                    last_error=error,
                    last_error_at=error_at,
                )
            )
        upcoming = self.backup.next_time() if self.backup and not stopped else None
        failed_at = self.backup.last_error_at if self.backup else None
        notified = notify_problem(self.notifier, self.digest)
        return DaemonStatus(
            pid=os.getpid(),
            started_at=self.started_at.isoformat(timespec="seconds"),
            updated_at=now,
            queue=self.worker.queue.qsize(),
            busy=self.worker.busy,
            stopped_at=now if stopped else None,
            sources=sources,
            backup_next=upcoming.isoformat(timespec="seconds") if upcoming else None,
            backup_error=self.backup.last_error if self.backup else "",
            backup_error_at=failed_at.isoformat(timespec="seconds") if failed_at else None,
            notify_error=notified.error,
            notify_error_at=_iso(notified.error_at),
            notify_dropped=notified.dropped,
        )

    def _troubles(self, *, once: bool = False) -> dict[str, str | None]:
        """What a person must fix, by source, for notifications: a mailbox whose login fails (None: unchanged
        while it reconnects), a failed backup or digest ('' once fine again)."""
        troubles: dict[str, str | None] = {}
        for mailbox in self.mailboxes:
            if once:
                troubles[mailbox.name] = mailbox.last_trouble if mailbox.pass_failed else ""
            elif mailbox.state == "login failed" or not mailbox.last_trouble:
                troubles[mailbox.name] = mailbox.last_trouble
            else:
                troubles[mailbox.name] = None
        if self.backup is not None:
            troubles["backup"] = self.backup.last_error
        if self.digest is not None:
            troubles["digest"] = self.digest.last_error
        return troubles

    def _write_status(self, *, stopped: bool = False) -> None:
        """Rewritten when something changed (at most every STATUS_SECONDS) and as a heartbeat."""
        elapsed = self.clock() - self._status_written
        if not stopped and elapsed < STATUS_SECONDS:
            return
        if self.notifier is not None and not stopped:
            self.notifier.troubles(self._troubles())
        status = self.status(stopped=stopped)
        shape = (status.queue, status.sources)
        if not stopped and shape == self._status_shape and elapsed < HEARTBEAT_SECONDS:
            return
        try:
            write_status(self.archive.root / STATE_FOLDER, status)
        except Exception as exc:  # a full disk must not stop the daemon; the next write tries again
            log.warning("cannot write the status file: %s", exc)
        self._status_shape = shape
        self._status_written = self.clock()


def _last_error(source: FolderSource | MailboxSource, counts: SourceCounts | None) -> tuple[str, str | None]:
    """The last error and when: a mailbox that cannot connect, or a folder of it that cannot be read, says so
    before anything about single messages."""
    if isinstance(source, MailboxSource):
        trouble = source.last_trouble or "; ".join(f"{f}: {why}" for f, why in source.folder_trouble.items())
        if trouble:
            return trouble, _iso(source.last_trouble_at.timestamp() if source.last_trouble_at else None)
    return (counts.last_error, _iso(counts.last_error_at)) if counts else ("", None)


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
