"""Mail -> the parts that may be invoices (names decoded, bytes decoded, type sniffed) and download links; pure.

Two ways in, one set of rules:

- `read_message` takes a whole message (an .eml file, or `BODY.PEEK[]`) and returns its invoice candidates
  with their bytes, the download links in its text, and what was malformed.
- `wanted_sections` takes the BODYSTRUCTURE imapclient returns and says which sections to fetch; a part
  fetched alone goes through `decode_transfer`, and its header block (`BODY.PEEK[n.MIME]`) through
  `part_header_info`, which decodes names with the same code as `read_message`.

Sections are IMAP section numbers (RFC 3501 6.4.5), so a part found here can be fetched by its number, and
the source key of a candidate is the same whichever way it came in.

The stdlib `email` package (compat32 policy) splits messages into parts and RFC 2231 parameters into
pieces; decoding of names and subjects is done here, because the stdlib gets Chinese mail wrong:
GB2312-labelled GBK characters, encoded words split mid-character, raw 8-bit GBK in headers, and non-ASCII
text around encoded words (`email.header.decode_header` turns it into `\\uXXXX` escapes). Zips are returned
whole: `ingest.unpack.unpack` opens them, with its bounds, like any other zip.

Nothing here raises on bad input: whatever is malformed becomes a line in `problems`, or an Attachment
with a `problem`, and everything readable is still returned.
"""

from __future__ import annotations

import binascii
import codecs
import dataclasses
import email
import email.errors
import email.header
import email.utils
import html
import itertools
import re
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from enum import StrEnum

from ingest.extract.reader import sniff

_MIB = 1024 * 1024

INVOICE_EXTENSIONS = (".pdf", ".ofd", ".xml", ".zip")

# Declared types that say "invoice file" on their own.
_INVOICE_TYPES = frozenset(
    {
        "application/pdf",
        "application/x-pdf",
        "application/acrobat",
        "applications/vnd.pdf",
        "text/pdf",
        "application/ofd",
        "application/x-ofd",
        "application/xml",
        "text/xml",
        "application/zip",
        "application/x-zip",
        "application/x-zip-compressed",
    }
)
# Declared types that say nothing: only a name or the bytes can tell what the part is.
_GENERIC_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/x-octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/download",
        "application/x-download",
        "application/force-download",
        "application/unknown",
        "application/x-unknown",
    }
)
_ENCAPSULATED_TYPES = frozenset({"message/rfc822", "message/global"})
_SNIFFED_EXTENSIONS = {"pdf": ".pdf", "ofd": ".ofd", "xml": ".xml", "zip": ".zip"}
_TYPE_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "application/ofd": ".ofd",
    "application/x-ofd": ".ofd",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/zip": ".zip",
    "application/x-zip": ".zip",
    "application/x-zip-compressed": ".zip",
}
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")

# GB2312 and GBK mail routinely carries characters outside the label (镕, 喆, 昇); GB18030 is the superset
# that decodes them all. Big5 mail from Taiwan uses the Microsoft extensions (cp950), Hong Kong mail HKSCS.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "big5": "cp950",
    "big-5": "cp950",
    "x-big5": "cp950",
    "cn-big5": "cp950",
    "csbig5": "cp950",
    "utf8": "utf-8",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "windows-1252": "cp1252",
}
# Labels that promise nothing about 8-bit bytes: such bytes are decoded like raw header bytes.
_NO_CHARSET = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default"})
_FALLBACK_CODECS = {"cp950": ("big5hkscs",)}

# An RFC 2047 encoded word. The text may hold spaces: some mailers fold inside a word, and unfolding leaves
# one. An RFC 2231 language suffix (charset*lang) is allowed and ignored.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAKS = re.compile(r"[\r\n\t]")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/=]")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]+=*")
_BASE64_INVALID = re.compile(rb"[^A-Za-z0-9+/=\s]")
# A percent-encoded plain value ('%E5%8F%91.pdf', "gbk''%B7%A2.pdf"): at least one escape of a byte over 0x7F.
# The character class leaves out '%', so each character can be read one way only (no backtracking blow-up).
_PERCENT_NAME = re.compile(
    r"(?:([A-Za-z0-9_.:-]+)'[A-Za-z-]*')?"  # an RFC 2231 charset'language' prefix, written where it does not belong
    r"((?:%[0-9A-Fa-f]{2}|[ !#-$&-~])*%[89A-Fa-f][0-9A-Fa-f].*)"
)
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)')
_PIECE = re.compile(r"^(?P<key>[^*]+)\*(?P<index>\d+)\*?$")
_UUENCODE_NAMES = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_SURROGATES_PARKED = {0xDC00 + byte: 0xE000 + byte for byte in range(0x80, 0x100)}
_SURROGATES_UNPARKED = {private: surrogate for surrogate, private in _SURROGATES_PARKED.items()}
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


class Verdict(StrEnum):
    """Whether a part may carry an invoice, judged from its declared type and name."""

    YES = "yes"  # an invoice type, or a name ending .pdf/.ofd/.xml/.zip: take it
    BY_CONTENT = "by_content"  # a type that says nothing and no telling name: take it if its bytes sniff as one
    NO = "no"


@dataclass(frozen=True)
class MailLimits:
    """Bounds that keep one hostile or odd message from taking the daemon's time or memory."""

    max_message_bytes: int = 100 * _MIB  # bigger messages: headers only, and a problem
    max_attachment_bytes: int = 50 * _MIB  # one decoded part (the extractor's own file limit)
    max_parts: int = 500  # MIME parts walked, over the whole tree
    max_depth: int = 5  # forwarded messages inside forwarded messages (message/rfc822 nesting)
    max_nesting: int = 30  # multiparts inside multiparts
    max_links: int = 20
    max_text_bytes: int = 2 * _MIB  # of each text body, searched for links


