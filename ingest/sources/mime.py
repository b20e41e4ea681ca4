"""The one reader of mail: a whole message (an .eml file, a message of an mbox, or `BODY.PEEK[]`), or one part
fetched alone over IMAP -> every attachment with what it is and whether it may be an invoice, download links,
and what was malformed; pure.

`read_message` walks every part, into forwarded messages too, under the rules the IMAP way shares
(`mail_parts`): names from `mail_headers`, bytes from `transfer_encoding`, links from `mail_links`, section
numbers as IMAP's, so a candidate found here has the source key it would have had fetched part by part
(`bodystructure`). Each leaf goes through `read_part`, which the IMAP poller (`mail_fetch`) calls on a part it
fetched alone: one reader, whichever way the bytes came.

The stdlib `email` package (compat32 policy) splits the message into parts; on top of it, what real mail needs:
a boundary written in 8-bit bytes is matched as those bytes; a multipart whose declared boundary is wrong is
split again on the boundary its body uses; a forwarded message that is itself base64 or quoted-printable is
decoded, then read; names follow RFC 2231 and RFC 2047 wherever mailers put them, raw 8-bit names are read in
the declared charset; base64 is read leniently; uuencoded files (in a part, or inside a text body) and Outlook's
winmail.dat (`tnef`) are unpacked into their files. Zips are returned whole: `ingest.unpack.unpack` opens them,
with its bounds, like any other zip.

Nothing here raises on bad input: whatever is malformed becomes a line in `problems`, or an Attachment with a
`problem`, and everything readable is still returned.
"""

from __future__ import annotations

import dataclasses
import email
import email.utils
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import compat32
from typing import TypeVar, overload

from ingest.extract.reader import sniff
from ingest.sources.mail_headers import (
    PartInfo,
    decode_bytes,
    decode_header_text,
    parse_header_block,
    part_charset,
    part_content_type,
    part_info,
    part_transfer_encoding,
    plain_header,
    raw_boundary,
)
from ingest.sources.mail_links import Link, find_links
from ingest.sources.mail_parts import (
    DEFAULT_LIMITS,
    ENCAPSULATED_TYPES,
    ENCODED_TRANSFERS,
    SNIFF_BYTES,
    MailLimits,
    Verdict,
    clean_file_name,
    fallback_name,
    is_attachment,
    is_text_body,
    is_tnef,
    join_section,
    judge_part,
    member_content_type,
    whole_quads,
)
from ingest.sources.tnef import unpack_tnef
from ingest.sources.transfer_encoding import decode_transfer, decode_transfer_with_problem, find_uuencoded

_T = TypeVar("_T")

_MAX_HEADER_BYTES = 1024 * 1024  # of a message too big or too deep to parse: its envelope is read from this much

# A line '--X' that may be a boundary: RFC 2046's characters, and 8-bit bytes, which some mailers put there.
_BOUNDARY_LINE = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?\x80-\xff-]{1,70}?)(?:--)?[ \t]*\r?$", re.MULTILINE)
# The first line of a message: a header field (name, colon) or an mbox 'From ' line.
_HEADER_LINE = re.compile(rb"(?:[!-9;-~]{1,200}[ \t]*:|From )")

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
_SNIFFED_TEXT = {"pdf": "a PDF", "ofd": "an OFD", "xml": "XML", "zip": "a zip"}


