"""Mail as invoice platforms, webmail and Outlook really send it, with what each should yield, for the MIME
reader's tests and for the IMAP tests, which append the same messages to a real Dovecot.

Each builder returns a `Sample`: the message bytes (CRLF line ends, as IMAP APPEND wants them) and what a
correct reader finds in it - invoice candidates by IMAP section, with exact names (a nameless part by the name a
file would get, 'attachment-3.pdf') and decoded bytes, the other attachments, and download links. The tricky
header shapes are written by hand: the email package writes correct MIME and would repair exactly what these
messages are about (GB2312 labels on GBK text, words split mid-character, raw 8-bit names, broken boundaries).
Plain shapes use the email package, as a well-behaved client would.
The domains are invented (example-*.cn).
"""

from __future__ import annotations

import base64
import io
import itertools
import quopri
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from hypothesis import strategies as st

MIB = 1024 * 1024
CRLF = b"\r\n"
DATE = "Tue, 29 Jul 2025 10:15:00 +0800"
SENDER = "invoice@example-fapiao.cn"


@dataclass(frozen=True)
class Expected:
    """One attachment a correct reader returns."""

    section: str
    name: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass(frozen=True)
class Sample:
    key: str  # short id for test names
    data: bytes
    subject: str
    attachments: tuple[Expected, ...] = ()
    links: tuple[str, ...] = ()  # download links, in the order they appear
    sender_address: str = SENDER
    sender_name: str = ""
    message_id: str = ""
    malformed: bool = False  # a correct reader reports problems for it
    others: tuple[tuple[str, str], ...] = ()  # (section, name) of the attachments that are not candidates


