"""The IMAP poller in the daemon against a real Dovecot: TLS modes and XOAUTH2, ID, IDLE and polling, dropped
connections, a server restart mid-backfill, a renumbered folder, after-actions, retries and quarantine, a refused
login, `run --once`, filters; and the two pure helpers, backoff and filters."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from daemon_run import Running, invoice, running_daemon, wait_until
from dovecot_server import Dovecot, running_dovecot
from mail_daemon import (
    after,
    arrivals,
    folder_rows,
    invoice_mail,
    invoice_mails,
    mail_rows,
    mail_settings,
    mailbox_settings,
    message_id,
    poller_logins,
    run_once,
    server_messages,
    started_daemon,
    without_message_id,
)
from sqlalchemy import Engine, event
from sqlmodel import Session, select

import ingest.daemon
import storage.source_files
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith
from ingest.mail_config import MailboxSettings, Secret
from ingest.model import Extraction
from ingest.sources import imap
from ingest.sources.imap import LAST_BACKOFF_SECONDS, MailboxSource, backoff_seconds, wanted_by_filters
from ingest.sources.mime import MailContents
from storage.archive import Outcome
from storage.db import open_database
from storage.mail_state import MailState
from storage.models import Invoice, MailFolder, StoredFile
from storage.source_files import FileState

TARGET = "发票/已归档"  # '/' between levels, as the config writes it
# How long a test watches for a retry that must not come: a loop with backoff would retry within 2.5 s.
QUIET_SECONDS = 3.0


class FailingOn:
    """The real extractor, except that it raises for some files' bytes: a fake at our own boundary."""

    def __init__(self, *bad: bytes) -> None:
        self.bad = set(bad)
        self.failures = 0
        self.real = ExtractWith(Limits(), None)

    def __call__(self, data: bytes, name: str) -> Extraction:
        if data in self.bad:
            self.failures += 1
            raise RuntimeError("the extractor broke on this file")
        return self.real(data, name)


class HeldAt:
    """The real extractor, which stops at one file's bytes (once) until released: the worker is held there."""

    def __init__(self, held: bytes) -> None:
        self.held = held
        self.reached = threading.Event()
        self.release = threading.Event()
        self.real = ExtractWith(Limits(), None)

    def __call__(self, data: bytes, name: str) -> Extraction:
        if data == self.held and not self.reached.is_set():
            self.reached.set()
            self.release.wait(30)
        return self.real(data, name)


def the_mailbox(running: Running) -> MailboxSource:
    return running.daemon.mailboxes[0]


def position(engine: Engine, source: str = "imap:test", folder: str = "INBOX") -> MailFolder | None:
    return next((row for row in folder_rows(engine) if row.source == source and row.folder == folder), None)


def last_uid(engine: Engine, source: str = "imap:test") -> int:
    row = position(engine, source)
    return row.last_uid if row is not None else -1


def count(engine: Engine, table: type[Invoice] | type[StoredFile]) -> int:
    with Session(engine) as session:
        return len(session.exec(select(table)).all())


def ordinary_mail(subject: str = "周报") -> bytes:
    return invoice_mail(subject=subject, sender="同事 <colleague@example.com>", text="no attachment here")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def without_recent(flags: set[bytes]) -> set[bytes]:
    """\\Recent goes with the first read-write SELECT, which seen, flag and move need: not a change to the mail."""
    return flags - {b"\\Recent"}


def server_folder(dovecot: Dovecot, user: str, folder: str) -> str:
    """The config's 'a/b' as this server names it (Dovecot with maildir: 'a.b')."""
    client = dovecot.login(user)
    try:
        delimiter = client.list_folders("", "")[0][1].decode()
    finally:
        client.logout()
    return folder.replace("/", delimiter)


@pytest.fixture
def db_writers() -> Iterator[set[str]]:
    """The names of the threads that write to any database meanwhile. The worker is the one writer: a mailbox's
    thread writing too meets SQLite's "database is locked" whenever the two overlap."""
    names: set[str] = set()

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            names.add(threading.current_thread().name)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield names
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def mailbox_threads(names: set[str]) -> set[str]:
    return {name for name in names if name.startswith("mailbox ")}


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