@dataclass(frozen=True)
class Attachment:
    """An attached file: a leaf part with a file name, or Content-Disposition attachment, or a type that is not
    text/multipart/message; or a file unpacked from one (a winmail.dat's files, uuencoded files)."""

    section: str  # IMAP section of the MIME part it is in: '2', '1.2', '3.1' inside a forwarded message at part 3
    name: str  # decoded file name exactly as the mail gives it, NOT cleaned ('' when the part has none)
    content_type: str  # as declared, lowercased; for an unpacked file, by its name (`member_content_type`)
    size: int  # decoded bytes (0 when not read)
    sha256: str  # hex of the decoded bytes; '' when not read (problem set)
    data: bytes  # decoded bytes when `candidate` and no problem; b'' otherwise (memory)
    inline: bool  # Content-Disposition is not 'attachment'
    candidate: bool  # may be an invoice: goes to the pipeline
    why: str  # why it is or is not a candidate, for a person: 'declared application/pdf', 'name ends .pdf'...
    forwarded: bool = False  # inside a forwarded message (message/rfc822 at any depth)
    member: str = ""  # a file unpacked FROM the part (winmail.dat, uuencoded block): its name ('#2' if it has none)
    problem: str | None = None  # bytes not read (over a limit, undecodable); the pipeline records it as a failure
    # What its bytes are by sniff(): 'pdf', 'ofd', 'xml', 'zip', else 'unknown' (also when not read). Kept so the
    # name a nameless part is filed under stays the same once `data` is dropped.
    sniffed: str = "unknown"

    @property
    def part(self) -> str:
        """Where it sits: the section, plus '!' and the member for an unpacked file ('2', '2!发票.pdf'), as the
        keys of zip members are written."""
        return f"{self.section}!{self.member}" if self.member else self.section

    @property
    def file_name(self) -> str:
        """The name cleaned for writing a file (no directories, no control characters); for a part without
        one, 'attachment-<section>' and the extension of what its bytes are (`fallback_name`)."""
        cleaned = clean_file_name(self.name)
        if cleaned:
            return cleaned
        return fallback_name(self.section, self.sniffed, self.content_type)


@dataclass(frozen=True)
class MailContents:
    """What read_message found in one message."""

    subject: str
    sender_address: str  # 'name@example.com', '' when there is none
    sender_name: str  # display name, decoded; '' when there is none
    message_id: str | None  # as written, with its angle brackets
    date: datetime | None
    attachments: tuple[Attachment, ...] = ()  # every attachment, candidate or not, in the order of the message
    links: tuple[Link, ...] = ()
    problems: tuple[str, ...] = ()  # what was malformed or over a limit; the rest was still read

    @property
    def candidates(self) -> tuple[Attachment, ...]:
        """The attachments that may be invoices (with or without a problem): what goes to the pipeline."""
        return tuple(attachment for attachment in self.attachments if attachment.candidate)


@dataclass(frozen=True)
class PartContents:
    """What one leaf part holds (`read_part`)."""

    attachments: tuple[Attachment, ...] = ()  # the part itself when it is an attachment, then its unpacked files
    links: tuple[Link, ...] = ()  # of a text body
    problems: tuple[str, ...] = ()  # 'part 2: ...'

    @property
    def candidates(self) -> tuple[Attachment, ...]:
        return tuple(attachment for attachment in self.attachments if attachment.candidate)


# ---------------------------------------------------------------------------------------------------------
# A whole message


def read_message(data: bytes, *, limits: MailLimits = DEFAULT_LIMITS) -> MailContents:
    """Headers, every attachment, download links and problems of one message; never raises.

    Candidates are the parts `judge_part` says YES to, and those it says BY_CONTENT to whose bytes sniff as
    PDF, OFD, XML or zip - at any depth, including inside forwarded (message/rfc822) messages, winmail.dat and
    uuencoded blocks.
    """
    # Saved mail sometimes starts with blank lines or a UTF-8 byte order mark, which hide the header from the parser.
    data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    data = data.lstrip(b"\r\n")
    if not _HEADER_LINE.match(data):
        start = data[:16]
        what = "it is empty" if not data.strip() else f"it does not start with a header line ({start!r}...)"
        return MailContents("", "", "", None, None, problems=(f"not a mail message: {what}",))
    if len(data) > limits.max_message_bytes:
        return _headers_only(
            data, f"message is {len(data)} bytes, over the {limits.max_message_bytes}-byte limit: only its header read"
        )
    try:
        message = email.message_from_bytes(data, _class=_Part, policy=compat32)
    except RecursionError:
        return _headers_only(data, "message nests too deeply to parse: only its header read")
    reading = _Reading(limits=limits, parts_left=limits.max_parts)
    try:
        _read_body(message, "", depth=0, forwarded=False, charset=None, reading=reading)
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


