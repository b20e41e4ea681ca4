"""`fapiao notify test`: send one test message to every [[notify.webhook]] (and, with --digest, the digest by mail)
and say how each delivery went: setup help, like `fapiao mail test`."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated

import typer

from ingest.cli_common import EXIT_FAILURE, EXIT_USAGE, ConfigOption, open_archive, settings_from
from ingest.config import Settings
from ingest.daemon_status import DaemonStatus
from ingest.logs import printable
from ingest.mail_secret import SecretError
from ingest.notify.digest_job import FIRST_PERIOD, DigestJob, read_covered_until
from ingest.notify.formats import Message
from ingest.notify.smtp_send import MailSendError, send_mail
from ingest.notify.summary import yuan
from ingest.notify.webhook import WebhookTarget

# Help texts are rich markup: a literal '[' is written '\\['.
notify_app = typer.Typer(help="Check the \\[notify] webhooks and digest.", no_args_is_help=True)

TEST_MESSAGE = Message("fapiao: test message from fapiao-inbox; new invoices, review items and failures come here")


@notify_app.command("test")
def test_command(
    digest: Annotated[
        bool,
        typer.Option("--digest", help="also mail the digest of the period since the last one, marked \\[test]"),
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for each server")] = 10.0,
    config: ConfigOption = None,
) -> None:
    """Send one test message to every \\[\\[notify.webhook]] and report each delivery (no retries).

    With --digest, also send the digest by mail; the period it covers is not marked as sent.
    Exit code 1 when a delivery failed, 2 when nothing is configured.
    """
    settings = settings_from(config)
    notify = settings.notify
    where = settings.source or "the config"
    if digest and notify.digest is None:
        typer.echo(f"no [notify.digest] in {where}: add one with a schedule, to, host and from", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not notify.webhooks and not digest:
        typer.echo(
            f"no [[notify.webhook]] in {where}: add one with a format (wecom, dingtalk, feishu, json) and url_env, "
            "url_file, url_command or url" + ("; test the digest with --digest" if notify.digest else ""),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    failed = False
    for webhook in notify.webhooks:
        target = WebhookTarget(webhook, timeout=timeout)
        delivery = target.send(TEST_MESSAGE)
        if delivery.ok:
            typer.echo(f"{target.label}: delivered")
        else:
            failed = True
            retry = "" if delivery.permanent else " (the daemon would try again)"
            typer.echo(printable(f"{target.label}: {delivery.error}{retry}"), err=True)
    if digest:
        failed = not _test_digest(settings, timeout) or failed
    if failed:
        raise typer.Exit(EXIT_FAILURE)


def _test_digest(settings: Settings, timeout: float) -> bool:
    digest = settings.notify.digest
    assert digest is not None
    archive = open_archive(settings)
    try:
        job = DigestJob(digest, archive, send=functools.partial(send_mail, timeout=timeout))
        end = datetime.now().astimezone()
        start = read_covered_until(job.state_folder) or end - FIRST_PERIOD
        report, message = job.compose(start, end, test=True)
        try:
            job.deliver(message)
        except SecretError as exc:
            typer.echo(printable(f"digest: cannot read the SMTP password: {exc}"), err=True)
            return False
        except MailSendError as exc:
            typer.echo(printable(f"digest: {exc}"), err=True)
            return False
    finally:
        archive.engine.dispose()
    typer.echo(
        f"digest: sent to {', '.join(digest.to)} via {digest.host}:{digest.port} (tls {digest.tls}): "
        f"since {start:%Y-%m-%d %H:%M}, {len(report.filed)} invoices ({yuan(report.filed_total_fen)}), "
        f"{len(report.review)} to review, {len(report.failures)} failed"
    )
    return True


def notify_lines(status: DaemonStatus | None) -> list[str]:
    """The notifications' part of `fapiao status`: the last delivery given up on, and the events not delivered."""
    if status is None:
        return []
    lines = []
    if status.notify_error:
        when = status.notify_error_at
        local = f"{datetime.fromisoformat(when).astimezone():%Y-%m-%d %H:%M}" if when else "?"
        lines.append(f"notifications: last failure ({local}): {status.notify_error}")
    if status.notify_dropped:
        lines.append(f"notifications: {status.notify_dropped} events not delivered since the daemon started")
    return lines
