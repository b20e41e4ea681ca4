"""ingest.sources.mime: names, sections, bytes and links out of real-world-shaped mail; BODYSTRUCTURE as
imapclient returns it; and never an exception, whatever the bytes."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
from collections.abc import Callable
from email.header import Header
from email.message import Message
from email.policy import compat32

import mail_messages as mm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response
from mail_messages import SAMPLES, Sample, encoded_word, percent

from ingest.sources.mime import (
    MailLimits,
    Verdict,
    WantedPart,
    decode_header_text,
    decode_transfer,
    find_links,
    is_download_link,
    judge_part,
    part_filename,
    part_header_info,
    read_message,
    text_sections,
    wanted_sections,
    whole_message_needed,
)

# ---------------------------------------------------------------------------------------------------------
# Every builder through read_message


@pytest.mark.parametrize("build", SAMPLES, ids=lambda build: build.__name__)
def test_sample_read_exactly(build: Callable[[], Sample]) -> None:
    sample = build()
    contents = read_message(sample.data)
    assert contents.subject == sample.subject
    assert contents.sender_address == sample.sender_address
    assert contents.sender_name == sample.sender_name
    assert contents.message_id == sample.message_id
    assert contents.date is not None and contents.date.isoformat() == "2025-07-29T10:15:00+08:00"
    found = [(a.section, a.name, a.content_type, a.inline, a.problem) for a in contents.attachments]
    expected = [(e.section, e.name, e.content_type, e.inline, None) for e in sample.attachments]
    assert found == expected
    for attachment, wanted in zip(contents.attachments, sample.attachments, strict=True):
        assert attachment.data == wanted.data, attachment.section
    assert [link.url for link in contents.links] == list(sample.links)
    assert bool(contents.problems) == sample.malformed, contents.problems


def test_link_texts_are_what_a_person_reads() -> None:
    nuonuo = read_message(mm.nuonuo_links().data)
    # The plain part comes first in multipart/alternative; its link text is the words before the URL.
    assert [link.text for link in nuonuo.links] == ["发票下载地址：", "下载PDF文件"]
    baiwang = read_message(mm.baiwang_links().data)
    assert [link.text for link in baiwang.links] == ["点击这里", "预览", "下载OFD"]
    tax = read_message(mm.tax_bureau_links().data)
    assert [link.text for link in tax.links] == ["下载地址："]


def test_problems_say_what_was_wrong() -> None:
    broken = read_message(mm.broken_boundary().data)
    assert any("boundary '----=_Part_0_124'" in problem for problem in broken.problems), broken.problems
    assert any("never appears" in problem for problem in broken.problems)
    truncated = read_message(mm.truncated_base64().data)
    assert any("not closed" in problem for problem in truncated.problems), truncated.problems


def test_large_attachment_read_whole() -> None:
    sample = mm.large_attachment(3 * mm.MIB)
    contents = read_message(sample.data)
    assert [(a.section, a.name, len(a.data)) for a in contents.attachments] == [("2", "large.pdf", 3 * mm.MIB)]
    assert contents.attachments[0].data == sample.attachments[0].data


def test_8bit_bodies_keep_their_bytes() -> None:
    """Raw 8-bit bodies come out byte for byte: a binary PDF, a GBK text body searched for links, a
    quoted-printable part with unescaped 8-bit bytes, a uuencoded PDF - whatever the charset parameter says."""
    binary_pdf = mm.fake_pdf("binary") + bytes(range(256))
    qp_pdf = mm.fake_pdf("qp") + "发票".encode("gbk")
    uu_pdf = mm.fake_pdf("uu")
    parts = [
        mm.entity(
            [("Content-Type", "text/plain; charset=gbk"), ("Content-Transfer-Encoding", "8bit")],
            "发票下载：https://s.example.cn/x7Yz\r\n".encode("gbk"),
        ),
        mm.entity(
            [
                ("Content-Type", 'application/pdf; charset=utf-8; name="binary.pdf"'),
                ("Content-Transfer-Encoding", "binary"),
            ],
            binary_pdf,
        ),
        mm.entity(
            [
                ("Content-Type", 'application/pdf; charset=gbk; name="qp.pdf"'),
                ("Content-Transfer-Encoding", "quoted-printable"),
            ],
            mm.fake_pdf("qp").replace(b"=", b"=3D") + "发票".encode("gbk"),
        ),
        mm.entity(
            [("Content-Type", 'application/octet-stream; name="uu.pdf"'), ("Content-Transfer-Encoding", "x-uuencode")],
            b"begin 644 uu.pdf\r\n" + binascii.b2a_uu(uu_pdf[:45]) + binascii.b2a_uu(uu_pdf[45:]) + b"`\r\nend\r\n",
        ),
    ]
    message = mm.entity(
        [("Subject", "8bit"), ("Content-Type", "multipart/mixed; boundary=b8")], mm.multipart("b8", parts)
    )
    contents = read_message(message)
    assert [(a.section, a.name, a.data) for a in contents.attachments] == [
        ("2", "binary.pdf", binary_pdf),
        ("3", "qp.pdf", qp_pdf),
        ("4", "uu.pdf", uu_pdf),
    ]
    assert [(link.url, link.text) for link in contents.links] == [("https://s.example.cn/x7Yz", "发票下载：")]
    assert contents.problems == ()


# ---------------------------------------------------------------------------------------------------------
# Limits


def test_attachment_over_the_limit_is_reported_not_read() -> None:
    sample = mm.large_attachment(3 * mm.MIB)
    contents = read_message(sample.data, limits=MailLimits(max_attachment_bytes=2 * mm.MIB))
    (attachment,) = contents.attachments
    assert (attachment.section, attachment.name, attachment.data) == ("2", "large.pdf", b"")
    assert attachment.problem is not None and "2097152-byte limit" in attachment.problem


def test_attachment_at_the_limit_is_read() -> None:
    sample = mm.large_attachment(mm.MIB)
    contents = read_message(sample.data, limits=MailLimits(max_attachment_bytes=mm.MIB))
    assert contents.attachments[0].problem is None
    assert len(contents.attachments[0].data) == mm.MIB


def test_message_over_the_limit_gives_headers_only() -> None:
    sample = mm.gb2312_label_gbk_name()
    assert len(sample.data) > 800
    contents = read_message(sample.data, limits=MailLimits(max_message_bytes=800))
    assert contents.subject == sample.subject
    assert contents.sender_name == sample.sender_name
    assert contents.attachments == ()
    assert contents.problems and "800-byte limit" in contents.problems[0]


def _many_parts(count: int) -> bytes:
    parts = [
        mm.pdf_part(mm.fake_pdf(str(n)), [("Content-Type", f'application/pdf; name="{n}.pdf"')]) for n in range(count)
    ]
    headers = [("Subject", "many"), ("Content-Type", "multipart/mixed; boundary=many")]
    return mm.entity(headers, mm.multipart("many", parts))


def test_parts_over_the_limit_are_not_read() -> None:
    contents = read_message(_many_parts(12), limits=MailLimits(max_parts=5))
    assert [a.section for a in contents.attachments] == ["1", "2", "3", "4", "5"]
    assert contents.problems == ("message has more than 5 parts: the rest were not read",)


def _forwarded(depth: int) -> bytes:
    message = mm.entity(
        [("Subject", "innermost"), ("Content-Type", 'application/pdf; name="deep.pdf"')], mm.fake_pdf("deep")
    )
    for level in range(depth):
        message = mm.entity(
            [("Subject", f"fw {level}"), ("Content-Type", f"multipart/mixed; boundary=fw{level}")],
            mm.multipart(f"fw{level}", [mm.text_part("fw"), mm.entity([("Content-Type", "message/rfc822")], message)]),
        )
    return message


def test_forwarded_messages_deeper_than_the_limit_are_not_read() -> None:
    inside = read_message(_forwarded(3), limits=MailLimits(max_depth=3))
    assert [a.section for a in inside.attachments] == ["2.2.2.1"]
    assert inside.attachments[0].name == "deep.pdf"
    too_deep = read_message(_forwarded(4), limits=MailLimits(max_depth=3))
    assert too_deep.attachments == ()
    assert too_deep.problems == ("part 2.2.2.2: forwarded message nested over 3 levels deep: not read",)


def test_absurd_nesting_never_raises() -> None:
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n) for n in range(3000))
    contents = read_message(head + b"Content-Type: application/pdf\r\n\r\n%PDF-1.7")
    assert contents.attachments == ()
    assert contents.problems
    nested_forwards = b"Content-Type: message/rfc822\r\n\r\n" * 3000 + b"Content-Type: application/pdf\r\n\r\n%PDF-"
    assert read_message(nested_forwards).problems


def test_links_over_the_limit_are_dropped() -> None:
    body = "\n".join(f"发票下载：https://dl.example-fapiao.cn/d/{n}.pdf" for n in range(30)).encode()
    message = mm.entity([("Subject", "links"), ("Content-Type", "text/plain; charset=utf-8")], body)
    assert len(read_message(message, limits=MailLimits(max_links=7)).links) == 7


def test_winmail_dat_is_reported() -> None:
    parts = [
        mm.text_part("see attached"),
        mm.pdf_part(b"\x78\x9f\x3e\x22", [("Content-Type", 'application/ms-tnef; name="winmail.dat"')]),
    ]
    message = mm.entity(
        [("Subject", "tnef"), ("Content-Type", "multipart/mixed; boundary=t")], mm.multipart("t", parts)
    )
    contents = read_message(message)
    assert contents.attachments == ()
    assert len(contents.problems) == 1 and "winmail.dat" in contents.problems[0]


# ---------------------------------------------------------------------------------------------------------
# Header text

GBK_ONLY = "上海喆镕昇科技"  # 喆, 镕 and 昇 are GBK, not GB2312


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (encoded_word(GBK_ONLY, "gbk", label="GB2312"), GBK_ONLY),
        (encoded_word(GBK_ONLY, "gbk", label="gb_2312-80"), GBK_ONLY),
        (encoded_word(GBK_ONLY, "gbk", "Q", label="GBK"), GBK_ONLY),
        (encoded_word("電子發票", "big5"), "電子發票"),
        (encoded_word("发票", "gb18030", label="cp936"), "发票"),
        # split mid-character, words folded over lines, B and Q, lower-case markers
        (" ".join(mm.split_words("电子发票", "utf-8", [1, 4, 7])), "电子发票"),
        ("\r\n\t".join(mm.split_words("电子发票", "utf-8", [2, 5])), "电子发票"),
        (" ".join(mm.split_words("增值税发票", "gbk", [1, 3, 7], "Q")), "增值税发票"),
        ("=?utf-8?b?5Y+R?==?utf-8?b?56Wo?=", "发票"),  # no space between words
        ("=?UTF-8?q?=E5=8F=91_=E7=A5=A8?=", "发 票"),
        # the same character split across a GB2312 and a GBK label: one charset family, joined
        (
            f"=?GB2312?B?{base64.b64encode('喆'.encode('gbk')[:1]).decode()}?= "
            f"=?GBK?B?{base64.b64encode('喆'.encode('gbk')[1:] + '镕'.encode('gbk')).decode()}?=",
            "喆镕",
        ),
        # text around words is kept, whitespace between words is not
        ("发票 =?UTF-8?B?5Y+356CB?= 25322000000350147748", "发票 号码 25322000000350147748"),
        ("=?UTF-8?B?5Y+R?= =?GBK?B?xrE=?=", "发票"),
        ("Re: =?utf-8?B?5Y+R56Wo?=", "Re: 发票"),
        ("=?UTF-8*zh-CN?B?5Y+R56Wo?=", "发票"),  # RFC 2231 language in a word
        ('"=?utf-8?B?5Y+R56Wo?=" <a@example.cn>', '"发票" <a@example.cn>'),
        # damage: missing padding, a lone last character, unknown charset, bytes invalid in the charset
        ("=?UTF-8?B?5Y+R56Wo?=", "发票"),
        ("=?UTF-8?B?5Y+R56W?=", "发\ufffd"),
        ("=?GBK?B?t6LGsQ?=", "发票"),
        ("=?x-unknown?B?5Y+R56Wo?=", "发票"),
        ("=?x-unknown?B?t6LGsQ==?=", "发票"),
        ("=?utf-8?B?t6LGsQ==?=", "发票"),  # GBK bytes labelled UTF-8
        ("=?utf-8?B?", "=?utf-8?B?"),
        ("=??B?5Y+R?=", "=??B?5Y+R?="),
        ("plain ascii", "plain ascii"),
        ("", ""),
    ],
)
def test_decode_header_text(value: str, expected: str) -> None:
    assert decode_header_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("发票".encode("gbk"), "发票"),
        ("发票".encode(), "发票"),
        (GBK_ONLY.encode("gbk"), GBK_ONLY),
        ("发票".encode("gbk") + b" =?UTF-8?B?5Y+356CB?=", "发票 号码"),
    ],
)
def test_decode_header_text_raw_bytes(value: bytes, expected: str) -> None:
    assert decode_header_text(value) == expected


def test_decode_header_text_from_the_email_package() -> None:
    raw = b"Subject: " + "发票".encode("gbk") + b" =?GBK?B?xrE=?=\r\nX-Name: " + "发票".encode() + b"\r\n\r\n"
    message = email.message_from_bytes(raw, policy=compat32)
    assert isinstance(message["Subject"], Header)  # compat32's way with 8-bit headers
    assert decode_header_text(message["Subject"]) == "发票 票"
    assert decode_header_text(message["X-Name"]) == "发票"
    assert decode_header_text("\udcb7\udca2\udcc6\udcb1") == "发票"  # str with the parser's surrogate escapes
    assert decode_header_text(Header("喆镕", "gbk")) == "喆镕"


def test_sender_name_with_comma_decoded_after_the_address_is_split() -> None:
    sender = f"{encoded_word('发票中心, 上海', 'utf-8')} <invoice@example-fapiao.cn>, other@example.com"
    message = mm.entity([("From", sender), ("Subject", "x")], b"")
    contents = read_message(message)
    assert (contents.sender_name, contents.sender_address) == ("发票中心, 上海", "invoice@example-fapiao.cn")


def test_missing_and_broken_envelope_headers() -> None:
    contents = read_message(b"Date: yesterday\r\nMessage-ID:  <a@b>\r\n\r\nbody")
    assert (contents.subject, contents.sender_address, contents.sender_name) == ("", "", "")
    assert contents.date is None
    assert contents.message_id == "<a@b>"
    assert read_message(b"From: <<broken\r\n\r\n").sender_address == ""


# ---------------------------------------------------------------------------------------------------------
# Part headers alone (BODY.PEEK[n.MIME])


@pytest.mark.parametrize(
    ("header", "filename"),
    [
        (b'Content-Type: application/pdf; name="invoice.pdf"\r\n\r\n', "invoice.pdf"),
        (
            b'Content-Type: application/pdf; name="other.pdf"\r\n'
            b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n',
            "a.pdf",
        ),
        (
            f'Content-Disposition: attachment; filename="{encoded_word(GBK_ONLY + ".pdf", "gbk", label="GB2312")}"'
            "\r\n\r\n".encode(),
            GBK_ONLY + ".pdf",
        ),
        (
            b"Content-Disposition: attachment;\r\n filename*0*=gbk''"
            + percent("电子".encode("gbk")[:3]).encode()
            + b";\r\n filename*1*="
            + percent("电子".encode("gbk")[3:]).encode()
            + b';\r\n filename*2=".pdf"\r\n\r\n',
            "电子.pdf",
        ),
        (
            b"Content-Disposition: attachment; filename*=GB2312'zh-cn'"
            + percent(GBK_ONLY.encode("gbk")).encode()
            + b".ofd\r\n\r\n",
            GBK_ONLY + ".ofd",
        ),
        # RFC 2231 wins over a plain value, in either order
        (b"Content-Disposition: attachment; filename*=utf-8''%E5%8F%91.pdf; filename=\"x.pdf\"\r\n\r\n", "发.pdf"),
        (b"Content-Disposition: attachment; filename=\"x.pdf\"; filename*=utf-8''%E5%8F%91.pdf\r\n\r\n", "发.pdf"),
        # a single `name*` and numbered pieces of the same name together: the stdlib cannot sort them
        (b"Content-Disposition: attachment; filename*=utf-8''%E5%8F%91.pdf; filename*0*=utf-8''x\r\n\r\n", "发.pdf"),
        # raw 8-bit bytes, GBK and UTF-8
        (b'Content-Disposition: attachment; filename="' + "发票.pdf".encode("gbk") + b'"\r\n\r\n', "发票.pdf"),
        (b'Content-Type: application/octet-stream; name="' + "发票.ofd".encode() + b'"\r\n\r\n', "发票.ofd"),
        # percent-encoded plain values, with and without a charset prefix
        (b'Content-Disposition: attachment; filename="%E5%8F%91%E7%A5%A8.pdf"\r\n\r\n', "发票.pdf"),
        (b"Content-Disposition: attachment; filename=\"gbk''%B7%A2%C6%B1.pdf\"\r\n\r\n", "发票.pdf"),
        (b'Content-Disposition: attachment; filename="100%25 done.pdf"\r\n\r\n', "100%25 done.pdf"),
        # directories and control characters never reach a name
        (b'Content-Disposition: attachment; filename="C:\\\\fakepath\\\\inv.pdf"\r\n\r\n', "inv.pdf"),
        (b'Content-Disposition: attachment; filename="../../etc/x.pdf"\r\n\r\n', "x.pdf"),
        (b'Content-Disposition: attachment; filename="=?utf-8?B?YQpi4oCuLnBkZg==?="\r\n\r\n', "ab.pdf"),
        (b"Content-Disposition: attachment\r\n\r\n", None),
        (b'Content-Disposition: attachment; filename=""\r\n\r\n', None),
        (b"", None),
    ],
)
def test_part_header_info_filename(header: bytes, filename: str | None) -> None:
    assert part_header_info(header).filename == filename


def test_part_header_info_fields() -> None:
    info = part_header_info(
        b'Content-Type: Application/Octet-Stream; charset=GB2312;\r\n\tname="=?GBK?B?t6LGsS5wZGY=?="\r\n'
        b"Content-Transfer-Encoding: BASE64\r\nContent-Disposition: INLINE\r\n\r\n"
    )
    assert info.content_type == "application/octet-stream"
    assert info.filename == "发票.pdf"
    assert info.disposition == "inline"
    assert info.charset == "gb2312"
    assert info.transfer_encoding == "base64"
    assert info.verdict is Verdict.YES
    empty = part_header_info(b"\r\n")
    assert (empty.content_type, empty.filename, empty.disposition, empty.charset, empty.transfer_encoding) == (
        "text/plain",
        None,
        None,
        None,
        "7bit",
    )
    assert empty.verdict is Verdict.NO


def test_part_filename_takes_a_message() -> None:
    message = email.message_from_bytes(mm.raw_8bit_names().data, policy=compat32)
    assert [part_filename(part) for part in message.walk()] == [None, None, "电子发票（喆镕）.pdf", "电子发票.ofd"]
    modern = email.message_from_bytes(mm.zip_attachment().data, policy=email.policy.default)
    assert [part_filename(part) for part in modern.walk()] == [None, None, "发票打包_2025年7月.zip"]


@pytest.mark.parametrize(
    ("content_type", "name", "verdict"),
    [
        ("application/pdf", None, Verdict.YES),
        ("Application/PDF", "x.docx", Verdict.YES),
        ("application/ofd", None, Verdict.YES),
        ("text/xml", None, Verdict.YES),
        ("application/x-zip-compressed", None, Verdict.YES),
        ("image/jpeg", "扫描件.PDF", Verdict.YES),
        ("application/octet-stream", "发票.ofd ", Verdict.YES),
        ("application/octet-stream", None, Verdict.BY_CONTENT),
        ("application/octet-stream", "发票", Verdict.BY_CONTENT),
        ("application/octet-stream", "电子发票.25322000000350147748", Verdict.BY_CONTENT),
        ("application/octet-stream", "报价单.xlsx", Verdict.NO),
        ("image/png", None, Verdict.NO),
        ("text/plain", None, Verdict.NO),
        ("text/html", "index.html", Verdict.NO),
    ],
)
def test_judge_part(content_type: str, name: str | None, verdict: Verdict) -> None:
    assert judge_part(content_type, name) is verdict


# ---------------------------------------------------------------------------------------------------------
# Transfer encodings


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        (b"JVBERi0xLjcK\r\n", "base64", b"%PDF-1.7\n"),
        (b"JVBERi0xLjcKKg\r\n", "BASE64", b"%PDF-1.7\n*"),  # padding missing
        (b"JVBE\r\nRi0x\nLjcK", "base64", b"%PDF-1.7\n"),  # odd line breaks
        (b"YQ==YWI=", "base64", b"aab"),  # two encoded runs glued together
        (b"YQ==\r\n==", "base64", b"a"),  # extra padding
        (b"JVBE*Ri0x", "base64", b"%PDF-1"),  # junk
        (b"JVBERi0xL", "base64", b"%PDF-1"),  # lone last character: no whole byte
        (b"", "base64", b""),
        (b"a=3Db=\r\nc=E5=8F=91\r\n", "quoted-printable", b"a=bc\xe5\x8f\x91\r\n"),
        (b"100% =ZZ done", "Quoted-Printable", b"100% =ZZ done"),
        (b"\x00\xffraw", "binary", b"\x00\xffraw"),
        (b"text\r\n", "7bit", b"text\r\n"),
        (b"text", "", b"text"),
        (b"begin 644 x.pdf\n" + binascii.b2a_uu(b"%PDF-1.7 uu") + b"`\nend\n", "x-uuencode", b"%PDF-1.7 uu"),
        (b"no begin line", "uue", b""),
    ],
)
def test_decode_transfer(data: bytes, encoding: str, expected: bytes) -> None:
    assert decode_transfer(data, encoding) == expected


# ---------------------------------------------------------------------------------------------------------
# Links


@pytest.mark.parametrize(
    ("url", "text", "context", "expected"),
    [
        ("https://dl.example.cn/files/abc.PDF", "", "", True),
        ("https://dl.example.cn/get?file=25322000000350147748.ofd", "", "", True),
        ("https://nnfp.example.cn/x7Yz", "", "", True),
        ("https://www.example.cn/einvoice/view?id=1", "", "", True),
        ("https://dppt.example-tax.cn:8443/v/2_2532", "", "", True),
        ("https://s.example.cn/x7Yz", "下载发票", "", True),
        ("https://s.example.cn/x7Yz", "Download", "", True),
        ("https://s.example.cn/x7Yz", "点击这里", "电子发票下载地址：", True),
        ("https://s.example.cn/x7Yz", "", "Click here to view your invoice", True),
        # not downloads
        ("https://s.example.cn/x7Yz", "", "", False),
        ("https://s.example.cn/x7Yz", "在线客服", "如有发票问题请联系", False),
        ("https://s.example.cn/x7Yz", "点击这里", "如需退订发票通知请点击", False),
        ("https://www.example-fapiao.cn/", "发票", "", False),
        ("https://www.example-fapiao.cn", "", "", False),
        ("https://fapiao.example.cn/unsubscribe?u=1", "", "", False),
        ("https://fapiao.example.cn/logo.png", "发票", "", False),
        ("https://fapiao.example.cn/app/download", "下载诺诺发票APP", "", False),
        ("https://apps.apple.com/cn/app/fapiao/id1", "", "", False),
        ("https://www.example.cn/privacy.pdf", "", "", False),
        ("mailto:invoice@example-fapiao.cn", "发票", "", False),
        ("javascript:download('x.pdf')", "下载", "", False),
        ("ftp://example.cn/x.pdf", "", "", False),
        ("https://[broken/x.pdf", "发票", "", False),
    ],
)
def test_is_download_link(url: str, text: str, context: str, expected: bool) -> None:
    assert is_download_link(url, text, context) is expected


def test_find_links_in_html() -> None:
    html = """<div>您的发票：<a href="https://s.example.cn/a">https://s.example.cn/a</a></div>