class _Part(Message):
    """A part as the stdlib parser builds it, corrected where real mail fools it.

    A message/rfc822 part whose body is base64 or quoted-printable (RFC 2046 forbids it; some mailers do it)
    holds encoded text, not a message: the parser is told it is a leaf, and the walk decodes it and reads the
    message inside. A boundary written in 8-bit bytes is compared as those bytes (compat32 would turn them into
    U+FFFD and find no parts).
    """

    def get_content_maintype(self) -> str:
        maintype = super().get_content_maintype()
        if maintype == "message" and part_transfer_encoding(self) in ENCODED_TRANSFERS:
            return "application"
        return maintype

    @overload
    def get_boundary(self, failobj: None = None) -> str | None: ...
    @overload
    def get_boundary(self, failobj: _T) -> str | _T: ...
    def get_boundary(self, failobj: object = None) -> object:
        boundary = raw_boundary(self)
        return boundary if boundary is not None else super().get_boundary(failobj)


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
        self.problems.append(_where(section, problem))

    def add(self, contents: PartContents) -> None:
        self.attachments.extend(contents.attachments)
        self.problems.extend(contents.problems)
        seen = {link.url for link in self.links}
        for link in contents.links:
            if len(self.links) >= self.limits.max_links:
                break
            if link.url not in seen:
                seen.add(link.url)
                self.links.append(link)


def _where(section: str, problem: str) -> str:
    return f"part {section}: {problem}" if section else f"message: {problem}"


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


def _read_body(
    message: Message, prefix: str, *, depth: int, forwarded: bool, charset: str | None, reading: _Reading
) -> None:
    """The body of a message (the top one at prefix '', a forwarded one at its part's section).

    RFC 3501: the parts of a multipart body are prefix.1, prefix.2...; a non-multipart body is prefix.1
    ('1' for the top message). `charset` is the nearest one declared around: raw 8-bit names of a part that
    declares none are read in it.
    """
    _note_defects(message, prefix, reading)
    if message.get_content_maintype() == "multipart":
        inherited = part_charset(message) or charset
        _read_multipart(
            message, prefix, depth=depth, nesting=0, forwarded=forwarded, charset=inherited, reading=reading
        )
    else:
        section = join_section(prefix, 1)
        _read_part(
            message, section, depth=depth, nesting=0, forwarded=forwarded, charset=charset, reading=reading, top=True
        )


def _read_part(
    part: Message,
    section: str,
    *,
    depth: int,
    nesting: int,
    forwarded: bool,
    charset: str | None,
    reading: _Reading,
    top: bool = False,
) -> None:
    if not _take_part(reading):
        return
    if not top:  # a non-multipart body's defects were noted as its message's
        _note_defects(part, section, reading)
    kind = part_content_type(part)
    if part.get_content_maintype() == "multipart":
        if nesting >= reading.limits.max_nesting:
            reading.note(section, f"multiparts nested over {reading.limits.max_nesting} levels deep: not read")
            return
        inherited = part_charset(part) or charset
        _read_multipart(
            part, section, depth=depth, nesting=nesting + 1, forwarded=forwarded, charset=inherited, reading=reading
        )
        return
    if kind in ENCAPSULATED_TYPES:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
        encoded = part_transfer_encoding(part) in ENCODED_TRANSFERS
        if inner is not None or encoded:
            if depth >= reading.limits.max_depth:
                reading.note(section, f"forwarded message nested over {reading.limits.max_depth} levels deep: not read")
                return
            if inner is None:
                inner = _decoded_forward(part, section, reading)
            if inner is not None:
                _read_body(inner, section, depth=depth + 1, forwarded=True, charset=charset, reading=reading)
            return
    info = part_info(part, charset)
    reading.add(read_part(info, _raw_body(part), section, limits=reading.limits, forwarded=forwarded))


