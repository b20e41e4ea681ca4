"""ingest.sources.bodystructure: sections chosen from BODYSTRUCTURE as imapclient returns it, and fetched part by
part they give what read_message gives on the whole message; never an exception, whatever the structure."""

from __future__ import annotations

import email
from collections.abc import Callable
from email.message import Message
from email.policy import compat32

import mail_messages as mm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response
from mail_messages import SAMPLES, Sample, encoded_word, percent

from ingest.sources.bodystructure import (
    WantedPart,
    text_sections,
    uuencode_candidates,
    wanted_sections,
    whole_message_needed,
)
from ingest.sources.mail_headers import part_header_info
from ingest.sources.mail_links import find_links
from ingest.sources.mail_parts import MailLimits, Verdict
from ingest.sources.mime import read_message, read_part
from ingest.sources.transfer_encoding import decode_transfer

# ---------------------------------------------------------------------------------------------------------
# BODYSTRUCTURE: written as Dovecot 2.3 and Gmail send it, parsed by imapclient as the poller will get it.
# The Dovecot shapes were checked against Dovecot 2.3.19.1 with these very samples (APPEND, then FETCH
# BODYSTRUCTURE): 8-bit names come as literals (bytes), RFC 2231 pieces merged into one `name*`, a folded
# encoded-word name keeps its TAB, BODY[1.MIME] of a single-part message is its header, like BODY[HEADER].


def _fetched(structure: bytes | list[bytes | tuple[bytes, bytes]]) -> object:
    """The BODYSTRUCTURE value imapclient returns for this response text (literals as (line, data))."""
    pieces = [structure] if isinstance(structure, bytes) else structure
    first, *rest = pieces
    if isinstance(first, tuple):
        lines: list[bytes | tuple[bytes, bytes]] = [(b"1 (UID 7 BODYSTRUCTURE " + first[0], first[1]), *rest]
    else:
        lines = [b"1 (UID 7 BODYSTRUCTURE " + first, *rest]
    last = lines[-1]
    lines[-1] = last + b")" if isinstance(last, bytes) else last
    if isinstance(last, tuple):
        lines.append(b")")
    return parse_fetch_response(lines)[7][b"BODYSTRUCTURE"]


def _wanted(section: str, content_type: str, name: str | None, size: int, **changes: object) -> WantedPart:
    fields: dict[str, object] = {
        "section": section,
        "content_type": content_type,
        "name": name,
        "size": size,
        "encoding": "base64",
        "inline": False,
        "charset": None,
        "needs_header": False,
        "needs_sniff": False,
        "header_section": f"{section}.MIME",
    }
    fields.update(changes)
    return WantedPart(**fields)  # type: ignore[arg-type]


ENVELOPE = (
    b'("Tue, 29 Jul 2025 10:15:00 +0800" "=?utf-8?B?5oKo55qE5Y+R56Wo?=" '
    b'((NIL NIL "invoice" "example-fapiao.cn")) ((NIL NIL "invoice" "example-fapiao.cn")) '
    b'((NIL NIL "invoice" "example-fapiao.cn")) ((NIL NIL "finance" "example.com")) NIL NIL NIL '
    b'"<original@example-fapiao.cn>")'
)
TEXT_PLAIN = b'("text" "plain" ("charset" "utf-8") NIL NIL "base64" 24 1 NIL NIL NIL NIL)'

GB2312_WORD = encoded_word("上海喆镕昇科技有限公司_发票.pdf", "gbk", label="GB2312").encode()
SPLIT_FILENAME = "\t".join(mm.split_words("电子发票_25322000000350147748.pdf", "utf-8", [1, 4, 11])).encode()
SPLIT_NAME = " ".join(mm.split_words("增值税电子普通发票.pdf", "gbk", [1, 5], "Q")).encode()
RFC2231_NAME = "数电发票（普通发票）_江苏佑诚瑞楠科技有限公司.pdf".encode("gbk")
RAW_GBK_NAME = "电子发票（喆镕）.pdf".encode("gbk")
RAW_UTF8_NAME = "电子发票.ofd".encode()
RFC2231_MERGED = b"gbk''" + percent(RFC2231_NAME[:-4]).encode() + b".pdf"  # Dovecot joins the pieces

