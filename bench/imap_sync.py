"""IMAP sync: what the daemon's mailbox poller costs against a real Dovecot, in bytes, round trips, time and memory.

Usage: python bench/imap_sync.py [--messages 5000] [--invoices 500] [--latency-mails 50] [--polls 100]
                                 [--no-full-fetch] [--breakdown] [--per-message 1024] [--seed N] [--cache DIR]
                                 [--keep DIR]
A smaller run: --messages 500 --invoices 50 --latency-mails 10 --polls 20 (about 30 s).

A throwaway Dovecot (tests/dovecot_server.py) on 127.0.0.1 gets one user whose INBOX is filled over one IMAPS
connection (MULTIAPPEND) with --messages messages. --invoices of them carry one distinct generated invoice each
(tests/invoice_batch.batch_spec(i): its own number): a PDF, an OFD+PDF or PDF+XML pair of the same invoice, a zip, an
OFD alone, or a PDF under an HTML body; attachment names in RFC 2231, RFC 2047 or plain ASCII. The rest is ordinary
mail: plain text, reply threads, HTML newsletters (some with inline images), photos and office files of a few hundred
KB, a few download-link notices without a file, and a few nameless application/octet-stream files.

The daemon (`fapiao run`, a subprocess on a fresh archive, [[mailbox]] with `since` before every message) reaches
Dovecot's IMAPS port through a loopback TCP proxy that counts the bytes each way and the round trips (a round trip:
client bytes after server bytes). TLS passes through unchanged and the host stays 127.0.0.1, so the certificate (SAN
localhost and 127.0.0.1) verifies as it would without the proxy. Phases:
  1. first sync: seconds from `fapiao run` to the folder position at the last UID and to every invoice row; bytes
     the daemon received and sent, beside the invoice parts' bytes as encoded in the messages (base64, line breaks
     included: what BODY[n] of those parts is) and beside a full RFC822 fetch (phase 4); peak memory (VmHWM) of the
     daemon's process.
  2. IDLE latency: the daemon idle, one more invoice mail at a time APPENDed (straight to Dovecot); seconds from the
     end of the APPEND until its invoice row exists (and until Dovecot's IDLE notice reached the proxy), and the
     bytes the daemon received for it (IDLE re-issue included).
  3. quiet poll: the daemon's own code path (ingest.sources.imap_connection.open_session through the proxy, EXAMINE
     INBOX): `uids_above(last UID)` repeated --polls times, and one IDLE + DONE, in bytes, round trips and ms.
  4. full fetch: every message as RFC822 through the proxy with a plain IMAPClient, one connection.
  5. --breakdown: the first sync again on a new archive over plain IMAP (tls = "none", Dovecot's plain listener)
     through a proxy that reads the client's commands, so the bytes split by command and FETCH item.
The targets (bytes <= 1.2 x invoice-part bytes + --per-message bytes per message; quiet poll < 2 KB; IDLE median < 2
s; peak memory < 300 MB) are reported as met or missed. Exit code 0 when the run completed, 1 when it could not.
Generated invoice files are cached (--cache, default inside the work folder, which is removed at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dovecot_server import HOST, Dovecot, running_dovecot
from imapclient import IMAPClient
from invoice_batch import batch_spec
from invoice_ofd import ofd_digital, ofd_old_style
from invoice_pdf import invoice_pdf
from invoice_xml import digital_xml

from ingest.mail_config import MailboxSettings, Secret
from ingest.sources.imap_connection import open_session

USER = "bench"
MAILBOX_NAME = "bench"
SOURCE = f"imap:{MAILBOX_NAME}"
START_TIMEOUT = 60.0  # seconds for `fapiao run` to say it is running
STOP_TIMEOUT = 60.0  # seconds for the daemon to exit after SIGTERM
STALL_SECONDS = 120.0  # the first sync is given up on when nothing moves in the database for this long
LATENCY_TIMEOUT = 60.0  # seconds for one appended invoice to reach the database
SLOW_MAIL = 1.5  # seconds: a latency mail slower than this is described in the report
DB_POLL = 0.01  # seconds between looks at the database while timing one mail
APPEND_BATCH_MESSAGES = 100  # messages per MULTIAPPEND
APPEND_BATCH_BYTES = 16 * 1024 * 1024
FULL_FETCH_BATCH = 50  # messages per RFC822 FETCH of the full fetch
SMTP = compat32.clone(linesep="\r\n")
KIB, MIB = 1024, 1024 * 1024

# Invoice mails, by share: what each carries (one invoice each, so one invoice row each).
INVOICE_STYLES = {
    "pdf": 40,  # one PDF
    "pdf+ofd": 20,  # the same invoice as OFD and PDF
    "pdf+xml": 8,  # the same invoice as PDF and XML (数电 only; the old style gets pdf+ofd)
    "zip": 12,  # a zip holding the PDF
    "zip-set": 5,  # a zip holding PDF, OFD (and XML for 数电) of the invoice
    "ofd": 5,  # one OFD
    "html+pdf": 10,  # an HTML notice (text and HTML alternatives) with the PDF
}
# Ordinary mail, by share.
OTHER_KINDS = {
    "text": 33,  # a short plain-text mail
    "thread": 12,  # a longer reply with quoted text
    "newsletter": 25,  # text and HTML alternatives, 15-80 KB of HTML
    "newsletter+images": 4,  # HTML with 2-5 inline images (multipart/related)
    "photos": 13,  # text and 1-2 JPEG photos of 80-400 KB
    "office": 10,  # text and a .docx or .xlsx of 60-400 KB
    "link-notice": 1,  # an invoice notice with a download link, no file (the daemon reads its text)
    "nameless-file": 2,  # application/octet-stream without a name (the daemon sniffs its first bytes)
}


class BenchError(Exception):
    """Something the benchmark needs did not happen: it cannot go on."""


def say(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


# --- the invoices -------------------------------------------------------------------------------------------


class InvoiceFiles:
    """The index-th distinct invoice (batch_spec(index)) as PDF, OFD or XML, drawn once and kept in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.drawn = 0

    @staticmethod
    def number(index: int) -> str:
        return str(batch_spec(index).number)

    @staticmethod
    def has_xml(index: int) -> bool:
        return bool(batch_spec(index).variant != "电子普票(旧)")  # XML exists for 数电 invoices only

    def get(self, index: int, kind: str) -> bytes:
        path = self.folder / f"invoice-{index:05d}.{kind}"
        if path.is_file():
            return path.read_bytes()
        spec = batch_spec(index)
        if kind == "pdf":
            data = invoice_pdf(spec)
        elif kind == "ofd":
            data = ofd_digital(spec) if self.has_xml(index) else ofd_old_style(spec)
        elif kind == "xml":
            data = digital_xml(spec)
        else:
            raise ValueError(kind)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_bytes(data)
        temp.replace(path)
        self.drawn += 1
        return bytes(data)


# --- the mail ------------------------------------------------------------------------------------------------