# --- TLS, XOAUTH2, ID ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_imaps_and_starttls_verified_against_the_test_ca_archive_mail(
    dovecot: Dovecot, user: str, tmp_path: Path, tls: str
) -> None:
    dovecot.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(100))))
    port = dovecot.imaps_port if tls == "ssl" else dovecot.imap_port
    mark = dovecot.log_size()
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path, tls=tls, port=port))
    with running_daemon(settings) as running:
        wait_until(lambda: len(running.invoices()) == 1, what="the invoice")
        assert [a.outcome for a in arrivals(running.engine)] == [Outcome.ARCHIVED]
    logins = [line for line in dovecot.log_text(mark).splitlines() if f"Login: user=<{user}>" in line]
    assert logins and all(", TLS," in line for line in logins), logins  # STARTTLS too: TLS before the login


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_an_untrusted_certificate_is_reported_once_and_not_retried_in_a_loop(
    dovecot: Dovecot, user: str, tmp_path: Path, tls: str, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(101))))
    port = dovecot.imaps_port if tls == "ssl" else dovecot.imap_port
    mark = dovecot.log_size()

    def handshakes_refused() -> int:  # the client gave up on the certificate: the server logs the TLS alert
        return sum("alert unknown ca" in line for line in dovecot.log_text(mark).splitlines())

    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path, tls=tls, port=port, ca_file=None))
    with started_daemon(settings) as running:
        source = the_mailbox(running)
        wait_until(lambda: source.state == "login failed", what="the state 'login failed'")
        wait_until(lambda: handshakes_refused() == 1, what="the server to log the refused handshake")
        time.sleep(QUIET_SECONDS)  # a bounded observation window: a loop would have tried again by now
        assert handshakes_refused() == 1
        assert source.state == "login failed"
        assert "certificate is not trusted" in source.last_trouble and "ca_file" in source.last_trouble
        assert arrivals(running.engine) == []
        assert f"Login: user=<{user}>" not in dovecot.log_text(mark)  # no password sent to an unverified server
    assert len(errors(caplog)) == 1
    assert "certificate is not trusted" in errors(caplog)[0]


def test_xoauth2_with_a_token_from_a_file_archives_mail(dovecot: Dovecot, tmp_path: Path) -> None:
    user, token = f"oauth-{secrets.token_hex(4)}@example.com", f"ya29.{secrets.token_urlsafe(24)}"
    dovecot.add_user(user, token)  # Dovecot hands the bearer token to the passdb as the password
    dovecot.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(102))))
    mailbox = mailbox_settings(dovecot, user, tmp_path, auth="xoauth2")  # the file holds the token
    assert Path(mailbox.secret.source).read_text().strip() == token
    with running_daemon(mail_settings(tmp_path, mailbox)) as running:
        wait_until(lambda: len(running.invoices()) == 1, what="the invoice")
    assert f"Login: user=<{user}>, method=XOAUTH2" in dovecot.log_text()


def test_the_poller_sends_id_after_login(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))
    with running_daemon(settings) as running:
        wait_until(lambda: the_mailbox(running).state == "idle", what="IDLE")
        wait_until(lambda: poller_logins(dovecot, user) == 1, what="ID in the server log")
    sent = [line for line in dovecot.log_text().splitlines() if f"imap({user})" in line and "ID sent:" in line]
    assert len(sent) == 1 and "name=fapiao-inbox" in sent[0] and "vendor=fapiao-inbox" in sent[0], sent


# --- IDLE, polling, dropped connections ------------------------------------------------------------------------------


def test_idle_brings_new_mail_within_seconds_though_the_poll_interval_is_long(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    mailbox = mailbox_settings(dovecot, user, tmp_path, poll_seconds=300.0, idle_seconds=300.0)
    with running_daemon(mail_settings(tmp_path, mailbox)) as running:
        wait_until(lambda: the_mailbox(running).state == "idle", what="IDLE")
        started = time.monotonic()
        dovecot.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(103))))
        wait_until(lambda: len(running.invoices()) == 1, what="the invoice", timeout=10)
        assert time.monotonic() - started < 5
        assert poller_logins(dovecot, user) == 1  # on the connection it had


