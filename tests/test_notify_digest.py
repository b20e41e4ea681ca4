"""The digest by mail, against a real aiosmtpd server on 127.0.0.1 and a real archive of generated invoices: its
content (every invoice filed, the exact total, review items, failures), plain SMTP, STARTTLS and SMTPS with a
login, a refused login as a clear error, a temporary refusal retried, and no second digest after a restart."""

from __future__ import annotations

import socket
import sqlite3
import ssl
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from backup_fill import add_invoices, filled_archive
from cli_run import fapiao
from dovecot_server import _write_test_ca

from ingest.mail_config import Secret
from ingest.notify.digest_job import STATE_NAME, DigestJob, read_covered_until, write_covered_until
from ingest.notify.smtp_send import MailSendError, send_mail
from ingest.notify.summary import yuan
from ingest.notify_config import DigestSettings
from storage.archive import STATE_FOLDER, Archive, ArrivalKey, Arriving, sha256_hex

USER, PASSWORD = "fapiao@example.com", "abcdefghijklmnop"  # QQ's 授权码 are 16 letters


@dataclass
class Inbox:
    """What the SMTP server took: each mail, and each login tried."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse_first: list[str] = field(default_factory=list)  # answers to DATA before accepting

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.refuse_first:
            return self.refuse_first.pop(0)
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)  # the server answers


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _write_test_ca(tmp_path_factory.mktemp("smtp-ca"))


@contextmanager
def smtp_server(tls: str = "none", certificates: tuple[Path, Path, Path] | None = None) -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    options: dict[str, Any] = {"authenticator": inbox.authenticate}
    if tls != "none":
        assert certificates is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificates[1], certificates[2])
        options.update({"tls_context": context, "require_starttls": True} if tls == "starttls" else {})
        if tls == "ssl":  # the whole connection is TLS, which aiosmtpd's AUTH check does not see
            options.update({"ssl_context": context, "auth_require_tls": False})
    else:
        options["auth_require_tls"] = False
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def settings_for(
    inbox: Inbox, tls: str = "none", *, login: bool = False, ca_file: Path | None = None
) -> DigestSettings:
    return DigestSettings(
        schedule="0 8 * * *",
        to=("me@example.com", "财务@example.com"),
        sender="fapiao@example.com",
        host="127.0.0.1",
        port=inbox.port,
        tls=tls,
        username=USER if login else "",
        password=Secret("env", "SMTP_PASSWORD") if login else None,
        ca_file=ca_file,
    )


def job_for(archive: Archive, settings: DigestSettings, **options: Any) -> DigestJob:
    options.setdefault("env", {"SMTP_PASSWORD": PASSWORD})
    options.setdefault("retry_delays", (0.05,))
    return DigestJob(settings, archive, **options)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with filled_archive(tmp_path / "archive", 4) as filled:
        yield filled


def database_rows(archive: Archive) -> list[tuple[str, int]]:
    """(number as a person reads it, total in fen) of every invoice, straight from the database file."""
    with closing(sqlite3.connect(archive.root / STATE_FOLDER / "fapiao.db")) as connection:
        rows = connection.execute("SELECT invoice_code, invoice_number, total_fen FROM invoices")
        return [(f"{code} {number}" if code else number, fen) for code, number, fen in rows]


def add_trouble(archive: Archive) -> None:
    """Something to review (a PDF that is not an invoice) and a failure, through the archive's own calls."""
    data = b"%PDF-1.4\n% not an invoice: a hotel's booking confirmation\n"
    key = ArrivalKey("folder:/home/me/inbox", "/home/me/inbox/酒店确认单.pdf", sha256_hex(data))
    archive.file_unrecognized(Arriving(key, "酒店确认单.pdf", data, "pdf"), "no invoice number")
    archive.record_failure(ArrivalKey("imap:work", "INBOX/1700000000/42/2", ""), "zip bomb: 10000 members")


def test_the_digest_lists_what_the_period_brought(archive: Archive) -> None:
    add_trouble(archive)
    with smtp_server() as inbox:
        job_for(archive, settings_for(inbox))()
    (mail,) = inbox.messages
    rows = database_rows(archive)
    total = sum(fen for _, fen in rows)
    assert mail["Subject"] == f"fapiao digest: 4 invoices filed ({yuan(total)}), 1 to review, 1 failed"
    assert mail["From"] == "fapiao@example.com"
    assert inbox.recipients == [["me@example.com", "财务@example.com"]]
    assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
    body = mail.get_content()
    assert f"Invoices filed: 4, total {yuan(total)}" in body
    for number, fen in rows:
        assert f"{yuan(fen)}" in body and f"No. {number}" in body
    assert "unrecognized  _unrecognized/" in body and "酒店确认单.pdf: no invoice number" in body
    assert "imap:work  INBOX/1700000000/42/2: zip bomb: 10000 members" in body
    assert "Waiting for a person in all: 2 (fapiao review lists them)." in body
    assert read_covered_until(archive.root / STATE_FOLDER) is not None


def test_a_restart_does_not_send_it_again(archive: Archive) -> None:
    with smtp_server() as inbox:
        job_for(archive, settings_for(inbox))()
        assert len(inbox.messages) == 1
        restarted = job_for(archive, settings_for(inbox))
        assert restarted.prepare() is False  # the period is covered: nothing is due at start
        restarted()  # nothing new since
        assert len(inbox.messages) == 1
        add_invoices(archive, range(4, 5))
        restarted()
    assert len(inbox.messages) == 2
    body = inbox.messages[1].get_content()
    assert "Invoices filed: 1," in body
    (number, fen) = next(row for row in database_rows(archive) if row[0] not in inbox.messages[0].get_content())
    assert f"No. {number}" in body and yuan(fen) in inbox.messages[1]["Subject"]


