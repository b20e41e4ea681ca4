"""The daemon against a real Dovecot: settings for a [[mailbox]] on the test server, invoice mail, and
questions about what the database remembers."""

from __future__ import annotations

import dataclasses
import email
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from daemon_run import Running, invoice
from dovecot_server import Dovecot
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest.config import ArchiveSettings, DaemonSettings, Settings
from ingest.daemon import Daemon
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith
from ingest.mail_config import MailAfter, MailboxSettings, Secret
from ingest.model import Extraction
from ingest.unpack import UnpackLimits
from storage.archive import Archive
from storage.db import open_database
from storage.models import Arrival, MailFolder, MailMessage

_ids = itertools.count()


def mailbox_settings(dovecot: Dovecot, user: str, tmp_path: Path, **changes: Any) -> MailboxSettings:
    secret = tmp_path / f"{user}.password"
    secret.write_text(dovecot.password(user) + "\n", encoding="utf-8")
    secret.chmod(0o600)
    mailbox = MailboxSettings(
        name="test",
        host=dovecot.host,
        port=dovecot.imaps_port,
        username=user,
        secret=Secret("file", str(secret)),
        ca_file=dovecot.ca_file,
        since=date(2020, 1, 1),
        idle_seconds=60.0,
        poll_seconds=0.5,
    )
    return dataclasses.replace(mailbox, **changes)


def mail_settings(
    tmp_path: Path, *mailboxes: MailboxSettings, max_attempts: int = 5, rescan_minutes: float = 10.0
) -> Settings:
    return Settings(
        archive=ArchiveSettings(root=tmp_path / "archive"),
        daemon=DaemonSettings(rescan_minutes=rescan_minutes, max_attempts=max_attempts),
        mailboxes=mailboxes,
    )


def after(kind: str, folder: str | None = None) -> MailAfter:
    return MailAfter(kind, folder)


def invoice_mail(
    *attachments: tuple[str, bytes],
    subject: str = "您收到一张电子发票",
    sender: str = "开票平台 <fapiao@example.com>",
    text: str = "您好，附件是发票。",
) -> bytes:
    """A mail as a platform sends it: a text body and the files (RFC 2231 names, base64)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "finance@example.com"
    mail["Subject"] = subject
    mail["Date"] = "Fri, 02 Jan 2026 03:04:05 +0800"
    mail["Message-ID"] = f"<invoice-{next(_ids)}@example.com>"
    mail.set_content(text)
    for name, data in attachments:
        subtype = name.rsplit(".", 1)[-1].lower()
        maintype = "application"
        mail.add_attachment(data, maintype=maintype, subtype=subtype if subtype != "zip" else "zip", filename=name)
    return mail.as_bytes(policy=policy.SMTP)


def invoice_mails(indexes: Sequence[int]) -> list[bytes]:
    return [invoice_mail((f"发票{i}.pdf", invoice(i))) for i in indexes]


def arrivals(engine: Engine) -> list[Arrival]:
    with Session(engine) as session:
        return list(session.exec(select(Arrival)).all())


def mail_rows(engine: Engine) -> list[MailMessage]:
    with Session(engine) as session:
        return list(session.exec(select(MailMessage)).all())


def folder_rows(engine: Engine) -> list[MailFolder]:
    with Session(engine) as session:
        return list(session.exec(select(MailFolder)).all())


def message_id(message: bytes) -> str:
    return str(email.message_from_bytes(message, policy=policy.SMTP)["Message-ID"])


def without_message_id(message: bytes) -> bytes:
    mail = email.message_from_bytes(message, policy=policy.SMTP)
    del mail["Message-ID"]
    return mail.as_bytes(policy=policy.SMTP)


def server_messages(dovecot: Dovecot, user: str, folder: str = "INBOX") -> dict[str, set[bytes]]:
    """Each message of the folder on the server by Message-ID, with its flags (read with EXAMINE: nothing changes)."""
    client = dovecot.login(user)
    try:
        client.select_folder(folder, readonly=True)
        answer = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        client.logout()
    found = {}
    for data in answer.values():
        header = next(value for key, value in data.items() if key.startswith(b"BODY[HEADER"))
        found[message_id(cast(bytes, header))] = set(data[b"FLAGS"])
    return found


def poller_logins(dovecot: Dovecot, user: str, *, since: int = 0) -> int:
    """Connections the poller made as `user`, by the ID it sends after each login (the tests' own clients send none)."""
    return sum(
        f"imap({user})" in line and "ID sent: name=fapiao-inbox" in line
        for line in dovecot.log_text(since).splitlines()
    )


def _daemon(settings: Settings, extract: Callable[[bytes, str], Extraction] | None) -> tuple[Daemon, Engine]:
    engine = open_database(settings.database_url)
    archive = Archive(settings.archive.root, engine, layout=settings.archive.layout)
    daemon = Daemon(settings, archive, extract=extract or ExtractWith(Limits(), None), unpack_limits=UnpackLimits())
    return daemon, engine


@contextmanager
def started_daemon(
    settings: Settings, *, extract: Callable[[bytes, str], Extraction] | None = None
) -> Iterator[Running]:
    """Like `daemon_run.running_daemon`, but without waiting for every source's first scan (a mailbox that cannot
    log in never has one): the test waits for what it needs. Stopped, and checked to exit 0, on leaving."""
    daemon, engine = _daemon(settings, extract)
    stop = threading.Event()
    running = Running(daemon, engine, stop, threading.Thread(target=lambda: None))
    running.thread = threading.Thread(target=lambda: running.exit_codes.append(daemon.run(stop)), daemon=True)
    running.thread.start()
    try:
        yield running
    finally:
        stop.set()
        running.thread.join(timeout=30)
        engine.dispose()
    assert not running.thread.is_alive(), "the daemon did not stop"
    assert running.exit_codes == [0]


def run_once(
    settings: Settings, *, extract: Callable[[bytes, str], Extraction] | None = None, timeout: float = 60.0
) -> int:
    """`fapiao run --once` in this process: the exit code (on a thread, so a hang fails instead of blocking)."""
    daemon, engine = _daemon(settings, extract)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run(threading.Event(), once=True)), daemon=True)
    try:
        thread.start()
        thread.join(timeout)
    finally:
        engine.dispose()
    assert not thread.is_alive(), f"run --once did not finish within {timeout} s"
    return codes[0]
