"""The daemon with [notify]: invoices dropped into the watched folder are announced to a real webhook on 127.0.0.1,
gathered into one message while the webhook is busy, and filing goes on at full speed while the webhook hangs;
`fapiao run --once` delivers before it exits; a mailbox whose login fails is announced; a delivery given up on is
in the status file for `fapiao status`."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

from cli_run import fapiao
from daemon_run import invoice, running_daemon, settings_for, wait_until
from dovecot_server import Dovecot
from mail_daemon import mail_settings, mailbox_settings, started_daemon
from webhook_server import running_robot

from ingest.cli_notify import notify_lines
from ingest.daemon_status import read_status
from ingest.notify.summary import yuan
from ingest.notify_config import NotifySettings, WebhookSettings
from storage.archive import STATE_FOLDER


def shown_number(code: str | None, number: str) -> str:
    return f"{code} {number}" if code else number


def test_a_hanging_webhook_does_not_slow_filing_and_waiting_invoices_go_out_as_one_message(tmp_path: Path) -> None:
    with running_robot(hang=True) as robot:
        webhook = WebhookSettings(1, "wecom", url=robot.url())
        settings = dataclasses.replace(
            settings_for(tmp_path), notify=NotifySettings(batch_seconds=0, webhooks=(webhook,))
        )
        with running_daemon(settings) as running:
            (running.inbox / "first.pdf").write_bytes(invoice(0))
            robot.wait_for(1)  # the first invoice's message is at the webhook, which does not answer
            for i in range(1, 6):
                (running.inbox / f"invoice-{i}.pdf").write_bytes(invoice(i))
            wait_until(lambda: len(running.invoices()) == 6, what="every invoice filed")
            assert robot.answered == 0  # all filed while the webhook hung
            notifier = running.daemon.notifier
            assert notifier is not None
            # The worker tells the notifier right after each commit: the last one may be a moment behind.
            wait_until(lambda: notifier.senders[0].waiting == 5, what="five invoices waiting to be announced")
            robot.release.set()
            wait_until(lambda: notifier.senders[0].delivered == 6, what="every invoice announced")
            invoices = running.invoices()
    first = robot.received[0].json()["markdown"]["content"]
    assert first.startswith("**fapiao: 1 new invoice (total ")
    # A first attempt that timed out while the webhook hung is tried again: the same message.
    assert all(r.json()["markdown"]["content"] == first for r in robot.received[:-1])
    last = robot.received[-1].json()["markdown"]["content"]
    later = [i for i in invoices if i.invoice_number not in first]
    assert len(later) == 5
    total = sum(i.total_fen or 0 for i in later)
    assert last.startswith(f"**fapiao: 5 new invoices (total {yuan(total)})**")
    for filed in later:
        assert f"No. {shown_number(filed.invoice_code, filed.invoice_number)}" in last
        assert yuan(filed.total_fen or 0) in last


def test_run_once_delivers_before_it_exits(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):
        (inbox / f"发票-{i}.pdf").write_bytes(invoice(10 + i))
    with running_robot() as robot:
        config = tmp_path / "config.toml"
        config.write_text(
            '[archive]\nroot = "archive"\n\n[[watch]]\npath = "inbox"\nsettle_seconds = 0.2\n\n'
            f'[notify]\nbatch_seconds = 60\n\n[[notify.webhook]]\nformat = "json"\nurl = "{robot.url("/hook")}"\n',
            encoding="utf-8",
        )
        result = fapiao("run", "--once", "--config", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        received = list(robot.received)
    assert len(received) == 1  # the batching window is not waited out at exit, and nothing is sent twice
    events = received[0].json()["events"]
    database = tmp_path / "archive" / STATE_FOLDER / "fapiao.db"
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT i.invoice_code, i.invoice_number, i.total_fen, s.path FROM invoices i "
            "JOIN stored_files s ON s.invoice_id = i.id AND s.role = 'primary'"
        ).fetchall()
    expected = {(shown_number(code, number), f"{fen // 100}.{fen % 100:02d}", path) for code, number, fen, path in rows}
    assert {(e["number"], e["total"], e["path"]) for e in events} == expected
    assert len(expected) == 3
    assert {e["kind"] for e in events} == {"invoice"}
    assert "json webhook #1" in result.stdout and "delivered 3 events" in result.stdout


def test_a_mailbox_whose_login_fails_is_announced_once(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    bad = mailbox_settings(dovecot, user, tmp_path, name="bad")
    Path(bad.secret.source).write_text("wrong-password\n", encoding="utf-8")
    with running_robot() as robot:
        webhook = WebhookSettings(1, "json", url=robot.url("/ops"), events=("failure",))
        settings = dataclasses.replace(
            mail_settings(tmp_path, bad), notify=NotifySettings(batch_seconds=0, webhooks=(webhook,))
        )
        with started_daemon(settings) as running:
            (mailbox,) = running.daemon.mailboxes
            wait_until(lambda: mailbox.state == "login failed", what="the state 'login failed'")
            (request,) = robot.wait_for(1)
            trouble = mailbox.last_trouble
    (event,) = request.json()["events"]
    assert (event["kind"], event["source"], event["reason"]) == ("failure", "imap:bad", trouble)
    assert f"refused the login of {user}" in trouble and "wrong-password" not in request.body.decode()
    assert len(robot.received) == 1


def test_a_delivery_given_up_on_is_in_the_status_file(tmp_path: Path) -> None:
    with running_robot(answers=[(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]) as robot:
        webhook = WebhookSettings(1, "wecom", url=robot.url())
        settings = dataclasses.replace(
            settings_for(tmp_path), notify=NotifySettings(batch_seconds=0, webhooks=(webhook,))
        )
        with running_daemon(settings) as running:
            (running.inbox / "发票.pdf").write_bytes(invoice(20))
            wait_until(lambda: running.daemon.status().notify_error, what="the delivery to be given up")
    status = read_status(tmp_path / "archive" / STATE_FOLDER)
    assert status is not None
    host = robot.base.removeprefix("http://")
    assert status.notify_error.startswith(f"wecom webhook #1 ({host}): refused the message: errcode 93000")
    assert status.notify_dropped == 1
    lines = notify_lines(status)
    assert lines[0].startswith("notifications: last failure (") and "errcode 93000" in lines[0]
    assert lines[1] == "notifications: 1 events not delivered since the daemon started"
    assert "SECRETKEY" not in json.dumps(asdict(status))