STRUCTURES: dict[str, tuple[bytes | list[bytes | tuple[bytes, bytes]], list[WantedPart]]] = {
    "gb2312_label": (
        b'(("text" "plain" ("charset" "gb2312") NIL NIL "base64" 42 1 NIL NIL NIL NIL)'
        b'("application" "pdf" ("name" "' + GB2312_WORD + b'") NIL NIL "base64" 236 NIL '
        b'("attachment" ("filename" "' + GB2312_WORD + b'")) NIL NIL) '
        b'"mixed" ("boundary" "----=_NextPart_000_0001") NIL NIL NIL)',
        [_wanted("2", "application/pdf", "上海喆镕昇科技有限公司_发票.pdf", 236, needs_header=True)],
    ),
    "split_words": (
        b"(" + TEXT_PLAIN + b'("application" "pdf" NIL NIL NIL "base64" 150 NIL '
        b'("attachment" ("filename" "' + SPLIT_FILENAME + b'")) NIL NIL)'
        b'("application" "pdf" ("name" "' + SPLIT_NAME + b'") NIL NIL "base64" 152 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "b1_split") NIL NIL NIL)',
        [
            _wanted("2", "application/pdf", "电子发票_25322000000350147748.pdf", 150, needs_header=True),
            _wanted("3", "application/pdf", "增值税电子普通发票.pdf", 152, needs_header=True, inline=True),
        ],
    ),
    "rfc2231": (
        b"(" + TEXT_PLAIN + b'("application" "pdf" ("name*" "GB2312\'\'' + percent(RFC2231_NAME).encode() + b'") '
        b'NIL NIL "base64" 120 NIL ("attachment" ("filename*" "' + RFC2231_MERGED + b'")) NIL NIL)'
        b'("application" "octet-stream" NIL NIL NIL "base64" 500 NIL ("attachment" ("filename" "fallback.ofd" '
        b'"filename*" "GB2312\'\'' + percent("电子发票.ofd".encode("gbk")).encode() + b'")) NIL NIL) '
        b'"mixed" ("boundary" "=_rfc2231") NIL NIL NIL)',
        [
            _wanted("2", "application/pdf", RFC2231_NAME.decode("gbk"), 120, needs_header=True),
            _wanted("3", "application/octet-stream", "电子发票.ofd", 500, needs_header=True),
        ],
    ),
    "raw_8bit": (
        # Dovecot sends a value with 8-bit bytes as a literal; imapclient hands it over as bytes.
        [
            (
                b'(("text" "plain" ("charset" "gbk") NIL NIL "8bit" 6 0 NIL NIL NIL NIL)'
                b'("application" "pdf" ("name" {%d}' % len(RAW_GBK_NAME),
                RAW_GBK_NAME,
            ),
            (b') NIL NIL "base64" 200 NIL ("attachment" ("filename" {%d}' % len(RAW_GBK_NAME), RAW_GBK_NAME),
            (
                b')) NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" 400 NIL '
                b'("attachment" ("filename" {%d}' % len(RAW_UTF8_NAME),
                RAW_UTF8_NAME,
            ),
            b')) NIL NIL) "mixed" ("boundary" "raw8bit") NIL NIL NIL)',
        ],
        [
            _wanted("2", "application/pdf", "电子发票（喆镕）.pdf", 200, needs_header=True),
            _wanted("3", "application/octet-stream", "电子发票.ofd", 400, needs_header=True),
        ],
    ),
    "octet_stream": (
        b"(" + TEXT_PLAIN + b'("application" "octet-stream" ("name" "INVOICE-0042.PDF") NIL NIL "base64" 150 NIL '
        b'("attachment" ("filename" "INVOICE-0042.PDF")) NIL NIL)'
        b'("application" "octet-stream" NIL NIL NIL "base64" 152 NIL NIL NIL NIL)'
        b'("application" "octet-stream" ("name" "settings.dat") NIL NIL "base64" 24 NIL NIL NIL NIL)'
        b'("application" "octet-stream" NIL NIL NIL "base64" 24 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "octets") NIL NIL NIL)',
        [
            _wanted("2", "application/octet-stream", "INVOICE-0042.PDF", 150),
            _wanted("3", "application/octet-stream", None, 152, inline=True, needs_sniff=True),
            _wanted("5", "application/octet-stream", None, 24, inline=True, needs_sniff=True),
        ],
    ),
    "inline_pdf": (
        b"((" + TEXT_PLAIN + b'("text" "html" ("charset" "utf-8") NIL NIL "base64" 28 1 NIL NIL NIL NIL) '
        b'"alternative" ("boundary" "alt") NIL NIL NIL)'
        b'("application" "pdf" NIL "<invoice-pdf@example>" NIL "base64" 140 NIL ("inline" NIL) NIL NIL) '
        b'"related" ("boundary" "rel" "type" "multipart/alternative") NIL NIL NIL)',
        [_wanted("2", "application/pdf", None, 140, inline=True)],
    ),
    "zip": (
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "base64" 40 1 NIL NIL NIL NIL)'
        b'("application" "x-zip-compressed" NIL NIL NIL "base64" 1400 NIL ("attachment" ("filename*" '
        b"\"utf-8''" + percent("发票打包_2025年7月.zip".encode()).encode() + b'")) NIL NIL) '
        b'"mixed" ("boundary" "===============1==") NIL NIL NIL)',
        [_wanted("2", "application/x-zip-compressed", "发票打包_2025年7月.zip", 1400, needs_header=True)],
    ),
    "forwarded": (
        b"(" + TEXT_PLAIN + b'("message" "rfc822" NIL NIL NIL "7bit" 900 ' + ENVELOPE + b" "
        b'(("text" "html" ("charset" "utf-8") NIL NIL "base64" 30 1 NIL NIL NIL NIL)'
        b'("application" "pdf" ("name" "=?utf-8?B?5Y+R56WoLnBkZg==?=") NIL NIL "base64" 160 NIL '
        b'("attachment" ("filename" "=?utf-8?B?5Y+R56WoLnBkZg==?=")) NIL NIL) '
        b'"mixed" ("boundary" "inner1") NIL NIL NIL)'
        b' 20 NIL ("attachment" NIL) NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 400 ' + ENVELOPE + b" "
        b'("application" "pdf" ("name" "scan.pdf") NIL NIL "base64" 100 NIL NIL NIL NIL) '
        b'8 NIL ("attachment" NIL) NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 1500 ' + ENVELOPE + b" "
        b"(" + TEXT_PLAIN + b'("message" "rfc822" NIL NIL NIL "7bit" 700 ' + ENVELOPE + b" "
        b"(" + TEXT_PLAIN + b'("application" "pdf" ("name" "nested.pdf") NIL NIL "base64" 150 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "inner3") NIL NIL NIL) 15 NIL NIL NIL NIL) "mixed" ("boundary" "inner2") NIL NIL NIL)'
        b' 30 NIL ("attachment" NIL) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)',
        [
            _wanted("2.2", "application/pdf", "发票.pdf", 160, needs_header=True, forwarded=True),
            _wanted("3.1", "application/pdf", "scan.pdf", 100, inline=True, header_section="3.HEADER", forwarded=True),
            _wanted("4.2.2", "application/pdf", "nested.pdf", 150, inline=True, forwarded=True),
        ],
    ),
    "single_part": (
        b'("application" "pdf" ("name" "scan_0001.pdf") NIL NIL "base64" 96 NIL '
        b'("attachment" ("filename" "scan_0001.pdf")) NIL NIL)',
        [_wanted("1", "application/pdf", "scan_0001.pdf", 96, header_section="HEADER")],
    ),
    "qp_xml_big5": (
        b'(("text" "plain" ("charset" "big5") NIL NIL "base64" 16 1 NIL NIL NIL NIL)'
        b'("text" "xml" ("charset" "utf-8" "name" "25322000000350147748.xml") NIL NIL "quoted-printable" 300 3 NIL '
        b'("attachment" ("filename" "25322000000350147748.xml")) NIL NIL) "mixed" ("boundary" "qpxml") NIL NIL NIL)',
        [_wanted("2", "text/xml", "25322000000350147748.xml", 300, encoding="quoted-printable", charset="utf-8")],
    ),
    "non_invoice_pdf": (
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "base64" 20 1 NIL NIL NIL NIL)'
        b'("application" "pdf" NIL NIL NIL "base64" 150 NIL ("attachment" ("filename*" "utf-8\'\''
        + percent("产品使用手册.pdf".encode()).encode()
        + b'")) NIL NIL)'
        b'("image" "png" NIL NIL NIL "base64" 20 NIL ("attachment" ("filename" "logo.png")) NIL NIL) '
        b'"mixed" ("boundary" "===============2==") NIL NIL NIL)',
        [_wanted("2", "application/pdf", "产品使用手册.pdf", 150, needs_header=True)],
    ),
    "nuonuo_links": (
        b'(("text" "plain" ("charset" "gbk") NIL NIL "base64" 300 4 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 1200 12 NIL NIL NIL NIL) '
        b'"alternative" ("boundary" "alt_nuonuo") NIL NIL NIL)',
        [],
    ),
}
STRUCTURE_SAMPLES = {build().key: build for build in SAMPLES}


