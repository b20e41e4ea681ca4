"""Mail saved in files (.eml, mbox) as a source: each message read by the one MIME reader (`mime`), and what
it carries turned into the same work a message from IMAP becomes (`mail_store`).

The file is streamed (`mail_file.iter_messages`), so a mailbox of gigabytes costs the memory of its biggest
message. A file's messages are keyed '<path>#<number>/<part>' ('Inbox.mbox#17/2', 'a.eml#1/2'), and every
arrival carries the message's identity: an mbox imported twice, or a message also seen over IMAP, adds nothing
the second time, even if the mbox was compacted and its messages renumbered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.model import Candidate
from ingest.pipeline import Result
from ingest.sources.mail_file import MailFileKind, StoredMessage, iter_messages, mail_file_kind
from ingest.sources.mail_identity import message_identity
from ingest.sources.mail_links import Link
from ingest.sources.mail_parts import MailLimits
from ingest.sources.mail_store import Refused, links_to_keep, split_attachments, store_mail
from ingest.sources.mime import MailContents, read_envelope, read_message
from ingest.worker import Intake

HEAD_BYTES = 64 * 1024  # what mail_file_kind looks at


@dataclass(frozen=True)
class SavedMail:
    """One message of a mail file, read: what it carries for the pipeline, and what was wrong with it."""

    number: int  # 1-based in the file
    message_key: str  # '<path>#<number>'
    identity: str  # mail_identity.message_identity
    envelope: MailContents
    end: int  # byte offset in the file just after this message (progress)
    candidates: tuple[Candidate, ...] = ()
    refused: tuple[Refused, ...] = ()
    links: tuple[Link, ...] = ()
    problems: tuple[str, ...] = ()  # malformed, but what could be read was read

    @property
    def size(self) -> int:
        return sum(len(candidate.data) for candidate in self.candidates)


def store_saved_mail(intake: Intake, source: str, mail: SavedMail) -> list[Result]:
    """Hand one message of a mail file to the pipeline, as the IMAP poller hands its messages."""
    return store_mail(
        intake,
        source=source,
        message_key=mail.message_key,
        identity=mail.identity,
        envelope=mail.envelope,
        candidates=mail.candidates,
        refused=mail.refused,
        links=mail.links,
    )


def saved_mail_kind(path: Path) -> MailFileKind | None:
    """Whether the file is saved mail, by its first bytes (and an .eml name); raises OSError if unreadable."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    return mail_file_kind(head, path.name)


def read_saved_mail(
    path: Path, kind: MailFileKind, *, source: str, file_key: str, limits: MailLimits
) -> Iterator[SavedMail]:
    """Every message of the file, in order, read; raises OSError when the file cannot be read (a message
    already yielded stays good)."""
    with path.open("rb") as handle:
        for stored in iter_messages(handle, kind, max_message_bytes=limits.max_message_bytes):
            yield saved_mail(stored, source=source, file_key=file_key, limits=limits)


def saved_mail(stored: StoredMessage, *, source: str, file_key: str, limits: MailLimits) -> SavedMail:
    """One stored message as work for the pipeline; pure, never raises."""
    message_key = f"{file_key}#{stored.number}"
    where = f"message {stored.number}"
    problems = [stored.problem] if stored.problem else []  # it says which message, and where in the file
    if stored.too_big:
        envelope = read_envelope(stored.data)
        identity = message_identity(envelope)
        reason = stored.problem or f"message is over the {limits.max_message_bytes}-byte limit"
        too_big = (Refused(message_key, "message", reason),)
        return SavedMail(
            stored.number, message_key, identity, envelope, stored.end, refused=too_big, problems=tuple(problems)
        )
    contents = read_message(stored.data, limits=limits)
    identity = message_identity(contents)
    candidates, refused = split_attachments(
        contents.attachments, source=source, key_of=lambda part: f"{message_key}/{part}", identity=identity
    )
    links = links_to_keep(contents, contents.links, carries_files=bool(candidates or refused))
    problems += [f"{where}: {problem}" for problem in contents.problems]
    return SavedMail(
        stored.number,
        message_key,
        identity,
        contents,
        stored.end,
        tuple(candidates),
        tuple(refused),
        tuple(links),
        tuple(problems),
    )
