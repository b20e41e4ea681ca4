"""One message's findings handed to the pipeline, alike for mail over IMAP and mail saved in files.

Whichever way a message came in, its candidates go through `Intake.process`, its parts refused unread (over a
limit) are recorded as failures, and a mail with no invoice file but download links is recorded as 'link only'.
Every arrival carries the message's identity (`mail_identity`), so the same message's same file coming in again,
by the same way or another, adds nothing (`pipeline.record_refusal`, `pipeline.process`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.model import Candidate
from ingest.pipeline import Result
from ingest.sources.mail_links import Link
from ingest.sources.mime import MailContents
from ingest.worker import Intake
from storage.archive import Outcome


@dataclass(frozen=True)
class Refused:
    """A part whose bytes were not read (over a limit): recorded as a failed arrival."""

    source_key: str
    name: str
    reason: str


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
