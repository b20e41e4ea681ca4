"""`fapiao inspect`: what the MIME reader sees in saved mail, for a person asking why an invoice went unnoticed.

The same reader as every other way mail comes in (`mime.read_message`, which the IMAP poller shares), so what is
shown here is what the daemon would take. Nothing is stored; names are shown as the mail writes them (they are
cleaned for the file system only when a file is written).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.sources.mail_file import MailFileKind
from ingest.sources.mail_parts import DEFAULT_LIMITS, MailLimits
from ingest.sources.mime import Attachment, MailContents
from ingest.sources.saved_mail import read_saved_mail, saved_mail_kind


@dataclass(frozen=True)
class InspectedMessage:
    number: int  # 1-based in the file
    envelope: MailContents  # with its attachments when the message was read whole
    problems: tuple[str, ...] = ()


@dataclass
class FileReport:
    path: Path
    kind: MailFileKind | None = None
    messages: list[InspectedMessage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # of the file itself: unreadable, not mail
    readable: bool = True  # False: missing, unreadable, or not saved mail

    def to_json(self) -> dict[str, Any]:
        """The `--json` object of one input file."""
        return {
            "file": str(self.path),
            "kind": self.kind,
            "messages": len(self.messages),
            "attachments": [
                _attachment_json(message, attachment)
                for message in self.messages
                for attachment in message.envelope.attachments
            ],
            "problems": self.problems + [problem for message in self.messages for problem in message.problems],
        }


def inspect_file(path: Path, *, limits: MailLimits = DEFAULT_LIMITS) -> FileReport:
    """Every message of a saved mail file, read as import reads it; never raises (what goes wrong is in
    `problems`)."""
    report = FileReport(path)
    try:
        report.kind = saved_mail_kind(path)
        if report.kind is None:
            report.readable = False
            report.problems.append("not saved mail: neither an mbox nor a message (.eml) by its content")
            return report
        for mail in read_saved_mail(path, report.kind, source="inspect", file_key=str(path), limits=limits):
            # Only what is shown is kept: an mbox of gigabytes must not pile up its invoices' bytes here.
            kept = tuple(dataclasses.replace(attachment, data=b"") for attachment in mail.envelope.attachments)
            envelope = dataclasses.replace(mail.envelope, attachments=kept)
            report.messages.append(InspectedMessage(mail.number, envelope, mail.problems))
    except IsADirectoryError:
        report.readable = False
        report.problems.append("a folder, not a file")
    except OSError as exc:
        report.readable = False
        report.problems.append(f"cannot read: {exc.strerror or exc}")
    return report


def _attachment_json(message: InspectedMessage, attachment: Attachment) -> dict[str, Any]:
    envelope = message.envelope
    return {
        "filename": attachment.name or None,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256 or None,
        "part": attachment.part,
        "forwarded": attachment.forwarded,
        "inline": attachment.inline,
        "candidate": attachment.candidate,
        "why": attachment.why,
        "problem": attachment.problem,
        "message": message.number,
        "message_id": envelope.message_id,
        "subject": envelope.subject,
    }