def test_a_digest_that_fell_due_while_off_is_due_at_start(archive: Archive) -> None:
    state = archive.root / STATE_FOLDER
    settings = DigestSettings("0 8 * * *", ("me@example.com",), "f@example.com", "127.0.0.1", 25, "none")
    job = job_for(archive, settings)
    assert job.prepare() is False  # the first start begins the first period
    assert (state / STATE_NAME).is_file()
    write_covered_until(state, datetime.now().astimezone() - timedelta(days=2))
    assert job_for(archive, settings).prepare() is True


def test_starttls_with_a_login(archive: Archive, certificates: tuple[Path, Path, Path]) -> None:
    with smtp_server("starttls", certificates) as inbox:
        job = job_for(archive, settings_for(inbox, "starttls", login=True, ca_file=certificates[0]))
        job()
    assert job.last_error == ""
    assert inbox.logins == [(USER, PASSWORD)]
    assert len(inbox.messages) == 1


def test_smtps_with_a_login(archive: Archive, certificates: tuple[Path, Path, Path]) -> None:
    with smtp_server("ssl", certificates) as inbox:
        job = job_for(archive, settings_for(inbox, "ssl", login=True, ca_file=certificates[0]))
        job()
    assert job.last_error == ""
    assert inbox.logins == [(USER, PASSWORD)] and len(inbox.messages) == 1


def test_a_refused_login_is_a_clear_error_and_not_retried(
    archive: Archive, certificates: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    with smtp_server("starttls", certificates) as inbox:
        settings = settings_for(inbox, "starttls", login=True, ca_file=certificates[0])
        job = job_for(archive, settings, env={"SMTP_PASSWORD": "the-qq-login-password"})
        job()
    assert inbox.messages == []
    assert {login for login in inbox.logins} == {(USER, "the-qq-login-password")}  # smtplib tries PLAIN, LOGIN
    assert "trying again" not in caplog.text  # not retried: a retry cannot fix a wrong password
    port = inbox.port
    assert job.last_error.startswith(f"digest: 127.0.0.1:{port} refused the login of {USER} (535 ")
    assert "authorization code (授权码)" in job.last_error
    assert "the-qq-login-password" not in job.last_error + caplog.text
    assert read_covered_until(archive.root / STATE_FOLDER) is None  # the period stays to be sent


def test_a_temporary_refusal_is_retried(archive: Archive) -> None:
    with smtp_server() as inbox:
        inbox.refuse_first.append("451 4.3.0 try again later")
        job = job_for(archive, settings_for(inbox))
        job()
    assert len(inbox.messages) == 1 and job.last_error == ""


def test_an_untrusted_certificate_is_named(archive: Archive, certificates: tuple[Path, Path, Path]) -> None:
    with smtp_server("starttls", certificates) as inbox, pytest.raises(MailSendError) as raised:
        send_mail(settings_for(inbox, "starttls"), None, EmailMessage())
    assert "the server's certificate is not trusted" in str(raised.value) and "set ca_file" in str(raised.value)
    assert raised.value.permanent


def test_nobody_listening_is_said_plainly(archive: Archive) -> None:
    settings = DigestSettings("0 8 * * *", ("me@example.com",), "f@example.com", "127.0.0.1", free_port(), "none")
    with pytest.raises(MailSendError) as raised:
        send_mail(settings, None, EmailMessage(), timeout=5)
    assert str(raised.value) == f"127.0.0.1:{settings.port}: connection refused (is the port right?)"
    assert not raised.value.permanent


def write_config(archive: Archive, inbox: Inbox, password_file: Path | None = None) -> Path:
    login = f'username = "{USER}"\npassword_file = "{password_file}"\n' if password_file else ""
    config = archive.root.parent / "config.toml"
    config.write_text(
        f'[archive]\nroot = "{archive.root}"\n\n[notify.digest]\nschedule = "0 8 * * *"\nto = ["me@example.com"]\n'
        f'from = "fapiao@example.com"\nhost = "127.0.0.1"\nport = {inbox.port}\ntls = "none"\n{login}',
        encoding="utf-8",
    )
    return config


def test_notify_test_digest_sends_a_marked_digest(archive: Archive) -> None:
    with smtp_server() as inbox:
        result = fapiao("notify", "test", "--digest", "--config", str(write_config(archive, inbox)), cwd=archive.root)
    assert result.returncode == 0, result.stderr
    assert f"digest: sent to me@example.com via 127.0.0.1:{inbox.port} (tls none):" in result.stdout
    assert "4 invoices (" in result.stdout
    (mail,) = inbox.messages
    assert mail["Subject"].startswith("[test] fapiao digest: 4 invoices filed")
    assert not (archive.root / STATE_FOLDER / STATE_NAME).exists()  # a test does not mark the period as sent


def test_notify_test_digest_says_why_it_failed(archive: Archive, tmp_path: Path) -> None:
    password_file = tmp_path / "smtp-password"
    password_file.write_text("wrong\n", encoding="utf-8")
    password_file.chmod(0o600)
    with smtp_server() as inbox:
        config = write_config(archive, inbox, password_file)
        result = fapiao("notify", "test", "--digest", "--config", str(config), cwd=archive.root)
    assert result.returncode == 1
    assert f"digest: 127.0.0.1:{inbox.port} refused the login of {USER} (535" in result.stderr
    assert inbox.messages == []