def test_a_server_without_idle_is_polled_every_poll_seconds_on_one_connection(tmp_path: Path) -> None:
    with running_dovecot(idle=False) as server:
        user = "poll@example.com"
        server.add_user(user, "pw-poll")
        client = server.login(user)
        assert b"IDLE" not in client.capabilities()
        client.logout()
        mailbox = mailbox_settings(server, user, tmp_path, poll_seconds=0.5, idle_seconds=300.0)
        with running_daemon(mail_settings(tmp_path, mailbox)) as running:
            source = the_mailbox(running)
            wait_until(lambda: source.state == "polling", what="the state 'polling'")
            scanned = source.last_scan
            wait_until(lambda: source.last_scan != scanned, what="a poll", timeout=5)
            server.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(104))))
            wait_until(lambda: len(running.invoices()) == 1, what="the invoice", timeout=5)
            assert source.state in ("polling", "syncing")
            assert poller_logins(server, user) == 1  # polls reuse the connection


def test_a_kick_during_idle_reconnects_and_takes_later_mail_once(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    first, second = invoice_mails([105, 106])
    dovecot.append(user, "INBOX", first)
    mailbox = mailbox_settings(dovecot, user, tmp_path, poll_seconds=300.0, idle_seconds=300.0)
    with running_daemon(mail_settings(tmp_path, mailbox)) as running:
        source = the_mailbox(running)
        wait_until(lambda: len(running.invoices()) == 1 and source.state == "idle", what="the backfill, then IDLE")
        dovecot.kick(user)  # `* BYE`, then the connection closes
        wait_until(lambda: source.state == "offline", what="the poller to notice the BYE")
        wait_until(lambda: source.state == "idle" and poller_logins(dovecot, user) == 2, what="IDLE again")
        dovecot.append(user, "INBOX", second)
        wait_until(lambda: len(running.invoices()) == 2, what="the mail appended after the kick", timeout=10)
        assert source.last_trouble == ""
        taken = arrivals(running.engine)
        assert [(a.outcome, a.attempts) for a in taken] == [(Outcome.ARCHIVED, 1)] * 2
        assert count(running.engine, StoredFile) == 2


def test_a_server_restart_mid_backfill_ends_with_every_invoice_archived_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(imap, "MAX_IN_FLIGHT", 1)  # the poller waits for the held worker: it is mid-batch
    total = 3 * imap.BATCH
    at_uid = {10: 110, 150: 111, 300: 112, 420: 113, 430: 114, 440: 115}  # UID -> invoice
    mails = [
        invoice_mail((f"发票{uid}.pdf", invoice(at_uid[uid]))) if uid in at_uid else ordinary_mail(f"通知 {uid}")
        for uid in range(1, total + 1)
    ]
    held = HeldAt(invoice(at_uid[420]))
    with running_dovecot() as server:
        user = "restart@example.com"
        server.add_user(user, "pw-restart")
        assert server.append_many(user, "INBOX", mails) == list(range(1, total + 1))
        ports = (server.imap_port, server.imaps_port)
        settings = mail_settings(tmp_path, mailbox_settings(server, user, tmp_path))
        with started_daemon(settings, extract=held) as running:
            source = the_mailbox(running)
            try:
                assert held.reached.wait(30), "the backfill never reached UID 420"
                assert imap.BATCH <= last_uid(running.engine) < total  # past the first batch, not finished
                server.stop()
            finally:
                held.release.set()
            wait_until(lambda: source.state == "offline", what="the poller to lose the server")
            server.start()
            assert (server.imap_port, server.imaps_port) == ports
            wait_until(
                lambda: len(running.invoices()) == len(at_uid) and last_uid(running.engine) == total,
                what="every invoice and the whole folder",
            )
            wait_until(lambda: source.state == "idle", what="IDLE")
            assert poller_logins(server, user) == 2
            assert any("the connection broke during UID FETCH" in r.getMessage() for r in caplog.records)
            assert count(running.engine, StoredFile) == len(at_uid)
            taken = arrivals(running.engine)
            keys = Counter(a.source_key for a in taken)
            assert len(keys) == len(at_uid) and set(keys.values()) == {1}
            assert {a.outcome for a in taken} == {Outcome.ARCHIVED}  # read again after the restart: attempts only


# --- UIDVALIDITY ---------------------------------------------------------------------------------------------------


def test_a_new_uidvalidity_rescans_without_taking_anything_again(
    dovecot: Dovecot, user: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with_ids = invoice_mails([120, 121])
    anonymous = without_message_id(invoice_mail(("发票.pdf", invoice(122))))
    for mail in [*with_ids, anonymous, ordinary_mail()]:
        dovecot.append(user, "INBOX", mail)
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))
    with running_daemon(settings) as running:
        wait_until(lambda: len(running.invoices()) == 3 and last_uid(running.engine) == 4, what="the backfill")
        old = position(running.engine)
        assert old is not None
        before = {(a.source_key, a.sha256) for a in arrivals(running.engine)}
    renumbered = old.uidvalidity + 1000
    dovecot.set_uidvalidity(user, "INBOX", renumbered)
    with running_daemon(settings) as running:
        wait_until(
            lambda: (row := position(running.engine)) is not None and row.uidvalidity == renumbered,
            what="the new UIDVALIDITY",
        )
        assert last_uid(running.engine) == 4
        assert count(running.engine, Invoice) == 3 and count(running.engine, StoredFile) == 3
        new = [a for a in arrivals(running.engine) if (a.source_key, a.sha256) not in before]
        # Recognised by Message-ID: not even fetched. Only the mail without one is read again; its file came in
        # before from the same message (known by its envelope), so not even an arrival is added.
        assert new == []
        handled = [(row.uidvalidity, row.uid, row.state) for row in mail_rows(running.engine)]
        assert (renumbered, 3, "done") in handled
        dovecot.append(user, "INBOX", invoice_mail(("新发票.pdf", invoice(123))))
        wait_until(lambda: len(running.invoices()) == 4, what="new mail after the renumbering")
        assert any(a.source_key == f"INBOX/{renumbered}/5/2" for a in arrivals(running.engine))
    assert any("UIDVALIDITY changed" in r.getMessage() for r in caplog.records)


