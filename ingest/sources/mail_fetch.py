"""One message's invoice candidates over IMAP, fetching only what can be an invoice.

From the BODYSTRUCTURE (`bodystructure.wanted_sections`) come the sections worth fetching; each is fetched with
`BODY.PEEK[...]`, which never sets \\Seen. A part whose name the structure carries encoded (or may have cut
short) has its own header (`n.MIME`) fetched and decoded by the code that reads whole messages. A part whose
type and name say nothing (application/octet-stream, no extension) is fetched in full only if its first bytes
sniff as PDF, OFD, XML or zip. Every part fetched is read by `mime.read_part`, the code read_message runs on
each part of a whole message: one reader, so a winmail.dat is unpacked and a name is decoded alike both ways.
Text bodies are fetched, truncated, only when the mail carries no candidate: for download links when it looks
like invoice mail (`may_carry_links`), and a big text/plain body for the files uuencoded in it
(`bodystructure.uuencode_candidates`); ordinary mail costs its header and structure, nothing more. A message
whose structure hides its parts (a broken boundary, a forward that is itself base64) is read whole, by
`mime.read_message`.

Each candidate is known by its message (`mail_identity.message_identity`) and by a source key naming the
folder, UIDVALIDITY, UID and the part ('INBOX/1700000000/42/2', '.../2!发票.pdf' for a file from a winmail.dat).

The session is passed in; everything else here is deciding what to fetch and reading the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ingest.extract.reader import sniff
from ingest.model import Candidate
from ingest.sources.bodystructure import (
    WantedPart,
    text_sections,
    uuencode_candidates,
    wanted_sections,
    whole_message_needed,
)
from ingest.sources.mail_headers import PartInfo, part_header_info
from ingest.sources.mail_identity import message_identity
from ingest.sources.mail_links import Link
from ingest.sources.mail_parts import (
    INVOICE_EXTENSIONS,
    SNIFF_BYTES,
    MailLimits,
    Verdict,
    clean_file_name,
    fallback_name,
    is_tnef,
    whole_quads,
)
from ingest.sources.mail_store import Refused, links_to_keep, may_carry_links, split_attachments
from ingest.sources.mime import Attachment, MailContents, read_message, read_part
from ingest.sources.transfer_encoding import UUENCODE_NAMES, decode_transfer
from storage.mail_state import MessageRef

# Parts are fetched together in one FETCH up to this many encoded bytes; bigger ones alone.
FETCH_TOGETHER_BYTES = 8 * 1024 * 1024


class Fetcher(Protocol):
    """What reading a message needs from the IMAP session (MailSession)."""

    def fetch(self, uids: Sequence[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]: ...


@dataclass(frozen=True)
class FetchedMail:
    """What one message brought: candidates for the pipeline, parts refused unfetched, links, problems."""

    ref: MessageRef
    envelope: MailContents
    candidates: tuple[Candidate, ...] = ()
    refused: tuple[Refused, ...] = ()  # recorded as failures
    links: tuple[Link, ...] = ()
    problems: tuple[str, ...] = ()  # malformed, but what could be read was read
    fetched_bytes: int = 0

    @property
    def carries_something(self) -> bool:
        return bool(self.candidates or self.refused or self.links)


@dataclass
class _Found:
    source: str
    ref: MessageRef
    message_id: str
    candidates: list[Candidate] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fetched_bytes: int = 0

    def take(self, attachments: Sequence[Attachment]) -> None:
        """The candidates among a part's attachments: for the pipeline, or refused with their problem."""
        candidates, refused = split_attachments(
            attachments, source=self.source, key_of=lambda part: source_key(self.ref, part), identity=self.message_id
        )
        self.candidates += candidates
        self.refused += refused

    @property
    def carries_files(self) -> bool:
        return bool(self.candidates or self.refused)


@dataclass(frozen=True)
class _ToFetch:
    """A wanted part and what its header says (its own header block when fetched, else the structure)."""

    part: WantedPart
    info: PartInfo


