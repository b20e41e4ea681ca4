"""The daemon against a real Dovecot: settings for a [[mailbox]] on the test server, invoice mail, and
questions about what the database remembers."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import date
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from daemon_run import invoice
from dovecot_server import Dovecot
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest.config import ArchiveSettings, DaemonSettings, Settings
from ingest.mail_config import MailAfter, MailboxSettings, Secret
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