# --- after-actions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["keep", "seen", "flag", "move"])
def test_after_actions_touch_only_mail_whose_every_invoice_is_committed(
    dovecot: Dovecot, user: str, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture, db_writers: set[str]
) -> None:
    caplog.set_level(logging.INFO, logger="fapiao")
    good = invoice_mail(("发票.pdf", invoice(130)), subject="电子发票 A")
    ordinary = ordinary_mail()
    half_failed = invoice_mail(("好.pdf", invoice(131)), ("坏.pdf", invoice(132)), subject="电子发票 C")
    for mail in (good, ordinary, half_failed):
        dovecot.append(user, "INBOX", mail)
    before = server_messages(dovecot, user)
    mailbox = mailbox_settings(dovecot, user, tmp_path, after=after(kind, TARGET if kind == "move" else None))
    good_id, ordinary_id, failed_id = message_id(good), message_id(ordinary), message_id(half_failed)

    def settled(engine: Engine) -> bool:
        rows = {row.message_id: row for row in mail_rows(engine)}
        done, failed = rows.get(good_id), rows.get(failed_id)
        return (
            done is not None
            and done.ack == ("none" if kind == "keep" else "done")
            and failed is not None
            and failed.state == FileState.RETRY
        )

    with running_daemon(mail_settings(tmp_path, mailbox), extract=FailingOn(invoice(132))) as running:
        wait_until(lambda: settled(running.engine), what="the after-action and the failure")
        assert count(running.engine, Invoice) == 2  # C's good invoice is in, but C failed as a whole
        assert ordinary_id not in {row.message_id for row in mail_rows(running.engine)}
    assert db_writers and not mailbox_threads(db_writers)  # the after-action is recorded by the worker
    inbox = server_messages(dovecot, user)
    if kind == "keep":
        assert inbox == before  # EXAMINE and BODY.PEEK: not even \Recent changes
        return
    untouched = {ordinary_id, failed_id}
    assert {k: without_recent(v) for k, v in inbox.items() if k in untouched} == {
        k: without_recent(v) for k, v in before.items() if k in untouched
    }
    if kind == "move":
        assert set(inbox) == untouched
        assert set(server_messages(dovecot, user, server_folder(dovecot, user, TARGET))) == {good_id}
        assert any(f"moved to {TARGET} (MOVE)" in r.getMessage() for r in caplog.records)
    else:
        wanted = b"\\Seen" if kind == "seen" else b"\\Flagged"
        assert without_recent(inbox[good_id]) == without_recent(before[good_id]) | {wanted}


