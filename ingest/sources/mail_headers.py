"""Header values and file names of mail, decoded as Chinese mail really writes them; pure, never raises.

The stdlib `email` package (compat32 policy) splits headers and RFC 2231 parameters into pieces; decoding is
done here, because the stdlib gets Chinese mail wrong: GB2312-labelled GBK characters, encoded words split
mid-character, raw 8-bit GBK in headers, and non-ASCII text around encoded words (`email.header.decode_header`
turns it into `\\uXXXX` escapes). Both ways of reading a message use this one code for names, so a part's name
is the same whether it came from the whole message (`mime`), its header block alone (`part_header_info` on
`BODY.PEEK[n.MIME]`), or the parameters of a BODYSTRUCTURE (`bodystructure`). Names are returned as the mail
writes them; `mail_parts.clean_file_name` makes them fit for a file where one is written.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.header
import email.utils
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from ingest.sources.mail_parts import Verdict, judge_part
from ingest.sources.transfer_encoding import decode_base64

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
# A percent-encoded plain value ('%E5%8F%91.pdf', "gbk''%B7%A2.pdf"): at least one escape of a byte over 0x7F.
# The character class leaves out '%', so each character can be read one way only (no backtracking blow-up).
_PERCENT_NAME = re.compile(
    r"(?:([A-Za-z0-9_.:-]+)'[A-Za-z-]*')?"  # an RFC 2231 charset'language' prefix, written where it does not belong
    r"((?:%[0-9A-Fa-f]{2}|[ !#-$&-~])*%[89A-Fa-f][0-9A-Fa-f].*)"
)
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)')
_ENCODING_TOKEN = re.compile(r"[^\s;(\"']+")
_PIECE = re.compile(r"^(?P<key>[^*]+)\*(?P<index>\d+)\*?$")
_SURROGATES_PARKED = {0xDC00 + byte: 0xE000 + byte for byte in range(0x80, 0x100)}
_SURROGATES_UNPARKED = {private: surrogate for surrogate, private in _SURROGATES_PARKED.items()}


@dataclass(frozen=True)
class PartInfo:
    """What a part's MIME header says; see `part_header_info`."""

    content_type: str  # lowercased 'type/subtype'; 'text/plain' when missing or unreadable (RFC 2045)
    filename: str | None  # decoded, not cleaned; Content-Disposition filename, else Content-Type name
    disposition: str | None  # lowercased 'attachment' / 'inline', None when absent
    charset: str | None  # lowercased, as declared
    transfer_encoding: str  # lowercased; '7bit' when absent

    @property
    def verdict(self) -> Verdict:
        return judge_part(self.content_type, self.filename)


# ---------------------------------------------------------------------------------------------------------
# Header text


def decode_header_text(value: str | bytes | Header, charset: str | None = None) -> str:
    """A header value as text: encoded words decoded, raw 8-bit bytes decoded, folding undone; never raises.

    Encoded words (RFC 2047) are decoded wherever they appear, also inside quotes, where mailers put them
    though the RFC says not to. Adjacent words in the same charset are joined before decoding, so a
    character split across two words comes out whole. GB2312 and GBK are read as GB18030, their superset.
    Raw 8-bit bytes (and `str` from the email package carrying them as surrogate escapes) are read in
    `charset` (the one the part declares, for names), else as UTF-8, else GB18030. What cannot be decoded
    becomes U+FFFD.
    """
    return _decode_encoded_words(_raw_header_text(value, charset))


def _raw_header_text(value: str | bytes | Header, charset: str | None = None) -> str:
    """A header value as text with raw 8-bit bytes decoded and folding undone, encoded words left as they are.

    compat32 hands out a header holding 8-bit bytes as a Header whose str() turns them into U+FFFD, and
    parameters of such a header as str with surrogate escapes: both are taken back to bytes here.
    """
    raw_charset = charset
    if isinstance(value, Header):
        chunks = []
        for chunk, label in email.header.decode_header(value):
            data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
            chunks.append(decode_bytes(data, raw_charset if _codec(label) is None else label))
        text = "".join(chunks)
    elif isinstance(value, bytes):
        text = decode_bytes(value, raw_charset)
    else:
        text = str(value)
    if _has_surrogates(text):
        text = decode_bytes(text.encode("utf-8", "surrogateescape"), raw_charset)
    return _LINE_BREAKS.sub(" ", _FOLD.sub("", text))


def plain_header(message: Message, name: str) -> str:
    """A header whose value is not meant to be decoded (addresses, ids, dates); raw 8-bit bytes decoded."""
    value = message.get(name)
    if value is None:
        return ""
    return _raw_header_text(value).strip()


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
        return decode_base64(raw)[0]
    # Q encoding (RFC 2047 4.2): '_' is a space, '=XX' a byte; a stray '=' is kept as it is.
    return binascii.a2b_qp(raw, header=True)


# ---------------------------------------------------------------------------------------------------------
# File names and part headers


def part_filename(headers: Message, charset: str | None = None) -> str | None:
    """The decoded file name of a part: Content-Disposition filename, else Content-Type name; never raises.

    Handles RFC 2231 (`filename*=gbk''%B7%A2...`, continuations `filename*0*=`/`filename*1*=`, which are
    joined before decoding, in any order, extended and plain pieces mixed), RFC 2047 words (also inside quotes
    or in an unquoted value), raw 8-bit bytes (read in the part's declared charset, else `charset` - the
    enclosing message's -, else UTF-8, else GB18030), and percent-encoded plain values. The name is as the
    mail gives it: directories and control characters are left for `mail_parts.clean_file_name`, used where a
    file is written. None when there is no name, or only blanks.
    """
    declared = part_charset(headers) or charset
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        name = name_from_params(_header_params(headers, header), key, declared)
        if name:
            return name
    return None