@pytest.mark.parametrize("key", list(STRUCTURES))
def test_wanted_sections(key: str) -> None:
    text, expected = STRUCTURES[key]
    assert wanted_sections(_fetched(text)) == expected
    assert not whole_message_needed(_fetched(text))


def test_broken_boundary_needs_the_whole_message() -> None:
    """Dovecot 2.3.19 shows the broken_boundary sample as a multipart holding one empty text/plain part: no
    section to fetch, so the poller reads the whole message, where read_message finds the real boundary."""
    structure = _fetched(
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "----=_Part_0_123") NIL NIL NIL)'
    )
    assert wanted_sections(structure) == []
    assert whole_message_needed(structure)
    assert [a.name for a in read_message(mm.broken_boundary().data).attachments] == ["invoice.pdf"]
    assert not whole_message_needed(
        _fetched(b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)')
    )


def _entity_at(message: Message, section: str) -> Message:
    """The entity IMAP calls `section` (RFC 3501 6.4.5), found with the email package."""

    def in_message(container: Message, number: int) -> Message:
        if container.get_content_maintype() == "multipart":
            children = container.get_payload()
            assert isinstance(children, list)
            child = children[number - 1]
            assert isinstance(child, Message)
            return child
        assert number == 1
        return container

    first, *rest = (int(number) for number in section.split("."))
    node = in_message(message, first)
    for number in rest:
        payload = node.get_payload()
        assert isinstance(payload, list)
        # A multipart steps to its child; a message/rfc822 part into its embedded message.
        multipart = node.get_content_maintype() == "multipart"
        child = payload[number - 1] if multipart else payload[0]
        assert isinstance(child, Message)
        node = child if multipart else in_message(child, number)
    return node