def _decoded_forward(part: Message, section: str, reading: _Reading) -> Message | None:
    """The message inside a message/rfc822 part that is itself base64 or quoted-printable."""
    encoding = part_transfer_encoding(part)
    decoded = _decode(_raw_body(part), encoding, reading.limits.max_message_bytes)
    if decoded.problem:
        reading.note(section, decoded.problem)
    if decoded.refusal:
        reading.note(section, f"forwarded message: {decoded.refusal}: not read")
        return None
    try:
        return email.message_from_bytes(decoded.data, _class=_Part, policy=compat32)
    except RecursionError:
        reading.note(section, "forwarded message nests too deeply to parse: not read")
        return None


def _take_part(reading: _Reading) -> bool:
    if reading.parts_left <= 0:
        if not reading.out_of_parts:
            reading.out_of_parts = True
            reading.problems.append(f"message has more than {reading.limits.max_parts} parts: the rest were not read")
        return False
    reading.parts_left -= 1
    return True


def _read_multipart(
    part: Message,
    section: str,
    *,
    depth: int,
    nesting: int,
    forwarded: bool,
    charset: str | None,
    reading: _Reading,
) -> None:
    children = part.get_payload() if part.is_multipart() else None
    if not isinstance(children, list):
        salvaged = _salvage_multipart(part, section, reading)
        if salvaged is None:
            return
        children = salvaged
    for number, child in enumerate(children, start=1):
        if isinstance(child, Message):
            child_section = join_section(section, number)
            _read_part(
                child,
                child_section,
                depth=depth,
                nesting=nesting,
                forwarded=forwarded,
                charset=charset,
                reading=reading,
            )


def _salvage_multipart(part: Message, section: str, reading: _Reading) -> list[Message] | None:
    """The parts of a multipart whose declared boundary is missing or wrong, split on the boundary its body
    actually uses (a line '--X' seen at least twice); None when there is none.

    IMAP servers see no parts there either, so these sections cannot be fetched alone: whoever wants their
    bytes reads the whole message.
    """
    body = _raw_body(part)
    counts = Counter(_BOUNDARY_LINE.findall(body))
    found = [boundary for boundary, count in counts.most_common(1) if count >= 2]
    if not found:
        return None
    head = b'Content-Type: multipart/mixed; boundary="' + found[0] + b'"\r\n\r\n'
    try:
        rebuilt = email.message_from_bytes(head + body, _class=_Part, policy=compat32)
    except RecursionError:
        return None
    children = rebuilt.get_payload()
    if not isinstance(children, list) or not children:
        return None
    declared = part.get_boundary()
    shown = found[0].decode("ascii", "backslashreplace")
    reading.note(
        section,
        f"the parts were found by the boundary {shown!r} that the body uses, not the declared {declared!r}; "
        "their section numbers are not the server's",
    )
    return [child for child in children if isinstance(child, Message)]


def _note_defects(part: Message, section: str, reading: _Reading) -> None:
    for defect in getattr(part, "defects", ()):
        kind = type(defect).__name__
        reading.note(section, _DEFECT_TEXT.get(kind, kind))


def _raw_body(part: Message) -> bytes:
    """A leaf's body as it stands in the message: transfer-encoded, 8-bit bytes untouched.

    get_payload(decode=True) hands back exactly those bytes for a part with no Content-Transfer-Encoding
    (get_payload() alone would run 8-bit bytes through the charset parameter), so the header is taken off this
    part, whose headers have all been read by then. The stdlib's own decoding is not used: read_part decodes
    the way a part fetched alone over IMAP is decoded.
    """
    del part["content-transfer-encoding"]
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError):
        return b""
    return data if isinstance(data, bytes) else b""


# ---------------------------------------------------------------------------------------------------------
# One leaf part, whichever way it came