_VOCABULARY = (
    "the project meeting report budget client contract schedule team plan review update agenda quarter design "
    "release customer support office travel holiday please thanks regards attached below note 项目 会议 报告 预算 "
    "客户 合同 进度 团队 计划 评审 更新 议程 季度 设计 发布 支持 办公室 出差 假期 请 谢谢 附件"
)
_WORDS = _VOCABULARY.split()
_OTHER_SUBJECTS = (
    "Weekly sync notes",
    "Re: Q3 budget review",
    "周报 第{n}周",
    "Re: 合同修改意见",
    "Photos from the team outing",
    "Newsletter: what's new this month",
    "会议纪要 {n}",
    "Fwd: travel plan",
    "Your order has shipped",
    "项目进度更新",
)
_INVOICE_SENDERS = (
    "诺诺网 <invoice@nuonuo.example>",
    "百望云 <noreply@baiwang.example>",
    "国家税务总局全国统一发票服务平台 <no-reply@fapiao.example>",
    "京东商城 <fapiao@jd.example>",
    "滴滴出行 <invoice@didi.example>",
)
_OTHER_SENDERS = (
    "张伟 <zhang.wei@corp.example>",
    "Li Na <li.na@corp.example>",
    "Newsletter <news@shop.example>",
    "王芳 <wangfang@partner.example>",
    "IT Support <it@corp.example>",
)


@dataclass
class MailRecord:
    """One message of the mailbox, as planned and as appended."""

    kind: str  # an INVOICE_STYLES or OTHER_KINDS key
    invoice: int | None  # batch_spec index, for invoice mails
    size: int = 0  # RFC822 bytes
    invoice_part_bytes: int = 0  # bytes of its invoice parts as encoded in the message (BODY[n] of each)
    invoice_parts: int = 0


def plan_mailbox(messages: int, invoices: int, rng: random.Random) -> list[MailRecord]:
    """`messages` records; `invoices` of them, at random places, carry invoices 0, 1, 2... in mailbox order."""
    if invoices > messages:
        raise BenchError(f"--invoices {invoices} is more than --messages {messages}")
    places = set(rng.sample(range(messages), invoices))
    styles, style_weights = list(INVOICE_STYLES), list(INVOICE_STYLES.values())
    kinds, kind_weights = list(OTHER_KINDS), list(OTHER_KINDS.values())
    plan: list[MailRecord] = []
    next_invoice = 0
    for position in range(messages):
        if position in places:
            plan.append(MailRecord(rng.choices(styles, style_weights)[0], next_invoice))
            next_invoice += 1
        else:
            plan.append(MailRecord(rng.choices(kinds, kind_weights)[0], None))
    return plan


class MailMaker:
    """Builds the messages of a plan (CRLF line ends, as they are stored), deterministically from a seed."""

    def __init__(self, files: InvoiceFiles, seed: int) -> None:
        self.files = files
        self.seed = seed
        self.start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def build(self, position: int, record: MailRecord) -> tuple[bytes, datetime]:
        """The message at `position` and its date (used as the INTERNALDATE too); fills in record's sizes."""
        rng = random.Random(self.seed * 1_000_003 + position)
        when = self.start + timedelta(minutes=97 * position + rng.randrange(90))
        if record.invoice is not None:
            message = self._invoice_mail(rng, record)
        else:
            message = self._other_mail(rng, record.kind, position)
        message["Date"] = format_datetime(when)
        message["Message-ID"] = f"<bench-{self.seed}-{position}@mail.example>"
        message["MIME-Version"] = "1.0"
        data = message.as_bytes(policy=SMTP)
        record.size = len(data)
        return data, when

    # invoice mail

    def _invoice_mail(self, rng: random.Random, record: MailRecord) -> MIMEBase:
        index = record.invoice
        assert index is not None
        number = self.files.number(index)
        style = record.kind
        if style == "pdf+xml" and not self.files.has_xml(index):
            style = "pdf+ofd"
        files: list[tuple[str, bytes]] = []
        stem = f"dzfp_{number}"
        if style in ("pdf", "html+pdf"):
            files = [(f"{stem}.pdf", self.files.get(index, "pdf"))]
        elif style == "pdf+ofd":
            files = [(f"{stem}.pdf", self.files.get(index, "pdf")), (f"{stem}.ofd", self.files.get(index, "ofd"))]
        elif style == "pdf+xml":
            files = [(f"{stem}.pdf", self.files.get(index, "pdf")), (f"{stem}.xml", self.files.get(index, "xml"))]
        elif style == "ofd":
            files = [(f"{stem}.ofd", self.files.get(index, "ofd"))]
        elif style in ("zip", "zip-set"):
            kinds = ["pdf"] if style == "zip" else ["pdf", "ofd", *(["xml"] if self.files.has_xml(index) else [])]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for kind in kinds:
                    archive.writestr(f"发票_{number}.{kind}", self.files.get(index, kind))
            files = [(f"{stem}.zip", buffer.getvalue())]
        else:
            raise ValueError(style)
        seller = rng.choice(_INVOICE_SENDERS)
        signature = seller.split("<")[0].strip()
        text = f"尊敬的客户：\n\n您好！您的电子发票已开具，发票号码：{number}。请查收附件。\n\n{signature}\n"
        mail = MIMEMultipart("mixed")
        if style == "html+pdf":
            alternative = MIMEMultipart("alternative")
            alternative.attach(MIMEText(text, "plain", "utf-8"))
            html = "".join(f"<p>{line}</p>" for line in text.splitlines() if line) + _html_filler(rng, 6 * KIB)
            alternative.attach(_qp_text(f"<html><body>{html}</body></html>", "html"))
            mail.attach(alternative)
        else:
            mail.attach(MIMEText(text, "plain", "utf-8"))
        for name, data in files:
            part, encoded = _invoice_part(rng, name, data)
            mail.attach(part)
            record.invoice_part_bytes += encoded
            record.invoice_parts += 1
        mail["From"] = _header(rng, seller)
        mail["To"] = "finance@corp.example"
        mail["Subject"] = _header(rng, f"您收到一张电子发票【发票号码：{number}】")
        return mail

    # ordinary mail

    def _other_mail(self, rng: random.Random, kind: str, position: int) -> MIMEBase:
        subject = rng.choice(_OTHER_SUBJECTS).format(n=position % 52 + 1)
        text = _text(rng, rng.randint(400, 3 * KIB))
        mail: MIMEBase
        if kind == "text":
            mail = MIMEText(text, "plain", "utf-8")
        elif kind == "thread":
            quoted = "\n".join(f"> {line}" for line in _text(rng, rng.randint(5 * KIB, 30 * KIB)).splitlines())
            mail = _qp_text(f"{text}\n\nOn Monday someone wrote:\n{quoted}\n", "plain")
        elif kind in ("newsletter", "newsletter+images"):
            alternative = MIMEMultipart("alternative")
            alternative.attach(MIMEText(text, "plain", "utf-8"))
            html = f"<html><body>{_html_filler(rng, rng.randint(15 * KIB, 80 * KIB))}</body></html>"
            alternative.attach(_qp_text(html, "html"))
            if kind == "newsletter":
                mail = alternative
            else:
                mail = MIMEMultipart("related")
                mail.attach(alternative)
                for k in range(rng.randint(2, 5)):
                    image = MIMEImage(_blob(rng, rng.randint(20 * KIB, 100 * KIB), b"\x89PNG\r\n\x1a\n"), "png")
                    image.add_header("Content-ID", f"<img{k}.{position}@mail.example>")
                    image.add_header("Content-Disposition", "inline", filename=f"banner{k}.png")
                    mail.attach(image)
        elif kind == "photos":
            mail = MIMEMultipart("mixed")
            mail.attach(MIMEText(text, "plain", "utf-8"))
            for k in range(rng.randint(1, 2)):
                photo = MIMEImage(_blob(rng, rng.randint(80 * KIB, 400 * KIB), b"\xff\xd8\xff\xe0\x00\x10JFIF"), "jpeg")
                photo.add_header("Content-Disposition", "attachment", filename=f"IMG_{position:04d}{k}.jpg")
                mail.attach(photo)
        elif kind == "office":
            mail = MIMEMultipart("mixed")
            mail.attach(MIMEText(text, "plain", "utf-8"))
            if rng.random() < 0.6:
                subtype, name = "vnd.openxmlformats-officedocument.wordprocessingml.document", "方案说明.docx"
            else:
                subtype, name = "vnd.openxmlformats-officedocument.spreadsheetml.sheet", "budget-2025.xlsx"
            office = MIMEApplication(
                _blob(rng, rng.randint(60 * KIB, 400 * KIB), b"PK\x03\x04\x14\x00\x06\x00"), subtype
            )
            office.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
            mail.attach(office)
        elif kind == "link-notice":
            subject = "电子发票下载通知"
            url = f"https://fapiao.example/download?code={rng.getrandbits(64):016x}"
            body = f'<html><body><p>您的电子发票已开具，请点击下载：</p><p><a href="{url}">{url}</a></p></body></html>'
            mail = MIMEText(body, "html", "utf-8")
        elif kind == "nameless-file":
            mail = MIMEMultipart("mixed")
            mail.attach(MIMEText(text, "plain", "utf-8"))
            mail.attach(MIMEApplication(_blob(rng, rng.randint(50 * KIB, 300 * KIB), b"\x00\x01DATA"), "octet-stream"))
        else:
            raise ValueError(kind)
        mail["From"] = _header(rng, rng.choice(_OTHER_SENDERS))
        mail["To"] = "finance@corp.example"
        mail["Subject"] = _header(rng, subject)
        return mail