def _fetch_header(message: Message, section: str) -> bytes:
    """What BODY.PEEK[section.MIME] returns: the entity's header lines as they were, and a blank line."""
    entity = _entity_at(message, section)
    lines = [f"{name}: {value}".encode("utf-8", "surrogateescape") + b"\r\n" for name, value in entity.raw_items()]
    return b"".join(lines) + b"\r\n"


def _fetch_body(message: Message, section: str) -> bytes:
    payload = _entity_at(message, section).get_payload()
    assert isinstance(payload, str)
    return payload.encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("key", list(STRUCTURES))
def test_fetching_wanted_sections_gives_what_read_message_gives(key: str) -> None:
    """The poller's way (structure, then part headers and bodies) and the whole-message way agree."""
    sample = STRUCTURE_SAMPLES[key]()
    text, _ = STRUCTURES[key]
    message = email.message_from_bytes(sample.data, policy=compat32)
    found = []
    for wanted in wanted_sections(_fetched(text)):
        info = wanted.info
        if wanted.needs_header:
            info = part_header_info(_fetch_header(message, wanted.section), wanted.enclosing_charset)
        raw = _fetch_body(message, wanted.section)
        contents = read_part(info, raw, wanted.section, forwarded=wanted.forwarded)
        found += [(a.part, a.name, a.file_name, a.data, a.forwarded) for a in contents.candidates]
    read = read_message(sample.data).candidates
    assert found == [(a.part, a.name, a.file_name, a.data, a.forwarded) for a in read]