def test_move_without_the_move_capability_copies_marks_deleted_and_expunges_only_that_mail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fapiao")
    with running_dovecot(move=False) as server:
        user = "nomove@example.com"
        server.add_user(user, "pw-nomove")
        client = server.login(user)
        assert b"MOVE" not in client.capabilities() and b"UIDPLUS" in client.capabilities()
        client.logout()
        good, ordinary = invoice_mail(("发票.pdf", invoice(133))), ordinary_mail()
        server.append(user, "INBOX", good)
        server.append(user, "INBOX", ordinary, flags=[b"\\Deleted"])  # the person's own: not expunged
        mailbox = mailbox_settings(server, user, tmp_path, after=after("move", TARGET))
        with running_daemon(mail_settings(tmp_path, mailbox)) as running:
            wait_until(lambda: [row.ack for row in mail_rows(running.engine)] == ["done"], what="the move")
        inbox = server_messages(server, user)
        assert set(inbox) == {message_id(ordinary)} and b"\\Deleted" in inbox[message_id(ordinary)]
        moved = server_messages(server, user, server_folder(server, user, TARGET))
        assert set(moved) == {message_id(good)} and b"\\Deleted" not in moved[message_id(good)]
        assert any(f"moved to {TARGET} (COPY + UID EXPUNGE)" in r.getMessage() for r in caplog.records)


# --- failures: a refused login, a message that keeps failing -------------------------------------------------------


def test_a_wrong_password_is_reported_once_retried_slowly_and_recovers_once_fixed(
    dovecot: Dovecot, user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fapiao")
    slow = QUIET_SECONDS + 2.0
    monkeypatch.setattr(imap, "SLOW_RETRY_SECONDS", slow)  # 30 min in earnest
    other = f"other-{secrets.token_hex(4)}@example.com"
    dovecot.add_user(other, f"pw-{secrets.token_hex(6)}")
    dovecot.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(140))))
    dovecot.append(other, "INBOX", invoice_mail(("发票.pdf", invoice(141))))
    bad = mailbox_settings(dovecot, user, tmp_path, name="bad")
    secret = Path(bad.secret.source)
    secret.write_text("wrong-password\n", encoding="utf-8")
    good = mailbox_settings(dovecot, other, tmp_path, name="good")
    mark = dovecot.log_size()

    def refused() -> int:
        text = dovecot.log_text(mark)
        return sum(f"passwd-file({user}," in line and "Password mismatch" in line for line in text.splitlines())

    with started_daemon(mail_settings(tmp_path, bad, good)) as running:
        failing, working = running.daemon.mailboxes
        wait_until(lambda: failing.state == "login failed", what="the state 'login failed'")
        wait_until(lambda: refused() == 1, what="the refusal in the server log")
        observed = time.monotonic()
        wait_until(lambda: len(running.invoices()) == 1, what="the other mailbox's invoice")  # nothing else breaks
        time.sleep(max(0.0, QUIET_SECONDS - (time.monotonic() - observed)))  # bounded observation window
        assert refused() == 1
        assert working.state == "idle" and failing.state == "login failed"
        assert f"refused the login of {user}" in failing.last_trouble
        assert "check the username and password" in failing.last_trouble
        assert "wrong-password" not in failing.last_trouble
        assert len(errors(caplog)) == 1 and errors(caplog)[0].startswith(f"imap:bad: {failing.last_trouble} (")
        secret.write_text(dovecot.password(user) + "\n", encoding="utf-8")
        wait_until(lambda: len(running.invoices()) == 2, what="the invoice once the password is fixed", timeout=15)
        assert refused() == 1
        wait_until(lambda: failing.state == "idle", what="IDLE")
        assert failing.last_trouble == ""
    assert len(errors(caplog)) == 1
    assert any(r.getMessage() == "imap:bad: connected again" for r in caplog.records)


