"""ingest.sources.mime: the rules real mail needs beyond the stdlib `email` package, each on literal messages -
names (RFC 2231 precedence and pieces, encoded words unquoted, spaces, raw 8-bit in the declared charset),
transfer encodings with stray whitespace, unquoted and 8-bit boundaries, lenient base64, uuencode, winmail.dat,
encoded forwards - every attachment reported with why it is or is not a candidate; and bad input (truncated,
50 MB, 10,000 parts, 200 nested forwards, garbage, NUL bytes) giving a clear problem, never an exception."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import struct
from collections.abc import Callable

import pytest
import tnefparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mail_messages import damaged, fake_pdf
from messy_mail import MESSY, Messy, b64, mixed, tnef_attribute, winmail_dat

from ingest.sources.mail_headers import PartInfo
from ingest.sources.mail_parts import MailLimits
from ingest.sources.mime import read_message, read_part
from ingest.sources.tnef import unpack_tnef

# ---------------------------------------------------------------------------------------------------------
# The messy-mail set: exactly the attachments a careful reader finds


@pytest.mark.parametrize("build", MESSY, ids=lambda build: build.__name__)
def test_messy_mail_read_exactly(build: Callable[[], Messy]) -> None:
    messy = build()
    contents = read_message(messy.data)
    found = [(a.part, a.name, a.candidate, a.forwarded, a.problem is not None) for a in contents.attachments]
    wanted = [(w.part, w.name, w.candidate, w.forwarded, w.problem) for w in messy.wants]
    assert found == wanted
    for attachment, want in zip(contents.attachments, messy.wants, strict=True):
        if not want.problem:
            assert attachment.sha256 == hashlib.sha256(want.data).hexdigest(), attachment.part
            assert attachment.size == len(want.data)
        assert attachment.data == (want.data if want.candidate and not want.problem else b"")
        assert attachment.why
    assert bool(contents.problems) == messy.malformed, contents.problems


def _why(data: bytes) -> dict[str, str]:
    return {a.part: a.why for a in read_message(data).attachments}


def test_why_a_part_is_or_is_not_a_candidate() -> None:
    by_type = mixed(
        b"why",
        b"w",
        [
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.7 declared",
            b'Content-Type: application/octet-stream; name="a.PDF"\r\n\r\nnot even a pdf',
            b"Content-Type: application/octet-stream\r\n\r\n%PDF-1.7 by bytes",
            b"Content-Type: application/octet-stream\r\n\r\n\x00\x01 junk",
            b'Content-Type: image/jpeg; name="photo.jpg"\r\n\r\n\xff\xd8\xff',
            b'Content-Type: application/octet-stream; name="settings.dat"\r\n\r\nx',
        ],
    )
    assert _why(by_type) == {
        "1": "declared application/pdf",
        "2": "name ends .pdf",
        "3": "application/octet-stream whose bytes are a PDF",
        "4": "application/octet-stream whose bytes are not PDF/OFD/XML/zip",
        "5": "image/jpeg: not a type invoices come in",
        "6": "name ends .dat: not a file invoices come in",
    }


def test_names_are_reported_as_written_and_cleaned_for_files() -> None:
    data = mixed(
        b"names",
        b"n",
        [
            b'Content-Type: application/pdf; name="C:\\\\Users\\\\me\\\\..\\\\inv\x07.pdf"\r\n\r\n%PDF-1.7 a',
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.7 nameless",
            b"Content-Type: application/octet-stream\r\n\r\n%PDF-1.7 nameless octets",
        ],
    )
    first, nameless, octets = read_message(data).attachments
    assert (first.name, first.file_name) == ("C:\\Users\\me\\..\\inv\x07.pdf", "inv.pdf")
    assert (nameless.name, nameless.file_name) == ("", "attachment-2.pdf")
    assert (octets.name, octets.file_name) == ("", "attachment-3.pdf")  # by what its bytes are
    assert dataclasses.replace(octets, data=b"").file_name == "attachment-3.pdf"  # also once its bytes are dropped


# ---------------------------------------------------------------------------------------------------------
# Names


def _names(data: bytes) -> list[str]:
    return [a.name for a in read_message(data).attachments]


def test_rfc2231_beats_a_plain_name_in_either_order_and_on_either_header() -> None:
    before = b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''%E5%8F%91.pdf; "
    parts = [
        before + b'filename="plain.pdf"\r\n\r\n%PDF-',
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="plain.pdf"; '
        b"filename*=utf-8''%E5%8F%91.pdf\r\n\r\n%PDF-",
        b"Content-Type: application/pdf; name=\"plain.pdf\"; name*=gbk''%B7%A2.pdf\r\n\r\n%PDF-",
    ]
    assert _names(mixed(b"2231", b"r", parts)) == ["发.pdf", "发.pdf", "发.pdf"]


def test_rfc2231_pieces_reassembled_in_any_order_extended_and_plain_mixed() -> None:
    part = (
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename*3=".pdf"; filename*1*=%E5%AD%90;\r\n'
        b" filename*0*=utf-8''%E7%94%B5; filename*2=\"_2025\"\r\n\r\n%PDF-"
    )
    assert _names(mixed(b"pieces", b"p", [part])) == ["电子_2025.pdf"]


def test_encoded_words_in_unquoted_parameters_and_spaces_read_whole() -> None:
    parts = [
        b"Content-Type: application/pdf; name==?UTF-8?B?5Y+R56Wo?= =?UTF-8?B?LnBkZg==?=\r\n\r\n%PDF-",
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=My Invoice  07.pdf\r\n\r\n%PDF-",
        b'Content-Type: application/pdf; name="=?gbk?Q?=B7=A2=C6=B1 07?= =?gbk?Q?=D4=C2.pdf?="\r\n\r\n%PDF-',
    ]
    assert _names(mixed(b"words", b"e", parts)) == ["发票.pdf", "My Invoice  07.pdf", "发票 07月.pdf"]


def test_raw_8bit_names_in_the_declared_charset_then_utf8_then_gb18030() -> None:
    big5, gbk = "電子發票.pdf".encode("big5"), "电子发票.pdf".encode("gbk")
    utf8 = "发票.pdf".encode()  # as GBK these bytes are 鍙戠エ.pdf
    parts = [
        b'Content-Type: application/pdf; charset=big5; name="' + big5 + b'"\r\n\r\n%PDF-',
        b'Content-Type: application/pdf; charset=gbk; name="' + utf8 + b'"\r\n\r\n%PDF-',
        b'Content-Type: application/pdf; name="' + utf8 + b'"\r\n\r\n%PDF-',
        b'Content-Type: application/pdf; name="' + gbk + b'"\r\n\r\n%PDF-',
    ]
    assert _names(mixed(b"raw", b"r8", parts)) == ["電子發票.pdf", "鍙戠エ.pdf", "发票.pdf", "电子发票.pdf"]
    # A part that declares nothing takes the charset of the message around it.
    in_big5_message = mixed(b"raw", b"r9", [*parts[2:3], parts[0].replace(b"charset=big5; ", b"")])
    assert _names(in_big5_message)[1] != "電子發票.pdf"
    enclosing = mixed(b"raw", b"r9", [parts[0].replace(b"charset=big5; ", b"")], params=b"; charset=big5")
    assert _names(enclosing) == ["電子發票.pdf"]


# ---------------------------------------------------------------------------------------------------------
# Structure and encodings


@pytest.mark.parametrize("value", [b" Base64 ", b"base64\t", b'"base64"', b"BASE64", b"'Base64' (by ERP)"])
def test_transfer_encoding_with_stray_whitespace_case_and_quotes_still_decodes(value: bytes) -> None:
    pdf = fake_pdf("cte")
    part = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding:" + value + b"\r\n\r\n" + b64(pdf)
    (attachment,) = read_message(mixed(b"cte", b"c", [part])).attachments
    assert attachment.data == pdf


@pytest.mark.parametrize("boundary", [b"=_x=y", b"----=_Part_1:2.3", b"a'b(c)d+e,f?g", "分隔".encode("gbk")])
def test_unquoted_and_8bit_boundaries_are_found(boundary: bytes) -> None:
    pdf = fake_pdf("boundary")
    body = (
        b"--" + boundary + b"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--" + boundary
        + b"\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
        + b"--" + boundary + b"--\r\n"
    )  # fmt: skip
    data = b"Subject: b\r\nContent-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n" + body
    contents = read_message(data)
    assert [(a.part, a.data) for a in contents.attachments] == [("2", pdf)]
    assert contents.problems == ()


def test_lenient_base64_gives_what_a_careful_reader_would() -> None:
    pdf = fake_pdf("lenient!")  # its base64 ends in one '='
    encoded = base64.b64encode(pdf)
    shapes = {
        "no padding": encoded.rstrip(b"="),
        "too much padding": encoded + b"==",
        "a footer after it": encoded + b"\r\n\r\n-- \r\nThis mail was scanned by MailGuard.\r\n",
        "junk characters inside": encoded[:20] + b"!*$" + encoded[20:],
        "two encodings glued": base64.b64encode(pdf[:31]) + base64.b64encode(pdf[31:]),
    }
    parts = [b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + s for s in shapes.values()]
    contents = read_message(mixed(b"b64", b"l", parts))
    assert [a.data for a in contents.attachments] == [pdf] * len(shapes)
    assert any("text after the base64 data" in problem for problem in contents.problems)
    # A last group of 2 or 3 characters holds 1 or 2 bytes; a lone last character holds none.
    for digits in (encoded.rstrip(b"=")[:-1], encoded.rstrip(b"=")[:-2]):
        short = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + digits
        (attachment,) = read_message(mixed(b"b64", b"s", [short])).attachments
        assert attachment.data == pdf[: len(digits) // 4 * 3 + max(len(digits) % 4 - 1, 0)]


def test_uuencoded_files_inside_a_text_body_are_unpacked_and_the_body_is_not_an_attachment() -> None:
    pdf = fake_pdf("uu")
    body = b"Hello,\r\n\r\nbegin 644 invoice 07.pdf\r\n" + _uu(pdf) + b"`\r\nend\r\n\r\nRegards\r\n"
    data = b"Subject: uu\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body
    contents = read_message(data)
    assert [(a.part, a.name, a.member, a.data, a.why) for a in contents.attachments] == [
        ("1!invoice 07.pdf", "invoice 07.pdf", "invoice 07.pdf", pdf, "name ends .pdf")
    ]
    cut = read_message(data[: data.index(b"`\r\nend")])  # no 'end' line: cut off
    (attachment,) = cut.attachments
    assert (attachment.candidate, attachment.data, attachment.problem) == (
        True,
        b"",
        "uuencoded file without its 'end' line (cut off?)",
    )


def _uu(data: bytes) -> bytes:
    import binascii

    return b"".join(binascii.b2a_uu(data[at : at + 45]).replace(b"\n", b"\r\n") for at in range(0, len(data), 45))


def test_forwarded_messages_encoded_in_base64_are_walked_and_marked_forwarded() -> None:
    pdf = fake_pdf("fw")
    inner = b'Subject: inner\r\nContent-Type: application/pdf; name="in.pdf"\r\n\r\n' + pdf
    part = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(inner)
    contents = read_message(mixed(b"fw", b"f", [b"Content-Type: text/plain\r\n\r\nsee below", part]))
    assert [(a.part, a.name, a.data, a.forwarded) for a in contents.attachments] == [("2.1", "in.pdf", pdf, True)]
    deep = read_message(mixed(b"fw", b"f", [part]), limits=MailLimits(max_depth=0))
    assert deep.attachments == ()
    assert deep.problems == ("part 1: forwarded message nested over 0 levels deep: not read",)


# ---------------------------------------------------------------------------------------------------------
# winmail.dat


def test_the_hand_written_winmail_dat_is_what_tnefparse_reads() -> None:
    """The test's TNEF bytes are checked against an independent reader first."""
    pdf = fake_pdf("tnef")
    parsed = tnefparse.TNEF(winmail_dat([(b"a.pdf", pdf), (b"b.txt", b"some text")]), do_checksum=True)
    assert [(a.name, a.data) for a in parsed.attachments] == [("a.pdf", pdf), ("b.txt", b"some text")]
    assert all(obj.good_checksum for obj in parsed.objects)
    assert parsed.codepage == "cp936"