@dataclass(frozen=True)
class PartInfo:
    """What a part's MIME header says; see `part_header_info`."""

    content_type: str  # lowercased 'type/subtype'; 'text/plain' when missing or unreadable (RFC 2045)
    filename: str | None  # decoded; Content-Disposition filename, else Content-Type name
    disposition: str | None  # lowercased 'attachment' / 'inline', None when absent
    charset: str | None  # lowercased, as declared
    transfer_encoding: str  # lowercased; '7bit' when absent

    @property
    def verdict(self) -> Verdict:
        return judge_part(self.content_type, self.filename)


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
class Link:
    """A URL in a text body that looks like an invoice download (see `is_download_link`)."""

    url: str
    text: str  # the link's own text (HTML anchor), or the text before it on its line


@dataclass(frozen=True)
class MailContents:
    subject: str
    sender_address: str  # 'name@example.com', '' when there is none
    sender_name: str  # display name, decoded; '' when there is none
    message_id: str | None  # as written, with its angle brackets
    date: datetime | None
    attachments: tuple[Attachment, ...] = ()
    links: tuple[Link, ...] = ()
    problems: tuple[str, ...] = ()  # what was malformed or over a limit; the rest was still read


@dataclass(frozen=True)
class WantedPart:
    """A section of a message worth fetching, judged from its BODYSTRUCTURE alone."""

    section: str  # fetch BODY.PEEK[section], then decode_transfer(data, encoding)
    content_type: str  # lowercased
    name: str | None  # decoded from the structure (best effort when needs_header)
    size: int  # bytes on the server, transfer-encoded
    encoding: str  # transfer encoding, lowercased
    inline: bool
    charset: str | None
    # The name in the structure was encoded (RFC 2047, RFC 2231 or raw 8-bit): fetch header_section and use
    # part_header_info(...) for the exact name and a final verdict, as read_message would.
    needs_header: bool
    needs_sniff: bool  # the verdict is BY_CONTENT: keep the part only if sniff() recognises its bytes
    header_section: str  # 'n.MIME'; 'HEADER' or 'n.HEADER' for the body of a non-multipart message


# ---------------------------------------------------------------------------------------------------------
# Header text


def decode_header_text(value: str | bytes | Header) -> str:
    """A header value as text: encoded words decoded, raw 8-bit bytes decoded, folding undone; never raises.

    Encoded words (RFC 2047) are decoded wherever they appear, also inside quotes, where mailers put them
    though the RFC says not to. Adjacent words in the same charset are joined before decoding, so a
    character split across two words comes out whole. GB2312 and GBK are read as GB18030, their superset.
    Raw 8-bit bytes (and `str` from the email package carrying them as surrogate escapes) are read as
    UTF-8, else GB18030. What cannot be decoded becomes U+FFFD.
    """
    return _decode_encoded_words(_raw_header_text(value))


def _raw_header_text(value: str | bytes | Header) -> str:
    """A header value as text with raw 8-bit bytes decoded and folding undone, encoded words left as they are.

    compat32 hands out a header holding 8-bit bytes as a Header whose str() turns them into U+FFFD, and
    parameters of such a header as str with surrogate escapes: both are taken back to bytes here.
    """
    if isinstance(value, Header):
        chunks = []
        for chunk, charset in email.header.decode_header(value):
            data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
            chunks.append(_decode_raw(data) if _codec(charset) is None else decode_bytes(data, charset))
        text = "".join(chunks)
    elif isinstance(value, bytes):
        text = _decode_raw(value)
    else:
        text = str(value)
    if _has_surrogates(text):
        text = _decode_raw(text.encode("utf-8", "surrogateescape"))
    return _LINE_BREAKS.sub(" ", _FOLD.sub("", text))


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _decode_raw(data: bytes) -> str:
    """Bytes that came with no (trustworthy) charset: UTF-8 if they are valid UTF-8, else GB18030."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("gb18030", "replace")


def _codec(label: str | None) -> str | None:
    """The Python codec for a declared charset, GB2312/GBK widened to GB18030; None when unknown or empty."""
    if label is None:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _NO_CHARSET:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
        b"a".decode(codec, "ignore")  # base64, hex, rot13 are codecs too, but not charsets (b"" would not tell)
    except (LookupError, ValueError):
        return None
    return codec


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` in the declared `charset`; when that fails or is unknown, read as raw bytes (UTF-8, GB18030).

    A label is often wrong (GBK bytes labelled UTF-8), so a strict failure tries the raw decodings before
    settling for replacement characters in the declared charset.
    """
    codec = _codec(charset)
    if codec is None:
        return _decode_raw(data)
    for name in (codec, *_FALLBACK_CODECS.get(codec, ())):
        try:
            return data.decode(name)
        except UnicodeError:  # idna and punycode raise plain UnicodeError
            continue
    for name in ("utf-8", "gb18030"):
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode(codec, "replace")
    except UnicodeError:
        return data.decode("gb18030", "replace")


def _decode_encoded_words(text: str) -> str:
    pieces: list[str | tuple[bytes, str | None]] = []  # literal text, or a decoded word's (bytes, codec)
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        # Whitespace between two encoded words is folding, not text (RFC 2047 6.2).
        if between and not (between.isspace() and pieces and isinstance(pieces[-1], tuple)):
            pieces.append(between)
        charset, encoding, payload = match.groups()
        word = _word_bytes(encoding, payload)
        codec = _codec(charset)
        last = pieces[-1] if pieces else None
        if isinstance(last, tuple) and last[1] == codec:
            pieces[-1] = (last[0] + word, codec)  # joined before decoding: a character may span words
        else:
            pieces.append((word, codec))
        position = match.end()
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(piece if isinstance(piece, str) else decode_bytes(*piece) for piece in pieces)


