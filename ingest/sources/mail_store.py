"""What one message brings for the pipeline, and its handing over, alike for mail over IMAP and mail saved in files.

Whichever way a message came in, its attachments are split the same way into candidates and parts refused unread
(`split_attachments`), download links are kept only from invoice mail that carries no file (`links_to_keep`),
and then (`store_mail`) its candidates go through `Intake.process`, its parts refused unread (over a
limit) are recorded as failures, and a mail with no invoice file but download links is recorded as 'link only'.
Every arrival carries the message's identity (`mail_identity`), so the same message's same file coming in again,
by the same way or another, adds nothing (`pipeline.record_refusal`, `pipeline.process`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ingest.model import Candidate
from ingest.sources.mail_links import Link
from ingest.sources.mime import Attachment, MailContents
from storage.archive import Outcome

if TYPE_CHECKING:  # only for annotations: the reading above stays free of the pipeline
    from ingest.pipeline import Result
    from ingest.worker import Intake

# Words in a subject that make a mail worth searching for download links when it has no invoice file.
_INVOICE_MAIL_WORDS = ("发票", "票据", "开票", "fapiao", "invoice", "e-invoice", "einvoice", "收据")


class Refused(NamedTuple):
    """A part whose bytes were not read (over a limit): recorded as a failed arrival."""

    source_key: str
    name: str
    reason: str


def may_carry_links(envelope: MailContents) -> bool:
    """Whether a mail with no invoice file is worth reading for download links: its subject speaks of one."""
    subject = envelope.subject.lower()
    return any(word in subject for word in _INVOICE_MAIL_WORDS)


def split_attachments(
    attachments: Iterable[Attachment], *, source: str, key_of: Callable[[str], str], identity: str
) -> tuple[list[Candidate], list[Refused]]:
    """The candidates among a message's attachments, for the pipeline, and those whose bytes were not read;
    `key_of` gives the source key of a part ('2', '2!发票.pdf')."""
    candidates: list[Candidate] = []
    refused: list[Refused] = []
    for attachment in attachments:
        if not attachment.candidate:
            continue
        key = key_of(attachment.part)
        if attachment.problem is not None:
            refused.append(Refused(key, attachment.file_name, attachment.problem))
        else:
            candidates.append(Candidate(source, key, attachment.file_name, attachment.data, identity))
    return candidates, refused


def links_to_keep(envelope: MailContents, links: Sequence[Link], *, carries_files: bool) -> tuple[Link, ...]:
    """The download links worth recording: those of invoice mail that brought no file (not even a refused one)."""
    return tuple(links) if not carries_files and may_carry_links(envelope) else ()


def store_mail(
    intake: Intake,
    *,
    source: str,
    message_key: str,
    identity: str,
    envelope: MailContents,
    candidates: Sequence[Candidate],
    refused: Sequence[Refused],
    links: Sequence[Link],
) -> list[Result]:
    """Store what one message brought; one Result per file, refusal or link-only mail."""
    results = []
    for candidate in candidates:
        results.extend(intake.process(candidate))
    for part in refused:
        results.append(intake.refuse(source, part.source_key, f"{part.name}: {part.reason}", message_id=identity))
    if links and not candidates:
        reason = links_reason(envelope, links)
        results.append(intake.refuse(source, message_key, reason, Outcome.LINK_ONLY, message_id=identity))
    return results


def links_reason(envelope: MailContents, links: Sequence[Link]) -> str:
    """What `fapiao find` and `review` say of a mail with only download links (the links, whole)."""
    urls = " ".join(link.url for link in links)
    return f"{envelope.subject!r} from {envelope.sender_address}: no invoice file, only download links: {urls}"