def test_winmail_dat_members_are_judged_by_their_own_name_and_bytes() -> None:
    pdf, ofd_bytes = fake_pdf("member"), b"%PDF-1.7 a pdf under a name that says nothing"
    dat = winmail_dat([("发票.pdf".encode("gbk"), pdf), (b"scan", ofd_bytes), (b"notes.doc", b"doc bytes")])
    part = b'Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    contents = read_message(mixed(b"tnef", b"t", [part + b64(dat)]))
    assert [(a.part, a.candidate, a.why) for a in contents.attachments] == [
        ("1", False, "Outlook winmail.dat (TNEF) holding 3 file(s), listed after it"),
        ("1!发票.pdf", True, "name ends .pdf"),
        ("1!scan", True, "an unpacked file whose bytes are a PDF"),
        ("1!notes.doc", False, "name ends .doc: not a file invoices come in"),
    ]
    assert [a.data for a in contents.candidates] == [pdf, ofd_bytes]
    assert contents.candidates[0].content_type == "application/pdf"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a TNEF file: the winmail.dat signature is missing"),
        (b"PK\x03\x04 a zip named winmail.dat", "not a TNEF file: the winmail.dat signature is missing"),
        (struct.pack("<IH", 0x223E9F78, 1) + b"\x02\x10", "winmail.dat is cut off: 2 stray bytes at its end"),
        (
            struct.pack("<IH", 0x223E9F78, 1) + struct.pack("<BHHI", 2, 0x800F, 6, 1000) + b"short",
            "winmail.dat is cut off inside an attribute at byte 6",
        ),
        (
            struct.pack("<IH", 0x223E9F78, 1) + tnef_attribute(2, 0x800F, 6, b"data before any file"),
            "winmail.dat is damaged: a file's attribute at byte 6 comes before any file starts",
        ),
    ],
)
def test_a_damaged_winmail_dat_gives_a_clear_problem(data: bytes, problem: str | None) -> None:
    unpacked = unpack_tnef(data, max_files=10)
    assert unpacked.problem == problem
    assert unpacked.files == ()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_unpack_tnef_never_raises(data: st.DataObject) -> None:
    stream = bytearray(winmail_dat([(b"a.pdf", fake_pdf("x")), (b"b.xml", b"<x/>")]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(stream) - 1))
        if data.draw(st.booleans()):
            stream[at] = data.draw(st.integers(0, 255))
        else:
            del stream[at:]
            if not stream:
                break
    unpacked = unpack_tnef(bytes(stream), max_files=10)
    assert all(isinstance(found.data, bytes) for found in unpacked.files)