def _word_bytes(encoding: str, payload: str) -> bytes:
    raw = payload.encode("ascii", "surrogateescape") if payload.isascii() else payload.encode("utf-8")
    if encoding in "bB":
        return _base64_decode(raw)[0]
    # Q encoding (RFC 2047 4.2): '_' is a space, '=XX' a byte; a stray '=' is kept as it is.
    return binascii.a2b_qp(raw, header=True)


# ---------------------------------------------------------------------------------------------------------
# Transfer encodings


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Bytes of a part as fetched (`BODY.PEEK[n]`) with its Content-Transfer-Encoding undone; never raises.

    base64 ignores line breaks and junk characters, and tolerates missing or doubled padding (several
    base64 runs glued together decode one after another); quoted-printable keeps malformed escapes as they
    are; uuencode (x-uuencode, uue) is read between its begin and end lines; 7bit, 8bit, binary and unknown
    encodings give the bytes back unchanged.
    """
    return _decode_transfer(data, encoding)[0]


def _decode_transfer(data: bytes, encoding: str) -> tuple[bytes, str | None]:
    """The decoded bytes and, when the encoding was damaged or unknown, what was wrong."""
    name = encoding.strip().strip("\"'").lower()
    if name == "base64":
        return _base64_decode(data)
    if name == "quoted-printable":
        return binascii.a2b_qp(data), None
    if name in ("", "7bit", "8bit", "binary"):
        return data, None
    if name in _UUENCODE_NAMES:
        return _uu_decode(data)
    return data, f"unknown transfer encoding {encoding.strip()[:40]!r}: bytes kept as they are"


def _uu_decode(data: bytes) -> tuple[bytes, str | None]:
    """uuencode (old Outlook Express and Unix mailers): the lines between 'begin' and 'end'."""
    out = []
    problem = None
    inside = False
    for line in data.splitlines():
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # Some encoders pad lines wrongly; the length byte says how much is real (as the stdlib does).
            length = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out.append(binascii.a2b_uu(line[:length]))
            except binascii.Error:
                problem = "damaged uuencode line (skipped)"
    return b"".join(out), problem


def _base64_decode(data: bytes) -> tuple[bytes, str | None]:
    problem = None
    if _BASE64_INVALID.search(data):
        problem = "base64 data holds characters outside the base64 alphabet (skipped)"
    chunks = []
    for run in _BASE64_RUN.findall(_BASE64_JUNK.sub(b"", data)):
        body = run.rstrip(b"=")
        if len(body) % 4 == 1:
            # One character carries only 6 bits, not a whole byte: the data was cut off.
            body = body[:-1]
            problem = "base64 data ends in the middle of a byte (truncated?)"
        chunks.append(binascii.a2b_base64(body + b"=" * (-len(body) % 4)))
    return b"".join(chunks), problem


# ---------------------------------------------------------------------------------------------------------
# Names and the invoice verdict


def judge_part(content_type: str, name: str | None) -> Verdict:
    """Whether a part may be an invoice, by its declared type and name (the bytes decide later: sniff).

    YES: an invoice type (PDF, OFD, XML, zip), or any type with a name ending .pdf/.ofd/.xml/.zip.
    BY_CONTENT: a type that says nothing (application/octet-stream and kin) with no name or a name without an
    extension: only the bytes can tell. NO: everything else (text bodies, images, office files...).
    """
    kind = content_type.strip().lower()
    if kind in _INVOICE_TYPES:
        return Verdict.YES
    base = (name or "").strip().lower()
    if base.endswith(INVOICE_EXTENSIONS):
        return Verdict.YES
    if kind in _GENERIC_TYPES and not _EXTENSION.search(base):
        return Verdict.BY_CONTENT
    return Verdict.NO


def part_filename(headers: Message) -> str | None:
    """The decoded file name of a part: Content-Disposition filename, else Content-Type name; never raises.

    Handles RFC 2231 (`filename*=gbk''%B7%A2...`, continuations `filename*0*=`/`filename*1*=`, which are
    joined before decoding), RFC 2047 words (also inside quotes), raw 8-bit bytes, and percent-encoded
    plain values. Directory parts and control characters are removed; an empty result is None.
    """
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        name = _name_from_params(_header_params(headers, header), key)
        if name:
            return name
    return None


ParamValue = str | tuple[str | None, str | None, str]


def _header_params(headers: Message, header: str) -> list[tuple[str, ParamValue]]:
    """The parameters of one header, RFC 2231 pieces merged; [] when absent.

    Parsed by the stdlib (`get_params`), but from the raw value: compat32 hands a header with 8-bit bytes to
    its parameter parser as str(Header), which has already turned those bytes into U+FFFD. The raw value
    carries them as surrogate escapes, which are parked in the Private Use Area while the stdlib parses
    (a header parsed from bytes holds only ASCII and surrogates, so nothing else lives there).
    """
    raw = next((value for name, value in headers.raw_items() if name.lower() == header), None)
    if raw is None:
        return []
    text = raw.translate(_SURROGATES_PARKED) if isinstance(raw, str) else str(raw)
    holder = Message()
    holder[header] = text
    params: Sequence[tuple[str, ParamValue]]
    try:
        # Values of RFC 2231 parameters come back as (charset, language, text) tuples, whatever typeshed says.
        params = holder.get_params(failobj=[], header=header)[1:]
    except (TypeError, ValueError):
        # email.utils.decode_params cannot sort `name*` and `name*0*` together: split the header ourselves.
        pairs = [(key.lower(), email.utils.unquote(value.strip())) for key, value in _PARAM.findall(text)]
        params = _merge_param_pieces(pairs)
    return [(key, _unpark(value)) for key, value in params if isinstance(key, str)]


def _unpark(value: ParamValue) -> ParamValue:
    if isinstance(value, tuple):
        charset, language, text = value
        return charset, language, text.translate(_SURROGATES_UNPARKED)
    return value.translate(_SURROGATES_UNPARKED)


def _merge_param_pieces(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, ParamValue]]:
    """RFC 2231 pieces (`name*`, `name*0*`, `name*1`...) merged into one value per name, via the stdlib.

    When a single `name*` and numbered pieces of the same name both appear, the single one is kept.
    """
    singles = {key[:-1] for key, _ in pairs if key.endswith("*") and "*" not in key[:-1]}
    kept = [(key, value) for key, value in pairs if not ((m := _PIECE.match(key)) and m["key"] in singles)]
    try:
        merged = email.utils.decode_params([("", ""), *kept])[1:]
    except (TypeError, ValueError):
        return [(key.rstrip("*"), value) for key, value in kept]
    out: list[tuple[str, ParamValue]] = []
    for key, value in merged:
        if isinstance(value, tuple):
            charset, language, text = value
            out.append((key, (charset, language, email.utils.unquote(text))))
        else:
            out.append((key, email.utils.unquote(value)))
    return out


def _name_from_params(params: Sequence[tuple[str, ParamValue]], key: str) -> str | None:
    """The decoded value of parameter `key`; an RFC 2231 value wins over a plain one (RFC 2231 4.1)."""
    values = [value for name, value in params if name.lower() == key]
    extended = [value for value in values if isinstance(value, tuple)]
    for value in extended + [value for value in values if not isinstance(value, tuple)]:
        name = _clean_name(_param_text(value))
        if name:
            return name
    return None


def _param_text(value: ParamValue) -> str:
    if isinstance(value, tuple):
        charset, _language, text = value
        return decode_bytes(_octets(text), charset)
    if value.isascii() and "=?" not in value:
        percent = _PERCENT_NAME.fullmatch(value)
        if percent:
            # Some mailers percent-encode a plain filename, with or without an RFC 2231 charset prefix.
            charset, encoded = percent.groups()
            data = urllib.parse.unquote_to_bytes(encoded)
            decoded = decode_bytes(data, charset)
            if "\ufffd" not in decoded:
                return decoded
    return decode_header_text(value)


def _octets(text: str) -> bytes:
    """The bytes the stdlib meant: RFC 2231 values come back with each byte as one Latin-1 character."""
    out = bytearray()
    for char in text:
        code = ord(char)
        if code < 0x100:
            out.append(code)
        elif 0xDC80 <= code <= 0xDCFF:  # a raw 8-bit byte, surrogate-escaped by the parser
            out.append(code - 0xDC00)
        else:
            out += char.encode("utf-8")
    return bytes(out)


def _clean_name(name: str) -> str:
    """A bare file name: no directories (a name is later used for filing), no control or format characters."""
    text = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    return text.strip().strip("\"'").strip()


def part_header_info(header_bytes: bytes) -> PartInfo:
    """What a part's header block says: the bytes of `BODY.PEEK[n.MIME]` (or of HEADER for the body of a
    non-multipart message) - header lines, then a blank line. Never raises."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_bytes)
    except (ValueError, TypeError, LookupError, RecursionError, email.errors.MessageError):
        headers = Message()
    return _part_info(headers)