def _qp_text(text: str, subtype: str) -> MIMENonMultipart:
    """A text part in UTF-8, quoted-printable (as mailers send HTML and long text)."""
    charset = Charset("utf-8")
    charset.body_encoding = QP
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, charset)
    return part


def _header(rng: random.Random, text: str) -> str:
    """A header value as mailers write one: RFC 2047 words (UTF-8 or GBK) for Chinese, plain ASCII as it is."""
    if text.isascii():
        return text
    if "<" in text:
        name, address = text.rsplit("<", 1)
        return f"{_header(rng, name.strip())} <{address}"
    return Header(text, rng.choice(("utf-8", "gbk"))).encode()


def _invoice_part(rng: random.Random, name: str, data: bytes) -> tuple[MIMEBase, int]:
    """An attachment with the invoice file in base64 (76-character lines), and its encoded size on the server (the
    size BODYSTRUCTURE gives and BODY[n] returns: the base64 lines with CRLF)."""
    extension = name.rsplit(".", 1)[-1]
    maintype, subtype = {
        "pdf": ("application", "pdf"),
        "ofd": ("application", rng.choice(("ofd", "octet-stream"))),
        "xml": ("text", "xml"),
        "zip": ("application", rng.choice(("zip", "x-zip-compressed"))),
    }[extension]
    part = MIMEBase(maintype, subtype)
    encoded = base64.encodebytes(data).decode("ascii")
    part.set_payload(encoded)
    part["Content-Transfer-Encoding"] = "base64"
    # The name as platforms send it: Chinese in RFC 2231 or RFC 2047 (the poller then reads the part's header too),
    # or plain ASCII.
    style = rng.choice(("rfc2231", "rfc2047", "ascii"))
    if style == "ascii":
        filename: Any = name
    else:
        chinese = f"电子发票_{name}"
        filename = ("utf-8", "", chinese) if style == "rfc2231" else Header(chinese, "utf-8").encode()
    part.set_param("name", filename)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part, len(encoded) + encoded.count("\n")  # "\n" becomes CRLF


def _text(rng: random.Random, size: int) -> str:
    lines, length = [], 0
    while length < size:
        line = " ".join(rng.choices(_WORDS, k=rng.randint(6, 14))) + "."
        lines.append(line)
        length += len(line.encode()) + 1
    return "\n".join(lines)


def _html_filler(rng: random.Random, size: int) -> str:
    parts, length = [], 0
    while length < size:
        paragraph = " ".join(rng.choices(_WORDS, k=rng.randint(20, 60)))
        chunk = f'<tr><td style="padding:8px;font-family:Arial"><p>{paragraph}</p></td></tr>\n'
        parts.append(chunk)
        length += len(chunk.encode())
    return f'<table width="600" cellpadding="0">{"".join(parts)}</table>'


def _blob(rng: random.Random, size: int, magic: bytes) -> bytes:
    """Incompressible bytes behind a file type's magic: a photo or an office file as far as size goes."""
    return magic + rng.randbytes(size - len(magic))


@dataclass
class Mailbox:
    plan: list[MailRecord]
    last_uid: int
    append_seconds: float

    @property
    def total_bytes(self) -> int:
        return sum(r.size for r in self.plan)

    @property
    def invoice_part_bytes(self) -> int:
        return sum(r.invoice_part_bytes for r in self.plan)

    @property
    def invoice_mails(self) -> int:
        return sum(r.invoice is not None for r in self.plan)


def fill_mailbox(dovecot: Dovecot, plan: list[MailRecord], maker: MailMaker) -> Mailbox:
    """Every planned message appended to INBOX over one connection, MULTIAPPEND in batches."""
    started = time.perf_counter()
    client = dovecot.login(USER, timeout=300)
    try:
        if not client.has_capability("MULTIAPPEND"):
            raise BenchError("Dovecot does not offer MULTIAPPEND")
        batch: list[dict[str, Any]] = []
        batch_bytes = 0
        for position, record in enumerate(plan):
            data, when = maker.build(position, record)
            batch.append({"msg": data, "date": when})
            batch_bytes += len(data)
            if len(batch) >= APPEND_BATCH_MESSAGES or batch_bytes >= APPEND_BATCH_BYTES or position == len(plan) - 1:
                client.multiappend("INBOX", batch)
                batch, batch_bytes = [], 0
            if (position + 1) % 1000 == 0:
                say(f"  {position + 1}/{len(plan)} appended")
        selected = client.select_folder("INBOX", readonly=True)
        exists = int(selected[b"EXISTS"])
        if exists != len(plan):
            raise BenchError(f"INBOX holds {exists} messages after appending {len(plan)}")
        last_uid = int(selected[b"UIDNEXT"]) - 1
        sizes = client.fetch(list(range(1, last_uid + 1)), ["RFC822.SIZE"])
        stored = sum(int(v[b"RFC822.SIZE"]) for v in sizes.values())
        if stored != sum(r.size for r in plan):
            raise BenchError(f"Dovecot stores {stored} bytes, the messages were {sum(r.size for r in plan)}")
    finally:
        client.logout()
    return Mailbox(plan, last_uid, time.perf_counter() - started)