<script>var u = "https://fapiao.example.cn/tracker.js?x=1";</script>
<p>发票下载 https://s.example.cn/b。请尽快下载</p>
<a href="https://s.example.cn/a">下载</a><a>no href</a><img src="https://fapiao.example.cn/p.gif?x=1">
<p>broken <a href="https://fapiao.example.cn/d/1">unclosed"""
    links = find_links(html.encode("gb18030"), html=True, charset="gb2312")
    assert [(link.url, link.text) for link in links] == [
        # the first anchor: its text is the bare URL, and '您的发票：' names the invoice but points at nothing
        ("https://s.example.cn/b", "发票下载"),
        ("https://s.example.cn/a", "下载"),
        ("https://fapiao.example.cn/d/1", "unclosed"),
    ]


def test_find_links_in_plain_text() -> None:
    text = "发票下载链接：https://s.example.cn/c请在7天内下载\n\n发票查看地址:\n  https://s.example.cn/d).\nhttps://s.example.cn/e"
    links = find_links(text.encode(), html=False, charset=None)
    assert [link.url for link in links] == ["https://s.example.cn/c", "https://s.example.cn/d"]


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
            _wanted("2.2", "application/pdf", "发票.pdf", 160, needs_header=True),
            _wanted("3.1", "application/pdf", "scan.pdf", 100, inline=True, header_section="3.HEADER"),
            _wanted("4.2.2", "application/pdf", "nested.pdf", 150, inline=True),
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
        name = wanted.name
        if wanted.needs_header:
            info = part_header_info(_fetch_header(message, wanted.section))
            if info.verdict is Verdict.NO:
                continue
            name = info.filename
        data = decode_transfer(_fetch_body(message, wanted.section), wanted.encoding)
        if wanted.needs_sniff and not data.startswith((b"%PDF-", b"PK\x03\x04", b"<")):
            continue
        found.append((wanted.section, name or f"attachment-{wanted.section}.pdf", data))
    read = read_message(sample.data).attachments
    assert found == [(a.section, a.name, a.data) for a in read]


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

SAMPLE_BYTES = [build().data for build in SAMPLES]
TOKENS = [
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"boundary=",
    b"=?gbk?B?",
    b"?=",
    b"=?utf-8?q?=E5",
    b"filename*0*=gbk''%B7",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"\xff\xfe",
    b"\x00",
    b'"',
    b";",
    b"%",
]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE_BYTES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "flip", "truncate"]))
        if operation == "insert":
            data[position:position] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif operation == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif operation == "truncate":
            del data[position:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_read_message_never_raises_on_damaged_mail(data: bytes) -> None:
    contents = read_message(data)
    assert all(isinstance(problem, str) for problem in contents.problems)
    assert all(attachment.name for attachment in contents.attachments)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | st.lists(st.sampled_from(TOKENS) | st.binary(max_size=10), max_size=40).map(b"".join))
def test_read_message_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    read_message(data)
    part_header_info(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_decode_header_text_never_raises(value: str | bytes) -> None:
    assert isinstance(decode_header_text(value), str)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500), st.sampled_from(["base64", "quoted-printable", "7bit", "x-unknown", ""]))
def test_decode_transfer_never_raises(data: bytes, encoding: str) -> None:
    decode_transfer(data, encoding)


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