def _part_info(part: Message) -> PartInfo:
    return PartInfo(
        content_type=_content_type(part),
        filename=part_filename(part),
        disposition=_disposition(part),
        charset=_charset(part),
        transfer_encoding=_transfer_encoding(part),
    )


def _charset(part: Message) -> str | None:
    try:
        value = part.get_param("charset")
    except (TypeError, ValueError):
        return None
    if value is None:
        return None
    return _param_text(value).strip().lower() or None


def _content_type(part: Message) -> str:
    try:
        return decode_header_text(part.get_content_type()).strip().lower()
    except (TypeError, ValueError):
        return "text/plain"


def _disposition(part: Message) -> str | None:
    try:
        value = part.get_content_disposition()
    except (TypeError, ValueError):
        return None
    if not value:
        return None
    return decode_header_text(value).strip().lower() or None


def _transfer_encoding(part: Message) -> str:
    value = part.get("content-transfer-encoding")
    if value is None:
        return "7bit"
    return decode_header_text(value).strip().strip("\"'").lower() or "7bit"


# ---------------------------------------------------------------------------------------------------------
# Whole messages


@dataclass
class _Reading:
    """What one read_message call has found so far, and what is left of its limits."""

    limits: MailLimits
    parts_left: int
    attachments: list[Attachment] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    out_of_parts: bool = False


def read_message(data: bytes, *, limits: MailLimits = MailLimits()) -> MailContents:
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


def _headers_only(data: bytes, problem: str) -> MailContents:
    end = min((i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0), default=_MIB)
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(data[: min(end, _MIB)])
    except (ValueError, TypeError, LookupError, RecursionError, email.errors.MessageError):
        headers = Message()
    return dataclasses.replace(_envelope(headers), problems=(problem,))


def _envelope(message: Message) -> MailContents:
    """The message's own headers, no parts yet."""
    address, name = _sender(message)
    message_id = _plain_header(message, "message-id")
    return MailContents(
        subject=decode_header_text(message.get("subject", "")).strip(),
        sender_address=address,
        sender_name=name,
        message_id="".join(message_id.split()) or None,
        date=_date(_plain_header(message, "date")),
    )


