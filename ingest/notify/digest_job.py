"""The scheduled digest: on the cron schedule, one mail summarising what came in since the last one.

The end of the period the last digest covered is kept in `.fapiao/notify-digest.json`, so a restart does not send
it again, and a digest that fell due while the machine was off is sent when the daemon starts (as backups are).
The first digest covers the time since the daemon first ran with a [notify.digest]. A period with nothing to
report sends no mail (it is counted as covered). A failed send is tried again a few times, then at the next
scheduled time, which then covers both periods.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from ingest.mail_secret import SecretError, read_secret
from ingest.notify.digest_text import digest_body, digest_message, digest_subject
from ingest.notify.smtp_send import MailSendError, send_mail
from ingest.notify_config import DigestSettings
from ingest.scheduler import next_run
from storage.archive import STATE_FOLDER, Archive
from storage.atomic import PlacementError, replace_file
from storage.digest_query import PeriodReport, period_report

log = logging.getLogger("fapiao")

STATE_NAME = "notify-digest.json"
RETRY_DELAYS = (60.0, 300.0)  # within one scheduled run; later ones wait for the next scheduled time
FIRST_PERIOD = timedelta(days=1)  # `fapiao notify test --digest` before any digest was sent

Send = Callable[[DigestSettings, str | None, EmailMessage], None]


def read_covered_until(state_folder: Path) -> datetime | None:
    """The end of the period the last digest covered; None when there was none (or the file is unreadable)."""
    try:
        document = json.loads((state_folder / STATE_NAME).read_text(encoding="utf-8"))
        moment = datetime.fromisoformat(document["covered_until"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("digest: %s is unreadable (%s); starting a new period", state_folder / STATE_NAME, exc)
        return None
    return moment if moment.tzinfo is not None else moment.astimezone()


def write_covered_until(state_folder: Path, moment: datetime) -> None:
    document = {"covered_until": moment.isoformat()}  # to the microsecond: the next period starts right there
    replace_file(state_folder / STATE_NAME, json.dumps(document).encode())


def digest_due(schedule: str, covered_until: datetime | None, now: datetime) -> bool:
    """A scheduled time passed since the last digest's period ended (the machine was off, or the daemon was)."""
    if covered_until is None:
        return False
    due = next_run(schedule, covered_until)
    return due is not None and due <= now


class DigestJob:
    """The daemon's scheduled digest: never raises; a stop (the `stop` event) cuts its retries short."""

    def __init__(
        self,
        settings: DigestSettings,
        archive: Archive,
        *,
        env: Mapping[str, str] = os.environ,
        send: Send = send_mail,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.state_folder = archive.root / STATE_FOLDER
        self.env = env
        self.send = send
        self.now = now
        self.retry_delays = retry_delays
        self.stop = threading.Event()
        self.last_error = ""
        self.last_error_at: datetime | None = None

    def prepare(self) -> bool:
        """At the daemon's start: begin the first period if none was begun; True when a digest was missed."""
        now = self.now()
        covered = read_covered_until(self.state_folder)
        if covered is None:
            try:
                write_covered_until(self.state_folder, now)
            except PlacementError as exc:
                log.warning("digest: cannot write %s: %s", STATE_NAME, exc)
            return False
        return digest_due(self.settings.schedule, covered, now)

    def next_time(self) -> datetime | None:
        return next_run(self.settings.schedule, self.now())

    def compose(self, start: datetime, end: datetime, *, test: bool = False) -> tuple[PeriodReport, EmailMessage]:
        report = period_report(self.archive.engine, start, end)
        body = digest_body(report, start=start, end=end, archive=str(self.archive.root))
        return report, digest_message(self.settings, digest_subject(report, test=test), body, now=end)

    def deliver(self, message: EmailMessage) -> None:
        """Raises SecretError (the password cannot be read) or MailSendError."""
        password = read_secret(self.settings.password, env=self.env) if self.settings.password else None
        self.send(self.settings, password, message)

    def __call__(self) -> None:
        try:
            self._run()
        except Exception as exc:  # e.g. the database unreadable: logged, and the next scheduled run tries again
            log.exception("digest failed")
            self._failed(f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        end = self.now()
        start = read_covered_until(self.state_folder) or end - FIRST_PERIOD
        report, message = self.compose(start, end)
        if report.empty:
            log.info("digest: nothing to report since %s; no mail sent", f"{start.astimezone():%Y-%m-%d %H:%M}")
            self._covered(end)
            return
        for attempt in range(len(self.retry_delays) + 1):
            try:
                self.deliver(message)
            except (SecretError, MailSendError) as exc:
                permanent = isinstance(exc, SecretError) or getattr(exc, "permanent", False)
                if permanent or attempt == len(self.retry_delays) or self.stop.is_set():
                    log.error("digest not sent: %s", exc)
                    self._failed(str(exc))
                    return
                delay = self.retry_delays[attempt]
                log.warning("digest: attempt %d failed: %s; trying again in %g s", attempt + 1, exc, delay)
                if self.stop.wait(delay):
                    log.info("digest: not sent, the daemon is stopping; it is sent at the next start")
                    return
            else:
                break
        log.info(
            "digest sent to %s via %s:%d: %d invoices, %d to review, %d failed",
            ", ".join(self.settings.to),
            self.settings.host,
            self.settings.port,
            len(report.filed),
            len(report.review),
            len(report.failures),
        )
        self.last_error, self.last_error_at = "", None
        self._covered(end)

    def _covered(self, end: datetime) -> None:
        try:
            write_covered_until(self.state_folder, end)
        except PlacementError as exc:  # the next digest covers this period again
            log.error("digest: cannot write %s: %s", STATE_NAME, exc)

    def _failed(self, error: str) -> None:
        self.last_error, self.last_error_at = f"digest: {error}", self.now()