def test_a_folder_the_server_refuses_is_skipped_said_once_and_read_once_it_exists(
    dovecot: Dovecot, user: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(user, "INBOX", invoice_mail(("好.pdf", invoice(160))))
    mailbox = mailbox_settings(dovecot, user, tmp_path, folders=("不存在", "INBOX"))  # SELECT 不存在 is refused
    with started_daemon(mail_settings(tmp_path, mailbox)) as running:
        wait_until(lambda: len(running.invoices()) == 1, what="the invoice in INBOX, past the missing folder")
        source = the_mailbox(running)
        wait_until(lambda: source.last_scan is not None, what="a whole sync pass")
        first_scan = source.last_scan
        wait_until(lambda: source.last_scan != first_scan, what="another pass (polling the other folder)")
        assert "不存在" in source.folder_trouble
        assert "不存在" in running.daemon.status().sources[0].last_error
        skipped = [r for r in caplog.records if "skipped until the next sync" in r.getMessage()]
        assert len(skipped) == 1  # said once, however many passes
        assert poller_logins(dovecot, user) == 1  # no reconnect for a refused command
        dovecot.append(user, "不存在", invoice_mail(("新.pdf", invoice(161))))
        source.scan()
        wait_until(lambda: len(running.invoices()) == 2, what="the invoice in the folder once it exists")
        wait_until(lambda: "不存在" not in source.folder_trouble, what="the folder's trouble cleared")


def test_without_since_only_new_mail_and_with_since_nothing_older_later(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    old_day = dt.datetime(2019, 6, 1, 12, 0, tzinfo=dt.UTC)
    dovecot.append(user, "INBOX", invoice_mail(("旧.pdf", invoice(162))), date=old_day)  # before `since`
    dovecot.append(user, "INBOX", invoice_mail(("周报.pdf", b"%PDF-1.4 not an invoice")), date=old_day)
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))  # since 2020-01-01
    with running_daemon(settings) as running:
        wait_until(lambda: the_mailbox(running).state == "idle", what="IDLE")
        dovecot.append(user, "INBOX", invoice_mail(("新.pdf", invoice(163))))
        wait_until(lambda: len(running.invoices()) == 1, what="the new invoice")
        the_mailbox(running).scan()  # another pass must not reach below the position either
        wait_until(lambda: [r.last_uid for r in folder_rows(running.engine)] == [3], what="the position at the top")
        assert len(running.invoices()) == 1 and len(arrivals(running.engine)) == 1
    other = tmp_path / "no-since"
    other.mkdir()
    settings = mail_settings(other, mailbox_settings(dovecot, user, other, since=None))
    with running_daemon(settings) as running:
        wait_until(lambda: the_mailbox(running).state == "idle", what="IDLE")
        # The position goes through the worker's queue: it may be written a moment after IDLE starts.
        wait_until(lambda: [r.last_uid for r in folder_rows(running.engine)] == [3], what="the position at the top")
        assert arrivals(running.engine) == []
        dovecot.append(user, "INBOX", invoice_mail(("更新.pdf", invoice(164))))
        wait_until(lambda: len(running.invoices()) == 1, what="only the mail that came after the start")