def check_part_sizes(dovecot: Dovecot, mailbox: Mailbox) -> tuple[int, int]:
    """The invoice parts' sizes as Dovecot's BODYSTRUCTURE gives them (straight to Dovecot, not through the proxy),
    summed over the invoice mails, and the count of parts: the measure of 'invoice-part bytes' checked."""
    client = dovecot.login(USER, timeout=120)
    try:
        client.select_folder("INBOX", readonly=True)
        answer = client.fetch(list(range(1, mailbox.last_uid + 1)), ["BODYSTRUCTURE"])
    finally:
        client.logout()
    total = parts = 0
    for seq, record in enumerate(mailbox.plan, start=1):
        if record.invoice is None:
            continue
        for node in _leaves(answer[seq][b"BODYSTRUCTURE"]):
            kind = f"{_s(node[0])}/{_s(node[1])}".lower()
            if kind.startswith(("application/", "text/xml")) and kind != "application/vnd.ms-tnef":
                total += int(node[6])
                parts += 1
    return total, parts


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node[0], (list, tuple)):
        children = node[0] if isinstance(node[0], list) else [c for c in node if isinstance(c, (list, tuple))]
        for child in children:
            yield from _leaves(child)
    else:
        yield node


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- the counting proxy --------------------------------------------------------------------------------------


@dataclass
class Link:
    """One proxied connection: bytes each way, round trips (client bytes after server bytes), what it was for."""

    number: int
    label: str
    opened: float
    up: int = 0  # client -> server
    down: int = 0  # server -> client: what the client received
    round_trips: int = 0
    last: str = ""
    trace: list[tuple[float, int]] | None = None  # (monotonic time, bytes) of server data, while traced
    commands: CommandLog | None = None  # plain IMAP only (--breakdown)

    def snapshot(self) -> tuple[int, int, int]:
        return self.up, self.down, self.round_trips


@dataclass
class CommandLog:
    """The client's commands on a plain IMAP connection, and the server bytes that followed each (the poller
    sends one command at a time, so what the server sends until the next command is that command's answer)."""

    pending: bytearray = field(default_factory=bytearray)
    current: str = "greeting"
    down: Counter[str] = field(default_factory=Counter)
    up: Counter[str] = field(default_factory=Counter)
    count: Counter[str] = field(default_factory=Counter)

    def client(self, data: bytes) -> None:
        self.pending += data
        while (end := self.pending.find(b"\r\n")) >= 0:
            line = bytes(self.pending[:end])
            del self.pending[: end + 2]
            self.current = command_category(line)
            self.up[self.current] += end + 2
            if line.strip().upper() != b"DONE":  # DONE ends an IDLE: one command
                self.count[self.current] += 1

    def server(self, size: int) -> None:
        self.down[self.current] += size


_SECTION = re.compile(rb"BODY\.PEEK\[([^\]]*)\](<[\d.]+>)?")


def command_category(line: bytes) -> str:
    """'UID FETCH structure+headers', 'UID FETCH part bodies', ... for one command line of the poller."""
    if line.strip().upper() == b"DONE":
        return "IDLE"
    words = line.split(None, 3)
    if len(words) < 2:
        return "(other client lines)"
    command = words[1].upper()
    if command == b"UID" and len(words) > 2:
        command = b"UID " + words[2].upper()
    name = command.decode("ascii", "replace")
    if name != "UID FETCH":
        return "LOGIN" if name in ("LOGIN", "AUTHENTICATE") else name
    if b"BODYSTRUCTURE" in line:
        return "UID FETCH structure+headers"
    sections = _SECTION.findall(line)
    if not sections:
        return "UID FETCH other"
    section, partial = sections[0]
    if section == b"":
        return "UID FETCH whole message"
    if section.endswith((b".MIME", b"HEADER")):
        return "UID FETCH part headers (n.MIME)"
    if partial:
        return "UID FETCH sniff (<0.4096>)" if partial.endswith(b".4096>") else "UID FETCH text for links"
    return "UID FETCH part bodies"


class CountingProxy:
    """A loopback TCP proxy to one port of Dovecot, on a thread of its own (asyncio), counting every connection."""

    def __init__(self, target_port: int, *, read_commands: bool = False) -> None:
        self.target_port = target_port
        self.read_commands = read_commands
        self.links: list[Link] = []
        self.label = "daemon"  # given to the connections accepted from now on
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="proxy", daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise BenchError("the proxy did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    @contextlib.contextmanager
    def labelled(self, label: str) -> Iterator[None]:
        """Connections opened inside the block get this label (the daemon's, opened at other times, do not)."""
        previous, self.label = self.label, label
        try:
            yield
        finally:
            self.label = previous

    def labelled_links(self, label: str) -> list[Link]:
        return [link for link in self.links if link.label == label]

    def totals(self, label: str) -> tuple[int, int, int]:
        links = self.labelled_links(label)
        return sum(k.up for k in links), sum(k.down for k in links), sum(k.round_trips for k in links)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        async with server:
            await self._stopping.wait()
        # asyncio.run cancels the connections' tasks still running

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        link = Link(len(self.links), self.label, time.monotonic())
        if self.read_commands:
            link.commands = CommandLog()
        self.links.append(link)
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._pipe(client_reader, server_writer, link, up=True, acking=client_writer.get_extra_info("socket")),
            self._pipe(server_reader, client_writer, link, up=False),
        )

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link, *, up: bool, acking: Any = None
    ) -> None:
        try:
            while data := await reader.read(256 * KIB):
                if acking is not None:
                    # ACK the client's bytes at once, as Dovecot's socket does. Without this the proxy's delayed ACK
                    # (40 ms) meets the client's Nagle wait whenever a command goes out in two writes (imapclient
                    # sends SEARCH as the line and then CRLF: two TLS records): every such command would take 40 ms
                    # through the proxy, and none does without it.
                    acking.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                # Counted before it is passed on: once the other end has the bytes, they are in the counts.
                if up:
                    if link.last != "up":
                        link.round_trips += 1
                    link.up += len(data)
                    link.last = "up"
                    if link.commands is not None:
                        link.commands.client(data)
                else:
                    link.down += len(data)
                    link.last = "down"
                    if link.trace is not None:
                        link.trace.append((time.monotonic(), len(data)))
                    if link.commands is not None:
                        link.commands.server(len(data))
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def certificate_through(proxy: CountingProxy, ca_file: Path) -> str:
    """The certificate Dovecot shows through the proxy, verified against the test CA for the name 127.0.0.1."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        proxy.labelled("cert-check"),
        socket.create_connection((HOST, proxy.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        cert = tls.getpeercert() or {}
        names = ", ".join(f"{kind} {value}" for kind, value in cast(Any, cert.get("subjectAltName", ())))
        return f"verified for {HOST} ({tls.version()}; SAN {names})"


# --- the daemon ----------------------------------------------------------------------------------------------


def fapiao_command() -> list[str]:
    script = Path(sys.executable).parent / "fapiao"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ingest.cli"]


def write_config(folder: Path, dovecot: Dovecot, port: int, *, tls: str) -> Path:
    """config.toml with a [[mailbox]] on the proxy's port (no [[watch]]), and the password in an owner-only file."""
    folder.mkdir(parents=True)
    secret = folder / "bench.password"
    secret.touch(mode=0o600)
    secret.write_text(dovecot.password(USER) + "\n", encoding="utf-8")
    config = folder / "config.toml"
    config.write_text(
        f"""# written by bench/imap_sync.py
[archive]
root = "archive"

[[mailbox]]
name = "{MAILBOX_NAME}"
host = "{HOST}"
port = {port}
tls = "{tls}"
{f'ca_file = "{dovecot.ca_file}"' if tls != "none" else ""}
username = "{USER}"
password_file = "bench.password"
since = 2020-01-01
""",
        encoding="utf-8",
    )
    return config