@pytest.mark.parametrize("build", SAMPLES, ids=lambda build: build.__name__)
def test_part_header_info_on_every_sample_part(build: Callable[[], Sample]) -> None:
    """Each attachment's header block alone (as BODY.PEEK[n.MIME] gives it) names it as the whole message does."""
    sample = build()
    if sample.key == "broken_boundary":
        return  # its parts exist only for a reader that repairs the boundary; a server has no such sections
    message = email.message_from_bytes(sample.data, policy=compat32)
    for expected in sample.attachments:
        info = part_header_info(_fetch_header(message, expected.section))
        assert info.content_type == expected.content_type
        assert info.filename == (None if expected.name.startswith("attachment-") else expected.name)
        assert (info.disposition == "attachment") is not expected.inline
        assert info.verdict is not Verdict.NO


def test_text_sections() -> None:
    nuonuo, _ = STRUCTURES["nuonuo_links"]
    texts = text_sections(_fetched(nuonuo))
    assert [(t.section, t.content_type, t.charset, t.encoding) for t in texts] == [
        ("1", "text/plain", "gbk", "base64"),
        ("2", "text/html", "utf-8", "quoted-printable"),
    ]
    message = email.message_from_bytes(mm.nuonuo_links().data, policy=compat32)
    links = []
    for text in texts:
        body = decode_transfer(_fetch_body(message, text.section), text.encoding)
        links += find_links(body, html=text.content_type == "text/html", charset=text.charset)
    assert list(dict.fromkeys(link.url for link in links)) == list(mm.nuonuo_links().links)
    forwarded, _ = STRUCTURES["forwarded"]
    assert [t.section for t in text_sections(_fetched(forwarded))] == ["1", "2.1", "4.1", "4.2.1"]


def test_gmail_shapes() -> None:
    """Gmail: upper-case atoms and keys, no body-fld-loc, a BODY (no extension data) fallback to `name`."""
    gmail = _fetched(
        b'(("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "7BIT" 12 1 NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" ("NAME" "=?UTF-8?B?5Y+R56WoLnBkZg==?=") "<f_m1>" NIL "BASE64" 1000 NIL '
        b'("ATTACHMENT" ("FILENAME" "=?UTF-8?B?5Y+R56WoLnBkZg==?=")) NIL)'
        b'("IMAGE" "PNG" ("NAME" "image001.png") "<ii_1>" NIL "BASE64" 300 NIL '
        b'("INLINE" ("FILENAME" "image001.png")) NIL)'
        b' "MIXED" ("BOUNDARY" "000000000000abcd") NIL NIL)'
    )
    assert wanted_sections(gmail) == [
        _wanted("2", "application/octet-stream", "发票.pdf", 1000, needs_header=True),
    ]
    body_only = _fetched(
        b'(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1)("APPLICATION" "PDF" ("NAME" "a.pdf") NIL NIL "BASE64" 9) "MIXED")'
    )
    assert wanted_sections(body_only) == [_wanted("2", "application/pdf", "a.pdf", 9, inline=True)]


def test_rfc2231_pieces_not_merged_by_the_server() -> None:
    first, second = RFC2231_NAME[:5], RFC2231_NAME[5:]
    structure = (
        "application",
        "pdf",
        None,
        None,
        None,
        "base64",
        77,
        None,
        ("attachment", ("filename*1*", percent(second), "filename*0*", "gbk''" + percent(first))),
        None,
        None,
    )
    assert wanted_sections(structure) == [
        _wanted("1", "application/pdf", RFC2231_NAME.decode("gbk"), 77, needs_header=True, header_section="HEADER")
    ]


def test_wanted_sections_limits() -> None:
    many = b"(" + b'("application" "pdf" NIL NIL NIL "base64" 10 NIL NIL NIL NIL)' * 8 + b' "mixed")'
    assert [w.section for w in wanted_sections(_fetched(many), limits=MailLimits(max_parts=3))] == ["1", "2", "3"]
    forwarded, _ = STRUCTURES["forwarded"]
    shallow = wanted_sections(_fetched(forwarded), limits=MailLimits(max_depth=1))
    assert [w.section for w in shallow] == ["2.2", "3.1"]