def read_over_imap(
    session: Fetcher,
    *,
    source: str,
    ref: MessageRef,
    envelope: MailContents,
    bodystructure: object,
    size: int,
    limits: MailLimits,
) -> FetchedMail:
    """The candidates of message `ref` in the selected folder; raises what the session raises."""
    found = _Found(source, ref, message_identity(envelope))
    if whole_message_needed(bodystructure):
        return _read_whole(session, envelope=envelope, size=size, limits=limits, found=found)
    wanted = _named(session, ref.uid, wanted_sections(bodystructure, limits=limits), found)
    wanted = _sniffed(session, ref.uid, wanted, found)
    _fetch_parts(session, wanted, limits, found)
    links: tuple[Link, ...] = ()
    if not found.carries_files:
        texts = text_sections(bodystructure, limits=limits)
        if not may_carry_links(envelope):
            texts = uuencode_candidates(texts, limits=limits)
        links = links_to_keep(envelope, _read_texts(session, texts, limits, found), carries_files=found.carries_files)
    return FetchedMail(
        ref,
        envelope,
        tuple(found.candidates),
        tuple(found.refused),
        links,
        tuple(found.problems),
        found.fetched_bytes,
    )


def source_key(ref: MessageRef, section: str | None = None) -> str:
    """'INBOX/1700000000/42/2': folder, UIDVALIDITY, UID and, for a part, its section."""
    key = f"{ref.folder}/{ref.uidvalidity}/{ref.uid}"
    return f"{key}/{section}" if section else key


def _read_whole(
    session: Fetcher, *, envelope: MailContents, size: int, limits: MailLimits, found: _Found
) -> FetchedMail:
    ref = found.ref
    if size > limits.max_message_bytes:
        reason = f"message is {size} bytes, over the {limits.max_message_bytes}-byte limit; its parts are hidden"
        return FetchedMail(ref, envelope, refused=(Refused(source_key(ref), "message", reason),))
    data = _body(session.fetch([ref.uid], ["BODY.PEEK[]"]).get(ref.uid, {}), "")
    contents = read_message(data, limits=limits)
    found.take(contents.attachments)
    links = links_to_keep(envelope, contents.links, carries_files=found.carries_files)
    return FetchedMail(
        ref,
        envelope,
        tuple(found.candidates),
        tuple(found.refused),
        links,
        contents.problems,
        fetched_bytes=len(data),
    )


def _named(session: Fetcher, uid: int, wanted: list[WantedPart], found: _Found) -> list[_ToFetch]:
    """Parts whose names the structure carried encoded, or perhaps cut short, get what their own header says,
    decoded as read_message decodes it; a part that then turns out not to be a candidate is dropped."""
    headers = [part.header_section for part in wanted if _header_wanted(part)]
    answer = session.fetch([uid], [f"BODY.PEEK[{section}]" for section in headers]).get(uid, {}) if headers else {}
    named = []
    for part in wanted:
        info = part.info
        if _header_wanted(part):
            header = _body(answer, part.header_section)
            found.fetched_bytes += len(header)
            if header:
                info = part_header_info(header, part.enclosing_charset)
                verdict = info.verdict
                if verdict is Verdict.NO and not is_tnef(info.content_type, info.filename):
                    continue
                part = replace(part, needs_sniff=verdict is Verdict.BY_CONTENT)
        named.append(_ToFetch(part, info))
    return named


def _header_wanted(part: WantedPart) -> bool:
    """Whether the part's own header must say what it is. Besides encoded names: Dovecot keeps only the first word
    of an unquoted name with spaces ('filename=my invoice.pdf' is 'my' in the structure), so a name that does not
    end as an invoice file's is checked too; and it shows a transfer encoding it cannot parse ('"base64"') as 7bit,
    so a part the structure calls 7bit, 8bit or binary - rare for a file - is checked too."""
    return (
        part.needs_header
        or (part.name is not None and not part.name.lower().endswith(INVOICE_EXTENSIONS))
        or part.encoding in ("7bit", "8bit", "binary")
    )


def _sniffed(session: Fetcher, uid: int, wanted: list[_ToFetch], found: _Found) -> list[_ToFetch]:
    """Parts that only their bytes can tell: kept when their first bytes are an invoice file's."""
    unsure = [one.part for one in wanted if one.part.needs_sniff]
    if not unsure:
        return wanted
    items = [f"BODY.PEEK[{part.section}]<0.{SNIFF_BYTES}>" for part in unsure]
    answer = session.fetch([uid], items).get(uid, {})
    kept = []
    for one in wanted:
        if one.part.needs_sniff:
            head = _body(answer, one.part.section)
            found.fetched_bytes += len(head)
            encoding = one.info.transfer_encoding
            if sniff(decode_transfer(whole_quads(head, encoding), encoding)) == "unknown":
                continue
        kept.append(one)
    return kept