@dataclass
class DaemonProcess:
    """`fapiao run --config ...` as a subprocess, and read-only looks into its SQLite database."""

    folder: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    started: float
    running_after: float = 0.0
    db: sqlite3.Connection | None = None

    @classmethod
    def start(cls, folder: Path, config: Path) -> DaemonProcess:
        log_path = folder / "daemon.log"
        started = time.monotonic()
        with log_path.open("ab") as log:
            # A session of its own: Ctrl-C reaches only the bench, which then stops the daemon.
            process = subprocess.Popen(
                [*fapiao_command(), "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        daemon = cls(folder, process, log_path, started)
        try:
            while "INFO running;" not in daemon.log_text():
                daemon.check_alive()
                if time.monotonic() - started > START_TIMEOUT:
                    raise BenchError(f"the daemon did not start within {START_TIMEOUT:.0f} s:\n{daemon.log_tail()}")
                time.sleep(0.02)
            daemon.running_after = time.monotonic() - started
            database = folder / "archive" / ".fapiao" / "fapiao.db"
            daemon.db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30, isolation_level=None)
        except BaseException:
            daemon.kill()
            raise
        return daemon

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"the daemon exited with code {self.process.returncode}:\n{self.log_tail()}")

    def value(self, sql: str, *params: object) -> Any:
        assert self.db is not None
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        assert self.db is not None
        return self.db.execute(sql, params).fetchall()

    def invoices(self) -> int:
        return int(self.value("select count(*) from invoices"))

    def position(self) -> int:
        found = self.value("select last_uid from mail_folders where source = ? and folder = 'INBOX'", SOURCE)
        return int(found) if found is not None else 0

    def has_invoice(self, number: str) -> bool:
        return self.value("select 1 from invoices where invoice_number = ?", number) is not None

    def status_kib(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
        raise BenchError(f"no {name} in /proc/{self.pid}/status")

    def cpu_seconds(self) -> float:
        text = Path(f"/proc/{self.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        """SIGTERM and wait; the exit code."""
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise BenchError(f"the daemon did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM") from None
        return self.process.returncode

    def kill(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# --- phase 1: the first sync ---------------------------------------------------------------------------------


@dataclass
class SyncResult:
    running_after: float  # s from the start of `fapiao run` to its 'running' line
    position_after: float | None  # ... to the folder position at the last UID
    invoices_after: float | None  # ... to every invoice row
    invoices: int
    expected: int
    up: int
    down: int
    round_trips: int
    connections: int
    peak_kib: int
    max_rss_kib: int
    cpu_seconds: float
    outcomes: dict[str, int]
    mail_rows: dict[str, int]


def first_sync(daemon: DaemonProcess, proxy: CountingProxy, mailbox: Mailbox, label: str) -> SyncResult:
    """Wait until the position is at the last UID and every invoice is a row (or nothing moves for STALL_SECONDS)."""
    expected = mailbox.invoice_mails
    position_after = invoices_after = None
    max_rss = 0
    last_change, last_state = time.monotonic(), (-1, -1, -1)
    next_note = time.monotonic() + 10
    while True:
        daemon.check_alive()
        now = time.monotonic()
        position, invoices = daemon.position(), daemon.invoices()
        if position_after is None and position >= mailbox.last_uid:
            position_after = now - daemon.started
        if invoices_after is None and invoices >= expected:
            invoices_after = now - daemon.started
        if position_after is not None and invoices_after is not None:
            break
        max_rss = max(max_rss, daemon.status_kib("VmRSS"))
        arrivals = int(daemon.value("select count(*) from arrivals"))
        if (position, invoices, arrivals) != last_state:
            last_change, last_state = now, (position, invoices, arrivals)
        elif now - last_change > STALL_SECONDS:
            say(f"nothing moved for {STALL_SECONDS:.0f} s; giving up the wait:\n{daemon.log_tail(10)}")
            break
        if now >= next_note:
            _, down, _ = proxy.totals(label)
            say(
                f"  {now - daemon.started:.0f} s: position UID {position}/{mailbox.last_uid}, "
                f"{invoices}/{expected} invoices, {down / MIB:.1f} MiB received"
            )
            next_note = now + 10
        time.sleep(0.05)
    up, down, round_trips = proxy.totals(label)
    return SyncResult(
        running_after=daemon.running_after,
        position_after=position_after,
        invoices_after=invoices_after,
        invoices=daemon.invoices(),
        expected=expected,
        up=up,
        down=down,
        round_trips=round_trips,
        connections=len(proxy.labelled_links(label)),
        peak_kib=daemon.status_kib("VmHWM"),
        max_rss_kib=max(max_rss, daemon.status_kib("VmRSS")),
        cpu_seconds=daemon.cpu_seconds(),
        outcomes={str(k): int(v) for k, v in daemon.rows("select outcome, count(*) from arrivals group by outcome")},
        mail_rows={str(k): int(v) for k, v in daemon.rows("select state, count(*) from mail_messages group by state")},
    )


# --- phase 2: IDLE latency -----------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    latencies: list[float] = field(default_factory=list)  # APPEND done -> invoice row
    notices: list[float] = field(default_factory=list)  # APPEND done -> first server bytes on the daemon's link
    bytes_down: list[int] = field(default_factory=list)  # the daemon received, per mail (IDLE re-issue included)
    part_bytes: list[int] = field(default_factory=list)
    styles: Counter[str] = field(default_factory=Counter)
    connections: int = 0  # new connections the daemon opened during the phase (reconnects)
    slow: list[str] = field(default_factory=list)  # what happened to mails slower than SLOW_MAIL
    log: list[str] = field(default_factory=list)  # the daemon's warnings and errors during the phase


def idle_latency(
    daemon: DaemonProcess,
    dovecot: Dovecot,
    proxy: CountingProxy,
    maker: MailMaker,
    mailbox: Mailbox,
    mails: int,
    rng: random.Random,
) -> LatencyResult:
    result = LatencyResult()
    links = proxy.labelled_links("daemon")
    if not links:
        raise BenchError("the daemon has no connection through the proxy")
    styles, weights = list(INVOICE_STYLES), list(INVOICE_STYLES.values())
    links_before = len(proxy.labelled_links("daemon"))
    log_start = len(daemon.log_text().splitlines())
    appender = dovecot.login(USER, timeout=60)
    try:
        appender.select_folder("INBOX", readonly=True)  # so that the append's response does not wait on anything
        time.sleep(2.0)  # the daemon back in IDLE after the first sync's last work
        for i in range(mails):
            link = proxy.labelled_links("daemon")[-1]  # the daemon's connection now (a reconnect makes a new one)
            record = MailRecord(rng.choices(styles, weights)[0], mailbox.invoice_mails + i)
            data, when = maker.build(len(mailbox.plan) + i, record)
            number = maker.files.number(record.invoice or 0)
            time.sleep(rng.uniform(0.3, 1.3))  # out of step with the daemon's 1 s IDLE check
            down_before = link.down
            link.trace = []
            appender.append("INBOX", data, msg_time=when)
            appended = time.monotonic()
            while not daemon.has_invoice(number):
                daemon.check_alive()
                if time.monotonic() - appended > LATENCY_TIMEOUT:
                    received = [(round(t - appended, 3), n) for t, n in link.trace or []]
                    raise BenchError(
                        f"invoice {number} ({record.kind}) not stored {LATENCY_TIMEOUT:.0f} s after its APPEND; the "
                        f"daemon received since the APPEND (s, bytes): {received[:20]}; daemon log:\n"
                        f"{daemon.log_tail(15)}"
                    )
                time.sleep(DB_POLL)
            latency = time.monotonic() - appended
            result.latencies.append(latency)
            time.sleep(0.3)  # the rest of the message's work (its mail row, the position, IDLE again)
            trace, link.trace = link.trace, None
            first = next((t for t, _ in trace if t >= appended), None)
            if first is not None:
                result.notices.append(first - appended)
            if latency > SLOW_MAIL:
                reconnected = link is not proxy.labelled_links("daemon")[-1]
                result.slow.append(
                    f"mail {i + 1} (UID {mailbox.last_uid + i + 1}, {record.kind}): {latency:.2f} s; IDLE notice after "
                    f"{'-' if first is None else f'{first - appended:.2f} s'}"
                    f"{'; the daemon reconnected' if reconnected else ''}"
                )
            result.bytes_down.append(link.down - down_before)
            result.part_bytes.append(record.invoice_part_bytes)
            result.styles[record.kind] += 1
            if (i + 1) % 10 == 0:
                say(f"  {i + 1}/{mails}: median so far {statistics.median(result.latencies):.2f} s")
    finally:
        appender.logout()
    result.connections = len(proxy.labelled_links("daemon")) - links_before
    result.log = [
        line for line in daemon.log_text().splitlines()[log_start:] if " WARNING " in line or " ERROR " in line
    ]
    return result


# --- phase 3: the quiet poll ---------------------------------------------------------------------------------


@dataclass
class PollResult:
    login: tuple[int, int, int]  # up, down, round trips of open_session (TLS, LOGIN, ID)
    login_ms: float
    select: tuple[int, int, int]
    polls: list[tuple[int, int, int, float]]  # per uids_above: up, down, round trips, ms
    idles: list[tuple[int, int, int, float]]  # per IDLE + DONE
    cycles: list[tuple[int, int, int, float]]  # per daemon re-issue: IDLE + DONE, then uids_above


def quiet_poll(dovecot: Dovecot, proxy: CountingProxy, secret_file: Path, last_uid: int, polls: int) -> PollResult:
    mailbox = MailboxSettings(
        name="bench-poll",
        host=HOST,
        port=proxy.port,
        username=USER,
        secret=Secret("file", str(secret_file)),
        ca_file=dovecot.ca_file,
    )
    started = time.perf_counter()
    with proxy.labelled("poll"):
        session = open_session(mailbox, dovecot.password(USER), timeout=30)
    try:
        login_ms = 1000 * (time.perf_counter() - started)
        link = proxy.labelled_links("poll")[-1]
        login = link.snapshot()

        def measured(call: Any) -> tuple[int, int, int, float]:
            before = link.snapshot()
            begun = time.perf_counter()
            call()
            ms = 1000 * (time.perf_counter() - begun)
            after = link.snapshot()
            return after[0] - before[0], after[1] - before[1], after[2] - before[2], ms

        selected = measured(lambda: session.select("INBOX", readonly=True))
        assert session.selected is not None and session.selected.uidnext == last_uid + 1, session.selected

        def poll() -> None:
            found = session.uids_above(last_uid)
            if found:
                raise BenchError(f"the quiet poll found new UIDs {found[:5]}")

        results = [measured(poll) for _ in range(polls)]
        idles = [measured(lambda: session.idle(0.0, lambda: False)) for _ in range(10)]

        def cycle() -> None:
            session.idle(0.0, lambda: False)
            poll()

        cycles = [measured(cycle) for _ in range(10)]
    finally:
        session.close()
    return PollResult(login, login_ms, selected[:3], results, idles, cycles)


# --- phase 4: the full fetch ---------------------------------------------------------------------------------


@dataclass
class FullFetch:
    up: int
    down: int
    round_trips: int
    seconds: float
    body_bytes: int


def full_fetch(dovecot: Dovecot, proxy: CountingProxy, last_uid: int) -> FullFetch:
    """Every message as RFC822 (in EXAMINE, so nothing is marked seen), one connection through the proxy."""
    started = time.perf_counter()
    with proxy.labelled("full-fetch"):
        client = IMAPClient(HOST, proxy.port, ssl=True, ssl_context=dovecot.ssl_context(), timeout=300)
    body_bytes = 0
    try:
        client.login(USER, dovecot.password(USER))
        client.select_folder("INBOX", readonly=True)
        for first in range(1, last_uid + 1, FULL_FETCH_BATCH):
            last = min(first + FULL_FETCH_BATCH - 1, last_uid)
            answer = client.fetch(list(range(first, last + 1)), ["RFC822"])
            body_bytes += sum(len(data[b"RFC822"]) for data in answer.values())
    finally:
        client.logout()
    up, down, round_trips = proxy.totals("full-fetch")
    return FullFetch(up, down, round_trips, time.perf_counter() - started, body_bytes)


# --- report --------------------------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / MIB:,.1f} MiB" if abs(n) >= MIB else f"{n / KIB:,.1f} KiB" if abs(n) >= KIB else f"{n:,.0f} B"


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def _table(title: str, rows: Sequence[tuple[str, ...]], header: tuple[str, ...] | None = None) -> None:
    print(f"\n{title}")
    lines = ([header] if header else []) + list(rows)
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(max(map(len, lines)))]
    for n, line in enumerate(lines):
        cells = [cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)]
        print("  " + "  ".join(cells).rstrip())
        if header and n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _s_or_dash(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "not reached"


def report_mailbox(mailbox: Mailbox, checked: tuple[int, int], cache_drawn: int) -> None:
    kinds = Counter(r.kind for r in mailbox.plan)
    rows = []
    for kind in (*INVOICE_STYLES, *OTHER_KINDS):
        records = [r for r in mailbox.plan if r.kind == kind]
        if records:
            rows.append(
                (
                    kind,
                    "invoice" if kind in INVOICE_STYLES else "other",
                    f"{kinds[kind]:,}",
                    _mb(sum(r.size for r in records)),
                    _mb(sum(r.size for r in records) / len(records)),
                    _mb(sum(r.invoice_part_bytes for r in records)) if kind in INVOICE_STYLES else "-",
                )
            )
    _table(
        f"Mailbox: {len(mailbox.plan):,} messages, {mailbox.invoice_mails} with one distinct invoice each; "
        f"{_mb(mailbox.total_bytes)} (RFC822.SIZE summed), appended in {mailbox.append_seconds:.1f} s over one "
        f"connection (MULTIAPPEND, {APPEND_BATCH_MESSAGES} a command)",
        rows,
        ("kind", "", "messages", "bytes", "per message", "invoice parts"),
    )
    parts = sum(r.invoice_parts for r in mailbox.plan)
    agree = "agrees" if checked == (mailbox.invoice_part_bytes, parts) else f"DISAGREES: {checked}"
    print(
        f"  invoice parts: {parts} parts, {_mb(mailbox.invoice_part_bytes)} ({mailbox.invoice_part_bytes:,} B) as "
        f"encoded in the messages (base64 with CRLF); Dovecot's BODYSTRUCTURE sizes {agree}"
        f"; invoice files drawn this run: {cache_drawn}"
    )


def report_sync(title: str, sync: SyncResult, mailbox: Mailbox, full: FullFetch | None) -> None:
    parts = mailbox.invoice_part_bytes
    messages = len(mailbox.plan)
    rows = [
        ("`fapiao run` to its 'running' line", f"{sync.running_after:.1f} s"),
        (f"... to the folder position at the last UID ({mailbox.last_uid})", _s_or_dash(sync.position_after)),
        (f"... to every invoice row ({sync.invoices}/{sync.expected})", _s_or_dash(sync.invoices_after)),
        ("bytes received by the daemon (at the socket, TLS included)", f"{_mb(sync.down)} ({sync.down:,} B)"),
        ("bytes sent by the daemon", f"{_mb(sync.up)} ({sync.up:,} B)"),
        ("round trips / connections", f"{sync.round_trips:,} / {sync.connections}"),
        ("invoice parts as encoded in the messages", f"{_mb(parts)} ({parts:,} B)"),
        ("received / invoice parts", f"{sync.down / parts:.3f}"),
        ("(received - invoice parts) / messages", f"{(sync.down - parts) / messages:,.0f} B per message"),
    ]
    if full is not None:
        rows += [
            ("full RFC822 fetch of every message, received (same proxy)", f"{_mb(full.down)} ({full.down:,} B)"),
            ("received / full fetch", f"{sync.down / full.down:.4f}"),
        ]
    rows += [
        (
            "daemon peak memory (VmHWM) / highest VmRSS sampled",
            f"{sync.peak_kib / KIB:.0f} MiB / {sync.max_rss_kib / KIB:.0f} MiB",
        ),
        ("daemon CPU time (user + system)", f"{sync.cpu_seconds:.1f} s"),
        ("arrivals by outcome", ", ".join(f"{k} {v}" for k, v in sorted(sync.outcomes.items()))),
        ("mail_messages rows by state", ", ".join(f"{k} {v}" for k, v in sorted(sync.mail_rows.items()))),
    ]
    _table(title, rows)


def report_latency(result: LatencyResult) -> None:
    values = result.latencies
    rows = [
        ("mails", f"{len(values)} ({', '.join(f'{k} {v}' for k, v in sorted(result.styles.items()))})"),
        ("APPEND done -> invoice row: median / p90 / max / min", _quartet(values)),
    ]
    if result.notices:
        rows.append(("APPEND done -> IDLE notice at the proxy: median / p90 / max / min", _quartet(result.notices)))
    overhead = [d - p for d, p in zip(result.bytes_down, result.part_bytes, strict=True)]
    rows.append(
        (
            "received per mail (median): total / beyond its invoice parts",
            f"{_mb(statistics.median(result.bytes_down))} / {_mb(statistics.median(overhead))}",
        )
    )
    rows.append(("new connections of the daemon during the phase", f"{result.connections}"))
    _table("IDLE latency (daemon idle on its IDLE connection; APPEND straight to Dovecot)", rows)
    for line in result.slow:
        print(f"  slow: {line}")
    for line in result.log[:10]:
        print(f"  daemon log: {line}")


def _quartet(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s / {_p90(values):.2f} s / {max(values):.2f} s / {min(values):.2f} s"


def report_poll(result: PollResult) -> None:
    def line(what: str, samples: list[tuple[int, int, int, float]]) -> tuple[str, ...]:
        ups, downs, trips, ms = zip(*samples, strict=True)
        return (
            what,
            f"{len(samples)}",
            f"{statistics.median(ups):,.0f}",
            f"{statistics.median(downs):,.0f}",
            f"{statistics.median(ups) + statistics.median(downs):,.0f}",
            f"{statistics.median(trips):.0f}",
            f"{statistics.median(ms):.2f}",
            f"{max(ms):.2f}",
        )

    up, down, trips = result.login
    rows = [
        (
            "open_session (TLS, LOGIN, ID)",
            "1",
            f"{up:,}",
            f"{down:,}",
            f"{up + down:,}",
            f"{trips}",
            f"{result.login_ms:.1f}",
            "",
        ),
        (
            "EXAMINE INBOX",
            "1",
            f"{result.select[0]:,}",
            f"{result.select[1]:,}",
            f"{sum(result.select[:2]):,}",
            f"{result.select[2]}",
            "",
            "",
        ),
        line("uids_above(last UID): a quiet poll", result.polls),
        line("IDLE + DONE", result.idles),
        line("IDLE re-issue as the daemon does it (IDLE + DONE, uids_above)", result.cycles),
    ]
    _table(
        "Quiet poll: the daemon's MailSession through the proxy (medians; bytes at the socket, TLS included)",
        rows,
        ("call", "n", "sent B", "received B", "total B", "round trips", "ms", "max ms"),
    )


def report_breakdown(log: CommandLog, sync: SyncResult, mailbox: Mailbox) -> None:
    parts, messages = mailbox.invoice_part_bytes, len(mailbox.plan)
    rows = []
    total_down = sum(log.down.values())
    for category, down in log.down.most_common():
        count = log.count[category]
        rows.append(
            (
                category,
                f"{count:,}",
                f"{log.up[category]:,}",
                f"{down:,}",
                f"{down / count:,.0f}" if count else "-",
                f"{down / messages:,.1f}",
                f"{100 * down / total_down:.1f}%",
            )
        )
    rows.append(
        (
            "total",
            f"{sum(log.count.values()):,}",
            f"{sum(log.up.values()):,}",
            f"{total_down:,}",
            "",
            f"{total_down / messages:,.1f}",
            "100%",
        )
    )
    _table(
        f"Breakdown of a first sync by command: the daemon again on a new archive, plain IMAP (no TLS), "
        f"{messages:,} messages ({mailbox.invoice_mails} invoice mails: the latency mails too), invoice parts "
        f"{parts:,} B; received {sync.down:,} B = {sync.down / parts:.3f} x invoice parts, "
        f"{(sync.down - parts) / messages:,.0f} B per message beyond them; {sync.invoices}/{sync.expected} invoices "
        f"in {_s_or_dash(sync.invoices_after)}",
        rows,
        ("command", "commands", "sent B", "received B", "per command", "per message", "share"),
    )


def report_targets(
    sync: SyncResult, mailbox: Mailbox, latency: LatencyResult | None, poll: PollResult | None, per_message: int
) -> None:
    parts, messages = mailbox.invoice_part_bytes, len(mailbox.plan)
    allowed = 1.2 * parts + per_message * messages
    rows = [
        (
            f"first-sync bytes <= 1.2 x invoice parts + {per_message} B x {messages:,} messages",
            f"{_mb(sync.down)} vs {_mb(allowed)}",
            "met" if sync.down <= allowed else "MISSED",
        ),
        (
            "every invoice stored",
            f"{sync.invoices}/{sync.expected}",
            "met" if sync.invoices == sync.expected else "MISSED",
        ),
        (
            "daemon peak memory < 300 MB during the first sync (VmHWM)",
            f"{sync.peak_kib * 1024 / 1e6:.0f} MB",
            "met" if sync.peak_kib * 1024 < 300e6 else "MISSED",
        ),
    ]
    if poll is not None:
        quiet = statistics.median(u + d for u, d, _, _ in poll.polls)
        rows.append(("quiet poll < 2 KB (sent + received)", f"{quiet:,.0f} B", "met" if quiet < 2000 else "MISSED"))
    if latency is not None and latency.latencies:
        median = statistics.median(latency.latencies)
        rows.append(("IDLE latency median < 2 s", f"{median:.2f} s", "met" if median < 2 else "MISSED"))
    _table("Targets", rows, ("target", "measured", ""))


# --- main ----------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages in the mailbox")
    parser.add_argument("--invoices", type=int, default=500, help="of those, mails carrying one invoice each")
    parser.add_argument("--latency-mails", type=int, default=50, help="invoice mails appended one by one (0: skip)")
    parser.add_argument("--polls", type=int, default=100, help="quiet polls timed (0: skip)")
    parser.add_argument("--no-full-fetch", action="store_true", help="skip the RFC822 fetch of every message")
    parser.add_argument("--breakdown", action="store_true", help="first sync again over plain IMAP, split by command")
    parser.add_argument(
        "--per-message", type=int, default=1024, help="fixed bytes per message the byte target allows (default 1024)"
    )
    parser.add_argument("--seed", type=int, default=20250729)
    parser.add_argument(
        "--cache", type=Path, help="folder of generated invoices to reuse (default: in the work folder)"
    )
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    work = (args.keep or Path(tempfile.mkdtemp(prefix="fapiao-imap-sync-"))).resolve()
    # SIGTERM ends the run the way Ctrl-C does: through the finally blocks that stop the daemon and Dovecot.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    say(f"bench/imap_sync.py {' '.join(sys.argv[1:])}; work folder {work}; daemon: {' '.join(fapiao_command())}")
    try:
        return run(args, work)
    except BenchError as exc:
        say(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _interrupt(_number: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, work: Path) -> int:
    files = InvoiceFiles((args.cache or work / "cache").resolve())
    maker = MailMaker(files, args.seed)
    plan = plan_mailbox(args.messages, args.invoices, random.Random(args.seed))
    with running_dovecot(idle=True) as dovecot:
        say(f"Dovecot {dovecot.host}: IMAPS {dovecot.imaps_port}, IMAP {dovecot.imap_port}; filling INBOX")
        dovecot.add_user(USER, f"pw-{random.Random(args.seed).getrandbits(64):x}")
        mailbox = fill_mailbox(dovecot, plan, maker)
        checked = check_part_sizes(dovecot, mailbox)
        report_mailbox(mailbox, checked, files.drawn)
        daemon: DaemonProcess | None = None
        latency: LatencyResult | None = None
        poll: PollResult | None = None
        full: FullFetch | None = None
        with CountingProxy(dovecot.imaps_port) as proxy:
            certificate = certificate_through(proxy, dovecot.ca_file)
            say(f"proxy 127.0.0.1:{proxy.port} -> Dovecot IMAPS {dovecot.imaps_port}: certificate {certificate}")
            folder = work / "daemon"
            config = write_config(folder, dovecot, proxy.port, tls="ssl")
            try:
                say("phase 1: first sync (`fapiao run` on a fresh archive)")
                daemon = DaemonProcess.start(folder, config)
                sync = first_sync(daemon, proxy, mailbox, "daemon")
                say(f"first sync: {sync.invoices}/{sync.expected} invoices after {_s_or_dash(sync.invoices_after)}")
                if args.latency_mails > 0:
                    say(f"phase 2: IDLE latency, {args.latency_mails} invoice mails one at a time")
                    latency = idle_latency(
                        daemon, dovecot, proxy, maker, mailbox, args.latency_mails, random.Random(args.seed + 1)
                    )
                if args.polls > 0:
                    say(f"phase 3: quiet poll, {args.polls} x uids_above")
                    last_uid = mailbox.last_uid + args.latency_mails
                    poll = quiet_poll(dovecot, proxy, folder / "bench.password", last_uid, args.polls)
                rss_end = daemon.status_kib("VmRSS")
                code = daemon.stop()
                say(f"daemon stopped, exit code {code}; VmRSS before the stop {rss_end / KIB:.0f} MiB")
                if code != 0:
                    raise BenchError(f"the daemon exited with code {code}:\n{daemon.log_tail()}")
                if not args.no_full_fetch:
                    say("phase 4: full RFC822 fetch of every message through the proxy")
                    full = full_fetch(dovecot, proxy, mailbox.last_uid)
            finally:
                if daemon is not None:
                    daemon.kill()
        breakdown: tuple[CommandLog, SyncResult, Mailbox] | None = None
        if args.breakdown:
            say("phase 5: the first sync again over plain IMAP, commands read at the proxy")
            # The latency mails are in the mailbox now too: the plain sync waits for those as well.
            mailbox_now = _with_latency_mails(mailbox, latency)
            with CountingProxy(dovecot.imap_port, read_commands=True) as plain_proxy:
                folder = work / "daemon-plain"
                config = write_config(folder, dovecot, plain_proxy.port, tls="none")
                plain = DaemonProcess.start(folder, config)
                try:
                    plain_sync = first_sync(plain, plain_proxy, mailbox_now, "daemon")
                    plain.stop()
                finally:
                    plain.kill()
                commands = CommandLog()
                for link in plain_proxy.labelled_links("daemon"):
                    assert link.commands is not None
                    commands.down.update(link.commands.down)
                    commands.up.update(link.commands.up)
                    commands.count.update(link.commands.count)
                breakdown = (commands, plain_sync, mailbox_now)
    report_sync("First sync (daemon through the counting proxy, IMAPS)", sync, mailbox, full)
    if full is not None:
        print(
            f"  full fetch: {full.body_bytes:,} B of messages in {_mb(full.down)} received, "
            f"{full.round_trips} round trips, {full.seconds:.1f} s"
        )
    if latency is not None:
        report_latency(latency)
    if poll is not None:
        report_poll(poll)
    if breakdown is not None:
        report_breakdown(*breakdown)
    report_targets(sync, mailbox, latency, poll, args.per_message)
    return 0


def _with_latency_mails(mailbox: Mailbox, latency: LatencyResult | None) -> Mailbox:
    """The mailbox as it is after phase 2: the latency mails appended (their invoice-part bytes as measured then)."""
    if latency is None:
        return mailbox
    extra = [
        MailRecord("latency", mailbox.invoice_mails + i, invoice_part_bytes=part_bytes)
        for i, part_bytes in enumerate(latency.part_bytes)
    ]
    return Mailbox(mailbox.plan + extra, mailbox.last_uid + len(extra), mailbox.append_seconds)


if __name__ == "__main__":
    sys.exit(main())
