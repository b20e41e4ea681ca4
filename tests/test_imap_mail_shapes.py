"""Mail as it really comes, through the running daemon against a real Dovecot: encoded names, octet-stream and
inline parts, zips, forwards, download links, non-invoices, big and over-limit attachments, malformed MIME.

Each test appends its mail, runs the daemon until the folder's position reaches the last UID (the worker
takes work in order, so everything before it is stored), and checks what was archived: arrivals by source key
('INBOX/<uidvalidity>/<uid>/<section>') with their outcome, the stored files' original names, invoices. The
messages' flags must be exactly as before (after = keep: EXAMINE and BODY.PEEK only). Where a shape is read part
by part over IMAP, the same bytes are also read whole by `mime.read_message`, and the two ways must find the
same sections, names and bytes.

Real generated invoices (daemon_run.invoice, indexes 100 and up) are used where the outcome must be 'archived';
the byte-level samples of mail_messages carry stand-in PDFs, which the archive keeps as 'unrecognized'.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mail_messages as samples
import pytest
from daemon_run import Running, invoice, running_daemon, wait_until
from dovecot_server import Dovecot
from invoice_batch import batch_spec
from invoice_ofd import ofd_digital
from invoice_pdf import not_invoice_pdf
from invoice_xml import digital_xml
from mail_daemon import folder_rows, mail_rows, mail_settings, mailbox_settings
from mail_messages import (
    CRLF,
    MIB,
    Expected,
    Sample,
    b64_body,
    encoded_word,
    entity,
    fake_pdf,
    multipart,
    pdf_part,
    percent,
    split_words,
    text_part,
    top_headers,
)
from messy_mail import MESSY
from sqlmodel import Session, select

from ingest.sources.imap_connection import HEADER_FIELDS, MailSession, open_session
from ingest.sources.mail_fetch import FetchedMail, read_over_imap
from ingest.sources.mail_identity import message_identity
from ingest.sources.mail_parts import DEFAULT_LIMITS, MailLimits
from ingest.sources.mime import read_envelope, read_message
from storage.archive import Outcome
from storage.ledger import find
from storage.mail_state import MessageRef
from storage.models import Arrival, MailMessage, StoredFile

SOURCE = "imap:test"

# ---------------------------------------------------------------------------------------------------------
# What the daemon did


@dataclass(frozen=True)
class Taken:
    """One arrival, with the file it left in the archive (if any)."""

    outcome: str
    reason: str
    name: str | None  # the stored file's original_name
    role: str | None
    invoice_id: int | None


def taken(running: Running) -> dict[str, Taken]:
    """Every arrival of the mailbox by source key."""
    with Session(running.engine) as session:
        files = {f.id: f for f in session.exec(select(StoredFile)).all()}
        found = {}
        for arrival in session.exec(select(Arrival)).all():
            assert arrival.source == SOURCE
            stored = files.get(arrival.file_id)
            found[arrival.source_key] = Taken(
                arrival.outcome,
                arrival.reason,
                stored.original_name if stored else None,
                stored.role if stored else None,
                arrival.invoice_id,
            )
        return found


def message_flags(dovecot: Dovecot, user: str) -> dict[int, set[bytes]]:
    """Every message's flags, read through EXAMINE (which changes nothing)."""
    client = dovecot.login(user)
    try:
        client.select_folder("INBOX", readonly=True)
        return {uid: set(data[b"FLAGS"]) for uid, data in client.fetch(client.search("ALL"), ["FLAGS"]).items()}
    finally:
        client.logout()


def bytes_sent_to(dovecot: Dovecot, user: str, *, timeout: float = 10.0) -> int:
    """What Dovecot sent to all of the user's IMAP sessions, summed from the `out=` of their end lines in its log;
    waits (with a deadline) until every session that logged in has ended and been logged."""
    ended = re.compile(rf"imap\({re.escape(user)}\)<[^>]*><[^>]*>: Info: Disconnected: [^\n]*? out=(\d+)")
    deadline = time.monotonic() + timeout
    while True:
        log = dovecot.log_text()
        logins = log.count(f"Login: user=<{user}>")
        outs = [int(found) for found in ended.findall(log)]
        if logins and len(outs) == logins:
            return sum(outs)
        if time.monotonic() > deadline:
            raise AssertionError(f"{logins} logins of {user}, {len(outs)} session ends logged:\n{log}")
        time.sleep(0.02)


@dataclass
class Mailbox:
    """The test's mail on the server: UIDs by sample key, and the UIDVALIDITY once the daemon has seen it."""

    uids: dict[str, int]
    uidvalidity: int = 0

    def key(self, sample: str, section: str | None = None) -> str:
        base = f"INBOX/{self.uidvalidity}/{self.uids[sample]}"
        return f"{base}/{section}" if section else base


def append(dovecot: Dovecot, user: str, mails: dict[str, bytes]) -> Mailbox:
    return Mailbox({key: dovecot.append(user, "INBOX", data) for key, data in mails.items()})


def wait_for_uid(running: Running, uid: int, *, timeout: float = 30.0) -> None:
    """Until the folder's position reaches `uid`: every message up to it is stored (the queue is in order)."""
    wait_until(
        lambda: any(row.last_uid >= uid for row in folder_rows(running.engine)),
        what=f"the folder's position to reach UID {uid}",
        timeout=timeout,
    )


@contextmanager
def daemon_over(dovecot: Dovecot, user: str, tmp_path: Path, mailbox: Mailbox) -> Iterator[Running]:
    """The daemon reading the user's INBOX (after = keep), once it has handled every appended message; on
    leaving, stopped, and the flags checked untouched (EXAMINE and BODY.PEEK: not even \\Seen)."""
    before = message_flags(dovecot, user)
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))
    with running_daemon(settings) as running:
        wait_for_uid(running, max(mailbox.uids.values()))
        (folder,) = folder_rows(running.engine)
        mailbox.uidvalidity = folder.uidvalidity
        yield running
    after = message_flags(dovecot, user)
    assert {uid: after[uid] for uid in before} == before
    assert all(flags <= {b"\\Recent"} for uid, flags in after.items() if uid not in before)  # appended meanwhile