def read_part(
    info: PartInfo, raw: bytes, section: str, *, limits: MailLimits = DEFAULT_LIMITS, forwarded: bool = False
) -> PartContents:
    """What one leaf part holds, from its header (`part_header_info` on `BODY.PEEK[n.MIME]`, or a part of a
    whole message) and its body as it stands (transfer-encoded); never raises. read_message calls it on every
    leaf, the IMAP poller on every part it fetches alone.

    An attachment comes back as one Attachment, decoded (within `max_attachment_bytes`) for its size and sha256,
    its bytes kept only when it is a candidate; a winmail.dat also gives the files packed in it, each judged on
    its own name and bytes. A text body gives its download links, and a text/plain body the files uuencoded in it
    ('begin 644 name' blocks); the body itself is not an attachment.
    """
    kind, name = info.content_type, info.filename
    found = _PartFound(section=section, forwarded=forwarded, inline=info.disposition != "attachment")
    if is_attachment(kind, info.disposition, name):
        _read_attachment(info, raw, limits, found)
    else:
        _read_text_body(info, raw, limits, found)
    return PartContents(tuple(found.attachments), tuple(found.links), tuple(found.problems))


@dataclass
class _PartFound:
    section: str
    forwarded: bool
    inline: bool
    attachments: list[Attachment] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def attachment(
        self,
        name: str,
        content_type: str,
        data: bytes | None,
        *,
        candidate: bool,
        why: str,
        member: str = "",
        problem: str | None = None,
    ) -> None:
        """One attachment; `data` None when its bytes were not read (then `problem` says why)."""
        read = data is not None and problem is None
        self.attachments.append(
            Attachment(
                section=self.section,
                name=name,
                content_type=content_type,
                size=len(data) if data is not None else 0,
                sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
                data=data if read and candidate and data is not None else b"",
                inline=self.inline,
                candidate=candidate,
                why=why,
                forwarded=self.forwarded,
                member=member,
                problem=problem,
                sniffed=sniff(data) if read and data else "unknown",
            )
        )


def _read_attachment(info: PartInfo, raw: bytes, limits: MailLimits, found: _PartFound) -> None:
    kind, name = info.content_type, info.filename or ""
    verdict = judge_part(kind, name)
    decoded = _decode(raw, info.transfer_encoding, limits.max_attachment_bytes)
    if decoded.problem:
        found.problems.append(_where(found.section, decoded.problem))
    tnef = is_tnef(kind, name)
    if decoded.refusal is not None:
        # Over the limit: not read, but still judged - on its first bytes when only they can tell.
        head = sniff(decode_transfer(whole_quads(raw[:SNIFF_BYTES], info.transfer_encoding), info.transfer_encoding))
        candidate, why = _judge(kind, name, verdict, head)
        if tnef:
            candidate, why = True, "Outlook winmail.dat (TNEF), which may hold invoices"
        found.attachment(name, kind, None, candidate=candidate, why=why, problem=decoded.refusal)
        return
    if tnef:
        _read_tnef(name, kind, decoded.data, limits, found)
        return
    candidate, why = _judge(kind, name, verdict, sniff(decoded.data))
    problem = "part is empty (0 bytes)" if candidate and not decoded.data else None
    found.attachment(name, kind, decoded.data, candidate=candidate, why=why, problem=problem)


def _read_tnef(name: str, kind: str, data: bytes, limits: MailLimits, found: _PartFound) -> None:
    """A winmail.dat, then the files packed in it. One that cannot be unpacked at all is a candidate with a
    problem: it may hold an invoice, and a person should hear of it."""
    unpacked = unpack_tnef(data, max_files=limits.max_parts)
    if unpacked.problem:
        found.problems.append(_where(found.section, unpacked.problem))
    if unpacked.problem and not unpacked.files:
        why = "Outlook winmail.dat (TNEF), which may hold invoices"
        found.attachment(name, kind, data, candidate=True, why=why, problem=unpacked.problem)
        return
    why = f"Outlook winmail.dat (TNEF) holding {len(unpacked.files)} file(s), listed after it"
    found.attachment(name, kind, data, candidate=False, why=why)
    for number, packed in enumerate(unpacked.files, start=1):
        _add_member(found, packed.name, packed.data, packed.problem, number, limits)


