"""A whole message (an .eml file, or `BODY.PEEK[]`) -> its invoice candidates with their bytes, download links
and what was malformed; pure.

`read_message` walks every part, into forwarded messages too, under the rules the IMAP way shares
(`mail_parts`): names from `mail_headers`, bytes from `transfer_encoding`, links from `mail_links`, section
numbers as IMAP's, so a candidate found here has the source key it would have had fetched part by part
(`bodystructure`). The stdlib `email` package (compat32 policy) splits the message into parts; a multipart
whose declared boundary is wrong is split again on the boundary its body uses. Zips are returned whole:
`ingest.unpack.unpack` opens them, with its bounds, like any other zip.

Nothing here raises on bad input: whatever is malformed becomes a line in `problems`, or an Attachment
with a `problem`, and everything readable is still returned.
"""

from __future__ import annotations

import dataclasses
import email
import email.utils
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import compat32

from ingest.extract.reader import sniff
from ingest.sources.mail_headers import (
    decode_header_text,
    parse_header_block,
    part_charset,
    part_content_type,
    part_disposition,
    part_filename,
    part_transfer_encoding,
    plain_header,
)
from ingest.sources.mail_links import Link, find_links
from ingest.sources.mail_parts import (
    DEFAULT_LIMITS,
    ENCAPSULATED_TYPES,
    MailLimits,
    Verdict,
    fallback_name,
    is_text_body,
    join_section,
    judge_part,
)
from ingest.sources.transfer_encoding import UUENCODE_NAMES, decode_transfer_with_problem

_MAX_HEADER_BYTES = 1024 * 1024  # of a message too big or too deep to parse: its envelope is read from this much

_BOUNDARY_LINE = re.compile(r"^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(?:--)?[ \t]*\r?$", re.MULTILINE)

_DEFECT_TEXT = {
    "NoBoundaryInMultipartDefect": "multipart without a boundary parameter",
    "StartBoundaryNotFoundDefect": "the declared multipart boundary never appears",
    "CloseBoundaryNotFoundDefect": "multipart not closed (message truncated?)",
    "FirstHeaderLineIsContinuationDefect": "header starts with a continuation line",
    "MisplacedEnvelopeHeaderDefect": "a 'From ' line among the headers",
    "MissingHeaderBodySeparatorDefect": "no blank line between header and body",
    "MultipartInvariantViolationDefect": "declared multipart but has no parts",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with a transfer encoding other than 7bit/8bit/binary",
    "InvalidBase64PaddingDefect": "damaged base64 padding",
    "InvalidBase64CharactersDefect": "invalid characters in base64",
    "InvalidBase64LengthDefect": "base64 data of impossible length (truncated?)",
}


@dataclass(frozen=True)
class Attachment:
    """A part that may be an invoice."""

    section: str  # IMAP section number: '2', '1.2', '3.1' inside a forwarded message at part 3
    name: str  # decoded; 'attachment-<section>.<ext>' when the part has none
    content_type: str  # as declared, lowercased
    data: bytes  # transfer encoding decoded; b'' when `problem` is set
    inline: bool  # Content-Disposition is not 'attachment' (inline, or absent)
    problem: str | None = None  # why the bytes are not here (over a limit); the caller records it


@dataclass(frozen=True)
class MailContents:
    """What read_message found in one message."""

    subject: str
    sender_address: str  # 'name@example.com', '' when there is none
    sender_name: str  # display name, decoded; '' when there is none
    message_id: str | None  # as written, with its angle brackets
    date: datetime | None
    attachments: tuple[Attachment, ...] = ()
    links: tuple[Link, ...] = ()
    problems: tuple[str, ...] = ()  # what was malformed or over a limit; the rest was still read


@dataclass
class _Reading:
    """What one read_message call has found so far, and what is left of its limits."""

    limits: MailLimits
    parts_left: int
    attachments: list[Attachment] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    out_of_parts: bool = False

    def note(self, section: str, problem: str) -> None:
        """A problem with one part ('' for the message itself), said with where it is."""
        where = f"part {section}" if section else "message"
        self.problems.append(f"{where}: {problem}")


def read_message(data: bytes, *, limits: MailLimits = DEFAULT_LIMITS) -> MailContents:
    """Headers, invoice candidates, download links and problems of one message; never raises.

    Candidates are the parts `judge_part` says YES to, and those it says BY_CONTENT to whose bytes sniff as
    PDF, OFD, XML or zip - at any depth, including inside forwarded (message/rfc822) messages.
    """
    if len(data) > limits.max_message_bytes:
        return _headers_only(
            data, f"message is {len(data)} bytes, over the {limits.max_message_bytes}-byte limit: only its header read"
        )
    try:
        message = email.message_from_bytes(data, policy=compat32)
    except RecursionError:
        return _headers_only(data, "message nests too deeply to parse: only its header read")
    reading = _Reading(limits=limits, parts_left=limits.max_parts)
    try:
        _read_body(message, "", depth=0, reading=reading)
    except RecursionError:  # a bound is missing somewhere; the parts read so far are still good
        reading.problems.append("message nests too deeply: the rest was not read")
    return dataclasses.replace(
        _envelope(message),
        attachments=tuple(reading.attachments),
        links=tuple(reading.links),
        problems=tuple(reading.problems),
    )