def _plain_header(message: Message, name: str) -> str:
    """A header whose value is not meant to be decoded (addresses, ids, dates); raw 8-bit bytes decoded."""
    value = message.get(name)
    if value is None:
        return ""
    return _raw_header_text(value).strip()


def _sender(message: Message) -> tuple[str, str]:
    """(address, decoded display name) of From, else Sender. Addresses are split before names are decoded:
    a decoded name may hold commas and quotes."""
    text = _plain_header(message, "from") or _plain_header(message, "sender")
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


def _join(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)


def _label(section: str) -> str:
    return f"part {section}" if section else "message"


def _read_body(message: Message, prefix: str, *, depth: int, reading: _Reading) -> None:
    """The body of a message (the top one at prefix '', a forwarded one at its part's section).

    RFC 3501: the parts of a multipart body are prefix.1, prefix.2...; a non-multipart body is prefix.1
    ('1' for the top message).
    """
    _note_defects(message, prefix, reading)
    if message.get_content_maintype() == "multipart":
        _read_multipart(message, prefix, depth=depth, nesting=0, reading=reading)
    else:
        _read_part(message, _join(prefix, 1), depth=depth, nesting=0, reading=reading, top=True)


def _read_part(part: Message, section: str, *, depth: int, nesting: int, reading: _Reading, top: bool = False) -> None:
    if not _take_part(reading):
        return
    if not top:
        _note_defects(part, section, reading)
    kind = _content_type(part)
    if part.get_content_maintype() == "multipart":
        if nesting >= reading.limits.max_nesting:
            reading.problems.append(
                f"{_label(section)}: multiparts nested over {reading.limits.max_nesting} levels deep: not read"
            )
            return
        _read_multipart(part, section, depth=depth, nesting=nesting + 1, reading=reading)
        return
    payload = part.get_payload() if kind in _ENCAPSULATED_TYPES and part.is_multipart() else None
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        if depth >= reading.limits.max_depth:
            reading.problems.append(
                f"{_label(section)}: forwarded message nested over {reading.limits.max_depth} levels deep: not read"
            )
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
            _read_part(child, _join(section, number), depth=depth, nesting=nesting, reading=reading)


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
    reading.problems.append(
        f"{_label(section)}: the parts were found by the boundary {found[0]!r} that the body uses, not the declared "
        f"{declared!r}; their section numbers are not the server's"
    )
    return [child for child in children if isinstance(child, Message)]


def _note_defects(part: Message, section: str, reading: _Reading) -> None:
    for defect in getattr(part, "defects", ()):
        kind = type(defect).__name__
        text = _DEFECT_TEXT.get(kind, kind)
        reading.problems.append(f"{_label(section)}: {text}")


def _read_leaf(part: Message, section: str, kind: str, reading: _Reading) -> None:
    name = part_filename(part)
    disposition = _disposition(part)
    verdict = judge_part(kind, name)
    limits = reading.limits
    if kind == "application/ms-tnef" or (name or "").lower() == "winmail.dat":
        reading.problems.append(
            f"{_label(section)}: winmail.dat (Outlook TNEF): attachments packed in it cannot be read; "
            "ask the sender to send plain attachments"
        )
    if verdict is Verdict.NO:
        if kind in ("text/plain", "text/html") and disposition != "attachment" and name is None:
            text = _part_bytes(part, max_bytes=limits.max_text_bytes, truncate=True)
            _add_links(reading, find_links(text.data, html=kind == "text/html", charset=_charset(part), limits=limits))
        return
    inline = disposition != "attachment"
    decoded = _part_bytes(part, max_bytes=limits.max_attachment_bytes, truncate=False)
    if decoded.problem:
        reading.problems.append(f"{_label(section)}: {decoded.problem}")
    refusal = decoded.refusal
    if refusal is None and len(decoded.data) > limits.max_attachment_bytes:
        refusal = f"part is {len(decoded.data)} bytes decoded, over the {limits.max_attachment_bytes}-byte limit"
    if refusal is not None:
        # Returned even when only its bytes could have told (BY_CONTENT): the caller records why it was skipped.
        reading.attachments.append(Attachment(section, name or f"attachment-{section}.bin", kind, b"", inline, refusal))
        return
    sniffed = sniff(decoded.data) if decoded.data else "unknown"
    if verdict is Verdict.BY_CONTENT and sniffed == "unknown":
        return
    if not name:
        extension = _SNIFFED_EXTENSIONS.get(sniffed) or _TYPE_EXTENSIONS.get(kind, ".bin")
        name = f"attachment-{section}{extension}"
    reading.attachments.append(Attachment(section, name, kind, decoded.data, inline))


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
    encoding = _transfer_encoding(part)
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
            return _Decoded(*_decode_transfer(raw, encoding))
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError) as exc:
        return _Decoded(b"", problem=f"part cannot be read: {exc}")
    if not isinstance(data, bytes):
        return _Decoded(b"")
    stdlib_encoding = str(part.get("content-transfer-encoding", "")).lower()
    if stdlib_encoding == "quoted-printable":
        return _Decoded(data)  # decoded already
    if stdlib_encoding in _UUENCODE_NAMES:
        # The stdlib's uudecode differs from decode_transfer's (and hides damage): decode the text here.
        text = part.get_payload()
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else b""
    return _Decoded(*_decode_transfer(data, encoding))


def _add_links(reading: _Reading, links: list[Link]) -> None:
    seen = {link.url for link in reading.links}
    for link in links:
        if len(reading.links) >= reading.limits.max_links:
            return
        if link.url not in seen:
            seen.add(link.url)
            reading.links.append(link)


# ---------------------------------------------------------------------------------------------------------
# Download links