# ---------------------------------------------------------------------------------------------------------
# Bad input: a clear problem, the rest still read, never an exception


def test_binary_garbage_is_not_a_mail_message() -> None:
    contents = read_message(b"%PDF-1.7\n" + bytes(range(256)) * 10)
    assert contents.attachments == ()
    start = repr(b"%PDF-1.7\n" + bytes(range(7)))
    assert contents.problems == (f"not a mail message: it does not start with a header line ({start}...)",)
    assert read_message(b"").problems == ("not a mail message: it is empty",)
    # Blank lines or a byte order mark before the header (saved mail) are no reason to give up.
    pdf_mail = b"Subject: x\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7"
    for before in (b"\r\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"):
        assert [a.part for a in read_message(before + pdf_mail).candidates] == ["1"]


def test_nul_bytes_in_headers_never_reach_a_file_name() -> None:
    part = b'Content-Type: application/pdf; charset="x\x00y"; name="a\x00b.pdf"\r\n\r\n%PDF-1.7'
    contents = read_message(b"Subject: \x00\r\nFrom: a\x00@b\r\n" + mixed(b"n\x00", b"z", [part]))
    (attachment,) = contents.attachments
    assert (attachment.name, attachment.file_name, attachment.candidate) == ("a\x00b.pdf", "ab.pdf", True)


