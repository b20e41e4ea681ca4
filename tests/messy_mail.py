"""A messy-mail test set: messages shaped the way real mail breaks the rules, each written byte by byte, with
every attachment a careful reader finds in it - part, decoded name, decoded bytes, candidate or not.

Used by the MIME reader's tests (read_message finds exactly these), by the IMAP tests (every message appended to
a real Dovecot is read over IMAP with the same candidates: one reader), and by bench/mime_vs_stdlib.py (what the
stdlib `email` package alone finds in the same messages).

Headers are literal bytes, CRLF line ends; bodies carrying files are base64 (or uuencode, or a winmail.dat)
of small stand-in files built here. Names of invented companies and domains only (example-*.cn).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mail_messages import fake_ofd, fake_pdf, invoice_zip

CRLF = b"\r\n"
HEAD = (
    b"From: =?utf-8?B?5Y+R56Wo5Lit5b+D?= <invoice@example-fapiao.cn>\r\n"
    b"To: finance@example.com\r\n"
    b"Date: Tue, 29 Jul 2025 10:15:00 +0800\r\n"
    b"MIME-Version: 1.0\r\n"
)


@dataclass(frozen=True)
class Want:
    """One attachment a careful reader finds."""

    part: str  # section, '!member' for a file unpacked from the part
    name: str  # decoded, as the mail writes it ('' when it has none)
    data: bytes  # decoded bytes
    candidate: bool = True
    forwarded: bool = False
    problem: bool = False  # its bytes cannot be read (then `data` is b'')


@dataclass(frozen=True)
class Messy:
    key: str
    rule: str  # what it is about, for the bench's table
    data: bytes
    wants: tuple[Want, ...]
    over_imap: bool = True  # can be appended to an IMAP server (no NUL bytes) and read there alike
    malformed: bool = False  # a careful reader reports problems


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def message(subject: bytes, content_type: bytes, body: bytes, *, extra: bytes = b"") -> bytes:
    return (
        HEAD
        + b"Subject: "
        + subject
        + CRLF
        + b"Message-ID: <"
        + subject.replace(b" ", b"-")[:40]
        + b"@messy.example-fapiao.cn>\r\n"
        + b"Content-Type: "
        + content_type
        + CRLF
        + extra
        + CRLF
        + body
    )


def mixed(subject: bytes, boundary: bytes, parts: Sequence[bytes], *, params: bytes = b"") -> bytes:
    body = b"This is a multi-part message in MIME format.\r\n\r\n"
    for part in parts:
        body += b"--" + boundary + CRLF + part + CRLF
    body += b"--" + boundary + b"--" + CRLF
    return message(subject, b'multipart/mixed; boundary="' + boundary + b'"' + params, body)


TEXT = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + "发票见附件。".encode()


def padded_pdf(label: str, size: int) -> bytes:
    """A stand-in PDF of `size` bytes (a uuencoded file must be big enough for the IMAP way to look for it)."""
    head = fake_pdf(label)
    return head + b"%" + bytes(48 + n % 64 for n in range(size - len(head) - 1))


# ---------------------------------------------------------------------------------------------------------
# Outlook's winmail.dat, written by hand (MS-OXTNEF): a signature, a key, then attributes - level (1 message,
# 2 attachment), 16-bit id, 16-bit type, 32-bit length, the data, and a 16-bit checksum (the data's bytes summed).

TNEF_SIGNATURE = 0x223E9F78


def tnef_attribute(level: int, ident: int, kind: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, ident, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def winmail_dat(files: Sequence[tuple[bytes, bytes]], *, codepage: int = 936) -> bytes:
    """A TNEF stream carrying `files` as (title in the code page, bytes)."""
    out = struct.pack("<IH", TNEF_SIGNATURE, 0x0102)
    out += tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))  # attOemCodepage
    out += tnef_attribute(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    for title, data in files:
        # attAttachRendData starts a file: type 1 (a file), position -1, no rendering size, no flags.
        out += tnef_attribute(2, 0x9002, 0x0006, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += tnef_attribute(2, 0x8010, 0x0001, title + b"\x00")  # attAttachTitle
        out += tnef_attribute(2, 0x800F, 0x0006, data)  # attAttachData
    return out


def uu_lines(data: bytes) -> bytes:
    return b"".join(binascii.b2a_uu(data[at : at + 45]).replace(b"\n", CRLF) for at in range(0, len(data), 45))


# ---------------------------------------------------------------------------------------------------------
# The messages


def rfc2231_wins() -> Messy:
    pdf = fake_pdf("2231 wins")
    part = (
        b'Content-Type: application/octet-stream; name="fallback.bin"\r\n'
        b'Content-Disposition: attachment; filename="fallback.bin";\r\n'
        b" filename*=UTF-8''%E5%8F%91%E7%A5%A8%5F2025.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    return Messy(
        "rfc2231_wins",
        "RFC 2231 name wins over the plain one",
        mixed(b"rfc2231 wins", b"b1", [TEXT, part]),
        (Want("2", "发票_2025.pdf", pdf),),
    )


def rfc2231_pieces_out_of_order() -> Messy:
    pdf = fake_pdf("pieces")
    name = "电子发票（普通发票）.pdf".encode("gbk")
    part = (
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment;\r\n"
        b' filename*2=".pdf";\r\n'
        b" filename*1*=" + "".join(f"%{b:02X}" for b in name[5:-4]).encode() + b";\r\n"
        b" filename*0*=gbk'zh-cn'" + "".join(f"%{b:02X}" for b in name[:5]).encode() + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    return Messy(
        "rfc2231_pieces",
        "RFC 2231 continuations, out of order, extended and plain mixed",
        mixed(b"rfc2231 pieces", b"b2", [TEXT, part]),
        (Want("2", "电子发票（普通发票）.pdf", pdf),),
    )


def encoded_words_unquoted() -> Messy:
    pdf, pdf2 = fake_pdf("unquoted words"), fake_pdf("quoted spaces")
    part = (
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename==?UTF-8?B?55S15a2Q5Y+R56Wo?= =?UTF-8?B?XzIwMjUucGRm?=\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    spaced = (
        b'Content-Type: application/pdf; name="=?utf-8?Q?=E5=8F=91=E7=A5=A8 2025 =E5=B9=B4.pdf?="\r\n'
        b"Content-Disposition: attachment\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf2)
    )
    return Messy(
        "words_unquoted",
        "encoded words in an unquoted parameter; a quoted word with spaces",
        mixed(b"unquoted words", b"b3", [TEXT, part, spaced]),
        (Want("2", "电子发票_2025.pdf", pdf), Want("3", "发票 2025 年.pdf", pdf2)),
    )


def names_with_spaces() -> Messy:
    pdf, pdf2 = fake_pdf("spaces unquoted"), fake_pdf("spaces quoted")
    unquoted = (
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename=Invoice No 0042 July.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    quoted = (
        b'Content-Type: application/octet-stream; name="  scan   2025-07.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf2)
    )
    return Messy(
        "names_with_spaces",
        "names with spaces, quoted or not",
        mixed(b"spaces", b"b4", [TEXT, unquoted, quoted]),
        (Want("2", "Invoice No 0042 July.pdf", pdf), Want("3", "  scan   2025-07.pdf", pdf2)),
    )


def transfer_encoding_whitespace() -> Messy:
    pdfs = [fake_pdf(f"cte {n}") for n in range(3)]
    parts = [
        b'Content-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding:  Base64 \r\n\r\n' + b64(pdfs[0]),
        b'Content-Type: application/pdf; name="b.pdf"\r\nContent-Transfer-Encoding: base64\t\r\n\r\n' + b64(pdfs[1]),
        b'Content-Type: application/pdf; name="c.pdf"\r\nContent-Transfer-Encoding: "base64"\r\n\r\n' + b64(pdfs[2]),
    ]
    return Messy(
        "cte_whitespace",
        "Content-Transfer-Encoding with stray whitespace, case, quotes",
        mixed(b"cte whitespace", b"b5", [TEXT, *parts]),
        (Want("2", "a.pdf", pdfs[0]), Want("3", "b.pdf", pdfs[1]), Want("4", "c.pdf", pdfs[2])),
    )


def unquoted_boundary() -> Messy:
    pdf = fake_pdf("unquoted boundary")
    boundary = b"----=_NextPart_000_0012_01DB:7A3F=x"
    body = (
        b"--" + boundary + CRLF + TEXT + CRLF + b"--" + boundary + CRLF
        + b'Content-Type: application/pdf; name="boundary.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(pdf) + b"--" + boundary + b"--" + CRLF
    )  # fmt: skip
    return Messy(
        "unquoted_boundary",
        "unquoted boundary with '=' and ':'",
        message(b"unquoted boundary", b"multipart/mixed; boundary=" + boundary, body),
        (Want("2", "boundary.pdf", pdf),),
    )


def gbk_boundary() -> Messy:
    pdf = fake_pdf("8-bit boundary")
    boundary = "分隔线_0001".encode("gbk")
    body = (
        b"--" + boundary + CRLF + TEXT + CRLF + b"--" + boundary + CRLF
        + b'Content-Type: application/pdf; name="8bit.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(pdf) + b"--" + boundary + b"--" + CRLF
    )  # fmt: skip
    return Messy(
        "gbk_boundary",
        "boundary in raw GBK bytes",
        message(b"gbk boundary", b'multipart/mixed; boundary="' + boundary + b'"', body),
        (Want("2", "8bit.pdf", pdf),),
    )


def lenient_base64() -> Messy:
    """What a careful reader takes: padding repaired, a footer after the data left out, a '=' inside the data
    read as two encodings glued together, a last group of 3 characters as its 2 bytes."""
    pdfs = [fake_pdf(f"lenient {n}") + b"x" * n for n in range(4)]
    no_padding = b64(pdfs[0]).replace(b"=", b"")
    footer = b64(pdfs[1]) + b"\r\n-- \r\nSent from my phone, scanned by MailGuard\r\n"
    halves = base64.b64encode(pdfs[2][:40]) + b"\r\n" + base64.b64encode(pdfs[2][40:])
    cut = base64.b64encode(pdfs[3])
    cut = cut.rstrip(b"=")
    cut_at = len(cut) - len(cut) % 4 + 3 if len(cut) % 4 else len(cut) - 1
    cut = cut[:cut_at]
    kept = base64.b64decode(cut + b"=" * (-len(cut) % 4))
    parts = [
        b'Content-Type: application/pdf; name="nopad.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + no_padding,
        b'Content-Type: application/pdf; name="footer.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + footer,
        b'Content-Type: application/pdf; name="glued.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + halves,
        b'Content-Type: application/pdf; name="cut.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + cut,
    ]
    return Messy(
        "lenient_base64",
        "base64: bad padding, trailing junk, '=' in the middle, last group short",
        mixed(b"lenient base64", b"b6", [TEXT, *parts]),
        (
            Want("2", "nopad.pdf", pdfs[0]),
            Want("3", "footer.pdf", pdfs[1]),
            Want("4", "glued.pdf", pdfs[2]),
            Want("5", "cut.pdf", kept),
        ),
        malformed=True,
    )


def big5_declared_name() -> Messy:
    pdf = fake_pdf("big5")
    name = "電子發票_臺北.pdf"
    part = (
        b'Content-Type: application/pdf; charset=big5; name="' + name.encode("big5") + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    return Messy(
        "big5_raw_name",
        "raw 8-bit name in the part's declared charset (Big5)",
        mixed(b"big5 raw name", b"b7", [TEXT, part]),
        (Want("2", name, pdf),),
    )


def gbk_enclosing_charset() -> Messy:
    """Raw GBK names: one in a part declaring gbk, one in a part declaring nothing inside a message whose
    Content-Type says charset=gbk. The first name's bytes are valid UTF-8 too (they spell 发票 in UTF-8): a
    reader that tries UTF-8 first gets the wrong text; the declared charset decides."""
    pdf, pdf2 = fake_pdf("gbk declared"), fake_pdf("gbk enclosing")
    raw = "发票.pdf".encode()
    name = raw.decode("gbk")  # 鍙戠エ.pdf
    declared = (
        b'Content-Type: application/pdf; charset="GBK"; name="' + raw + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    enclosing = (
        b"Content-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="' + "增值税发票.pdf".encode("gbk") + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf2)
    )
    return Messy(
        "gbk_raw_names",
        "raw 8-bit names: declared gbk, and the enclosing message's gbk",
        mixed(b"gbk raw names", b"b8", [TEXT, declared, enclosing], params=b"; charset=gbk"),
        (Want("2", name, pdf), Want("3", "增值税发票.pdf", pdf2)),
    )


def uuencode_transfer() -> Messy:
    pdf = fake_pdf("x-uuencode")
    part = (
        b'Content-Type: application/octet-stream; name="uu.pdf"\r\n'
        b"Content-Transfer-Encoding: X-UUENCODE\r\n\r\n"
        b"begin 644 uu.pdf\r\n" + uu_lines(pdf) + b"`\r\nend\r\n"
    )
    return Messy(
        "uuencode_cte",
        "Content-Transfer-Encoding x-uuencode",
        mixed(b"uuencode cte", b"b9", [TEXT, part]),
        (Want("2", "uu.pdf", pdf),),
    )


def uuencode_in_text() -> Messy:
    """Outlook Express in uuencode mode: one text/plain body, the files as begin...end blocks inside it."""
    pdf = padded_pdf("uu in text", 14_000)
    logo = b"GIF89a" + bytes(range(200))
    body = (
        "您好，发票见下。\r\n\r\n".encode("gbk")
        + b"begin 644 " + "发票_0042.pdf".encode("gbk") + CRLF + uu_lines(pdf) + b"`\r\nend\r\n\r\n"
        + b"begin 600 logo.gif\r\n" + uu_lines(logo) + b"`\r\nend\r\n"
        + "谢谢！\r\n".encode("gbk")
    )  # fmt: skip
    return Messy(
        "uuencode_in_text",
        "uuencoded files inside a text/plain body",
        message(b"uuencode in text", b"text/plain; charset=gb2312", body, extra=b"Content-Transfer-Encoding: 8bit\r\n"),
        (Want("1!发票_0042.pdf", "发票_0042.pdf", pdf), Want("1!logo.gif", "logo.gif", logo, candidate=False)),
    )


def tnef_files() -> Messy:
    pdf, png = fake_pdf("in winmail.dat"), b"\x89PNG\r\n\x1a\n" + bytes(range(100))
    dat = winmail_dat([("发票_2025-07.pdf".encode("gbk"), pdf), (b"image001.png", png)])
    part = (
        b'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(dat)
    )
    return Messy(
        "tnef",
        "Outlook winmail.dat (TNEF) unpacked",
        mixed(b"tnef", b"b10", [TEXT, part]),
        (
            Want("2", "winmail.dat", dat, candidate=False),
            Want("2!发票_2025-07.pdf", "发票_2025-07.pdf", pdf),
            Want("2!image001.png", "image001.png", png, candidate=False),
        ),
    )


def tnef_damaged() -> Messy:
    """A winmail.dat whose first file fails its checksum and whose end is cut off: a clear problem each, and the
    file that survived."""
    good = fake_pdf("tnef survivor")
    dat = winmail_dat([(b"broken.pdf", fake_pdf("tnef broken")), (b"good.pdf", good), (b"lost.pdf", b"x" * 50)])
    at = dat.index(b"tnef broken")
    dat = dat[:at] + b"TNEF" + dat[at + 4 : -30]
    part = b"Content-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(dat)
    return Messy(
        "tnef_damaged",
        "a damaged winmail.dat",
        mixed(b"tnef damaged", b"b11", [TEXT, part]),
        (
            Want("2", "", dat, candidate=False),
            Want("2!broken.pdf", "broken.pdf", b"", problem=True),
            Want("2!good.pdf", "good.pdf", good),
            Want("2!lost.pdf", "lost.pdf", b"", problem=True),
        ),
        malformed=True,
    )


def _inner(label: bytes, pdf: bytes) -> bytes:
    return (
        b"From: seller@example-fapiao.cn\r\nSubject: =?gbk?B?t6LGsQ==?=\r\n"
        b'Content-Type: multipart/mixed; boundary="in"\r\n\r\n'
        b"--in\r\nContent-Type: text/plain; charset=gbk\r\n\r\n" + label + b"\r\n"
        b'--in\r\nContent-Type: application/pdf; name="=?gbk?B?t6LGsS5wZGY=?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf) + b"--in--\r\n"
    )


def forwarded_base64() -> Messy:
    pdf = fake_pdf("forwarded base64")
    part = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(_inner(b"fw", pdf))
    return Messy(
        "forward_base64",
        "forwarded message/rfc822 that is itself base64",
        mixed(b"forward base64", b"b12", [TEXT, part]),
        (Want("2.2", "发票.pdf", pdf, forwarded=True),),
    )


def forwarded_quoted_printable() -> Messy:
    pdf = fake_pdf("forwarded qp")
    lines = _inner("转发的发票".encode("gbk"), pdf).replace(CRLF, b"\n")
    inner = quopri.encodestring(lines).replace(b"\n", CRLF)
    part = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + inner
    return Messy(
        "forward_qp",
        "forwarded message/rfc822 that is itself quoted-printable",
        mixed(b"forward qp", b"b13", [TEXT, part]),
        (Want("2.2", "发票.pdf", pdf, forwarded=True),),
    )


def forwarded_twice() -> Messy:
    pdf = fake_pdf("forwarded twice")
    middle = (
        b"From: colleague@example.com\r\nSubject: FW\r\nContent-Type: multipart/mixed; boundary=mid\r\n\r\n"
        b"--mid\r\nContent-Type: text/plain\r\n\r\nfyi\r\n"
        b"--mid\r\nContent-Type: message/rfc822\r\n\r\n" + _inner(b"deep", pdf) + b"\r\n--mid--\r\n"
    )
    part = b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" + middle
    return Messy(
        "forward_twice",
        "a forward of a forward",
        mixed(b"forward twice", b"b14", [TEXT, part]),
        (Want("2.2.2", "发票.pdf", pdf, forwarded=True),),
    )


def octet_stream_by_bytes() -> Messy:
    ofd, junk = fake_ofd("by bytes"), b"\x00\x01\x02 not an invoice"
    parts = [
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(ofd),
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(junk),
        b'Content-Type: application/octet-stream; name="settings.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(junk),
    ]
    return Messy(
        "octet_by_bytes",
        "octet-stream known only by its bytes",
        mixed(b"octet by bytes", b"b15", [TEXT, *parts]),
        (
            Want("2", "", ofd),
            Want("3", "", junk, candidate=False),
            Want("4", "settings.dat", junk, candidate=False),
        ),
    )


def not_invoices() -> Messy:
    jpeg = b"\xff\xd8\xff\xe0 photo of the office"
    docx = b"PK\x03\x04 not really a docx"
    parts = [
        b'Content-Type: image/jpeg; name="photo.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64(jpeg),
        b"Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;\r\n"
        b' name="contract.docx"\r\nContent-Disposition: attachment; filename="contract.docx"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(docx),
        b'Content-Type: text/plain; name="notes.txt"\r\n\r\nplain notes, attached\r\n',
    ]
    return Messy(
        "not_invoices",
        "attachments that are not invoices",
        mixed(b"not invoices", b"b16", [TEXT, *parts]),
        (
            Want("2", "photo.jpg", jpeg, candidate=False),
            Want("3", "contract.docx", docx, candidate=False),
            Want("4", "notes.txt", b"plain notes, attached\r\n", candidate=False),
        ),
    )


def inline_nameless() -> Messy:
    pdf = fake_pdf("inline nameless")
    body = (
        b"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p><embed src=\"cid:inv\"></p>\r\n"
        b"--rel\r\nContent-Type: application/pdf\r\nContent-ID: <inv>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(pdf) + b"--rel--\r\n"
    )  # fmt: skip
    return Messy(
        "inline_nameless",
        "a nameless inline PDF in multipart/related",
        message(b"inline nameless", b'multipart/related; boundary="rel"; type="text/html"', body),
        (Want("2", "", pdf),),
    )


def zip_bundle() -> Messy:
    data = invoice_zip()
    part = (
        b"Content-Type: application/x-zip-compressed\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E5%8F%91%E7%A5%A8%E6%89%93%E5%8C%85.zip\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(data)
    )
    return Messy(
        "zip", "a zip of PDF, OFD and XML", mixed(b"zip", b"b17", [TEXT, part]), (Want("2", "发票打包.zip", data),)
    )


def single_part_scan() -> Messy:
    pdf = fake_pdf("single part scan")
    return Messy(
        "single_part",
        "a message that is only a PDF",
        message(
            b"scan",
            b'application/pdf; name="scan_0001.pdf"',
            b64(pdf),
            extra=b"Content-Transfer-Encoding: base64\r\n",
        ),
        (Want("1", "scan_0001.pdf", pdf),),
    )


def xml_quoted_printable() -> Messy:
    xml = '<?xml version="1.0" encoding="UTF-8"?>\r\n<EInvoice><Seller>佑诚瑞楠</Seller></EInvoice>\r\n'.encode()
    part = (
        b'Content-Type: text/xml; charset=utf-8; name="25322000000350147748.xml"\r\n'
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + quopri.encodestring(xml)
    )
    return Messy(
        "xml_qp",
        "a 数电 XML in quoted-printable",
        mixed(b"xml qp", b"b18", [TEXT, part]),
        (Want("2", "25322000000350147748.xml", xml),),
    )


def gb2312_label_on_gbk() -> Messy:
    pdf = fake_pdf("gb2312 label")
    name = "上海喆镕昇科技_发票.pdf"
    word = b"=?GB2312?B?" + base64.b64encode(name.encode("gbk")) + b"?="
    part = (
        b'Content-Type: application/pdf;\r\n\tname="' + word + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    return Messy(
        "gb2312_label",
        "GBK characters under a GB2312 label, word inside quotes",
        mixed(b"gb2312 label", b"b19", [TEXT, part]),
        (Want("2", name, pdf),),
    )


def words_split_mid_character() -> Messy:
    pdf = fake_pdf("split words")
    data = "电子发票.pdf".encode()
    words = b"\r\n\t".join(
        b"=?utf-8?B?" + base64.b64encode(data[a:b]) + b"?=" for a, b in ((0, 1), (1, 5), (5, len(data)))
    )
    part = (
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n\tfilename="' + words + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    return Messy(
        "split_words",
        "encoded words split in the middle of a character",
        mixed(b"split words", b"b20", [TEXT, part]),
        (Want("2", "电子发票.pdf", pdf),),
    )


def broken_boundary() -> Messy:
    pdf = fake_pdf("broken boundary")
    body = (
        b"--real_boundary\r\n" + TEXT + b"\r\n--real_boundary\r\n"
        b'Content-Type: application/pdf; name="found.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(pdf) + b"--real_boundary--\r\n"
    )  # fmt: skip
    return Messy(
        "broken_boundary",
        "declared boundary never used",
        message(b"broken boundary", b'multipart/mixed; boundary="declared_boundary"', body),
        (Want("2", "found.pdf", pdf),),
        malformed=True,
    )


def truncated() -> Messy:
    pdf, cut_pdf = fake_pdf("whole before the cut"), fake_pdf("cut " + "x" * 200)
    encoded = base64.b64encode(cut_pdf)
    cut = encoded[:101]  # 25 whole groups and one lone character
    body = (
        b"--t\r\n" + TEXT + b"\r\n"
        b'--t\r\nContent-Type: application/pdf; name="whole.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(pdf) + b"\r\n"
        b'--t\r\nContent-Type: application/pdf; name="cut.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + cut
    )  # fmt: skip
    return Messy(
        "truncated",
        "a message cut off inside an attachment",
        message(b"truncated", b"multipart/mixed; boundary=t", body),
        (Want("2", "whole.pdf", pdf), Want("3", "cut.pdf", base64.b64decode(cut[:100]))),
        malformed=True,
    )


def nul_in_headers() -> Messy:
    pdf = fake_pdf("nul")
    part = (
        b'Content-Type: application/pdf; charset="gb\x002312"; name="inv\x00oice.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf)
    )
    data = mixed(b"nul \x00 in subject", b"b21", [TEXT, part])
    return Messy("nul_headers", "NUL bytes in headers", data, (Want("2", "inv\x00oice.pdf", pdf),), over_imap=False)


def binary_garbage() -> Messy:
    data = bytes((n * 37 + 11) % 256 for n in range(3000))
    return Messy("garbage", "binary garbage named .eml", b"\x89\x00\xff" + data, (), over_imap=False, malformed=True)


MESSY: tuple[Callable[[], Messy], ...] = (
    rfc2231_wins,
    rfc2231_pieces_out_of_order,
    encoded_words_unquoted,
    names_with_spaces,
    transfer_encoding_whitespace,
    unquoted_boundary,
    gbk_boundary,
    lenient_base64,
    big5_declared_name,
    gbk_enclosing_charset,
    uuencode_transfer,
    uuencode_in_text,
    tnef_files,
    tnef_damaged,
    forwarded_base64,
    forwarded_quoted_printable,
    forwarded_twice,
    octet_stream_by_bytes,
    not_invoices,
    inline_nameless,
    zip_bundle,
    single_part_scan,
    xml_quoted_printable,
    gb2312_label_on_gbk,
    words_split_mid_character,
    broken_boundary,
    truncated,
    nul_in_headers,
    binary_garbage,
)
