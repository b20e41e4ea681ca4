"""ingest.sources.mime: read_message on real-world-shaped mail - names, sections, bytes, links and problems,
within its limits; and never an exception, whatever the bytes."""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable

import mail_messages as mm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mail_messages import SAMPLES, Sample, damaged, encoded_word

from ingest.sources.mail_headers import part_header_info
from ingest.sources.mail_parts import MailLimits
from ingest.sources.mime import read_message

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
    # A nameless part is reported without a name, and written under its fallback name.
    found = [(a.part, a.name or a.file_name, a.content_type, a.inline, a.problem) for a in contents.candidates]
    expected = [(e.section, e.name, e.content_type, e.inline, None) for e in sample.attachments]
    assert found == expected
    for attachment, wanted in zip(contents.candidates, sample.attachments, strict=True):
        assert attachment.data == wanted.data, attachment.section
        assert (attachment.size, attachment.sha256) == (len(wanted.data), hashlib.sha256(wanted.data).hexdigest())
        assert attachment.file_name == wanted.name
    others = [a for a in contents.attachments if not a.candidate]
    assert [(a.section, a.name) for a in others] == list(sample.others)
    assert all(a.data == b"" and a.sha256 and a.why for a in others)
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
    assert contents.attachments[0].why == "declared application/pdf"
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


def test_a_winmail_dat_that_is_no_tnef_is_a_candidate_with_a_problem() -> None:
    """Four bytes of signature and nothing more: it may have held an invoice, so it is reported, not dropped."""
    parts = [
        mm.text_part("see attached"),
        mm.pdf_part(b"\x78\x9f\x3e\x22", [("Content-Type", 'application/ms-tnef; name="winmail.dat"')]),
    ]
    message = mm.entity(
        [("Subject", "tnef"), ("Content-Type", "multipart/mixed; boundary=t")], mm.multipart("t", parts)
    )
    contents = read_message(message)
    (attachment,) = contents.attachments
    assert (attachment.section, attachment.name, attachment.candidate, attachment.data) == (
        "2",
        "winmail.dat",
        True,
        b"",
    )
    assert attachment.problem == "not a TNEF file: the winmail.dat signature is missing"
    assert contents.problems == ("part 2: not a TNEF file: the winmail.dat signature is missing",)


# ---------------------------------------------------------------------------------------------------------
# Envelope: subject, sender, date, Message-ID


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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(SAMPLE_BYTES, st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=8)))
def test_read_message_never_raises_on_damaged_mail(data: bytes) -> None:
    contents = read_message(data)
    assert all(isinstance(problem, str) for problem in contents.problems)
    assert all(attachment.file_name and attachment.why for attachment in contents.attachments)
    assert all(a.data == b"" for a in contents.attachments if a.problem is not None or not a.candidate)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | st.lists(st.sampled_from(TOKENS) | st.binary(max_size=10), max_size=40).map(b"".join))
def test_read_message_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    read_message(data)
    part_header_info(data)