@pytest.mark.parametrize(
    "structure",
    [
        None,
        (),
        [],
        5,
        b"text",
        ("text",),
        ([],),
        ([("text",)], b"mixed"),
        (b"message", b"rfc822", None, None, None, b"7bit", 10, (), 5),
    ],
)
def test_wanted_sections_odd_input(structure: object) -> None:
    assert wanted_sections(structure) == []


# ---------------------------------------------------------------------------------------------------------
# Never an exception


_ATOMS = (
    st.none()
    | st.integers(-5, 10**6)
    | st.binary(max_size=12)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            b"application",
            b"pdf",
            b"message",
            b"rfc822",
            b"octet-stream",
            b"name",
            b"filename*",
            b"attachment",
            b"=?gbk?B?x?=",
        ]
    )
)
_STRUCTURES = st.recursive(
    _ATOMS, lambda inner: st.lists(inner, max_size=12).map(tuple) | st.lists(inner, max_size=4), max_leaves=60
)


@settings(max_examples=300, deadline=None)
@given(_STRUCTURES)
def test_wanted_sections_never_raises(structure: object) -> None:
    assert isinstance(wanted_sections(structure), list)
    assert isinstance(text_sections(structure), list)
    assert isinstance(whole_message_needed(structure), bool)


# ---------------------------------------------------------------------------------------------------------
# What the structure cannot show, and containers


def test_a_forward_that_is_itself_base64_needs_the_whole_message() -> None:
    """A server does not decode a base64 message/rfc822 part to look inside: read whole, by read_message."""
    encoded = _fetched(
        b"(" + TEXT_PLAIN + b'("message" "rfc822" NIL NIL NIL "base64" 400 ' + ENVELOPE + b" "
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "b") NIL NIL NIL)'
    )
    assert whole_message_needed(encoded)
    plain, _ = STRUCTURES["forwarded"]
    assert not whole_message_needed(_fetched(plain))


def test_a_winmail_dat_is_fetched_to_be_unpacked() -> None:
    structure = _fetched(
        b"(" + TEXT_PLAIN + b'("application" "ms-tnef" ("name" "winmail.dat") NIL NIL "base64" 900 NIL '
        b'("attachment" ("filename" "winmail.dat")) NIL NIL)'
        b'("application" "octet-stream" ("name" "WINMAIL.DAT") NIL NIL "base64" 90 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "b") NIL NIL NIL)'
    )
    assert wanted_sections(structure) == [
        _wanted("2", "application/ms-tnef", "winmail.dat", 900),
        _wanted("3", "application/octet-stream", "WINMAIL.DAT", 90, inline=True),
    ]
    assert not whole_message_needed(structure)


def test_big_text_bodies_are_the_ones_looked_at_for_uuencoded_files() -> None:
    structure = _fetched(
        b'(("text" "plain" ("charset" "gbk") NIL NIL "8bit" 20000 300 NIL NIL NIL NIL)'
        b'("text" "plain" ("charset" "gbk") NIL NIL "8bit" 2000 30 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "gbk") NIL NIL "8bit" 90000 300 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "b") NIL NIL NIL)'
    )
    texts = text_sections(structure)
    assert [t.section for t in uuencode_candidates(texts)] == ["1"]
    assert [t.section for t in uuencode_candidates(texts, limits=MailLimits(uuencode_text_bytes=1000))] == ["1", "2"]


def test_raw_names_take_the_charset_declared_around_them() -> None:
    """A multipart's charset parameter (Foxmail writes one) reaches the parts that declare none, as in
    read_message; a part's own charset wins."""
    big5 = "電子發票.pdf".encode("big5")
    structure = _fetched(
        [
            (b'(("application" "pdf" ("name" {%d}' % len(big5), big5),
            b') NIL NIL "base64" 200 NIL NIL NIL NIL)("application" "pdf" ("charset" "gbk") NIL NIL "base64" 10 NIL '
            b'NIL NIL NIL) "mixed" ("boundary" "b" "charset" "big5") NIL NIL NIL)',
        ]
    )
    first, second = wanted_sections(structure)
    assert (first.name, first.enclosing_charset, first.needs_header) == ("電子發票.pdf", "big5", True)
    assert (second.charset, second.enclosing_charset) == ("gbk", "big5")