def fake_pdf(label: str) -> bytes:
    """A small stand-in for an invoice PDF; `label` keeps each attachment's bytes distinct."""
    return (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n% "
        + label.encode("utf-8")
        + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def fake_ofd(label: str) -> bytes:
    """A zip with an OFD.xml, enough for sniff() to call it an OFD."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'
        )
        archive.writestr("Doc_0/Document.xml", f"<Document><!-- {label} --></Document>")
    return buffer.getvalue()


def invoice_zip() -> bytes:
    """PDF, OFD and XML of one invoice together, as platforms bundle them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("发票/25322000000350147748.pdf", fake_pdf("zip member"))
        archive.writestr("发票/25322000000350147748.ofd", fake_ofd("zip member"))
        archive.writestr("发票/25322000000350147748.xml", '<?xml version="1.0"?><EInvoice/>')
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Raw writing helpers


def b64_body(data: bytes) -> bytes:
    """base64 in 76-character lines, CRLF ends, as mailers write it."""
    return base64.encodebytes(data).replace(b"\n", CRLF)


def encoded_word(text: str | bytes, charset: str, encoding: str = "B", *, label: str | None = None) -> str:
    """One RFC 2047 word of exactly these bytes (no splitting, no repair), labelled `label` (default: charset)."""
    data = text if isinstance(text, bytes) else text.encode(charset)
    label = label or charset
    if encoding == "B":
        return f"=?{label}?B?{base64.b64encode(data).decode('ascii')}?="
    quoted = "".join(chr(b) if (chr(b).isalnum() and b < 0x80) else f"={b:02X}" for b in data)
    return f"=?{label}?Q?{quoted}?="


def split_words(text: str, charset: str, cuts: Sequence[int], encoding: str = "B") -> list[str]:
    """`text` encoded, then cut at these byte offsets into separate words - mid-character if a cut says so."""
    data = text.encode(charset)
    bounds = [0, *cuts, len(data)]
    return [encoded_word(data[a:b], charset, encoding) for a, b in itertools.pairwise(bounds)]


def percent(data: bytes) -> str:
    return "".join(f"%{b:02X}" for b in data)


def header_block(headers: Sequence[tuple[str, str | bytes]]) -> bytes:
    """Header lines as given; bytes values go out raw (8-bit), str values must be ASCII."""
    out = b""
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        out += name.encode("ascii") + b": " + raw + CRLF
    return out


def entity(headers: Sequence[tuple[str, str | bytes]], body: bytes) -> bytes:
    return header_block(headers) + CRLF + body


def multipart(boundary: str, parts: Sequence[bytes], *, preamble: bytes = b"", close: bool = True) -> bytes:
    """The body of a multipart: `parts` are whole entities (header block + body)."""
    out = preamble
    for part in parts:
        out += b"--" + boundary.encode("ascii") + CRLF + part + CRLF
    if close:
        out += b"--" + boundary.encode("ascii") + b"--" + CRLF
    return out


def top_headers(
    subject: str | bytes, *, sender: str | bytes = SENDER, message_id: str
) -> list[tuple[str, str | bytes]]:
    return [
        ("From", sender),
        ("To", "finance@example.com"),
        ("Subject", subject),
        ("Date", DATE),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
    ]


def client_message(subject: str, text: str, *, message_id: str, sender: str = SENDER) -> EmailMessage:
    """A message as a well-behaved client writes it (the email package), its text body set, attachments to add."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = "finance@example.com"
    message["Subject"] = subject
    message["Date"] = DATE
    message["Message-ID"] = message_id
    message.set_content(text)
    return message


def pdf_part(data: bytes, headers: Sequence[tuple[str, str | bytes]]) -> bytes:
    return entity([*headers, ("Content-Transfer-Encoding", "base64")], b64_body(data))


def text_part(text: str, charset: str = "utf-8", subtype: str = "plain") -> bytes:
    return entity(
        [("Content-Type", f"text/{subtype}; charset={charset}"), ("Content-Transfer-Encoding", "base64")],
        b64_body(text.encode(charset)),
    )


# ---------------------------------------------------------------------------------------------------------
# Names in headers


def gb2312_label_gbk_name() -> Sample:
    """Foxmail/old Outlook style: GB2312 labels on text holding GBK-only characters (喆, 镕, 昇), the name
    quoted inside the parameter as an encoded word, which RFC 2047 forbids and everyone does."""
    name = "上海喆镕昇科技有限公司_发票.pdf"
    subject = "您的电子发票：上海喆镕昇科技有限公司"
    sender_name = "喆镕开票中心"
    pdf = fake_pdf("gb2312 label")
    word = encoded_word(name, "gbk", label="GB2312")
    body = multipart(
        "----=_NextPart_000_0001",
        [
            text_part("附件是您的电子发票，请查收。", "gb2312"),
            pdf_part(
                pdf,
                [
                    ("Content-Type", f'application/pdf;\r\n\tname="{word}"'),
                    ("Content-Disposition", f'attachment;\r\n\tfilename="{word}"'),
                ],
            ),
        ],
    )
    headers = top_headers(
        encoded_word(subject, "gbk", label="GB2312"),
        sender=f"{encoded_word(sender_name, 'gbk', label='gb2312')} <{SENDER}>",
        message_id="<gb2312-label@example-fapiao.cn>",
    )
    headers.append(("Content-Type", 'multipart/mixed;\r\n\tboundary="----=_NextPart_000_0001"'))
    return Sample(
        "gb2312_label",
        entity(headers, body),
        subject,
        (Expected("2", name, "application/pdf", pdf),),
        sender_name=sender_name,
        message_id="<gb2312-label@example-fapiao.cn>",
    )


def split_encoded_words() -> Sample:
    """Names and subject cut into encoded words in the middle of a character: UTF-8 base64 words folded over
    lines, and a GBK Q-encoded name split between the two bytes of one character."""
    name = "电子发票_25322000000350147748.pdf"
    second = "增值税电子普通发票.pdf"
    subject = "【电子发票】您收到一张新的发票"
    pdf, pdf2 = fake_pdf("split words 1"), fake_pdf("split words 2")
    # '电' is 3 bytes in UTF-8: cutting at 1 and 4 splits it and the next character.
    filename_words = "\r\n\t".join(split_words(name, "utf-8", [1, 4, 11]))
    name_words = " ".join(split_words(second, "gbk", [1, 5], "Q"))
    subject_words = "\r\n ".join(split_words(subject, "utf-8", [2, 8, 17]))
    body = multipart(
        "b1_split",
        [
            text_part("请查收。"),
            pdf_part(
                pdf,
                [
                    ("Content-Type", "application/pdf"),
                    ("Content-Disposition", f'attachment;\r\n\tfilename="{filename_words}"'),
                ],
            ),
            pdf_part(pdf2, [("Content-Type", f'application/pdf; name="{name_words}"')]),
        ],
    )
    headers = top_headers(subject_words, message_id="<split-words@example-fapiao.cn>")
    headers.append(("Content-Type", 'multipart/mixed; boundary="b1_split"'))
    return Sample(
        "split_words",
        entity(headers, body),
        subject,
        (
            Expected("2", name, "application/pdf", pdf),
            Expected("3", second, "application/pdf", pdf2, inline=True),
        ),
        message_id="<split-words@example-fapiao.cn>",
    )


def rfc2231_gbk_continuations() -> Sample:
    """RFC 2231 names in GBK and GB2312: continuations (extended and plain pieces mixed, a character split
    between pieces, pieces out of order), and a part carrying both `filename*` and a plain `filename`."""
    name = "数电发票（普通发票）_江苏佑诚瑞楠科技有限公司.pdf"
    second = "电子发票.ofd"
    pdf, ofd = fake_pdf("rfc2231"), fake_ofd("rfc2231")
    data = name.encode("gbk")
    cut1, cut2 = 5, 30  # 5: inside '电' (GBK characters are two bytes)
    stem_end = len(data) - len(b".pdf")
    pieces = [
        f"filename*1*={percent(data[cut1:cut2])}",
        f"filename*0*=gbk''{percent(data[:cut1])}",
        f"filename*2*={percent(data[cut2:stem_end])}",
        'filename*3=".pdf"',
    ]
    body = multipart(
        "=_rfc2231",
        [
            text_part("发票见附件"),
            pdf_part(
                pdf,
                [
                    ("Content-Type", f"application/pdf; name*=GB2312''{percent(name.encode('gbk'))}"),
                    ("Content-Disposition", "attachment;\r\n " + ";\r\n ".join(pieces)),
                ],
            ),
            pdf_part(
                ofd,
                [
                    ("Content-Type", "application/octet-stream"),
                    (
                        "Content-Disposition",
                        f"attachment; filename=\"fallback.ofd\"; filename*=GB2312''{percent(second.encode('gbk'))}",
                    ),
                ],
            ),
        ],
    )
    headers = top_headers("Invoice", message_id="<rfc2231@example-fapiao.cn>")
    headers.append(("Content-Type", 'multipart/mixed; boundary="=_rfc2231"'))
    return Sample(
        "rfc2231",
        entity(headers, body),
        "Invoice",
        (
            Expected("2", name, "application/pdf", pdf),
            Expected("3", second, "application/octet-stream", ofd),
        ),
        message_id="<rfc2231@example-fapiao.cn>",
    )


def raw_8bit_names() -> Sample:
    """Raw 8-bit bytes in headers, no encoding at all: a GBK subject, sender name and file name, and a UTF-8
    file name - as some ERP systems and scanners send."""
    subject = "发票通知：喆镕科技"
    sender_name = "财务部"
    name_gbk = "电子发票（喆镕）.pdf"
    name_utf8 = "电子发票.ofd"
    pdf, ofd = fake_pdf("raw 8bit"), fake_ofd("raw 8bit")
    body = multipart(
        "raw8bit",
        [
            entity(
                [("Content-Type", "text/plain; charset=gbk"), ("Content-Transfer-Encoding", "8bit")],
                "请查收".encode("gbk"),
            ),
            pdf_part(
                pdf,
                [
                    ("Content-Type", b'application/pdf; name="' + name_gbk.encode("gbk") + b'"'),
                    ("Content-Disposition", b'attachment; filename="' + name_gbk.encode("gbk") + b'"'),
                ],
            ),
            pdf_part(
                ofd,
                [
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Disposition", b'attachment; filename="' + name_utf8.encode("utf-8") + b'"'),
                ],
            ),
        ],
    )
    headers = top_headers(
        subject.encode("gbk"),
        sender=sender_name.encode("gbk") + f" <{SENDER}>".encode("ascii"),
        message_id="<raw-8bit@example-fapiao.cn>",
    )
    headers.append(("Content-Type", "multipart/mixed; boundary=raw8bit"))
    return Sample(
        "raw_8bit",
        entity(headers, body),
        subject,
        (
            Expected("2", name_gbk, "application/pdf", pdf),
            Expected("3", name_utf8, "application/octet-stream", ofd),
        ),
        sender_name=sender_name,
        message_id="<raw-8bit@example-fapiao.cn>",
    )


# ---------------------------------------------------------------------------------------------------------
# Types and places


def octet_stream_pdfs() -> Sample:
    """application/octet-stream everywhere: a PDF known by its name, a PDF known only by its bytes (no name),
    and two parts that are not invoices (a named .dat, nameless random bytes)."""
    named, nameless = fake_pdf("octet named"), fake_pdf("octet nameless")
    body = multipart(
        "octets",
        [
            text_part("Invoice attached."),
            pdf_part(
                named,
                [
                    ("Content-Type", 'application/octet-stream; name="INVOICE-0042.PDF"'),
                    ("Content-Disposition", 'attachment; filename="INVOICE-0042.PDF"'),
                ],
            ),
            pdf_part(nameless, [("Content-Type", "application/octet-stream")]),
            pdf_part(b"\x00\x01 not an invoice", [("Content-Type", 'application/octet-stream; name="settings.dat"')]),
            pdf_part(b"\x89\x10\x00 random bytes", [("Content-Type", "application/octet-stream")]),
        ],
    )
    headers = top_headers("Your invoice", message_id="<octets@example-fapiao.cn>")
    headers.append(("Content-Type", "multipart/mixed; boundary=octets"))
    return Sample(
        "octet_stream",
        entity(headers, body),
        "Your invoice",
        (
            Expected("2", "INVOICE-0042.PDF", "application/octet-stream", named),
            Expected("3", "attachment-3.pdf", "application/octet-stream", nameless, inline=True),
        ),
        message_id="<octets@example-fapiao.cn>",
        others=(("4", "settings.dat"), ("5", "")),
    )


def inline_pdf() -> Sample:
    """A PDF shown inline in the body, no name at all, inside multipart/related beside an alternative body."""
    pdf = fake_pdf("inline")
    alternative = entity(
        [("Content-Type", 'multipart/alternative; boundary="alt"')],
        multipart("alt", [text_part("发票如下"), text_part("<p>发票如下</p>", subtype="html")]),
    )
    body = multipart(
        "rel",
        [
            alternative,
            pdf_part(
                pdf,
                [
                    ("Content-Type", "application/pdf"),
                    ("Content-Disposition", "inline"),
                    ("Content-ID", "<invoice-pdf@example>"),
                ],
            ),
        ],
    )
    headers = top_headers("Inline invoice", message_id="<inline@example-fapiao.cn>")
    headers.append(("Content-Type", 'multipart/related; boundary="rel"; type="multipart/alternative"'))
    return Sample(
        "inline_pdf",
        entity(headers, body),
        "Inline invoice",
        (Expected("2", "attachment-2.pdf", "application/pdf", pdf, inline=True),),
        message_id="<inline@example-fapiao.cn>",
    )


def zip_attachment() -> Sample:
    """A zip of PDF+OFD+XML from a well-behaved client (email package: RFC 2231 UTF-8 name)."""
    data = invoice_zip()
    message = client_message(
        "发票打包下载", "发票文件见附件压缩包。", sender=f"百望云 <{SENDER}>", message_id="<zip@example-fapiao.cn>"
    )
    message.add_attachment(data, maintype="application", subtype="x-zip-compressed", filename="发票打包_2025年7月.zip")
    return Sample(
        "zip",
        message.as_bytes(),
        "发票打包下载",
        (Expected("2", "发票打包_2025年7月.zip", "application/x-zip-compressed", data),),
        sender_name="百望云",
        message_id="<zip@example-fapiao.cn>",
    )


def forwarded() -> Sample:
    """Outlook-style forwards as message/rfc822: one carrying a multipart with a PDF (section 2.2), one whose
    whole body is a PDF (non-multipart: section 3.1), and a forward of a forward (4.2.2)."""
    pdf1, pdf2, pdf3 = fake_pdf("forwarded"), fake_pdf("forwarded single"), fake_pdf("forwarded twice")
    inner = entity(
        [
            *top_headers(encoded_word("您的发票", "utf-8"), message_id="<original@example-fapiao.cn>"),
            ("Content-Type", 'multipart/mixed; boundary="inner1"'),
        ],
        multipart(
            "inner1",
            [
                text_part("<p>发票见附件</p>", subtype="html"),
                pdf_part(
                    pdf1,
                    [
                        ("Content-Type", f'application/pdf; name="{encoded_word("发票.pdf", "utf-8")}"'),
                        ("Content-Disposition", f'attachment; filename="{encoded_word("发票.pdf", "utf-8")}"'),
                    ],
                ),
            ],
        ),
    )
    single = entity(
        [
            *top_headers("Scan", sender="scanner@example.com", message_id="<scan@example.com>"),
            ("Content-Type", 'application/pdf; name="scan.pdf"'),
            ("Content-Transfer-Encoding", "base64"),
        ],
        b64_body(pdf2),
    )
    deepest = entity(
        [
            *top_headers("Invoice", message_id="<deepest@example-fapiao.cn>"),
            ("Content-Type", 'multipart/mixed; boundary="inner3"'),
        ],
        multipart(
            "inner3",
            [text_part("see attached"), pdf_part(pdf3, [("Content-Type", 'application/pdf; name="nested.pdf"')])],
        ),
    )
    middle = entity(
        [
            *top_headers("FW: Invoice", sender="colleague@example.com", message_id="<middle@example.com>"),
            ("Content-Type", 'multipart/mixed; boundary="inner2"'),
        ],
        multipart(
            "inner2",
            [text_part("fyi"), entity([("Content-Type", "message/rfc822")], deepest)],
        ),
    )
    rfc822 = [("Content-Type", "message/rfc822"), ("Content-Disposition", "attachment")]
    body = multipart(
        "outer",
        [text_part("转发：发票"), entity(rfc822, inner), entity(rfc822, single), entity(rfc822, middle)],
    )
    subject = "FW: 您的发票"
    headers = top_headers(encoded_word(subject, "utf-8"), sender="boss@example.com", message_id="<forward@example.com>")
    headers.append(("Content-Type", 'multipart/mixed; boundary="outer"'))
    return Sample(
        "forwarded",
        entity(headers, body),
        subject,
        (
            Expected("2.2", "发票.pdf", "application/pdf", pdf1),
            Expected("3.1", "scan.pdf", "application/pdf", pdf2, inline=True),
            Expected("4.2.2", "nested.pdf", "application/pdf", pdf3, inline=True),
        ),
        sender_address="boss@example.com",
        message_id="<forward@example.com>",
    )


def single_part_pdf() -> Sample:
    """A message that is nothing but a PDF (scanners, some ERPs): its body is section 1; the base64 has lost
    its padding."""
    pdf = fake_pdf("single part!")  # 70 bytes: base64 needs padding
    encoded = b64_body(pdf).rstrip(b"\r\n=") + CRLF
    headers = top_headers("Scanned invoice", sender="scanner@example.com", message_id="<single@example.com>")
    headers += [
        ("Content-Type", 'application/pdf; name="scan_0001.pdf"'),
        ("Content-Disposition", 'attachment; filename="scan_0001.pdf"'),
        ("Content-Transfer-Encoding", "base64"),
    ]
    return Sample(
        "single_part",
        entity(headers, encoded),
        "Scanned invoice",
        (Expected("1", "scan_0001.pdf", "application/pdf", pdf),),
        sender_address="scanner@example.com",
        message_id="<single@example.com>",
    )


def quoted_printable_xml_big5() -> Sample:
    """A Big5 subject (Taiwan/HK mail) and a 数电 XML attached as text/xml in quoted-printable."""
    subject = "電子發票開立通知"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<EInvoice><SellerName>江苏佑诚瑞楠科技有限公司</SellerName></EInvoice>\n"
    )
    xml_bytes = xml.encode("utf-8")
    body = multipart(
        "qpxml",
        [
            text_part("發票見附件", "big5"),
            entity(
                [
                    ("Content-Type", 'text/xml; charset=utf-8; name="25322000000350147748.xml"'),
                    ("Content-Disposition", 'attachment; filename="25322000000350147748.xml"'),
                    ("Content-Transfer-Encoding", "quoted-printable"),
                ],
                quopri.encodestring(xml_bytes).replace(b"\n", CRLF),
            ),
        ],
    )
    headers = top_headers(encoded_word(subject, "big5"), message_id="<big5@example-fapiao.cn>")
    headers.append(("Content-Type", "multipart/mixed; boundary=qpxml"))
    return Sample(
        "qp_xml_big5",
        entity(headers, body),
        subject,
        # Text travels with CRLF line ends (RFC 2045's canonical form): that is what decoding gives back.
        (Expected("2", "25322000000350147748.xml", "text/xml", xml_bytes.replace(b"\n", CRLF)),),
        message_id="<big5@example-fapiao.cn>",
    )


def non_invoice_pdf() -> Sample:
    """A PDF that is not an invoice (a product manual): the MIME reader still returns it, the extractor says
    not_invoice."""
    manual = fake_pdf("产品使用手册 - not an invoice")
    message = client_message(
        "产品手册", "手册见附件。", sender="support@example.com", message_id="<manual@example.com>"
    )
    message.add_attachment(manual, maintype="application", subtype="pdf", filename="产品使用手册.pdf")
    message.add_attachment(b"\x89PNG\r\n\x1a\n fake", maintype="image", subtype="png", filename="logo.png")
    return Sample(
        "non_invoice_pdf",
        message.as_bytes(),
        "产品手册",
        (Expected("2", "产品使用手册.pdf", "application/pdf", manual),),
        sender_address="support@example.com",
        message_id="<manual@example.com>",
        others=(("3", "logo.png"),),
    )


def large_attachment(size: int = 20 * MIB) -> Sample:
    """A PDF of `size` bytes (20 MiB by default: scanned invoices in bulk), built with the email package."""
    head = fake_pdf("large")
    filler = bytes(range(256)) * (size // 256 + 1)
    pdf = (head + filler)[:size]
    message = client_message("Large invoice", "big one", message_id="<large@example-fapiao.cn>")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="large.pdf")
    return Sample(
        "large",
        message.as_bytes(),
        "Large invoice",
        (Expected("2", "large.pdf", "application/pdf", pdf),),
        message_id="<large@example-fapiao.cn>",
    )


# ---------------------------------------------------------------------------------------------------------
# Links only


NUONUO_QR = "https://nnfp.example-nuonuo.cn/scan-invoice/printQrcode?paramList=8ZhQ7tnP_20250729"
NUONUO_PDF = "https://dl.example-nuonuo.cn/d/AbC123.pdf"


def nuonuo_links() -> Sample:
    """诺诺网 style: multipart/alternative, plain GBK and HTML UTF-8 (quoted-printable), download links, and
    everything that is not one: the platform's front page, an app download, unsubscribe, customer service,
    a tracking pixel."""
    plain = (
        "尊敬的客户：\n您好！江苏佑诚瑞楠科技有限公司为您开具了电子发票。\n"
        f"发票下载地址：{NUONUO_QR}\n"
        "诺诺网 https://www.example-nuonuo.cn/\n"
    )
    html = f"""<html><body>
<p>尊敬的客户：</p><p>您好！江苏佑诚瑞楠科技有限公司为您开具了电子发票。</p>
<p><a href="{NUONUO_QR.replace("&", "&amp;")}">点击查看发票</a></p>
<p><a href="{NUONUO_PDF}">下载PDF文件</a></p>
<p>如有疑问请联系<a href="https://www.example-nuonuo.cn/help/contact">在线客服</a></p>
<p><a href="https://www.example-nuonuo.cn/app/index.html">下载诺诺发票APP</a>
 | <a href="https://mail.example-nuonuo.cn/mail/unsubscribe?u=77">退订</a>
 | <a href="https://www.example-nuonuo.cn/">诺诺网</a></p>
<img src="https://t.example-nuonuo.cn/open.gif?id=77" width="1" height="1">
</body></html>
"""
    alternative = multipart(
        "alt_nuonuo",
        [
            text_part(plain, "gbk"),
            entity(
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")],
                quopri.encodestring(html.encode("utf-8")).replace(b"\n", CRLF),
            ),
        ],
    )
    subject = "您收到一张电子发票【江苏佑诚瑞楠科技有限公司】"
    headers = top_headers(encoded_word(subject, "utf-8"), sender=SENDER, message_id="<nuonuo@example-nuonuo.cn>")
    headers.append(("Content-Type", 'multipart/alternative; boundary="alt_nuonuo"'))
    return Sample(
        "nuonuo_links",
        entity(headers, alternative),
        subject,
        links=(NUONUO_QR, NUONUO_PDF),
        message_id="<nuonuo@example-nuonuo.cn>",
    )


BAIWANG_PREVIEW = "https://pis.example-baiwang.cn/smkp-vue/previewInvoiceAllEle?param=5A6B7C"
BAIWANG_OFD = "https://pis.example-baiwang.cn/bwmg/mix/bw/downloadFormat?param=5A6B7C&formatType=OFD"
BAIWANG_SHORT = "https://s.example-bw.cn/x7Yz"


def baiwang_links() -> Sample:
    """百望云 style: one HTML part in GB2312, base64; a link named only '点击这里' after '发票获取链接：',
    and a privacy-policy link."""
    html = f"""<html><body><div>尊敬的客户，您的发票已开具。</div>
<div>电子发票获取链接：<a href="{BAIWANG_SHORT}">点击这里</a></div>
<div><a href='{BAIWANG_PREVIEW}'>预览</a> <a href='{BAIWANG_OFD.replace("&", "&amp;")}'>下载OFD</a></div>
<div><a href="https://www.example-baiwang.cn/privacy">隐私政策</a> <a href="https://www.example-baiwang.cn/about">关于我们</a></div>
</body></html>"""
    headers = top_headers(encoded_word("发票开具通知", "gb2312"), message_id="<baiwang@example-baiwang.cn>")
    headers += [("Content-Type", 'text/html; charset="gb2312"'), ("Content-Transfer-Encoding", "base64")]
    return Sample(
        "baiwang_links",
        entity(headers, b64_body(html.encode("gb2312"))),
        "发票开具通知",
        links=(BAIWANG_SHORT, BAIWANG_PREVIEW, BAIWANG_OFD),
        message_id="<baiwang@example-baiwang.cn>",
    )


TAX_LINK = "https://dppt.example-tax.cn:8443/v/2_25322000000350147748_20250729ABCD"


def tax_bureau_links() -> Sample:
    """税务 (电子发票服务平台) style: plain text only, the link alone on the line under '下载地址：', an
    unsubscribe link and the bureau's front page."""
    text = (
        "您好：\r\n您收到一张数电发票，发票号码：25322000000350147748。\r\n下载地址：\r\n"
        f"{TAX_LINK}\r\n\r\n如需退订，请访问 https://dppt.example-tax.cn/notice/unsubscribe\r\n"
        "国家税务总局 https://www.example-tax.cn\r\n"
    )
    headers = top_headers(
        encoded_word("电子发票交付通知", "utf-8"), sender="noreply@example-tax.cn", message_id="<tax@example-tax.cn>"
    )
    headers += [("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")]
    return Sample(
        "tax_links",
        entity(headers, text.encode("utf-8")),
        "电子发票交付通知",
        links=(TAX_LINK,),
        sender_address="noreply@example-tax.cn",
        message_id="<tax@example-tax.cn>",
    )


# ---------------------------------------------------------------------------------------------------------
# Malformed


def broken_boundary() -> Sample:
    """The declared boundary differs from the one the body uses (a mailer that rewrote one and not the
    other): the parts are still there, found by the boundary the body uses."""
    pdf = fake_pdf("broken boundary")
    body = multipart(
        "----=_Part_0_124",
        [
            text_part("发票见附件"),
            pdf_part(pdf, [("Content-Type", 'application/pdf; name="invoice.pdf"')]),
        ],
    )
    headers = top_headers("Broken boundary", message_id="<broken-boundary@example-fapiao.cn>")
    headers.append(("Content-Type", 'multipart/mixed; boundary="----=_Part_0_123"'))
    return Sample(
        "broken_boundary",
        entity(headers, body),
        "Broken boundary",
        (Expected("2", "invoice.pdf", "application/pdf", pdf, inline=True),),
        message_id="<broken-boundary@example-fapiao.cn>",
        malformed=True,
    )


def truncated_base64() -> Sample:
    """A message cut off in the middle of its attachment's base64 (a size limit somewhere on the way): no
    closing boundary, and the last base64 line stops mid-group."""
    pdf = fake_pdf("truncated " + "x" * 200)
    encoded = b64_body(pdf)
    cut = encoded[: len(encoded) // 2 + 3]  # not on a 4-character boundary
    body = multipart("trunc", [text_part("see attached")], close=False)
    body += (
        b"--trunc"
        + CRLF
        + entity(
            [
                ("Content-Type", 'application/pdf; name="cut.pdf"'),
                ("Content-Disposition", 'attachment; filename="cut.pdf"'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            cut,
        )
    )
    headers = top_headers("Truncated", message_id="<truncated@example-fapiao.cn>")
    headers.append(("Content-Type", "multipart/mixed; boundary=trunc"))
    # What survives: every whole byte the characters before the cut carry (a lone last character carries none).
    chars = cut.replace(CRLF, b"")
    chars = chars[:-1] if len(chars) % 4 == 1 else chars
    survived = base64.b64decode(chars + b"=" * (-len(chars) % 4))
    return Sample(
        "truncated",
        entity(headers, body),
        "Truncated",
        (Expected("2", "cut.pdf", "application/pdf", survived),),
        message_id="<truncated@example-fapiao.cn>",
        malformed=True,
    )


SAMPLES: tuple[Callable[[], Sample], ...] = (
    gb2312_label_gbk_name,
    split_encoded_words,
    rfc2231_gbk_continuations,
    raw_8bit_names,
    octet_stream_pdfs,
    inline_pdf,
    zip_attachment,
    forwarded,
    single_part_pdf,
    quoted_printable_xml_big5,
    non_invoice_pdf,
    nuonuo_links,
    baiwang_links,
    tax_bureau_links,
    broken_boundary,
    truncated_base64,
)
"""Every builder but large_attachment, which takes a size."""


@st.composite
def damaged(draw: st.DrawFn, originals: Sequence[bytes], insertions: st.SearchStrategy[bytes]) -> bytes:
    """One of `originals` after one to six random edits: bytes inserted, deleted or flipped, or the rest cut off."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "flip", "truncate"]))
        if operation == "insert":
            data[position:position] = draw(insertions)
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif operation == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif operation == "truncate":
            del data[position:]
    return bytes(data)