def test_a_failing_message_is_retried_then_quarantined_while_other_mail_keeps_coming(
    dovecot: Dovecot, user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(storage.source_files, "FIRST_RETRY", timedelta(seconds=0.3))
    monkeypatch.setattr(ingest.daemon, "RETRY_CHECK_SECONDS", 0.2)
    bad = invoice_mail(("坏.pdf", invoice(150)), subject="电子发票 坏")
    dovecot.append(user, "INBOX", bad)
    dovecot.append(user, "INBOX", invoice_mail(("好.pdf", invoice(151))))
    extract = FailingOn(invoice(150))
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path), max_attempts=2)
    with running_daemon(settings, extract=extract) as running:
        state = MailState(running.engine)

        def bad_row_state() -> str | None:
            return next((r.state for r in mail_rows(running.engine) if r.message_id == message_id(bad)), None)

        wait_until(lambda: bad_row_state() == FileState.RETRY, what="the first failure")
        wait_until(lambda: bad_row_state() == FileState.QUARANTINED, what="quarantine after the retry")
        assert extract.failures == 2
        row = next(r for r in mail_rows(running.engine) if r.message_id == message_id(bad))
        assert (row.uid, row.attempts, row.next_try) == (1, 2, None)
        assert row.reason == "RuntimeError: the extractor broke on this file"
        problems = state.problems("imap:test")
        assert [(p.folder, p.uid, p.subject, p.state, p.attempts) for p in problems] == [
            ("INBOX", 1, "电子发票 坏", FileState.QUARANTINED, 2)
        ]
        assert problems[0].reason == row.reason
        dovecot.append(user, "INBOX", invoice_mail(("新.pdf", invoice(152))))
        wait_until(lambda: len(running.invoices()) == 2, what="mail after the quarantine")
        assert extract.failures == 2  # not fetched again
    said = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("quarantined imap:test") and "after 2 attempts" in line for line in said)


# --- run --once ----------------------------------------------------------------------------------------------------


def test_run_once_backfills_applies_after_actions_and_says_when_a_mailbox_cannot_be_reached(
    dovecot: Dovecot, user: str, tmp_path: Path, db_writers: set[str]
) -> None:
    mails = [*invoice_mails([160, 161]), ordinary_mail()]
    for mail in mails:
        dovecot.append(user, "INBOX", mail)
    mailbox = mailbox_settings(dovecot, user, tmp_path, after=after("flag"))
    assert run_once(mail_settings(tmp_path, mailbox)) == 0
    assert db_writers and not mailbox_threads(db_writers)
    flags = server_messages(dovecot, user)
    assert [b"\\Flagged" in flags[message_id(mail)] for mail in mails] == [True, True, False]
    engine = open_database(mail_settings(tmp_path).database_url)
    try:
        assert count(engine, Invoice) == 2 and last_uid(engine) == 3
        assert {row.ack for row in mail_rows(engine)} == {"done"}
    finally:
        engine.dispose()

    dovecot.append(user, "INBOX", invoice_mail(("发票.pdf", invoice(162))))
    gone = mailbox_settings(dovecot, user, tmp_path, name="gone", port=free_port())
    assert run_once(mail_settings(tmp_path, mailbox, gone)) == 1  # the reachable one is still read
    engine = open_database(mail_settings(tmp_path).database_url)
    try:
        assert count(engine, Invoice) == 3 and last_uid(engine) == 4
        assert position(engine, "imap:gone") is None
    finally:
        engine.dispose()


# --- backoff and filters -------------------------------------------------------------------------------------------


def test_backoff_doubles_from_two_seconds_to_five_minutes_spread_by_a_quarter() -> None:
    assert [backoff_seconds(n, rand=lambda: 0.5) for n in range(1, 11)] == [
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
        128.0,
        256.0,
        300.0,
        300.0,
    ]
    assert backoff_seconds(0, rand=lambda: 0.5) == 2.0
    assert backoff_seconds(1, rand=lambda: 0.0) == 1.5
    assert backoff_seconds(1, rand=lambda: 1.0) == 2.5
    assert backoff_seconds(1000, rand=lambda: 1.0) == LAST_BACKOFF_SECONDS * 1.25
    spread = {backoff_seconds(3) for _ in range(50)}
    assert all(6.0 <= s <= 10.0 for s in spread) and len(spread) > 1


def _box(senders: tuple[str, ...] = (), subjects: tuple[str, ...] = ()) -> MailboxSettings:
    return MailboxSettings("t", "imap.example.com", "me", Secret("env", "X"), senders=senders, subjects=subjects)


def _envelope(subject: str, address: str, name: str = "") -> MailContents:
    return MailContents(subject, address, name, None, None)


