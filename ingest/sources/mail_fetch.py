"""One message's invoice candidates over IMAP, fetching only what can be an invoice.

From the BODYSTRUCTURE (`bodystructure.wanted_sections`) come the sections worth fetching; each is fetched with
`BODY.PEEK[...]`, which never sets \\Seen. A part whose name the structure carries encoded (or may have cut
short) has its own header (`n.MIME`) fetched and decoded by the code that reads whole messages. A part whose
type and name say nothing (application/octet-stream, no extension) is fetched in full only if its first bytes
sniff as PDF, OFD, XML or zip. Text bodies are fetched, truncated, for download links only when the mail
carries no candidate and looks like invoice mail (`may_carry_links`): ordinary mail costs its header and
structure, nothing more. A message whose structure hides its parts (a broken boundary) is read whole, by
`mime.read_message`.

The session is passed in; everything else here is deciding what to fetch and reading the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ingest.extract.reader import sniff
from ingest.model import Candidate
from ingest.sources.bodystructure import WantedPart, text_sections, wanted_sections, whole_message_needed
from ingest.sources.mail_headers import part_header_info
from ingest.sources.mail_links import Link, find_links
from ingest.sources.mail_parts import INVOICE_EXTENSIONS, MailLimits, Verdict, fallback_name, judge_part
from ingest.sources.mime import MailContents, read_message
from ingest.sources.transfer_encoding import UUENCODE_NAMES, decode_transfer
from storage.mail_state import MessageRef

# Encoded bytes fetched to sniff a part whose type and name say nothing: base64 of the first ~3 KB.
SNIFF_BYTES = 4096
# Parts are fetched together in one FETCH up to this many encoded bytes; bigger ones alone.
FETCH_TOGETHER_BYTES = 8 * 1024 * 1024
# Words in a subject that make a mail worth searching for download links when it has no invoice file.
_INVOICE_MAIL_WORDS = ("发票", "票据", "开票", "fapiao", "invoice", "e-invoice", "einvoice", "收据")


class Fetcher(Protocol):
    """What reading a message needs from the IMAP session (MailSession)."""

    def fetch(self, uids: Sequence[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]: ...


@dataclass(frozen=True)
class FetchedMail:
    """What one message brought: candidates for the pipeline, parts refused unfetched, links, problems."""

    ref: MessageRef
    envelope: MailContents
    candidates: tuple[Candidate, ...] = ()
    refused: tuple[tuple[str, str, str], ...] = ()  # (source key, part name, reason): recorded as failures
    links: tuple[Link, ...] = ()
    problems: tuple[str, ...] = ()  # malformed, but what could be read was read
    fetched_bytes: int = 0

    @property
    def carries_something(self) -> bool:
        return bool(self.candidates or self.refused or self.links)


@dataclass
class _Found:
    candidates: list[Candidate] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fetched_bytes: int = 0


def may_carry_links(envelope: MailContents) -> bool:
    """Whether a mail with no invoice file is worth reading for download links: its subject speaks of one."""
    subject = envelope.subject.lower()
    return any(word in subject for word in _INVOICE_MAIL_WORDS)


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
    if whole_message_needed(bodystructure):
        return _read_whole(session, source=source, ref=ref, envelope=envelope, size=size, limits=limits)
    found = _Found()
    wanted = _named(session, ref.uid, wanted_sections(bodystructure, limits=limits), found)
    wanted = _sniffed(session, ref.uid, wanted, found)
    _fetch_parts(session, source, ref, wanted, limits, found)
    links: list[Link] = []
    if not found.candidates and not found.refused and may_carry_links(envelope):
        links = _links(session, ref.uid, text_sections(bodystructure, limits=limits), limits, found)
    return FetchedMail(
        ref,
        envelope,
        tuple(found.candidates),
        tuple(found.refused),
        tuple(links),
        tuple(found.problems),
        found.fetched_bytes,
    )


def source_key(ref: MessageRef, section: str | None = None) -> str:
    """'INBOX/1700000000/42/2': folder, UIDVALIDITY, UID and, for a part, its section."""
    key = f"{ref.folder}/{ref.uidvalidity}/{ref.uid}"
    return f"{key}/{section}" if section else key


def _read_whole(
    session: Fetcher, *, source: str, ref: MessageRef, envelope: MailContents, size: int, limits: MailLimits
) -> FetchedMail:
    if size > limits.max_message_bytes:
        reason = f"message is {size} bytes, over the {limits.max_message_bytes}-byte limit; its parts are hidden"
        return FetchedMail(ref, envelope, refused=((source_key(ref), "message", reason),))
    data = _body(session.fetch([ref.uid], ["BODY.PEEK[]"]).get(ref.uid, {}), "")
    contents = read_message(data, limits=limits)
    candidates, refused = [], []
    for attachment in contents.attachments:
        key = source_key(ref, attachment.section)
        if attachment.problem is not None:
            refused.append((key, attachment.name, attachment.problem))
        else:
            candidates.append(Candidate(source, key, attachment.name, attachment.data))
    links = contents.links if not candidates and may_carry_links(envelope) else ()
    return FetchedMail(
        ref, envelope, tuple(candidates), tuple(refused), tuple(links), contents.problems, fetched_bytes=len(data)
    )


def _named(session: Fetcher, uid: int, wanted: list[WantedPart], found: _Found) -> list[WantedPart]:
    """Parts whose names the structure carried encoded, or perhaps cut short, get the name their own header
    gives, decoded as read_message decodes it; a part that then turns out not to be a candidate is dropped."""
    headers = [part.header_section for part in wanted if _header_wanted(part)]
    if not headers:
        return wanted
    answer = session.fetch([uid], [f"BODY.PEEK[{section}]" for section in headers]).get(uid, {})
    named = []
    for part in wanted:
        if _header_wanted(part):
            header = _body(answer, part.header_section)
            found.fetched_bytes += len(header)
            if header:
                info = part_header_info(header)
                name = info.filename or part.name
                verdict = judge_part(part.content_type, name)
                if verdict is Verdict.NO:
                    continue
                part = replace(part, name=name, needs_sniff=verdict is Verdict.BY_CONTENT)
        named.append(part)
    return named


def _header_wanted(part: WantedPart) -> bool:
    """Whether the part's own header must say its name. Besides encoded names: Dovecot keeps only the first word
    of an unquoted name with spaces ('filename=my invoice.pdf' is 'my' in the structure), so a name that does not
    end as an invoice file's is checked too."""
    return part.needs_header or (part.name is not None and not part.name.lower().endswith(INVOICE_EXTENSIONS))


