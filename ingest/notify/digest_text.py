"""Pure: the digest mail: what a period brought (invoices filed with their total, what needs review, failures),
as plain UTF-8 text a person reads in any mail client."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from ingest.logs import printable
from ingest.notify.summary import yuan
from ingest.notify_config import DigestSettings
from storage.digest_query import PeriodReport

MAX_LISTED = 1000  # invoices listed by name; a larger period is counted, and `fapiao list` shows it all


def digest_subject(report: PeriodReport, *, test: bool = False) -> str:
    parts = [f"{len(report.filed)} invoices filed ({yuan(report.filed_total_fen)})"]
    if report.review:
        parts.append(f"{len(report.review)} to review")
    if report.failures:
        parts.append(f"{len(report.failures)} failed")
    return f"{'[test] ' if test else ''}fapiao digest: {', '.join(parts)}"


def digest_body(report: PeriodReport, *, start: datetime, end: datetime, archive: str) -> str:
    lines = [
        f"fapiao-inbox: what came in from {_local(start)} to {_local(end)}",
        f"Archive: {printable(archive)}",
        "",
        f"Invoices filed: {len(report.filed)}, total {yuan(report.filed_total_fen)}",
    ]
    for facts in report.filed[:MAX_LISTED]:
        when = facts.issue_date.isoformat() if facts.issue_date else "no date"
        total = yuan(facts.total_fen) if facts.total_fen is not None else "no total"
        status = "" if facts.status == "ok" else f" [{facts.status}]"
        lines.append(f"  {when}  {total}  {printable(facts.seller) or '(no seller)'}  No. {facts.number}{status}")
        lines.append(f"      {printable(facts.path)}")
    if len(report.filed) > MAX_LISTED:
        lines.append(f"  … and {len(report.filed) - MAX_LISTED} more: fapiao list --since {start.date().isoformat()}")
    if report.review:
        lines += ["", f"Needing review: {len(report.review)}"]
        for entry in report.review:
            reason = f": {printable(entry.reason)}" if entry.reason else ""
            lines.append(f"  {entry.what}  {printable(entry.path)}{reason}")
    if report.failures:
        lines += ["", f"Failed: {len(report.failures)}"]
        for failure in report.failures:
            tries = f" ({failure.attempts} attempts)" if failure.attempts > 1 else ""
            lines.append(
                f"  {printable(failure.source)}  {printable(failure.source_key)}{tries}: {printable(failure.reason)}"
            )
    lines += ["", f"Waiting for a person in all: {report.open_review} (fapiao review lists them)."]
    return "\n".join(lines) + "\n"


def digest_message(settings: DigestSettings, subject: str, body: str, *, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2])
    message.set_content(body, charset="utf-8")
    return message


def _local(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M}"
