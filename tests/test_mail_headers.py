"""ingest.sources.mail_headers: header text and part names as Chinese mailers write them (GB2312 labels on GBK,
words split mid-character, RFC 2231 pieces, raw 8-bit bytes), and part header blocks alone."""

from __future__ import annotations

import base64
import email
import email.policy
from email.header import Header
from email.policy import compat32

import mail_messages as mm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mail_messages import encoded_word, percent

from ingest.sources.mail_headers import decode_header_text, part_filename, part_header_info
from ingest.sources.mail_parts import Verdict, clean_file_name

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
        # names are reported as the mail writes them (cleaned only for writing a file: see below)
        (b'Content-Disposition: attachment; filename="C:\\\\fakepath\\\\inv.pdf"\r\n\r\n', "C:\\fakepath\\inv.pdf"),
        (b'Content-Disposition: attachment; filename="../../etc/x.pdf"\r\n\r\n', "../../etc/x.pdf"),
        (b'Content-Disposition: attachment; filename="=?utf-8?B?YQpi4oCuLnBkZg==?="\r\n\r\n', "a\nb\u202e.pdf"),
        (b"Content-Disposition: attachment\r\n\r\n", None),
        (b'Content-Disposition: attachment; filename=""\r\n\r\n', None),
        (b"", None),
    ],
)
def test_part_header_info_filename(header: bytes, filename: str | None) -> None:
    assert part_header_info(header).filename == filename


@pytest.mark.parametrize(
    ("header", "written", "cleaned"),
    [
        (
            b'Content-Disposition: attachment; filename="C:\\\\fakepath\\\\inv.pdf"\r\n\r\n',
            "C:\\fakepath\\inv.pdf",
            "inv.pdf",
        ),
        (b'Content-Disposition: attachment; filename="../../etc/x.pdf"\r\n\r\n', "../../etc/x.pdf", "x.pdf"),
        (
            b'Content-Disposition: attachment; filename="=?utf-8?B?YQpi4oCuLnBkZg==?="\r\n\r\n',
            "a\nb\u202e.pdf",
            "ab.pdf",
        ),
        (b'Content-Type: application/pdf; name=" \x00inv.pdf\x07"\r\n\r\n', " \x00inv.pdf\x07", "inv.pdf"),
    ],
)
def test_names_are_cleaned_only_for_writing_a_file(header: bytes, written: str, cleaned: str) -> None:
    """Directories and control characters stay in the reported name and never reach a file name; the verdict is
    given on the cleaned name, so it is the same either way."""
    info = part_header_info(header)
    assert info.filename == written
    assert clean_file_name(written) == cleaned
    assert info.verdict is Verdict.YES


def test_raw_8bit_names_are_read_in_the_declared_charset() -> None:
    """The part's own charset first, else the one of the message around it, else UTF-8, else GB18030: Big5 bytes
    read as GB18030 would be other characters, GBK bytes are not valid UTF-8."""
    big5 = "電子發票.pdf".encode("big5")
    header = b'Content-Type: application/pdf; charset=big5; name="' + big5 + b'"\r\n\r\n'
    assert part_header_info(header).filename == "電子發票.pdf"
    no_charset = b'Content-Disposition: attachment; filename="' + big5 + b'"\r\n\r\n'
    assert part_header_info(no_charset, "big5").filename == "電子發票.pdf"
    assert part_header_info(no_charset).filename != "電子發票.pdf"  # GB18030 takes Big5 bytes for other text
    gbk = b'Content-Disposition: attachment; filename="' + "发票.pdf".encode("gbk") + b'"\r\n\r\n'
    assert part_header_info(gbk, "utf-8").filename == "发票.pdf"  # not UTF-8 after all: GB18030
    assert part_header_info(gbk, "gbk").filename == "发票.pdf"


@pytest.mark.parametrize("value", ["base64", " Base64 ", "base64\t", '"base64"', "BASE64 (ERP)", "'base64'"])
def test_transfer_encoding_with_stray_whitespace_quotes_and_case(value: str) -> None:
    header = f"Content-Type: application/pdf\r\nContent-Transfer-Encoding: {value}\r\n\r\n".encode()
    assert part_header_info(header).transfer_encoding == "base64"


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


# ---------------------------------------------------------------------------------------------------------
# Never an exception


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_decode_header_text_never_raises(value: str | bytes) -> None:
    assert isinstance(decode_header_text(value), str)