def _sniffed(session: Fetcher, uid: int, wanted: list[WantedPart], found: _Found) -> list[WantedPart]:
    """Parts that only their bytes can tell: kept when their first bytes are an invoice file's."""
    unsure = [part for part in wanted if part.needs_sniff]
    if not unsure:
        return wanted
    items = [f"BODY.PEEK[{part.section}]<0.{SNIFF_BYTES}>" for part in unsure]
    answer = session.fetch([uid], items).get(uid, {})
    kept = []
    for part in wanted:
        if part.needs_sniff:
            head = _body(answer, part.section)
            found.fetched_bytes += len(head)
            if sniff(decode_transfer(_whole_quads(head, part.encoding), part.encoding)) == "unknown":
                continue
        kept.append(part)
    return kept


def _fetch_parts(
    session: Fetcher, source: str, ref: MessageRef, wanted: list[WantedPart], limits: MailLimits, found: _Found
) -> None:
    batch: list[WantedPart] = []
    batch_bytes = 0
    for part in wanted:
        # Refused from the structure alone, never downloaded, only when even its smallest decoding is over the
        # limit: what read_message would take must not be refused here.
        if _least_decoded_bytes(part.size, part.encoding) > limits.max_attachment_bytes:
            reason = f"part is {part.size} bytes on the server, over the {limits.max_attachment_bytes}-byte limit"
            found.refused.append((source_key(ref, part.section), _name(part, "unknown"), reason))
            continue
        if batch and batch_bytes + part.size > FETCH_TOGETHER_BYTES:
            _fetch_batch(session, source, ref, batch, limits, found)
            batch, batch_bytes = [], 0
        batch.append(part)
        batch_bytes += part.size
    if batch:
        _fetch_batch(session, source, ref, batch, limits, found)


def _fetch_batch(
    session: Fetcher, source: str, ref: MessageRef, parts: list[WantedPart], limits: MailLimits, found: _Found
) -> None:
    answer = session.fetch([ref.uid], [f"BODY.PEEK[{part.section}]" for part in parts]).get(ref.uid, {})
    for part in parts:
        raw = _body(answer, part.section)
        found.fetched_bytes += len(raw)
        data = decode_transfer(raw, part.encoding)
        key = source_key(ref, part.section)
        if len(data) > limits.max_attachment_bytes:
            reason = f"part is {len(data)} bytes decoded, over the {limits.max_attachment_bytes}-byte limit"
            found.refused.append((key, _name(part, "unknown"), reason))
            continue
        if not data:
            found.problems.append(f"part {part.section}: empty")
            continue
        found.candidates.append(Candidate(source, key, _name(part, sniff(data)), data))


def _links(session: Fetcher, uid: int, texts: list[WantedPart], limits: MailLimits, found: _Found) -> list[Link]:
    if not texts:
        return []
    # Truncated: links sit near the top, and a body can be megabytes of HTML.
    window = limits.max_text_bytes
    answer = session.fetch([uid], [f"BODY.PEEK[{part.section}]<0.{window}>" for part in texts]).get(uid, {})
    links: list[Link] = []
    seen: set[str] = set()
    for part in texts:
        raw = _body(answer, part.section)
        found.fetched_bytes += len(raw)
        body = decode_transfer(_whole_quads(raw, part.encoding), part.encoding)
        for link in find_links(body, html=part.content_type == "text/html", charset=part.charset, limits=limits):
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


def _name(part: WantedPart, sniffed: str) -> str:
    return part.name or fallback_name(part.section, sniffed, part.content_type)


def _whole_quads(data: bytes, encoding: str) -> bytes:
    """A truncated base64 body cut back to whole 4-character groups, so its tail does not read as damage."""
    if encoding != "base64":
        return data
    compact = b"".join(data.split())
    return compact[: len(compact) - len(compact) % 4]


def _body(answer: dict[bytes, Any], section: str) -> bytes:
    """The bytes of `BODY[section]` (or `BODY[section]<0>`) in a FETCH answer; b'' when absent or NIL."""
    wanted = f"BODY[{section}]".encode()
    for key, value in answer.items():
        if isinstance(key, bytes) and (key == wanted or key.startswith(wanted + b"<")):
            return bytes(value) if isinstance(value, (bytes, bytearray)) else b""
    return b""
