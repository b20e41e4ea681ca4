"""Which sections of a message to fetch over IMAP, chosen from its BODYSTRUCTURE alone; pure, never raises.

Fetching a whole message to find one PDF costs its every byte; the BODYSTRUCTURE says which parts may be
invoices or hold them (`wanted_sections`: invoice types and names, parts only their bytes can tell, winmail.dat)
and where the text bodies are (`text_sections`: download links, and files uuencoded inside a text), so only
those are fetched. The rules are the ones `mime.read_message` applies to a whole message (`mail_parts`), names
are decoded with the same code (`mail_headers`), and the fetched parts are read by the same code
(`mime.read_part`), so both ways find the same candidates under the same sections. `whole_message_needed` says
when the structure hides the parts and only the whole message will do.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.sources.mail_headers import (
    ParamValue,
    PartInfo,
    merge_param_pieces,
    name_from_params,
    param_is_encoded,
    param_text,
)
from ingest.sources.mail_parts import (
    DEFAULT_LIMITS,
    ENCAPSULATED_TYPES,
    ENCODED_TRANSFERS,
    MailLimits,
    Verdict,
    is_text_body,
    is_tnef,
    join_section,
    judge_part,
)


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
    forwarded: bool = False  # inside a forwarded message (message/rfc822)
    # The nearest charset declared around the part (a multipart's or a forwarded message's Content-Type): raw
    # 8-bit names of a part that declares none are read in it, as read_message reads them.
    enclosing_charset: str | None = None

    @property
    def info(self) -> PartInfo:
        """What the structure says of the part, as its own header would say it (`part_header_info`)."""
        return PartInfo(
            content_type=self.content_type,
            filename=self.name,
            disposition=None if self.inline else "attachment",
            charset=self.charset,
            transfer_encoding=self.encoding,
        )


def wanted_sections(bodystructure: object, *, limits: MailLimits = DEFAULT_LIMITS) -> list[WantedPart]:
    """The sections of a message worth fetching, from its BODYSTRUCTURE as imapclient returns it; never raises.

    Same verdict as read_message (`judge_part`), on the names as the structure carries them: RFC 2047 words
    as-is, RFC 2231 pieces merged into one `name*` (Dovecot) or not (others), raw 8-bit names as bytes. Those
    are decoded here with the same code, but such a part is marked `needs_header`. Parts past the limits
    (max_parts, max_depth, max_nesting) are not listed.
    """
    return _walk(bodystructure, limits).wanted


def text_sections(bodystructure: object, *, limits: MailLimits = DEFAULT_LIMITS) -> list[WantedPart]:
    """The text/plain and text/html bodies (not attachments) of a message: where download links are
    (fetch, decode_transfer, then find_links). Same order and bounds as wanted_sections."""
    return _walk(bodystructure, limits).texts


def whole_message_needed(bodystructure: object) -> bool:
    """Whether the structure hides the message's parts, which only read_message on the whole message
    (BODY.PEEK[]) can then find:

    - a multipart with no parts, or only an empty text/plain: how Dovecot shows a multipart whose declared
      boundary never appears in its body (a mailer that rewrote one and not the other); read_message splits
      the body on the boundary it really uses;
    - a forwarded message (message/rfc822) that is itself base64 or quoted-printable: a server does not decode
      it to look inside; read_message does.

    A winmail.dat needs no such thing: it is fetched alone and unpacked by the same code (`mime.read_part`).
    """
    return _walk(bodystructure, DEFAULT_LIMITS).hidden_parts


def uuencode_candidates(texts: Sequence[WantedPart], *, limits: MailLimits = DEFAULT_LIMITS) -> list[WantedPart]:
    """The text bodies (from text_sections) worth fetching for files uuencoded inside them, in a mail whose
    structure shows no candidate: text/plain, at least `limits.uuencode_text_bytes` on the server.

    A uuencoded file cannot be seen in a structure: it is lines of text in a text/plain body, written by old
    mailers (Outlook Express in uuencode mode, Unix mail) that attach everything that way - so a mail carrying
    one has no other attachment. The smallest invoice worth the name (a PDF or OFD of 12 KB) takes 16 KiB
    uuencoded, while the text of ordinary mail is a few KiB: fetching only bigger bodies of mail with nothing
    else costs little and misses no real invoice. The fetch is capped at `limits.max_text_bytes`: a uuencoded
    file cut there is reported with a problem, not passed on damaged.
    """
    return [part for part in texts if part.content_type == "text/plain" and part.size >= limits.uuencode_text_bytes]


def _walk(bodystructure: object, limits: MailLimits) -> _StructureWalk:
    walk = _StructureWalk(limits=limits, parts_left=limits.max_parts)
    walk.body(bodystructure, "", depth=0, charset=None)
    return walk


@dataclass
class _StructureWalk:
    """What one walk over a BODYSTRUCTURE has found so far, and how many parts it may still look at."""

    limits: MailLimits
    parts_left: int
    wanted: list[WantedPart] = field(default_factory=list)
    texts: list[WantedPart] = field(default_factory=list)
    hidden_parts: bool = False  # see whole_message_needed

    def body(self, node: object, prefix: str, *, depth: int, charset: str | None) -> None:
        """The body of a message: the top one (prefix '') or one forwarded as part `prefix`."""
        if not isinstance(node, (tuple, list)) or not node:
            return
        if _is_multipart(node):
            self.multipart(node, prefix, depth=depth, nesting=0, charset=charset)
        else:
            header = f"{prefix}.HEADER" if prefix else "HEADER"
            self.part(node, join_section(prefix, 1), header, depth=depth, nesting=0, charset=charset)

    def multipart(self, node: Sequence[object], section: str, *, depth: int, nesting: int, charset: str | None) -> None:
        if isinstance(node[0], list):
            children: Sequence[object] = node[0]
            params = _at(node, 2)
        else:  # the parser's tuples: the parts are the leading tuples, before the subtype and its parameters
            children = list(itertools.takewhile(lambda child: isinstance(child, (tuple, list)), node))
            params = _at(node, len(children) + 1)
        charset = _charset(_structure_params(params)) or charset
        if all(_is_empty_text(child) for child in children):
            self.hidden_parts = True
        for number, child in enumerate(children, start=1):
            child_section = join_section(section, number)
            self.part(child, child_section, f"{child_section}.MIME", depth=depth, nesting=nesting, charset=charset)

    def part(
        self, node: object, section: str, header_section: str, *, depth: int, nesting: int, charset: str | None
    ) -> None:
        if not isinstance(node, (tuple, list)) or not node or self.parts_left <= 0:
            return
        self.parts_left -= 1
        if _is_multipart(node):
            if nesting < self.limits.max_nesting:
                self.multipart(node, section, depth=depth, nesting=nesting + 1, charset=charset)
            return
        kind = f"{_atom(_at(node, 0))}/{_atom(_at(node, 1))}"
        if kind in ENCAPSULATED_TYPES and _atom(_at(node, 5)) in ENCODED_TRANSFERS:
            self.hidden_parts = True  # the server does not look inside: see whole_message_needed
            return
        if kind in ENCAPSULATED_TYPES and isinstance(_at(node, 8), (tuple, list)):
            if depth < self.limits.max_depth:
                self.body(_at(node, 8), section, depth=depth + 1, charset=charset)
            return
        self.leaf(node, section, header_section, kind, forwarded=depth > 0, charset=charset)

    def leaf(
        self,
        node: Sequence[object],
        section: str,
        header_section: str,
        kind: str,
        *,
        forwarded: bool,
        charset: str | None,
    ) -> None:
        params = _structure_params(_at(node, 2))
        disposition_name, disposition_params = _structure_disposition(node, kind)
        own_charset = _charset(params)
        names_charset = own_charset or charset
        filename, filename_encoded = _structure_name(disposition_params, "filename", names_charset)
        type_name, type_name_encoded = _structure_name(params, "name", names_charset)
        name, encoded = (filename, filename_encoded) if filename else (type_name, type_name_encoded)
        size = _at(node, 6)
        wanted = WantedPart(
            section=section,
            content_type=kind,
            name=name,
            size=size if isinstance(size, int) and size >= 0 else 0,
            encoding=_atom(_at(node, 5)) or "7bit",
            inline=disposition_name != "attachment",
            charset=own_charset,
            needs_header=encoded,
            needs_sniff=False,
            header_section=header_section,
            forwarded=forwarded,
            enclosing_charset=charset,
        )
        verdict = judge_part(kind, name)
        if is_tnef(kind, name):  # a container: fetched, then unpacked by mime.read_part
            self.wanted.append(wanted)
            return
        if verdict is Verdict.NO:
            if is_text_body(kind, disposition_name, name):
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
    return merge_param_pieces(pairs)


def _structure_disposition(node: Sequence[object], kind: str) -> tuple[str | None, list[tuple[str, ParamValue]]]:
    """(disposition, its parameters) from a single part's extension data.

    body-fld-dsp follows the 7 basic fields and body-fld-md5, after the line count of a text part and after
    the envelope, body and line count of a message/rfc822 part (RFC 3501 7.4.2). A server that leaves a field
    out shifts the rest, so the first (word, params) pair past the basic fields is taken when the expected
    place holds something else.
    """
    expected = 9 if kind.startswith("text/") else 11 if kind in ENCAPSULATED_TYPES else 8
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


def _charset(params: Sequence[tuple[str, ParamValue]]) -> str | None:
    """The charset parameter, lowercased; None when absent or blank."""
    value = next((value for key, value in params if key == "charset"), None)
    return None if value is None else param_text(value).strip().lower() or None


def _structure_name(params: Sequence[tuple[str, ParamValue]], key: str, charset: str | None) -> tuple[str | None, bool]:
    """The decoded parameter `key`, and whether it was encoded in any way (RFC 2047/2231, %XX, raw 8-bit)."""
    name = name_from_params(params, key, charset)
    if name is None:
        return None, False
    return name, any(param_is_encoded(value) for found, value in params if found == key)