def test_filters_match_decoded_sender_and_subject_case_insensitively() -> None:
    nnfp = _envelope("您收到一张电子发票", "Invoice@NNFP.cn", "诺诺网")
    other = _envelope("周报", "colleague@example.com", "同事")
    assert wanted_by_filters(_box(), nnfp) and wanted_by_filters(_box(), other)
    assert wanted_by_filters(_box(senders=("nnfp.CN",)), nnfp)
    assert wanted_by_filters(_box(senders=("诺诺",)), nnfp)  # the display name counts
    assert not wanted_by_filters(_box(senders=("nnfp.cn",)), other)
    assert wanted_by_filters(_box(subjects=("电子发票", "invoice")), nnfp)
    assert wanted_by_filters(_box(subjects=("INVOICE",)), _envelope("Your invoice", "a@b.c"))
    assert not wanted_by_filters(_box(subjects=("电子发票",)), other)
    # Both lists given: both must match.
    assert wanted_by_filters(_box(senders=("nnfp",), subjects=("发票",)), nnfp)
    assert not wanted_by_filters(_box(senders=("nnfp",), subjects=("周报",)), nnfp)
    assert not wanted_by_filters(_box(senders=("example.com",), subjects=("发票",)), nnfp)


def test_sender_and_chinese_subject_filters_end_to_end(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    gb2312 = base64.b64encode("电子发票通知".encode("gb2312")).decode()
    placeholder = "placeholder-subject"
    gb_subject = invoice_mail(("b.pdf", invoice(171)), subject=placeholder, sender="诺诺网 <invoice@nnfp.cn>")
    mails = [
        invoice_mail(("a.pdf", invoice(170)), subject="您收到一张电子发票", sender="诺诺网 <invoice@nnfp.cn>"),
        gb_subject.replace(placeholder.encode(), f"=?GB2312?B?{gb2312}?=".encode()),
        invoice_mail(("c.pdf", invoice(172)), subject="周报", sender="诺诺网 <invoice@nnfp.cn>"),
        invoice_mail(("d.pdf", invoice(173)), subject="您收到一张电子发票", sender="某人 <someone@other.cn>"),
    ]
    for mail in mails:
        dovecot.append(user, "INBOX", mail)
    mailbox = mailbox_settings(dovecot, user, tmp_path, senders=("NNFP.cn",), subjects=("电子发票",))
    with running_daemon(mail_settings(tmp_path, mailbox)) as running:
        wait_until(lambda: last_uid(running.engine) == 4, what="the whole folder")
        wait_until(lambda: len(running.invoices()) == 2, what="two invoices")
        uidvalidity = the_mailbox(running).mail_state.position("imap:test", "INBOX")
        assert uidvalidity is not None
        assert sorted(a.source_key for a in arrivals(running.engine)) == [
            f"INBOX/{uidvalidity.uidvalidity}/1/2",
            f"INBOX/{uidvalidity.uidvalidity}/2/2",
        ]


def test_mail_that_arrives_during_a_sync_pass_is_taken_at_once_not_at_the_next_idle_renewal(
    dovecot: Dovecot, user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server announces mail that arrives while the poller is busy fetching in the answer to a FETCH, and
    not again in IDLE: the poller must notice it there, not wait idle_seconds (300 s here)."""
    # One message in flight: while the worker is held, the poller waits between two fetches of its pass.
    monkeypatch.setattr(imap, "MAX_IN_FLIGHT", 1)
    mails = invoice_mails(range(170, 176))
    for data in mails:
        dovecot.append(user, "INBOX", data)
    held = HeldAt(invoice(170))
    mailbox = mailbox_settings(dovecot, user, tmp_path, idle_seconds=300.0, poll_seconds=300.0)
    with started_daemon(mail_settings(tmp_path, mailbox), extract=held) as running:
        assert held.reached.wait(30), "the worker never reached the first invoice"
        # The poller has searched and waits to hand over the next message; this mail comes after its search.
        dovecot.append(user, "INBOX", invoice_mail(("晚到.pdf", invoice(176))))
        held.release.set()
        wait_until(
            lambda: len(running.invoices()) == 7, what="the late invoice well before IDLE is renewed", timeout=20
        )