def read_envelope(header_bytes: bytes) -> MailContents:
    """Subject, sender, Message-ID and date from a header block alone (the IMAP poller fetches
    `BODY.PEEK[HEADER.FIELDS (...)]`), decoded as read_message decodes them; never raises."""
    return _envelope(parse_header_block(header_bytes))


def _headers_only(data: bytes, problem: str) -> MailContents:
    end = min((i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0), default=_MAX_HEADER_BYTES)
    headers = parse_header_block(data[: min(end, _MAX_HEADER_BYTES)])
    return dataclasses.replace(_envelope(headers), problems=(problem,))


def _envelope(message: Message) -> MailContents:
    """The message's own headers, no parts yet."""
    address, name = _sender(message)
    message_id = plain_header(message, "message-id")
    return MailContents(
        subject=decode_header_text(message.get("subject", "")).strip(),
        sender_address=address,
        sender_name=name,
        message_id="".join(message_id.split()) or None,
        date=_date(plain_header(message, "date")),
    )


def _sender(message: Message) -> tuple[str, str]:
    """(address, decoded display name) of From, else Sender. Addresses are split before names are decoded:
    a decoded name may hold commas and quotes."""
    text = plain_header(message, "from") or plain_header(message, "sender")
    if not text:
        return "", ""
    try:
        pairs = email.utils.getaddresses([text])
    except (TypeError, ValueError, IndexError):
        pairs = []
    with_address = [(name, address) for name, address in pairs if "@" in address]
    if with_address:
        name, address = with_address[0]
        return address.strip(), decode_header_text(name).strip()
    found = re.search(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+", text)
    address = found.group(0) if found else ""
    name = text.replace(address, "").strip(" <>\"'") if address else text
    return address, decode_header_text(name).strip()


def _date(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _read_body(message: Message, prefix: str, *, depth: int, reading: _Reading) -> None:
    """The body of a message (the top one at prefix '', a forwarded one at its part's section).

    RFC 3501: the parts of a multipart body are prefix.1, prefix.2...; a non-multipart body is prefix.1
    ('1' for the top message).
    """
    _note_defects(message, prefix, reading)
    if message.get_content_maintype() == "multipart":
        _read_multipart(message, prefix, depth=depth, nesting=0, reading=reading)
    else:
        _read_part(message, join_section(prefix, 1), depth=depth, nesting=0, reading=reading, top=True)


def _read_part(part: Message, section: str, *, depth: int, nesting: int, reading: _Reading, top: bool = False) -> None:
    if not _take_part(reading):
        return
    if not top:
        _note_defects(part, section, reading)
    kind = part_content_type(part)
    if part.get_content_maintype() == "multipart":
        if nesting >= reading.limits.max_nesting:
            reading.note(section, f"multiparts nested over {reading.limits.max_nesting} levels deep: not read")
            return
        _read_multipart(part, section, depth=depth, nesting=nesting + 1, reading=reading)
        return
    payload = part.get_payload() if kind in ENCAPSULATED_TYPES and part.is_multipart() else None
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        if depth >= reading.limits.max_depth:
            reading.note(section, f"forwarded message nested over {reading.limits.max_depth} levels deep: not read")
            return
        _read_body(payload[0], section, depth=depth + 1, reading=reading)
        return
    _read_leaf(part, section, kind, reading)


def _take_part(reading: _Reading) -> bool:
    if reading.parts_left <= 0:
        if not reading.out_of_parts:
            reading.out_of_parts = True
            reading.problems.append(f"message has more than {reading.limits.max_parts} parts: the rest were not read")
        return False
    reading.parts_left -= 1
    return True


def _read_multipart(part: Message, section: str, *, depth: int, nesting: int, reading: _Reading) -> None:
    children = part.get_payload() if part.is_multipart() else None
    if not isinstance(children, list):
        salvaged = _salvage_multipart(part, section, reading)
        if salvaged is None:
            return
        children = salvaged
    for number, child in enumerate(children, start=1):
        if isinstance(child, Message):
            _read_part(child, join_section(section, number), depth=depth, nesting=nesting, reading=reading)


def _salvage_multipart(part: Message, section: str, reading: _Reading) -> list[Message] | None:
    """The parts of a multipart whose declared boundary is missing or wrong, split on the boundary its body
    actually uses (a line '--X' seen at least twice); None when there is none.

    IMAP servers see no parts there either, so these sections cannot be fetched alone: whoever wants their
    bytes reads the whole message.
    """
    try:
        body = part.get_payload()
    except (ValueError, LookupError):  # a NUL or worse in the charset parameter
        return None
    if not isinstance(body, str):
        return None
    counts = Counter(_BOUNDARY_LINE.findall(body))
    found = [boundary for boundary, count in counts.most_common(1) if count >= 2]
    if not found:
        return None
    rebuilt = email.message_from_string(
        f'Content-Type: {part.get_content_type()}; boundary="{found[0]}"\n\n{body}', policy=compat32
    )
    children = rebuilt.get_payload()
    if not isinstance(children, list) or not children:
        return None
    declared = part.get_boundary()
    reading.note(
        section,
        f"the parts were found by the boundary {found[0]!r} that the body uses, not the declared {declared!r}; "
        "their section numbers are not the server's",
    )
    return [child for child in children if isinstance(child, Message)]


def _note_defects(part: Message, section: str, reading: _Reading) -> None:
    for defect in getattr(part, "defects", ()):
        kind = type(defect).__name__
        reading.note(section, _DEFECT_TEXT.get(kind, kind))


def _read_leaf(part: Message, section: str, kind: str, reading: _Reading) -> None:
    name = part_filename(part)
    disposition = part_disposition(part)
    verdict = judge_part(kind, name)
    limits = reading.limits
    if kind == "application/ms-tnef" or (name or "").lower() == "winmail.dat":
        reading.note(
            section,
            "winmail.dat (Outlook TNEF): attachments packed in it cannot be read; "
            "ask the sender to send plain attachments",
        )
    if verdict is Verdict.NO:
        if is_text_body(kind, disposition, name):
            text = _part_bytes(part, max_bytes=limits.max_text_bytes, truncate=True)
            _add_links(
                reading, find_links(text.data, html=kind == "text/html", charset=part_charset(part), limits=limits)
            )
        return
    inline = disposition != "attachment"
    decoded = _part_bytes(part, max_bytes=limits.max_attachment_bytes, truncate=False)
    if decoded.problem:
        reading.note(section, decoded.problem)
    refusal = decoded.refusal
    if refusal is None and len(decoded.data) > limits.max_attachment_bytes:
        refusal = f"part is {len(decoded.data)} bytes decoded, over the {limits.max_attachment_bytes}-byte limit"
    if refusal is not None:
        # Returned even when only its bytes could have told (BY_CONTENT): the caller records why it was skipped.
        name = name or fallback_name(section, "unknown", kind)
        reading.attachments.append(Attachment(section, name, kind, b"", inline, refusal))
        return
    sniffed = sniff(decoded.data) if decoded.data else "unknown"
    if verdict is Verdict.BY_CONTENT and sniffed == "unknown":
        return
    reading.attachments.append(
        Attachment(section, name or fallback_name(section, sniffed, kind), kind, decoded.data, inline)
    )


@dataclass(frozen=True)
class _Decoded:
    data: bytes
    problem: str | None = None  # damage met while decoding; `data` is what could be read
    refusal: str | None = None  # why there are no bytes at all


def _part_bytes(part: Message, *, max_bytes: int, truncate: bool) -> _Decoded:
    """A leaf part's bytes with the transfer encoding undone: the bytes decode_transfer gives for the part
    fetched alone. A base64 body far over `max_bytes` is refused before decoding, or with `truncate` only
    its first `max_bytes` are decoded.

    Public API only: get_payload(decode=True) hands back the raw bytes of 7bit/8bit/binary parts, and
    decodes quoted-printable with binascii.a2b_qp, as decode_transfer does; get_payload() without decoding
    would run 8-bit bytes through the charset parameter. base64 is decoded here from the text, more
    tolerantly than the stdlib, which returns the base64 text itself when a lone character is left over.
    """
    encoding = part_transfer_encoding(part)
    try:
        if encoding == "base64":
            # Only 8-bit junk in a base64 body could be altered by get_payload(); it is skipped either way.
            text = part.get_payload()
            raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else b""
            if truncate:
                raw = raw[: max_bytes * 2]  # base64 with line breaks: ~1.4 characters a byte
            estimate = (len(raw) - raw.count(b"\n") - raw.count(b"\r")) * 3 // 4
            if estimate > max_bytes + 3 and not truncate:
                return _Decoded(b"", refusal=f"part is about {estimate} bytes decoded, over the {max_bytes}-byte limit")
            return _Decoded(*decode_transfer_with_problem(raw, encoding))
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError) as exc:
        return _Decoded(b"", problem=f"part cannot be read: {exc}")
    if not isinstance(data, bytes):
        return _Decoded(b"")
    stdlib_encoding = str(part.get("content-transfer-encoding", "")).lower()
    if stdlib_encoding == "quoted-printable":
        return _Decoded(data)  # decoded already
    if stdlib_encoding in UUENCODE_NAMES:
        # The stdlib's uudecode differs from decode_transfer's (and hides damage): decode the text here.
        text = part.get_payload()
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else b""
    return _Decoded(*decode_transfer_with_problem(data, encoding))


def _add_links(reading: _Reading, links: list[Link]) -> None:
    seen = {link.url for link in reading.links}
    for link in links:
        if len(reading.links) >= reading.limits.max_links:
            return
        if link.url not in seen:
            seen.add(link.url)
            reading.links.append(link)
