"""The mailbox source in the running daemon, against a real Dovecot: backfill, IDLE, restarts, flags."""

from __future__ import annotations

import time
from pathlib import Path

from daemon_run import invoice, running_daemon, wait_until
from dovecot_server import Dovecot
from mail_daemon import arrivals, folder_rows, invoice_mail, invoice_mails, mail_settings, mailbox_settings

from storage.archive import Outcome


def _flags(dovecot: Dovecot, user: str, folder: str = "INBOX") -> dict[int, set[bytes]]:
    client = dovecot.login(user)
    try:
        client.select_folder(folder, readonly=True)
        return {uid: set(data[b"FLAGS"]) for uid, data in client.fetch(client.search("ALL"), ["FLAGS"]).items()}
    finally:
        client.logout()


def test_backfill_archives_every_invoice_once_and_leaves_flags_alone(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    for data in invoice_mails(range(3)):
        dovecot.append(user, "INBOX", data)
    dovecot.append(user, "INBOX", invoice_mail(subject="周报", text="no attachment here"))
    before = _flags(dovecot, user)
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))
    with running_daemon(settings) as running:
        wait_until(lambda: len(running.invoices()) == 3, what="three invoices")
        # The folder's position is written after the messages it covers: it may not be there yet.
        wait_until(
            lambda: [(r.folder, r.last_uid) for r in folder_rows(running.engine)] == [("INBOX", 4)],
            what="the position to reach UID 4",
        )
        assert {a.outcome for a in arrivals(running.engine)} == {Outcome.ARCHIVED}
    assert _flags(dovecot, user) == before  # EXAMINE and BODY.PEEK: not even \Seen


def test_idle_brings_new_mail_within_seconds_and_a_restart_reads_nothing_again(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))
    with running_daemon(settings) as running:
        wait_until(lambda: running.daemon.mailboxes[0].state == "idle", what="IDLE")
        started = time.monotonic()
        dovecot.append(user, "INBOX", invoice_mail(("a.pdf", invoice(5))))
        wait_until(lambda: len(running.invoices()) == 1, what="the invoice", timeout=10)
        assert time.monotonic() - started < 10
    with running_daemon(settings) as running:
        wait_until(lambda: running.daemon.mailboxes[0].state == "idle", what="IDLE")
        assert len(arrivals(running.engine)) == 1