# ---------------------------------------------------------------------------------------------------------
# The same message read part by part over IMAP, and whole


@dataclass
class Recording:
    """A MailSession that remembers every FETCH item asked for."""

    session: MailSession
    items: list[str] = field(default_factory=list)

    def fetch(self, uids: Sequence[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
        self.items.extend(items)
        return self.session.fetch(uids, items)


@dataclass(frozen=True)
class OverImap:
    mail: FetchedMail
    items: tuple[str, ...]  # the FETCH items read_over_imap asked for


def over_imap(
    dovecot: Dovecot, user: str, tmp_path: Path, uids: Sequence[int], *, limits: MailLimits = DEFAULT_LIMITS
) -> dict[int, OverImap]:
    """read_over_imap on each message, on a real session, as the poller calls it."""
    session = open_session(mailbox_settings(dovecot, user, tmp_path), dovecot.password(user))
    try:
        selected = session.select("INBOX", readonly=True)
        answer = session.fetch(uids, ["RFC822.SIZE", "BODYSTRUCTURE", f"BODY.PEEK[{HEADER_FIELDS}]"])
        found = {}
        for uid in uids:
            data = answer[uid]
            header = next(value for key, value in data.items() if key.startswith(b"BODY[HEADER"))
            recording = Recording(session)
            mail = read_over_imap(
                recording,
                source=SOURCE,
                ref=MessageRef("INBOX", selected.uidvalidity, uid),
                envelope=read_envelope(header),
                bodystructure=data[b"BODYSTRUCTURE"],
                size=int(data[b"RFC822.SIZE"]),
                limits=limits,
            )
            assert all(item.startswith("BODY.PEEK[") for item in recording.items)  # never sets \\Seen
            found[uid] = OverImap(mail, tuple(recording.items))
        return found
    finally:
        session.close()


def section_of(source_key: str) -> str:
    return source_key.split("/", 3)[3]


def assert_both_ways_agree(
    dovecot: Dovecot,
    user: str,
    tmp_path: Path,
    mailbox: Mailbox,
    mails: dict[str, bytes],
    *,
    limits: MailLimits = DEFAULT_LIMITS,
) -> dict[str, OverImap]:
    """Part by part over IMAP and whole through read_message: the same candidates (part, file name, bytes), known
    by the same message, and the same refusals (part, file name)."""
    read = over_imap(dovecot, user, tmp_path, [mailbox.uids[key] for key in mails], limits=limits)
    for key, data in mails.items():
        got = read[mailbox.uids[key]].mail
        whole = read_message(data, limits=limits)
        imap = [(section_of(c.source_key), c.name, c.data) for c in got.candidates]
        mime = [(a.part, a.file_name, a.data) for a in whole.candidates if a.problem is None]
        assert imap == mime, key
        assert {c.message_id for c in got.candidates} <= {message_identity(whole)}, key
        imap_refused = [(section_of(source_key), name) for source_key, name, _reason in got.refused]
        mime_refused = [(a.part, a.file_name) for a in whole.candidates if a.problem is not None]
        assert imap_refused == mime_refused, key
    return {key: read[mailbox.uids[key]] for key in mails}


def assert_sample_taken(found: dict[str, Taken], mailbox: Mailbox, sample: Sample, outcome: str) -> None:
    """Every attachment the sample expects is in the archive under its section, with its exact name."""
    for expected in sample.attachments:
        got = found[mailbox.key(sample.key, expected.section)]
        assert (got.outcome, got.name) == (outcome, expected.name), (sample.key, expected.section)


def mail_row(running: Running, mailbox: Mailbox, key: str) -> MailMessage:
    (row,) = [row for row in mail_rows(running.engine) if row.uid == mailbox.uids[key]]
    return row


# ---------------------------------------------------------------------------------------------------------
# Mail with real invoices, shaped like the samples


def subject_header(subject: str | bytes) -> str | bytes:
    """A subject as header text: non-ASCII text as a UTF-8 encoded word; bytes go out raw."""
    return subject if isinstance(subject, bytes) or subject.isascii() else encoded_word(subject, "utf-8")


def named_pdf(pdf: bytes, name: str) -> bytes:
    """A PDF part named as most mailers name it: the name as is when ASCII, else a UTF-8 encoded word."""
    shown = name if name.isascii() else encoded_word(name, "utf-8")
    return pdf_part(pdf, [("Content-Type", f'application/pdf; name="{shown}"')])


def mixed(subject: str | bytes, message_id: str, parts: Sequence[bytes], *, sender: str | bytes = "") -> bytes:
    headers = top_headers(subject_header(subject), message_id=message_id, **({"sender": sender} if sender else {}))
    headers.append(("Content-Type", 'multipart/mixed; boundary="=_shapes"'))
    return entity(headers, multipart("=_shapes", parts))


def encoded_word_names(first: int) -> Sample:
    """RFC 2047 names in the Chinese charsets: GBK-only characters (喆 镕 昇) under a GB2312 label, quoted inside
    the parameter; a GBK Q name split between the two bytes of one character; a plain GBK B word; GB18030 B and
    Q words with characters only GB18030 has (four bytes: 𠮷, 㐀); GBK words not quoted at all, and a plain name
    with spaces not quoted (the structure keeps only their first word)."""
    shapes = [
        ("上海喆镕昇科技有限公司_发票.pdf", "B", "gbk", "GB2312"),
        ("增值税电子普通发票_镕.pdf", "Q split", "gbk", "gbk"),
        ("北京喆镕科技_电子发票.pdf", "B", "gbk", "GBK"),
        ("𠮷野家餐饮_电子发票.pdf", "B", "gb18030", "GB18030"),
        ("㐀镕昇商行_发票.pdf", "Q", "gb18030", "gb18030"),
        ("深圳喆镕昇贸易_电子发票.pdf", "unquoted words", "gbk", "GBK"),
        ("my invoice 2025.pdf", "unquoted", "ascii", ""),
    ]
    parts = [text_part("附件是您的电子发票，请查收。", "gb2312")]
    expected = []
    for number, (name, kind, charset, label) in enumerate(shapes):
        pdf = invoice(first + number)
        if kind == "Q split":
            words = " ".join(split_words(name, charset, [1, 5], "Q"))
            headers = [("Content-Type", f'application/pdf; name="{words}"')]
        elif kind == "unquoted words":
            words = " ".join(split_words(name, charset, [4, 10]))
            headers = [("Content-Type", "application/pdf"), ("Content-Disposition", f"attachment; filename={words}")]
        elif kind == "unquoted":
            headers = [("Content-Type", "application/pdf"), ("Content-Disposition", f"attachment; filename={name}")]
        else:
            word = encoded_word(name, charset, kind, label=label)
            headers = [
                ("Content-Type", f'application/pdf;\r\n\tname="{word}"'),
                ("Content-Disposition", f'attachment;\r\n\tfilename="{word}"'),
            ]
        parts.append(pdf_part(pdf, headers))
        expected.append(Expected(str(number + 2), name, "application/pdf", pdf, inline=kind == "Q split"))
    subject = "您的电子发票：上海喆镕昇科技有限公司"
    data = mixed(encoded_word(subject, "gbk", label="GB2312"), "<shapes-words@example-fapiao.cn>", parts)
    return Sample("real_words", data, subject, tuple(expected))


def rfc2231_names(first: int) -> Sample:
    """RFC 2231 names: GBK pieces out of order with a character split between them and a plain last piece (and
    a GB2312 `name*` beside them); UTF-8 pieces with a language tag, split inside a character; `name*` alone on
    the Content-Type; a percent-encoded piece followed by a plain quoted one."""
    gbk_name = "数电发票（普通发票）_江苏佑诚瑞楠科技有限公司.pdf"
    utf8_name = "电子发票_深圳市喆镕昇贸易有限公司_25442000000123456789.pdf"
    type_only = "增值税电子普通发票.pdf"
    mixed_name = "发票_2025-07.pdf"
    gbk, utf8 = gbk_name.encode("gbk"), utf8_name.encode("utf-8")
    stem_end = len(gbk) - len(b".pdf")
    gbk_pieces = [
        f"filename*1*={percent(gbk[5:30])}",
        f"filename*0*=gbk''{percent(gbk[:5])}",  # 5: inside '电'
        f"filename*2*={percent(gbk[30:stem_end])}",
        'filename*3=".pdf"',
    ]
    utf8_pieces = [  # 7: inside '发'
        f"filename*0*=UTF-8'zh-CN'{percent(utf8[:7])}",
        f"filename*1*={percent(utf8[7:40])}",
        f"filename*2*={percent(utf8[40:])}",
    ]
    headers: list[list[tuple[str, str | bytes]]] = [
        [
            ("Content-Type", f"application/pdf; name*=GB2312''{percent(gbk)}"),
            ("Content-Disposition", "attachment;\r\n " + ";\r\n ".join(gbk_pieces)),
        ],
        [("Content-Type", "application/pdf"), ("Content-Disposition", "attachment;\r\n " + ";\r\n ".join(utf8_pieces))],
        [("Content-Type", f"application/pdf; name*=gbk''{percent(type_only.encode('gbk'))}")],
        [
            ("Content-Type", "application/octet-stream"),
            (
                "Content-Disposition",
                f"attachment; filename*0*=utf-8''{percent('发票'.encode())}; filename*1=\"_2025-07.pdf\"",
            ),
        ],
    ]
    names = [gbk_name, utf8_name, type_only, mixed_name]
    pdfs = [invoice(first + number) for number in range(len(names))]
    parts = [text_part("发票见附件"), *(pdf_part(pdf, h) for pdf, h in zip(pdfs, headers, strict=True))]
    expected = tuple(
        Expected(str(number + 2), name, "application/pdf", pdf)
        for number, (name, pdf) in enumerate(zip(names, pdfs, strict=True))
    )
    return Sample("real_rfc2231", mixed("Invoice", "<shapes-2231@example-fapiao.cn>", parts), "Invoice", expected)


def raw_8bit_names(first: int) -> Sample:
    """Raw 8-bit names, no encoding at all: GBK in both headers of a PDF, GBK only in the disposition of an
    octet-stream part, and UTF-8; the subject and sender name raw GBK too."""
    gbk_name, octet_name, utf8_name = "电子发票（喆镕）.pdf", "发票_昇.PDF", "数电发票.pdf"
    pdfs = [invoice(first + number) for number in range(3)]
    parts = [
        entity(
            [("Content-Type", "text/plain; charset=gbk"), ("Content-Transfer-Encoding", "8bit")], "请查收".encode("gbk")
        ),
        pdf_part(
            pdfs[0],
            [
                ("Content-Type", b'application/pdf; name="' + gbk_name.encode("gbk") + b'"'),
                ("Content-Disposition", b'attachment; filename="' + gbk_name.encode("gbk") + b'"'),
            ],
        ),
        pdf_part(
            pdfs[1],
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Disposition", b'attachment; filename="' + octet_name.encode("gbk") + b'"'),
            ],
        ),
        pdf_part(pdfs[2], [("Content-Type", b'application/pdf; name="' + utf8_name.encode("utf-8") + b'"')]),
    ]
    subject = "发票通知：喆镕科技"
    data = mixed(
        subject.encode("gbk"),
        "<shapes-raw@example-fapiao.cn>",
        parts,
        sender="财务部".encode("gbk") + b" <invoice@example-fapiao.cn>",
    )
    expected = (
        Expected("2", gbk_name, "application/pdf", pdfs[0]),
        Expected("3", octet_name, "application/octet-stream", pdfs[1]),
        Expected("4", utf8_name, "application/pdf", pdfs[2], inline=True),
    )
    return Sample("real_raw", data, subject, expected)


JUNK_SIZE = 3 * MIB


def octet_stream_parts(first: int) -> Sample:
    """application/octet-stream: a PDF known by its name, a PDF known only by its bytes, a named .dat, and 3 MiB
    of nameless bytes that are no invoice file (only their first bytes may be fetched)."""
    named, nameless = invoice(first), invoice(first + 1)
    junk = (b"\x89\x10\x00 not an invoice " + bytes(range(256)) * (JUNK_SIZE // 256))[:JUNK_SIZE]
    parts = [
        text_part("Invoice attached."),
        pdf_part(
            named,
            [
                ("Content-Type", 'application/octet-stream; name="INVOICE-0042.PDF"'),
                ("Content-Disposition", 'attachment; filename="INVOICE-0042.PDF"'),
            ],
        ),
        pdf_part(nameless, [("Content-Type", "application/octet-stream")]),
        pdf_part(b"\x00\x01 settings", [("Content-Type", 'application/octet-stream; name="settings.dat"')]),
        pdf_part(junk, [("Content-Type", "application/octet-stream"), ("Content-Disposition", "attachment")]),
    ]
    expected = (
        Expected("2", "INVOICE-0042.PDF", "application/octet-stream", named),
        Expected("3", "attachment-3.pdf", "application/octet-stream", nameless, inline=True),
    )
    return Sample("real_octets", mixed("Your invoice", "<shapes-octets@example.com>", parts), "Your invoice", expected)


def inline_pdfs(first: int) -> Sample:
    """PDFs shown in the body: one with `Content-Disposition: inline` and a name, one with no disposition and no
    name inside a multipart/related (section 3.2)."""
    shown, embedded = invoice(first), invoice(first + 1)
    alternative = entity(
        [("Content-Type", 'multipart/alternative; boundary="alt"')],
        multipart("alt", [text_part("发票如下"), text_part("<p>发票如下</p>", subtype="html")]),
    )
    related = entity(
        [("Content-Type", 'multipart/related; boundary="rel"; type="text/html"')],
        multipart(
            "rel",
            [
                text_part('<p><embed src="cid:invoice@example"></p>', subtype="html"),
                pdf_part(embedded, [("Content-Type", "application/pdf"), ("Content-ID", "<invoice@example>")]),
            ],
        ),
    )
    inline = pdf_part(
        shown,
        [
            ("Content-Type", "application/pdf"),
            ("Content-Disposition", f"inline; filename*=utf-8''{percent('发票预览.pdf'.encode())}"),
        ],
    )
    headers = top_headers("Inline invoice", message_id="<shapes-inline@example.com>")
    headers.append(("Content-Type", 'multipart/mixed; boundary="mix"'))
    data = entity(headers, multipart("mix", [alternative, inline, related]))
    expected = (
        Expected("2", "发票预览.pdf", "application/pdf", shown, inline=True),
        Expected("3.2", "attachment-3.2.pdf", "application/pdf", embedded, inline=True),
    )
    return Sample("real_inline", data, "Inline invoice", expected)


def gbk_named_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A zip whose member names are GBK bytes with the UTF-8 flag clear, as Windows tools write: written under
    ASCII names of the same length, whose bytes are then swapped for the GBK ones (no CRC covers names)."""
    buffer = io.BytesIO()
    swaps = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (name, data) in enumerate(members):
            raw = name.encode("gbk")
            placeholder = f"@{number}@".encode().ljust(len(raw) - 4, b"#") + raw[-4:]
            archive.writestr(placeholder.decode("ascii"), data)
            swaps.append((placeholder, raw))
    out = buffer.getvalue()
    for placeholder, raw in swaps:
        assert out.count(placeholder) == 2  # local header and central directory
        out = out.replace(placeholder, raw)
    return out


def zip_of_one_invoice(index: int) -> tuple[Sample, list[str]]:
    """PDF, OFD and XML of one 数电 invoice in a zip, GBK member names without the UTF-8 flag; the zip's own
    name a GBK encoded word. Also returns the member paths, in order."""
    spec = batch_spec(index)
    stem = f"发票/数电发票_{spec.number}"
    members = [(f"{stem}.pdf", invoice(index)), (f"{stem}.ofd", ofd_digital(spec)), (f"{stem}.xml", digital_xml(spec))]
    bundle = gbk_named_zip(members)
    word = encoded_word("发票打包下载.zip", "gbk")
    part = pdf_part(
        bundle, [("Content-Type", f'application/zip; name="{word}"'), ("Content-Disposition", "attachment")]
    )
    data = mixed("发票打包下载", "<shapes-zip@example-fapiao.cn>", [text_part("发票文件见附件压缩包。"), part])
    sample = Sample("real_zip", data, "发票打包下载", (Expected("2", "发票打包下载.zip", "application/zip", bundle),))
    return sample, [name for name, _ in members]


def forwarded_invoices(first: int) -> Sample:
    """Forwards as message/rfc822: a multipart with the PDF (2.2, a UTF-8 encoded name), a message that is
    nothing but a PDF (3.1), and a forward of a forward (4.2.2)."""
    pdfs = [invoice(first + number) for number in range(3)]
    name = encoded_word("转发的发票.pdf", "utf-8")
    inner = entity(
        [
            *top_headers(encoded_word("您的发票", "utf-8"), message_id="<shapes-original@example-fapiao.cn>"),
            ("Content-Type", 'multipart/mixed; boundary="inner1"'),
        ],
        multipart(
            "inner1",
            [
                text_part("<p>发票见附件</p>", subtype="html"),
                pdf_part(
                    pdfs[0],
                    [("Content-Type", f'application/pdf; name="{name}"'), ("Content-Disposition", "attachment")],
                ),
            ],
        ),
    )
    single = entity(
        [
            *top_headers("Scan", sender="scanner@example.com", message_id="<shapes-scan@example.com>"),
            ("Content-Type", 'application/pdf; name="scan.pdf"'),
            ("Content-Transfer-Encoding", "base64"),
        ],
        b64_body(pdfs[1]),
    )
    deepest = entity(
        [
            *top_headers("Invoice", message_id="<shapes-deepest@example-fapiao.cn>"),
            ("Content-Type", 'multipart/mixed; boundary="inner3"'),
        ],
        multipart(
            "inner3",
            [text_part("see attached"), pdf_part(pdfs[2], [("Content-Type", 'application/pdf; name="nested.pdf"')])],
        ),
    )
    middle = entity(
        [
            *top_headers("FW: Invoice", sender="colleague@example.com", message_id="<shapes-middle@example.com>"),
            ("Content-Type", 'multipart/mixed; boundary="inner2"'),
        ],
        multipart("inner2", [text_part("fyi"), entity([("Content-Type", "message/rfc822")], deepest)]),
    )
    rfc822 = [("Content-Type", "message/rfc822"), ("Content-Disposition", "attachment")]
    parts = [text_part("转发：发票"), entity(rfc822, inner), entity(rfc822, single), entity(rfc822, middle)]
    subject = "FW: 您的发票"
    data = mixed(encoded_word(subject, "utf-8"), "<shapes-forward@example.com>", parts, sender="boss@example.com")
    expected = (
        Expected("2.2", "转发的发票.pdf", "application/pdf", pdfs[0]),
        Expected("3.1", "scan.pdf", "application/pdf", pdfs[1], inline=True),
        Expected("4.2.2", "nested.pdf", "application/pdf", pdfs[2], inline=True),
    )
    return Sample("real_forward", data, subject, expected)


def base64_forward(index: int) -> bytes:
    """A forward whose message/rfc822 part is itself base64-encoded (RFC 2046 forbids it; some mailers do it)."""
    inner = entity(
        [
            *top_headers("Invoice", message_id="<shapes-b64-inner@example-fapiao.cn>"),
            ("Content-Type", 'multipart/mixed; boundary="in"'),
        ],
        multipart("in", [text_part("see attached"), named_pdf(invoice(index), "b64fw.pdf")]),
    )
    part = entity([("Content-Type", "message/rfc822"), ("Content-Transfer-Encoding", "base64")], b64_body(inner))
    return mixed("FW: Invoice", "<shapes-b64-forward@example.com>", [text_part("fw"), part])


def with_subject(data: bytes, subject: str) -> bytes:
    """The same message under another (ASCII) subject."""
    replaced, count = re.subn(
        rb"^Subject: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n", f"Subject: {subject}\r\n".encode(), data, count=1, flags=re.M
    )
    assert count == 1
    return replaced


def padded_pdf(pdf: bytes, size: int) -> bytes:
    """The invoice PDF grown to exactly `size` bytes by an incremental update: an unreferenced stream object, a
    new xref section and trailer pointing back at the old one. Still the same valid invoice."""
    startxref = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    trailer = re.findall(rb"trailer\s*<<(.*?)>>\s*startxref", pdf, re.S)[-1]
    root = re.search(rb"/Root\s+(\d+\s+\d+\s+R)", trailer)
    count = re.search(rb"/Size\s+(\d+)", trailer)
    assert root is not None and count is not None
    number = int(count.group(1))
    head = pdf if pdf.endswith(b"\n") else pdf + b"\n"

    def grown(filler_length: int) -> bytes:
        filler = (bytes(range(256)) * (filler_length // 256 + 1))[:filler_length]
        obj = b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (number, filler_length, filler)
        xref_at = len(head) + len(obj)
        tail = b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
            number,
            len(head),
            number + 1,
            root.group(1),
            startxref,
            xref_at,
        )
        return head + obj + tail

    first = grown(0)
    out = grown(size - len(first))
    # The filler's length has more digits than 0: shrink it by the difference.
    out = grown(size - len(first) - (len(out) - size))
    assert len(out) == size
    return out


# ---------------------------------------------------------------------------------------------------------
# 1-3: names


def test_gbk_gb2312_gb18030_and_unquoted_names_name_the_archived_files(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    real = encoded_word_names(100)  # 100-106
    label, split = samples.gb2312_label_gbk_name(), samples.split_encoded_words()
    mails = {s.key: s.data for s in (real, label, split)}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 7
        assert_sample_taken(found, mailbox, real, Outcome.ARCHIVED)
        assert_sample_taken(found, mailbox, label, Outcome.UNRECOGNIZED)
        assert_sample_taken(found, mailbox, split, Outcome.UNRECOGNIZED)
        assert len(found) == 7 + 1 + 2  # the text bodies are never candidates
        assert mail_row(running, mailbox, real.key).subject == real.subject
        row = mail_row(running, mailbox, label.key)
        assert (row.subject, row.sender) == (label.subject, f"{label.sender_name} <{label.sender_address}>")
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


def test_rfc2231_names_with_continuations_in_gbk_and_utf8(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    real, sample = rfc2231_names(107), samples.rfc2231_gbk_continuations()
    mails = {real.key: real.data, sample.key: sample.data}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 4
        assert_sample_taken(found, mailbox, real, Outcome.ARCHIVED)
        assert_sample_taken(found, mailbox, sample, Outcome.UNRECOGNIZED)
        assert len(found) == 4 + 2
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


def test_raw_8bit_gbk_names_in_headers(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    real, sample = raw_8bit_names(111), samples.raw_8bit_names()
    mails = {real.key: real.data, sample.key: sample.data}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 3
        assert_sample_taken(found, mailbox, real, Outcome.ARCHIVED)
        assert_sample_taken(found, mailbox, sample, Outcome.UNRECOGNIZED)
        assert len(found) == 3 + 2
        row = mail_row(running, mailbox, real.key)
        assert (row.subject, row.sender) == (real.subject, "财务部 <invoice@example-fapiao.cn>")
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


# ---------------------------------------------------------------------------------------------------------
# 4-5: types and places


def test_octet_stream_pdfs_by_name_or_by_bytes_and_nameless_junk_is_not_downloaded(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    real, sample = octet_stream_parts(114), samples.octet_stream_pdfs()
    mails = {real.key: real.data, sample.key: sample.data}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 2
        assert_sample_taken(found, mailbox, real, Outcome.ARCHIVED)
        assert_sample_taken(found, mailbox, sample, Outcome.UNRECOGNIZED)
        assert len(found) == 2 + 2  # no arrival for settings.dat, nor for the nameless non-PDF parts
        assert mailbox.key(real.key, "4") not in found
        assert mailbox.key(real.key, "5") not in found
    # Everything the server sent to every session of this user (the daemon's, the appends', the flag checks):
    # the two invoices, but not the 3 MiB part, whose first 4 KB were enough to tell.
    assert bytes_sent_to(dovecot, user) < JUNK_SIZE // 3
    read = assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)
    items = read[real.key].items
    assert "BODY.PEEK[5]<0.4096>" in items  # the junk: its first bytes only
    assert not any(item.startswith("BODY.PEEK[5]") and item != "BODY.PEEK[5]<0.4096>" for item in items)
    assert not any(item.startswith("BODY.PEEK[4]") for item in items)  # settings.dat: by its name alone
    assert read[real.key].mail.fetched_bytes < 100_000


def test_inline_pdfs_with_and_without_a_disposition(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    real, sample = inline_pdfs(116), samples.inline_pdf()
    mails = {real.key: real.data, sample.key: sample.data}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 2
        assert_sample_taken(found, mailbox, real, Outcome.ARCHIVED)
        assert_sample_taken(found, mailbox, sample, Outcome.UNRECOGNIZED)
        assert len(found) == 2 + 1
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


# ---------------------------------------------------------------------------------------------------------
# 6-7: containers


def test_a_zip_of_pdf_ofd_and_xml_with_gbk_member_names_is_one_invoice_with_companions(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    real, members = zip_of_one_invoice(120)
    sample = samples.zip_attachment()
    mails = {real.key: real.data, sample.key: sample.data}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        (only,) = running.invoices()
        assert only.invoice_number == batch_spec(120).number
        keys = [f"{mailbox.key(real.key, '2')}!{member}" for member in members]
        got = [found[key] for key in keys]
        assert [(t.outcome, t.role, t.name) for t in got] == [
            (Outcome.ARCHIVED, "primary", members[0].rsplit("/", 1)[1]),
            (Outcome.COMPANION, "companion", members[1].rsplit("/", 1)[1]),
            (Outcome.COMPANION, "companion", members[2].rsplit("/", 1)[1]),
        ]
        assert {t.invoice_id for t in got} == {only.id}
        inside_sample = {k for k in found if k.startswith(mailbox.key(sample.key, "2") + "!")}
        assert inside_sample == {
            f"{mailbox.key(sample.key, '2')}!发票/25322000000350147748.{kind}" for kind in ("pdf", "ofd", "xml")
        }
        assert len(found) == 3 + 3
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


def test_forwarded_messages_carry_their_invoices(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    real, sample = forwarded_invoices(121), samples.forwarded()
    mails = {real.key: real.data, sample.key: sample.data, "b64_forward": base64_forward(124)}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 4
        assert_sample_taken(found, mailbox, real, Outcome.ARCHIVED)
        assert_sample_taken(found, mailbox, sample, Outcome.UNRECOGNIZED)
        # A forward encoded in base64 is not opened by Dovecot (its BODYSTRUCTURE shows an empty message): the
        # message is read whole, and read_message decodes the forward and finds its invoice.
        assert [key for key in found if key.startswith(mailbox.key("b64_forward") + "/")] == [
            mailbox.key("b64_forward", "2.2")
        ]
        assert found[mailbox.key("b64_forward", "2.2")].outcome == Outcome.ARCHIVED
        assert len(found) == 3 + 3 + 1
    read = assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)
    assert read["b64_forward"].items == ("BODY.PEEK[]",)


# ---------------------------------------------------------------------------------------------------------
# 8-9: links only, and what is not an invoice


def test_a_mail_with_only_download_links_is_recorded_as_link_only(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    nuonuo, baiwang = samples.nuonuo_links(), samples.baiwang_links()
    weekly = with_subject(nuonuo.data, "Weekly report")
    mails = {nuonuo.key: nuonuo.data, baiwang.key: baiwang.data, "weekly": weekly}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert set(found) == {mailbox.key(nuonuo.key), mailbox.key(baiwang.key)}  # one per mail, no section
        for sample in (nuonuo, baiwang):
            arrival = found[mailbox.key(sample.key)]
            assert arrival.outcome == Outcome.LINK_ONLY
            assert arrival.reason.endswith("only download links: " + " ".join(sample.links))
            assert sample.subject in arrival.reason
            row = mail_row(running, mailbox, sample.key)
            assert (row.state, row.subject, json.loads(row.links)) == ("done", sample.subject, list(sample.links))
        assert {row.uid for row in mail_rows(running.engine)} == {mailbox.uids[nuonuo.key], mailbox.uids[baiwang.key]}
        assert not running.invoices()
        assert not running.stored()
        # fapiao find: by a fragment of a link, or of the subject
        for text in ("AbC123", "江苏佑诚瑞楠"):
            assert [a.source_key for a in find(running.engine, text).arrivals] == [mailbox.key(nuonuo.key)]
        assert [a.source_key for a in find(running.engine, "previewInvoiceAllEle").arrivals] == [
            mailbox.key(baiwang.key)
        ]
        assert not find(running.engine, "Weekly report").arrivals
    read = over_imap(dovecot, user, tmp_path, [mailbox.uids["weekly"], mailbox.uids[nuonuo.key]])
    # Mail whose subject says nothing of invoices costs its header and structure: no text body is fetched.
    assert not read[mailbox.uids["weekly"]].items
    assert [link.url for link in read[mailbox.uids[nuonuo.key]].mail.links] == list(nuonuo.links)
    assert [link.url for link in read_message(nuonuo.data).links] == list(nuonuo.links)


def test_a_pdf_that_is_not_an_invoice_is_kept_as_unrecognized(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    manual = samples.non_invoice_pdf()
    brochure = not_invoice_pdf()
    real = mixed(
        "产品资料",
        "<shapes-brochure@example.com>",
        [text_part("资料见附件。"), named_pdf(brochure, "产品介绍.pdf")],
    )
    mails = {manual.key: manual.data, "brochure": real}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert set(found) == {mailbox.key(manual.key, "2"), mailbox.key("brochure", "2")}  # not logo.png
        assert {(t.outcome, t.role, t.name, t.invoice_id) for t in found.values()} == {
            (Outcome.UNRECOGNIZED, "unrecognized", "产品使用手册.pdf", None),
            (Outcome.UNRECOGNIZED, "unrecognized", "产品介绍.pdf", None),
        }
        assert not running.invoices()
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


# ---------------------------------------------------------------------------------------------------------
# 10: sizes


def test_a_20_mib_invoice_pdf_is_archived(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    big = padded_pdf(invoice(125), 20 * MIB)
    large = samples.large_attachment()
    data = mixed("大文件发票", "<shapes-20mib@example.com>", [text_part("发票见附件"), named_pdf(big, "扫描件.pdf")])
    mails = {"big": data, large.key: large.data}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        (only,) = running.invoices()
        assert only.invoice_number == batch_spec(125).number
        assert found[mailbox.key("big", "2")].outcome == Outcome.ARCHIVED
        assert found[mailbox.key("big", "2")].name == "扫描件.pdf"
        assert_sample_taken(found, mailbox, large, Outcome.UNRECOGNIZED)
        sizes = {f.original_name: f.size for f in running.stored()}
        assert sizes == {"扫描件.pdf": 20 * MIB, "large.pdf": 20 * MIB}
        assert not [row for row in mail_rows(running.engine) if row.state != "done"]


OVER_LIMIT = DEFAULT_LIMITS.max_attachment_bytes + 14 * MIB  # clearly over, even by the base64 size on the server


def test_an_attachment_over_the_limit_is_a_failure_and_never_downloaded(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    huge = (fake_pdf("over the limit") + bytes(range(256)) * (OVER_LIMIT // 256))[:OVER_LIMIT]
    data = mixed(
        "发票和大附件",
        "<shapes-over-limit@example.com>",
        [
            text_part("发票见附件"),
            named_pdf(invoice(126), "发票.pdf"),
            named_pdf(huge, "全部扫描.pdf"),
        ],
    )
    mailbox = append(dovecot, user, {"over": data})
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert len(running.invoices()) == 1
        assert found[mailbox.key("over", "2")].outcome == Outcome.ARCHIVED
        refused = found[mailbox.key("over", "3")]
        assert refused.outcome == Outcome.FAILED
        assert refused.reason.startswith("全部扫描.pdf: ")
        assert f"over the {DEFAULT_LIMITS.max_attachment_bytes}-byte limit" in refused.reason
        row = mail_row(running, mailbox, "over")
        assert (row.state, row.attempts) == ("quarantined", 1)  # over the limit for good: not fetched again
        assert "全部扫描.pdf" in row.reason
    assert bytes_sent_to(dovecot, user) < 2 * MIB  # the invoice's 27 KB, never the 87 MB part


def test_the_size_limit_is_applied_alike_both_ways(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    """A small limit (the daemon has no setting for it): read_over_imap on a real session and read_message take a
    file of exactly the limit, base64 in 76-character lines as mailers write it, and refuse one byte more; a part
    far over the limit is refused from the structure alone, never fetched."""
    limits = MailLimits(max_attachment_bytes=2 * MIB)

    def pdf_of(size: int) -> bytes:
        return (fake_pdf(f"{size} bytes") + bytes(range(256)) * (size // 256 + 1))[:size]

    mails = {
        str(size): mixed(
            f"{size} bytes",
            f"<shapes-limit-{size}@example.com>",
            [
                text_part("see attached"),
                pdf_part(pdf_of(size), [("Content-Type", f'application/pdf; name="{size}.pdf"')]),
            ],
        )
        for size in (limits.max_attachment_bytes, limits.max_attachment_bytes + 1, 2 * limits.max_attachment_bytes)
    }
    mailbox = append(dovecot, user, mails)
    read = assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails, limits=limits)
    at_limit, one_over, far_over = (read[key] for key in mails)
    assert [len(c.data) for c in at_limit.mail.candidates] == [limits.max_attachment_bytes]
    assert not at_limit.mail.refused
    assert not one_over.mail.candidates
    assert not far_over.mail.candidates
    ((_, name, reason),) = far_over.mail.refused
    assert name == f"{2 * limits.max_attachment_bytes}.pdf"
    assert f"over the {limits.max_attachment_bytes}-byte limit" in reason
    assert not any(item.startswith("BODY.PEEK[2]") for item in far_over.items)
    assert far_over.mail.fetched_bytes == 0


# ---------------------------------------------------------------------------------------------------------
# 11: malformed mail


def broken_boundary(index: int) -> bytes:
    """The declared boundary is not the one the body uses: the server sees no parts; read whole."""
    body = multipart(
        "----=_Part_0_124",
        [text_part("发票见附件"), named_pdf(invoice(index), "boundary.pdf")],
    )
    headers = top_headers(subject_header("发票 broken boundary"), message_id="<shapes-boundary@example.com>")
    headers.append(("Content-Type", 'multipart/mixed; boundary="----=_Part_0_123"'))
    return entity(headers, body)


def truncated_multipart(index: int) -> bytes:
    """A whole invoice, then a second part cut off mid-base64, no closing boundary."""
    cut = b64_body(fake_pdf("cut " + "x" * 300))
    body = multipart(
        "trunc",
        [text_part("see attached"), named_pdf(invoice(index), "whole.pdf")],
        close=False,
    )
    body += (
        b"--trunc"
        + CRLF
        + entity(
            [("Content-Type", 'application/pdf; name="cut.pdf"'), ("Content-Transfer-Encoding", "base64")],
            cut[: len(cut) // 2 + 3],
        )
    )
    headers = top_headers(subject_header("发票 truncated"), message_id="<shapes-truncated@example.com>")
    headers.append(("Content-Type", "multipart/mixed; boundary=trunc"))
    return entity(headers, body)


def bad_base64(index: int) -> bytes:
    """Characters outside the base64 alphabet in the middle of an invoice's base64 (skipped when decoding)."""
    lines = b64_body(invoice(index)).split(CRLF)
    lines[3] = lines[3][:20] + b"!*$" + lines[3][20:]
    lines[7] = b"~~~~" + lines[7]
    part = entity(
        [("Content-Type", 'application/pdf; name="damaged.pdf"'), ("Content-Transfer-Encoding", "base64")],
        CRLF.join(lines),
    )
    return mixed("发票 bad base64", "<shapes-bad-base64@example.com>", [text_part("see attached"), part])


def no_boundary(index: int) -> bytes:
    """A multipart with no boundary parameter at all: the server sees no parts; read whole, the boundary the body
    uses is found, and its one part is section 1."""
    body = b"--x" + CRLF + pdf_part(invoice(index), [("Content-Type", "application/pdf")]) + CRLF + b"--x--" + CRLF
    headers = top_headers(subject_header("发票 no boundary"), message_id="<shapes-no-boundary@example.com>")
    headers.append(("Content-Type", "multipart/mixed"))
    return entity(headers, body)


def test_malformed_mail_gives_what_is_readable_and_the_daemon_goes_on(
    dovecot: Dovecot, user: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cut = samples.truncated_base64()
    mails = {
        "boundary": broken_boundary(127),
        "cut_off": truncated_multipart(128),
        "bad_base64": bad_base64(129),
        "no_boundary": no_boundary(130),
        cut.key: cut.data,
    }
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:
        found = taken(running)
        assert {(key, t.outcome, t.name) for key, t in found.items() if t.outcome == Outcome.ARCHIVED} == {
            (mailbox.key("boundary", "2"), Outcome.ARCHIVED, "boundary.pdf"),
            (mailbox.key("cut_off", "2"), Outcome.ARCHIVED, "whole.pdf"),
            (mailbox.key("bad_base64", "2"), Outcome.ARCHIVED, "damaged.pdf"),
            (mailbox.key("no_boundary", "1"), Outcome.ARCHIVED, "attachment-1.pdf"),
        }
        assert len(running.invoices()) == 4
        # What survived of a cut-off PDF is kept, for a person to look at.
        assert found[mailbox.key("cut_off", "3")].outcome == Outcome.UNRECOGNIZED
        assert_sample_taken(found, mailbox, cut, Outcome.UNRECOGNIZED)
        # Later mail still arrives, through IDLE.
        wait_until(lambda: running.daemon.mailboxes[0].state == "idle", what="IDLE")
        later = dovecot.append(
            user,
            "INBOX",
            mixed("发票", "<shapes-later@example.com>", [text_part("t"), named_pdf(invoice(131), "later.pdf")]),
        )
        mailbox.uids["later"] = later
        wait_for_uid(running, later)
        assert taken(running)[mailbox.key("later", "2")].outcome == Outcome.ARCHIVED
        assert len(running.invoices()) == 5
        assert running.daemon.mailboxes[0].last_trouble == ""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    read = assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)
    for key in ("boundary", "no_boundary"):  # the server sees no parts: read whole
        assert read[key].items == ("BODY.PEEK[]",)


# ---------------------------------------------------------------------------------------------------------
# 12-13: every sample shape at once


def test_every_sample_shape_at_once_is_read_as_the_samples_say_and_stays_unseen(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    every = [build() for build in samples.SAMPLES]
    mails = {sample.key: sample.data for sample in every}
    mailbox = append(dovecot, user, mails)
    with daemon_over(dovecot, user, tmp_path, mailbox) as running:  # checks the flags on leaving
        found = taken(running)
        for sample in every:
            if sample.links:
                assert found[mailbox.key(sample.key)].outcome == Outcome.LINK_ONLY
                assert json.loads(mail_row(running, mailbox, sample.key).links) == list(sample.links)
            elif sample.key == "zip":
                assert {k for k in found if k.startswith(mailbox.key(sample.key) + "/")} == {
                    f"{mailbox.key(sample.key, '2')}!发票/25322000000350147748.{kind}" for kind in ("pdf", "ofd", "xml")
                }
            else:
                assert_sample_taken(found, mailbox, sample, Outcome.UNRECOGNIZED)
        expected = sum(len(s.attachments) for s in every if s.key != "zip") + 3 + sum(bool(s.links) for s in every)
        assert len(found) == expected
        assert not running.invoices()
    assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)


# ---------------------------------------------------------------------------------------------------------
# 14: the messy-mail set, one reader both ways


def test_every_messy_message_is_read_alike_over_imap_and_whole(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    """Every message of the messy-mail set that an IMAP server takes, appended to Dovecot and read by the poller's
    code part by part: the same candidates (part, name, bytes) as read_message on the whole message, and those the
    set expects. Only what the structure cannot show is read whole."""
    every = [build() for build in MESSY]
    mails = {messy.key: messy.data for messy in every if messy.over_imap}
    mailbox = append(dovecot, user, mails)
    read = assert_both_ways_agree(dovecot, user, tmp_path, mailbox, mails)
    for messy in every:
        if messy.over_imap:
            got = read[messy.key].mail
            expected = [(want.part, want.data) for want in messy.wants if want.candidate and not want.problem]
            assert [(section_of(c.source_key), c.data) for c in got.candidates] == expected, messy.key
    whole = {key for key, one in read.items() if one.items == ("BODY.PEEK[]",)}
    assert whole == {"broken_boundary", "forward_base64", "forward_qp"}
    # A winmail.dat is fetched alone and unpacked by the same code; a big text body is fetched for uuencode.
    assert "BODY.PEEK[2]" in read["tnef"].items
    assert any(item.startswith("BODY.PEEK[1]<0.") for item in read["uuencode_in_text"].items)