# What makes a URL a download (see is_download_link). In URLs, the platforms' own words: fapiao, dzfp
# (电子发票), nnfp (诺诺发票), dppt (the tax bureau's 电子发票服务平台 hosts), einv, invoice.
_URL_WORDS = ("fapiao", "invoice", "einv", "e-inv", "dzfp", "nnfp", "dppt")
_LINK_TEXT_WORDS = ("发票", "下载", "invoice", "download", "fapiao")
# The text before a link counts only when it names the invoice and points at the link ('发票下载地址：'),
# not when it merely mentions invoices ('如有发票问题请联系<a>在线客服</a>').
_CONTEXT_SUBJECT_WORDS = ("发票", "invoice", "fapiao")
_CONTEXT_POINTER_WORDS = ("下载", "链接", "地址", "查看", "获取", "领取", "点击", "download", "link", "view", "here")
_EXCLUDED_WORDS = ("unsubscribe", "退订", "取消订阅", "退阅", "opt-out", "optout", "privacy", "隐私")
_APP_WORD = re.compile(r"(?<![a-z])app(?![a-z])|客户端|应用商店|app store", re.IGNORECASE)
_APP_STORE_HOSTS = ("apps.apple.com", "itunes.apple.com", "play.google.com", "sj.qq.com", "a.app.qq.com", "app.mi.com")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".svg", ".ico")
# A URL in text: ASCII only, so it ends at the first Chinese character or full-width punctuation.
_URL_IN_TEXT = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\")]"
_CONTEXT_CHARS = 40
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "td", "th", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
)


def is_download_link(url: str, text: str = "", context: str = "") -> bool:
    """Whether `url` looks like an invoice download; `text` is the link's own text (an HTML anchor's), `context`
    the words just before the link (same HTML block, or same line in plain text; the line above when the URL
    stands alone on its line).

    Never: anything but http(s); a site's front page (no path, no query: footers link those); images (the
    only <img> a mail has are logos and tracking pixels, and those are not read at all); a link whose URL or
    text says unsubscribe/退订/取消订阅/privacy/隐私; a link to an app (app store hosts, 'APP'/客户端 in its
    text). Otherwise any one of:
    1. the URL path, or a query value, ends .pdf/.ofd/.xml/.zip;
    2. the host or path holds fapiao, invoice, einv, dzfp, nnfp or dppt;
    3. the link's text says 发票, 下载, invoice, download or fapiao;
    4. the context names the invoice (发票/invoice/fapiao) and points at the link (下载/链接/地址/查看/获取/
       领取/点击/download/link/view/here), and says none of the excluded words.
    """
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        query_values = [value for _, value in urllib.parse.parse_qsl(parts.query)]
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    path = urllib.parse.unquote(parts.path).lower()
    query = urllib.parse.unquote(parts.query).lower()
    own_text = text.lower()
    if path in ("", "/") and not query:
        return False
    if path.endswith(_IMAGE_EXTENSIONS):
        return False
    if any(word in path or word in query or word in own_text for word in _EXCLUDED_WORDS):
        return False
    if host in _APP_STORE_HOSTS or _APP_WORD.search(text):
        return False
    if path.endswith(INVOICE_EXTENSIONS) or any(value.lower().endswith(INVOICE_EXTENSIONS) for value in query_values):
        return True
    if any(word in host or word in path for word in _URL_WORDS):
        return True
    if any(word in own_text for word in _LINK_TEXT_WORDS):
        return True
    before = context.lower()
    return (
        any(word in before for word in _CONTEXT_SUBJECT_WORDS)
        and any(word in before for word in _CONTEXT_POINTER_WORDS)
        and not any(word in before for word in _EXCLUDED_WORDS)
        and not _APP_WORD.search(context)
    )


def find_links(body: bytes, *, html: bool, charset: str | None, limits: MailLimits = MailLimits()) -> list[Link]:
    """The download links (`is_download_link`) in a text/plain or text/html body, in order, once each; never
    raises. HTML: every <a href> with its anchor text, and bare URLs in the text; plain text: every URL."""
    text = decode_bytes(body[: limits.max_text_bytes], charset)
    candidates = _html_links(text) if html else _plain_links(text)
    links: list[Link] = []
    seen: set[str] = set()
    for url, own_text, context in candidates:
        if len(links) >= limits.max_links:
            break
        if url in seen:
            continue
        if is_download_link(url, own_text, context):
            seen.add(url)
            shown = own_text if own_text and not _URL_IN_TEXT.fullmatch(own_text) else context
            links.append(Link(url, shown.strip()[:200]))
    return links


def _plain_links(text: str) -> Iterator[tuple[str, str, str]]:
    previous = ""
    for line in text.splitlines():
        for match in _URL_IN_TEXT.finditer(line):
            url = match.group(0).rstrip(_URL_TRAILING)
            before = line[max(0, match.start() - 2 * _CONTEXT_CHARS) : match.start()].strip()[-_CONTEXT_CHARS:]
            if not any(char.isalnum() for char in before):
                before = f"{previous[-_CONTEXT_CHARS:]} {before}".strip()
            yield url, "", before
        if line.strip():
            previous = line.strip()