def _read_text_body(info: PartInfo, raw: bytes, limits: MailLimits, found: _PartFound) -> None:
    kind, encoding = info.content_type, info.transfer_encoding
    if not is_text_body(kind, info.disposition, info.filename):
        return
    # Links sit near the top; only a text/plain body is read whole, for the files uuencoded in it.
    decoded = _decode(raw, encoding, limits.max_attachment_bytes) if kind == "text/plain" else None
    if decoded is not None and decoded.refusal is None:
        text = decoded.data
    else:
        text = decode_transfer(whole_quads(raw[: 2 * limits.max_text_bytes], encoding), encoding)
    if decoded is not None and decoded.refusal is not None:
        found.problems.append(_where(found.section, f"text body not searched for uuencoded files: {decoded.refusal}"))
    found.links.extend(find_links(text, html=kind == "text/html", charset=info.charset, limits=limits))
    if kind == "text/plain" and b"begin" in text:
        for number, uu in enumerate(find_uuencoded(text, max_files=limits.max_parts), start=1):
            name = decode_bytes(uu.name, info.charset)
            _add_member(found, name, uu.data, uu.problem, number, limits)


def _add_member(
    found: _PartFound, name: str, data: bytes, problem: str | None, number: int, limits: MailLimits
) -> None:
    """A file unpacked from a part, judged by its own name and bytes as an application/octet-stream part."""
    member = name or f"#{number}"
    kind = member_content_type(name)
    if problem is None and len(data) > limits.max_attachment_bytes:
        problem = f"file is {len(data)} bytes, over the {limits.max_attachment_bytes}-byte limit"
    verdict = judge_part("application/octet-stream", name)
    candidate, why = _judge("application/octet-stream", name, verdict, sniff(data) if data else "unknown")
    why = why.replace("application/octet-stream whose", "an unpacked file whose")
    if problem is not None:
        candidate = candidate or verdict is not Verdict.NO
        found.attachment(name, kind, data or None, candidate=candidate, why=why, member=member, problem=problem)
        return
    if candidate and not data:
        problem = "file is empty (0 bytes)"
    found.attachment(name, kind, data, candidate=candidate, why=why, member=member, problem=problem)


def _judge(kind: str, name: str, verdict: Verdict, sniffed: str) -> tuple[bool, str]:
    """Whether a part is a candidate, and why, for a person. `sniffed` is what its bytes are ('unknown' when
    they are not at hand)."""
    extension = _extension(name)
    if verdict is Verdict.YES:
        return True, f"declared {kind}" if judge_part(kind, None) is Verdict.YES else f"name ends {extension}"
    if verdict is Verdict.BY_CONTENT:
        if sniffed in _SNIFFED_TEXT:
            return True, f"{kind} whose bytes are {_SNIFFED_TEXT[sniffed]}"
        return False, f"{kind} whose bytes are not PDF/OFD/XML/zip"
    if judge_part(kind, "") is Verdict.BY_CONTENT and extension:
        return False, f"name ends {extension}: not a file invoices come in"
    return False, f"{kind}: not a type invoices come in"


def _extension(name: str) -> str:
    base = clean_file_name(name).lower()
    return "." + base.rsplit(".", 1)[1] if "." in base else ""


@dataclass(frozen=True)
class _Decoded:
    data: bytes
    problem: str | None = None  # damage met while decoding; `data` is what could be read
    refusal: str | None = None  # why there are no bytes at all


def _decode(raw: bytes, encoding: str, max_bytes: int) -> _Decoded:
    """A body with its transfer encoding undone, as decode_transfer does for a part fetched alone; refused
    (no bytes) when over `max_bytes` decoded - a base64 body far over it before decoding."""
    if encoding == "base64":
        estimate = (len(raw) - raw.count(b"\n") - raw.count(b"\r")) * 3 // 4
        if estimate > max_bytes + 3:
            return _Decoded(b"", refusal=f"part is about {estimate} bytes decoded, over the {max_bytes}-byte limit")
    data, problem = decode_transfer_with_problem(raw, encoding)
    if len(data) > max_bytes:
        return _Decoded(b"", problem, f"part is {len(data)} bytes decoded, over the {max_bytes}-byte limit")
    return _Decoded(data, problem)