def test_a_50_mb_message_finds_the_invoice_after_a_big_attachment() -> None:
    video = bytes(range(256)) * (36 * 1024 * 1024 // 256)
    pdf = fake_pdf("after the video")
    data = mixed(
        b"big",
        b"big",
        [
            b'Content-Type: video/mp4; name="meeting.mp4"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(video),
            b'Content-Type: application/pdf; name="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + b64(pdf),
        ],
    )
    assert len(data) > 49 * 1024 * 1024
    contents = read_message(data)
    video_part, invoice = contents.attachments
    assert (video_part.candidate, video_part.size, video_part.data) == (False, len(video), b"")
    assert video_part.sha256 == hashlib.sha256(video).hexdigest()
    assert (invoice.part, invoice.name, invoice.data) == ("2", "invoice.pdf", pdf)


def test_a_10000_part_message_is_read_up_to_the_limit() -> None:
    parts = [b'Content-Type: application/pdf; name="%d.pdf"\r\n\r\n%%PDF-1.7 %d' % (n, n) for n in range(10_000)]
    contents = read_message(mixed(b"many", b"m", parts))
    assert len(contents.attachments) == 500
    assert contents.problems == ("message has more than 500 parts: the rest were not read",)


def test_200_nested_forwards_are_read_to_the_depth_limit() -> None:
    message = b'Subject: innermost\r\nContent-Type: application/pdf; name="deep.pdf"\r\n\r\n%PDF-1.7'
    for level in range(200):
        boundary = b"fw%d" % level
        message = mixed(
            b"fw", boundary, [b"Content-Type: text/plain\r\n\r\nfw", b"Content-Type: message/rfc822\r\n\r\n" + message]
        )
    contents = read_message(message)
    assert contents.attachments == ()
    assert contents.problems == ("part 2.2.2.2.2.2: forwarded message nested over 5 levels deep: not read",)


def test_a_truncated_message_keeps_what_came_before_the_cut() -> None:
    pdf = fake_pdf("before the cut")
    data = mixed(
        b"cut",
        b"c",
        [
            b'Content-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(pdf),
            b'Content-Type: application/pdf; name="b.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(pdf),
        ],
    )
    cut = read_message(data[: data.index(b'name="b.pdf"') + 60])
    first = cut.attachments[0]
    assert (first.part, first.name, first.data) == ("1", "a.pdf", pdf)
    assert any("not closed" in problem for problem in cut.problems)


MESSY_BYTES = [build().data for build in MESSY]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(MESSY_BYTES, st.binary(min_size=1, max_size=12)))
def test_read_message_never_raises_on_damaged_messy_mail(data: bytes) -> None:
    contents = read_message(data)
    for attachment in contents.attachments:
        assert attachment.file_name and attachment.why
        assert attachment.data == b"" or (attachment.candidate and attachment.problem is None)
        assert attachment.sha256 == "" or attachment.size >= 0


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["application/pdf", "application/octet-stream", "application/ms-tnef", "text/plain", "text/html"]),
    st.sampled_from([None, "winmail.dat", "a.pdf", "x"]),
    st.sampled_from(["base64", "quoted-printable", "x-uuencode", "7bit", "bogus"]),
    st.binary(max_size=600) | st.sampled_from([winmail_dat([(b"a.pdf", b"%PDF-1.7")]), b"begin 644 a.pdf\r\n#)0\r\n"]),
)
def test_read_part_never_raises(content_type: str, name: str | None, encoding: str, raw: bytes) -> None:
    """The IMAP poller hands read_part whatever a server sends for a part."""
    info = PartInfo(content_type, name, "attachment" if name else None, None, encoding)
    contents = read_part(info, raw, "2", limits=MailLimits(max_attachment_bytes=300))
    assert all(attachment.why for attachment in contents.attachments)