# A parameter's value: plain text, or an RFC 2231 value as the stdlib gives it, (charset, language, text).
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
        params = merge_param_pieces(pairs)
    return [(key, _unpark(value)) for key, value in params if isinstance(key, str)]


def _unpark(value: ParamValue) -> ParamValue:
    if isinstance(value, tuple):
        charset, language, text = value
        return charset, language, text.translate(_SURROGATES_UNPARKED)
    return value.translate(_SURROGATES_UNPARKED)


def merge_param_pieces(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, ParamValue]]:
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


def raw_boundary(headers: Message) -> str | None:
    """The boundary parameter of a Content-Type written with raw 8-bit bytes, those bytes kept as surrogate
    escapes, as the parser holds the body's lines (compat32 turns them into U+FFFD, and no line matches); None
    when the header is plain ASCII (the stdlib's reading stands) or has no boundary."""
    raw = next((value for name, value in headers.raw_items() if name.lower() == "content-type"), None)
    if not isinstance(raw, str) or not _has_surrogates(raw):
        return None
    for key, value in _header_params(headers, "content-type"):
        if key.lower() == "boundary" and isinstance(value, str) and value.strip():
            return value.rstrip()
    return None


def name_from_params(params: Sequence[tuple[str, ParamValue]], key: str, charset: str | None = None) -> str | None:
    """The decoded value of parameter `key`, None when blank; an RFC 2231 value wins over a plain one (RFC 2231
    4.1). Raw 8-bit bytes are read in `charset` first."""
    values = [value for name, value in params if name.lower() == key]
    extended = [value for value in values if isinstance(value, tuple)]
    for value in extended + [value for value in values if not isinstance(value, tuple)]:
        name = param_text(value, charset)
        if name.strip():
            return name
    return None


def param_text(value: ParamValue, charset: str | None = None) -> str:
    """A parameter value as text: RFC 2231 bytes in their charset, a percent-encoded plain value, or RFC 2047;
    raw 8-bit bytes in `charset`, else UTF-8, else GB18030."""
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
    return decode_header_text(value, charset)


def param_is_encoded(value: ParamValue) -> bool:
    """Whether a parameter value was encoded in any way (RFC 2047/2231, %XX, raw 8-bit), so its text came out
    of decoding rather than standing as written."""
    if isinstance(value, tuple):
        return True
    return "=?" in value or not value.isascii() or _PERCENT_NAME.fullmatch(value) is not None


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


def part_header_info(header_bytes: bytes, charset: str | None = None) -> PartInfo:
    """What a part's header block says: the bytes of `BODY.PEEK[n.MIME]` (or of HEADER for the body of a
    non-multipart message) - header lines, then a blank line. `charset` is the enclosing message's, for raw
    8-bit names in a part that declares none. Never raises."""
    return part_info(parse_header_block(header_bytes), charset)


def parse_header_block(header_bytes: bytes) -> Message:
    """Header lines (anything after a blank line is ignored) as a Message with no body; an empty one when the
    stdlib gives up on them."""
    try:
        return BytesHeaderParser(policy=compat32).parsebytes(header_bytes)
    except (ValueError, TypeError, LookupError, RecursionError, email.errors.MessageError):
        return Message()


def part_info(part: Message, charset: str | None = None) -> PartInfo:
    """What a part's headers say (see part_header_info), from a parsed part."""
    return PartInfo(
        content_type=part_content_type(part),
        filename=part_filename(part, charset),
        disposition=part_disposition(part),
        charset=part_charset(part),
        transfer_encoding=part_transfer_encoding(part),
    )


def part_charset(part: Message) -> str | None:
    """The declared charset, lowercased; None when absent or unreadable."""
    try:
        value = part.get_param("charset")
    except (TypeError, ValueError):
        return None
    if value is None:
        return None
    return param_text(value).strip().lower() or None


def part_content_type(part: Message) -> str:
    """Lowercased 'type/subtype'; 'text/plain' when missing or unreadable (RFC 2045)."""
    try:
        return decode_header_text(part.get_content_type()).strip().lower()
    except (TypeError, ValueError):
        return "text/plain"


def part_disposition(part: Message) -> str | None:
    """Lowercased 'attachment' / 'inline'; None when absent or unreadable."""
    try:
        value = part.get_content_disposition()
    except (TypeError, ValueError):
        return None
    if not value:
        return None
    return decode_header_text(value).strip().lower() or None


def part_transfer_encoding(part: Message) -> str:
    """Lowercased Content-Transfer-Encoding; '7bit' when absent (RFC 2045). Stray whitespace, quotes, case and a
    trailing comment (' Base64 ', '"base64"', 'base64 (by ERP)') do not hide the encoding."""
    value = part.get("content-transfer-encoding")
    if value is None:
        return "7bit"
    text = decode_header_text(value).strip().strip("\"'").strip().lower()
    first = _ENCODING_TOKEN.match(text)
    return first.group(0) if first else "7bit"