def _fetch_parts(session: Fetcher, wanted: list[_ToFetch], limits: MailLimits, found: _Found) -> None:
    batch: list[_ToFetch] = []
    batch_bytes = 0
    for one in wanted:
        part = one.part
        # Refused from the structure alone, never downloaded, only when even its smallest decoding is over the
        # limit: what read_message would take must not be refused here.
        if _least_decoded_bytes(part.size, one.info.transfer_encoding) > limits.max_attachment_bytes:
            reason = f"part is {part.size} bytes on the server, over the {limits.max_attachment_bytes}-byte limit"
            found.refused.append(Refused(source_key(found.ref, part.section), _unread_name(one), reason))
            continue
        if batch and batch_bytes + part.size > FETCH_TOGETHER_BYTES:
            _fetch_batch(session, batch, limits, found)
            batch, batch_bytes = [], 0
        batch.append(one)
        batch_bytes += part.size
    if batch:
        _fetch_batch(session, batch, limits, found)


def _fetch_batch(session: Fetcher, batch: list[_ToFetch], limits: MailLimits, found: _Found) -> None:
    uid = found.ref.uid
    answer = session.fetch([uid], [f"BODY.PEEK[{one.part.section}]" for one in batch]).get(uid, {})
    for one in batch:
        raw = _body(answer, one.part.section)
        found.fetched_bytes += len(raw)
        contents = read_part(one.info, raw, one.part.section, limits=limits, forwarded=one.part.forwarded)
        found.problems.extend(contents.problems)
        found.take(contents.attachments)


def _read_texts(session: Fetcher, texts: list[WantedPart], limits: MailLimits, found: _Found) -> list[Link]:
    """The text bodies, read by mime.read_part: their download links, and the files uuencoded in them."""
    if not texts:
        return []
    # Truncated: links sit near the top, and a body can be megabytes of HTML.
    window = limits.max_text_bytes
    uid = found.ref.uid
    answer = session.fetch([uid], [f"BODY.PEEK[{part.section}]<0.{window}>" for part in texts]).get(uid, {})
    links: list[Link] = []
    seen: set[str] = set()
    for part in texts:
        raw = _body(answer, part.section)
        found.fetched_bytes += len(raw)
        contents = read_part(
            part.info, whole_quads(raw, part.encoding), part.section, limits=limits, forwarded=part.forwarded
        )
        found.problems.extend(contents.problems)
        found.take(contents.attachments)
        for link in contents.links:
            if link.url not in seen and len(links) < limits.max_links:
                seen.add(link.url)
                links.append(link)
    return links


def _least_decoded_bytes(size: int, encoding: str) -> int:
    """The fewest bytes a part that takes `size` bytes on the server can decode to (decode_transfer).

    base64 (and uuencode): 3 bytes for 4 characters, less the line breaks, which take a twentieth at most when
    lines are 40 characters or longer (mailers write 60 to 76). quoted-printable: a byte can take 3 characters
    ('=XX'), plus soft line breaks. 7bit, 8bit, binary and unknown encodings: the bytes as they are.
    """
    name = encoding.strip().lower()
    if name == "base64" or name in UUENCODE_NAMES:
        return size * 19 // 20 * 3 // 4 - 3
    if name == "quoted-printable":
        return size // 4
    return size


def _unread_name(one: _ToFetch) -> str:
    """The file name of a part refused unread: as `Attachment.file_name` gives it for read_message's refusal."""
    return clean_file_name(one.info.filename or "") or fallback_name(one.part.section, "unknown", one.info.content_type)


def _body(answer: dict[bytes, Any], section: str) -> bytes:
    """The bytes of `BODY[section]` (or `BODY[section]<0>`) in a FETCH answer; b'' when absent or NIL."""
    wanted = f"BODY[{section}]".encode()
    for key, value in answer.items():
        if isinstance(key, bytes) and (key == wanted or key.startswith(wanted + b"<")):
            return bytes(value) if isinstance(value, (bytes, bytearray)) else b""
    return b""