def _html_links(text: str) -> list[tuple[str, str, str]]:
    """Anchors (href, anchor text, text before the anchor in its block) and bare URLs in the text of an HTML body.

    A small scanner rather than html.parser, which takes quadratic time on unclosed tags ('<a <a <a ...': 20,000
    of them take 18 s); this one only looks at each character a bounded number of times. Comments, scripts,
    styles and declarations are skipped; tags are only told apart, never built into a tree.
    """
    collector = _LinkCollector()
    position = 0
    while position < len(text):
        start = text.find("<", position)
        collector.data(html.unescape(text[position : start if start >= 0 else len(text)]))
        if start < 0:
            break
        if text.startswith("<!--", start):
            end = text.find("-->", start + 4)
            position = len(text) if end < 0 else end + 3
            continue
        if text.startswith(("<!", "<?"), start):
            end = text.find(">", start)
            position = len(text) if end < 0 else end + 1
            continue
        tag = _TAG.match(text, start)
        if tag is None:
            collector.data("<")
            position = start + 1
            continue
        position = tag.end()
        name = tag["name"].lower()
        if tag["closing"]:
            collector.end(name)
        elif name in _RAW_TEXT_END:
            end_tag = _RAW_TEXT_END[name].search(text, position)
            position = len(text) if end_tag is None else end_tag.end()
        else:
            href = _HREF.search(tag["attributes"]) if name == "a" else None
            collector.start(name, html.unescape(next(g for g in href.groups() if g is not None)) if href else None)
    collector.end("a")
    return collector.found


_TAG = re.compile(r"<(?P<closing>/?)(?P<name>[A-Za-z][A-Za-z0-9]{0,15})(?P<attributes>(?:[\s/][^<>]{0,4000})?)>")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_RAW_TEXT_END = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}
_ANCHOR_TEXT_CHARS = 500


class _LinkCollector:
    """The state of one _html_links scan: the open anchor and the text of the current block before it."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str, str]] = []
        self._block = ""  # the last characters of the current block's text
        self._href: str | None = None
        self._anchor_text = ""
        self._anchor_context = ""

    def start(self, tag: str, href: str | None) -> None:
        if tag in _BLOCK_TAGS:
            self._block = ""
        if tag == "a":
            self.end("a")  # an anchor left open ends where the next one starts
            if href and href.strip():
                self._href = href.strip()
                self._anchor_text = ""
                self._anchor_context = self._block[-_CONTEXT_CHARS:]

    def end(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._block = ""
        if tag != "a" or self._href is None:
            return
        anchor_text = " ".join(self._anchor_text.split())
        self.found.append((self._href, anchor_text, self._anchor_context.strip()))
        self._block = (self._block + anchor_text)[-4 * _CONTEXT_CHARS :]
        self._href = None

    def data(self, text: str) -> None:
        if not text:
            return
        if self._href is not None:
            if len(self._anchor_text) < _ANCHOR_TEXT_CHARS:
                self._anchor_text += text[:_ANCHOR_TEXT_CHARS]
            return
        for match in _URL_IN_TEXT.finditer(text):
            start = match.start()
            before = text[max(0, start - 2 * _CONTEXT_CHARS) : start]
            if start < 2 * _CONTEXT_CHARS:
                before = self._block + before
            self.found.append((match.group(0).rstrip(_URL_TRAILING), "", before.strip()[-_CONTEXT_CHARS:]))
        self._block = (self._block + text[-4 * _CONTEXT_CHARS :])[-4 * _CONTEXT_CHARS :]


# ---------------------------------------------------------------------------------------------------------
# BODYSTRUCTURE


def wanted_sections(bodystructure: object, *, limits: MailLimits = MailLimits()) -> list[WantedPart]:
    """The sections of a message worth fetching, from its BODYSTRUCTURE as imapclient returns it; never raises.

    Same verdict as read_message (`judge_part`), on the names as the structure carries them: RFC 2047 words
    as-is, RFC 2231 pieces merged into one `name*` (Dovecot) or not (others), raw 8-bit names as bytes. Those
    are decoded here with the same code, but such a part is marked `needs_header`. Parts past the limits
    (max_parts, max_depth, max_nesting) are not listed.
    """
    walk = _StructureWalk(limits=limits, parts_left=limits.max_parts)
    walk.body(bodystructure, "", depth=0)
    return walk.wanted


def text_sections(bodystructure: object, *, limits: MailLimits = MailLimits()) -> list[WantedPart]:
    """The text/plain and text/html bodies (not attachments) of a message: where download links are
    (fetch, decode_transfer, then find_links). Same order and bounds as wanted_sections."""
    walk = _StructureWalk(limits=limits, parts_left=limits.max_parts)
    walk.body(bodystructure, "", depth=0)
    return walk.texts


def whole_message_needed(bodystructure: object) -> bool:
    """Whether the structure hides the message's parts: a multipart with no parts, or only an empty text/plain.

    That is how Dovecot shows a multipart whose declared boundary never appears in its body (a mailer that
    rewrote one and not the other): whatever the message carries is then found only by read_message on the
    whole message (BODY.PEEK[]), which splits the body on the boundary it really uses.
    """
    walk = _StructureWalk(limits=MailLimits(), parts_left=MailLimits().max_parts)
    walk.body(bodystructure, "", depth=0)
    return walk.hidden_parts


@dataclass
class _StructureWalk:
    limits: MailLimits
    parts_left: int
    wanted: list[WantedPart] = field(default_factory=list)
    texts: list[WantedPart] = field(default_factory=list)
    hidden_parts: bool = False  # see whole_message_needed

    def body(self, node: object, prefix: str, *, depth: int) -> None:
        """The body of a message: the top one (prefix '') or one forwarded as part `prefix`."""
        if not isinstance(node, (tuple, list)) or not node:
            return
        if _is_multipart(node):
            self.multipart(node, prefix, depth=depth, nesting=0)
        else:
            header = f"{prefix}.HEADER" if prefix else "HEADER"
            self.part(node, _join(prefix, 1), header, depth=depth, nesting=0)

    def multipart(self, node: Sequence[object], section: str, *, depth: int, nesting: int) -> None:
        if isinstance(node[0], list):
            children: Sequence[object] = node[0]
        else:  # the parser's tuples: the parts are the leading tuples, before the subtype
            children = list(itertools.takewhile(lambda child: isinstance(child, (tuple, list)), node))
        if all(_is_empty_text(child) for child in children):
            self.hidden_parts = True
        for number, child in enumerate(children, start=1):
            child_section = _join(section, number)
            self.part(child, child_section, f"{child_section}.MIME", depth=depth, nesting=nesting)

    def part(self, node: object, section: str, header_section: str, *, depth: int, nesting: int) -> None:
        if not isinstance(node, (tuple, list)) or not node or self.parts_left <= 0:
            return
        self.parts_left -= 1
        if _is_multipart(node):
            if nesting < self.limits.max_nesting:
                self.multipart(node, section, depth=depth, nesting=nesting + 1)
            return
        kind = f"{_atom(_at(node, 0))}/{_atom(_at(node, 1))}"
        if kind in _ENCAPSULATED_TYPES and isinstance(_at(node, 8), (tuple, list)):
            if depth < self.limits.max_depth:
                self.body(_at(node, 8), section, depth=depth + 1)
            return
        self.leaf(node, section, header_section, kind)

    def leaf(self, node: Sequence[object], section: str, header_section: str, kind: str) -> None:
        params = _structure_params(_at(node, 2))
        disposition_name, disposition_params = _structure_disposition(node, kind)
        filename, filename_encoded = _structure_name(disposition_params, "filename")
        type_name, type_name_encoded = _structure_name(params, "name")
        name, encoded = (filename, filename_encoded) if filename else (type_name, type_name_encoded)
        charset_value = next((value for key, value in params if key == "charset"), None)
        charset = None if charset_value is None else _param_text(charset_value).strip().lower() or None
        size = _at(node, 6)
        wanted = WantedPart(
            section=section,
            content_type=kind,
            name=name,
            size=size if isinstance(size, int) and size >= 0 else 0,
            encoding=_atom(_at(node, 5)) or "7bit",
            inline=disposition_name != "attachment",
            charset=charset,
            needs_header=encoded,
            needs_sniff=False,
            header_section=header_section,
        )
        verdict = judge_part(kind, name)
        if verdict is Verdict.NO:
            if kind in ("text/plain", "text/html") and disposition_name != "attachment" and name is None:
                self.texts.append(wanted)
            return
        self.wanted.append(dataclasses.replace(wanted, needs_sniff=verdict is Verdict.BY_CONTENT))


def _is_empty_text(node: object) -> bool:
    """A text/plain part of 0 bytes: what Dovecot puts in a multipart where it found no parts."""
    return (
        isinstance(node, (tuple, list))
        and not _is_multipart(node)
        and f"{_atom(_at(node, 0))}/{_atom(_at(node, 1))}" == "text/plain"
        and _at(node, 6) == 0
    )


def _at(node: Sequence[object], index: int) -> object:
    return node[index] if index < len(node) else None


def _atom(value: object) -> str:
    """A type, subtype or encoding from the structure, lowercased; '' for NIL or anything odd."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip().lower()
    if isinstance(value, str):
        return value.strip().lower()
    return ""


def _is_multipart(node: Sequence[object]) -> bool:
    # imapclient's BodyData puts a multipart's parts in a list; a body nested in a message/rfc822 part is
    # left as the parser's tuples, where the parts are the leading tuples.
    return bool(node) and isinstance(node[0], (list, tuple))


def _structure_text(value: object) -> tuple[str, bool]:
    """A parameter value from the structure as text, and whether it had raw 8-bit bytes."""
    if isinstance(value, bytes):
        if value.isascii():
            return value.decode("ascii"), False
        return value.decode("ascii", "surrogateescape"), True
    if isinstance(value, str):
        return value, not value.isascii()
    if isinstance(value, int):
        return str(value), False
    return "", False


def _structure_params(value: object) -> list[tuple[str, ParamValue]]:
    """('key', 'value', 'key', 'value'...) from the structure, RFC 2231 pieces merged."""
    if not isinstance(value, (tuple, list)):
        return []
    pairs = []
    for index in range(0, len(value) - 1, 2):
        key, _ = _structure_text(value[index])
        text, _ = _structure_text(value[index + 1])
        if key:
            pairs.append((key.strip().lower(), text))
    return _merge_param_pieces(pairs)


def _structure_disposition(node: Sequence[object], kind: str) -> tuple[str | None, list[tuple[str, ParamValue]]]:
    """(disposition, its parameters) from a single part's extension data.

    body-fld-dsp follows the 7 basic fields and body-fld-md5, after the line count of a text part and after
    the envelope, body and line count of a message/rfc822 part (RFC 3501 7.4.2). A server that leaves a field
    out shifts the rest, so the first (word, params) pair past the basic fields is taken when the expected
    place holds something else.
    """
    expected = 9 if kind.startswith("text/") else 11 if kind in _ENCAPSULATED_TYPES else 8
    candidates = [expected, *range(7, len(node))]
    for index in candidates:
        value = _at(node, index)
        if (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and isinstance(value[0], (bytes, str))
            and (value[1] is None or isinstance(value[1], (tuple, list)))
        ):
            return _atom(value[0]) or None, _structure_params(value[1])
    return None, []


def _structure_name(params: Sequence[tuple[str, ParamValue]], key: str) -> tuple[str | None, bool]:
    """The decoded parameter `key`, and whether it was encoded in any way (RFC 2047/2231, %XX, raw 8-bit)."""
    name = _name_from_params(params, key)
    if name is None:
        return None, False
    raws = [value for found, value in params if found == key]
    encoded = any(
        isinstance(value, tuple) or "=?" in value or not value.isascii() or _PERCENT_NAME.fullmatch(value) is not None
        for value in raws
    )
    return name, encoded
