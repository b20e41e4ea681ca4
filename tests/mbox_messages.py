"""Generated mbox files for tests and benchmarks: the mbox writer, and a mailbox of ordinary and invoice mail with
duplicates, together with what an import of it must find.

Invoice mails carry real generated invoices (tests/invoice_batch.batch_spec(i) drawn by tests/invoice_pdf, the
same bytes as tests/daemon_run.invoice(i)): alone, with their OFD and XML companions, in a zip, forwarded as
message/rfc822, re-attached to a forward, re-downloaded (other bytes, the same invoice). Duplicates: the very same
message twice (same Message-ID, same bytes), the same PDF in two different messages, messages without a
Message-ID (one of them twice). Ordinary mail: text, HTML, images, office files, a PDF that is not an invoice.
The MIME is written by hand (helpers of tests/mail_messages.py), so it is quick and exactly as stated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import random
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

from invoice_batch import BATCH_VARIANTS, batch_spec, rerendered
from invoice_ofd import ofd_digital
from invoice_pdf import invoice_pdf, not_invoice_pdf
from invoice_xml import digital_xml
from mail_messages import CRLF, b64_body, encoded_word, entity, header_block, multipart, percent

# A separator per common writer, chosen in turn: mutt/Apple Mail, Thunderbird, Gmail Takeout, a bounce.
_SEPARATORS = (
    b"From invoice@example-fapiao.cn Thu Jan  2 03:04:05 2025",
    b"From - Fri Mar 14 09:26:53 2025",
    b"From 1791234567890123456@xxx Wed Mar 06 09:50:14 +0000 2024",
    b"From MAILER-DAEMON Mon Jul  7 18:00:00 2025",
)
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
_DIGITAL = frozenset(BATCH_VARIANTS[:2])  # the variants that come with OFD and XML companions
_BOUNDARY = "=_mbox_part_{}_{}"


def mbox_entry(message: bytes, index: int) -> bytes:
    """One message as the index-th entry of an mbox (mboxrd): a separator line (in the message's own line ending;
    the writer of it changes with `index`), every line beginning '>*From ' given one more '>', and a blank line
    after it. A message that does not end with a line ending gets one (so only messages that do come back byte
    for byte)."""
    newline = CRLF if message.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
    tail = newline if message.endswith(b"\n") else newline + newline
    return _SEPARATORS[index % len(_SEPARATORS)] + newline + _FROM_LINE.sub(rb">\1", message) + tail


def mbox_bytes(messages: list[bytes]) -> bytes:
    """An mbox of `messages` (`mbox_entry` each)."""
    return b"".join(mbox_entry(message, index) for index, message in enumerate(messages))


@dataclass(frozen=True)
class FileFact:
    """One attachment of a generated message."""

    name: str
    content_type: str
    sha256: str
    size: int
    kind: str  # 'invoice-pdf', 'invoice-ofd', 'invoice-xml', 'invoice-zip', 'other-pdf', 'image', 'office'
    numbers: tuple[str, ...] = ()  # the invoice numbers it holds (a zip: its members')
    forwarded: bool = False  # inside a forwarded message/rfc822

    @property
    def candidate(self) -> bool:
        """What the MIME reader hands to the pipeline (by declared type or name)."""
        return self.kind not in ("image", "office")


@dataclass(frozen=True)
class MessageFact:
    """What one generated message is and carries."""

    shape: str  # 'text', 'html', 'image', 'office', 'other-pdf', 'invoice', 'companions', 'zip', 'forward',
    # 'reattached', 'resent', 'duplicate'
    message_id: str | None  # None: the message has no Message-ID header
    subject: str
    files: tuple[FileFact, ...] = ()
    copy_of: int | None = None  # 'duplicate': the index of the earlier message it repeats byte for byte, if known

    @property
    def numbers(self) -> frozenset[str]:
        return frozenset(number for file in self.files for number in file.numbers)


@dataclass(frozen=True)
class Mailbox:
    """A generated mbox, its messages as a reader must return them, and the facts about each."""

    data: bytes
    messages: tuple[bytes, ...]
    facts: tuple[MessageFact, ...]

    @property
    def numbers(self) -> frozenset[str]:
        """Every distinct invoice number in the mailbox: the invoices an import must archive."""
        return frozenset(number for fact in self.facts for number in fact.numbers)

    @property
    def message_ids(self) -> frozenset[str]:
        return frozenset(fact.message_id for fact in self.facts if fact.message_id is not None)

    @property
    def candidate_files(self) -> frozenset[str]:
        """The sha256 of every distinct candidate file (those nested in zips not counted apart)."""
        return frozenset(file.sha256 for fact in self.facts for file in fact.files if file.candidate)

    def indices(self, shape: str) -> list[int]:
        return [i for i, fact in enumerate(self.facts) if fact.shape == shape]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def _drawn_invoice(index: int) -> bytes:
    return invoice_pdf(batch_spec(index))


@cache
def _companions(index: int) -> tuple[bytes, bytes]:
    spec = batch_spec(index)
    return ofd_digital(spec), digital_xml(spec)


@cache
def _other_pdf() -> bytes:
    return not_invoice_pdf()


@cache
def _rerendered(index: int, flavour: int) -> bytes:
    return invoice_pdf(rerendered(batch_spec(index), flavour))


def _text(text: str, subtype: str = "plain") -> bytes:
    """A text part in 8bit, CRLF lines (so body lines beginning 'From ' are there to be escaped)."""
    body = text.replace("\n", "\r\n").encode("utf-8") + CRLF
    return entity([("Content-Type", f"text/{subtype}; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")], body)


def _file_part(data: bytes, content_type: str, name: str) -> bytes:
    """An attachment as Outlook and webmail write Chinese names: an encoded word in name=, RFC 2231 in filename*."""
    return entity(
        [
            ("Content-Type", f'{content_type}; name="{encoded_word(name, "utf-8")}"'),
            ("Content-Disposition", f"attachment; filename*=UTF-8''{percent(name.encode('utf-8'))}"),
            ("Content-Transfer-Encoding", "base64"),
        ],
        b64_body(data),
    )


def _zip(members: list[tuple[str, bytes]], *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    compression = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 7, 1, 9, 0, 0)), data)
    return buffer.getvalue()


@dataclass
class MailMaker:
    """Builds messages one by one (deterministic for a seed); invoice indices are taken in turn from `first`."""

    seed: int = 20250801
    pdf: Callable[[int], bytes] = _drawn_invoice  # the index-th invoice PDF (a benchmark passes a disk cache)
    first: int = 0
    rng: random.Random = field(init=False)
    next_invoice: int = field(init=False)
    count: int = field(init=False, default=0)
    indices: dict[str, int] = field(init=False, default_factory=dict)  # invoice number -> batch index

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.next_invoice = self.first

    # --- envelope ---------------------------------------------------------------------------------------------

    def _headers(self, subject: str, sender: str, *, message_id: bool = True) -> tuple[list[tuple[str, str]], str]:
        self.count += 1
        n = self.count
        minute, hour, day = n % 60, (n // 60) % 24, 1 + (n // 1440) % 28
        headers = [
            ("Return-Path", f"<{sender}>"),
            ("From", sender),
            ("To", "finance@example.com"),
            ("Subject", encoded_word(subject, "utf-8") if not subject.isascii() else subject),
            ("Date", f"Tue, {day:02d} Jul 2025 {hour:02d}:{minute:02d}:00 +0800"),
        ]
        message_id_value = f"<gen-{self.seed}-{n:06d}@example-mail.cn>"
        if message_id:
            headers.append(("Message-ID", message_id_value))
        headers.append(("MIME-Version", "1.0"))
        return headers, message_id_value if message_id else ""

    def _message(
        self,
        shape: str,
        subject: str,
        parts: list[bytes],
        files: tuple[FileFact, ...],
        *,
        sender: str = "invoice@example-fapiao.cn",
        message_id: bool = True,
        lf: bool = False,
    ) -> tuple[bytes, MessageFact]:
        headers, mid = self._headers(subject, sender, message_id=message_id)
        if len(parts) == 1 and not files:
            data = header_block(headers) + parts[0]  # a single text part: its own headers join the message's
        else:
            boundary = _BOUNDARY.format(self.seed, self.count)
            headers.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
            data = entity(headers, multipart(boundary, parts))
        if lf:  # as Thunderbird on Linux stores it
            data = data.replace(CRLF, b"\n")
        return data, MessageFact(shape, mid or None, subject, files)

    # --- ordinary mail ----------------------------------------------------------------------------------------

    def text_mail(self) -> tuple[bytes, MessageFact]:
        k = self.rng.randrange(1000)
        text = (
            f"各位同事：\n\n下周一例会改到14:00。\n\nFrom the desk of the office manager, note {k}:\n"
            ">From an earlier message: bring the reports.\nFrom now on, meetings start on time.\n"
        )
        return self._message("text", f"例会通知 {k}", [_text(text)], (), sender="office@example.com")

    def html_mail(self) -> tuple[bytes, MessageFact]:
        k = self.rng.randrange(1000)
        boundary = _BOUNDARY.format(self.seed, f"alt{self.count}")
        alternative = entity(
            [("Content-Type", f'multipart/alternative; boundary="{boundary}"')],
            multipart(
                boundary, [_text(f"Newsletter {k}\nRead online."), _text(f"<p>Newsletter <b>{k}</b></p>", "html")]
            ),
        )
        return self._message(
            "html", f"Newsletter {k}", [alternative], (), sender="news@example-shop.com", lf=k % 3 == 0
        )

    def image_mail(self, size: int = 6_000) -> tuple[bytes, MessageFact]:
        data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + self.rng.randbytes(size)
        name = f"现场照片_{self.count + 1:05d}.jpg"
        fact = FileFact(name, "image/jpeg", _sha(data), len(data), "image")
        parts = [_text("照片见附件。"), _file_part(data, "image/jpeg", name)]
        return self._message("image", "现场照片", parts, (fact,), sender="colleague@example.com")

    def office_mail(self, size: int = 8_000) -> tuple[bytes, MessageFact]:
        # A real (stored) zip, as .docx files are: a MIME reader must not take it for an invoice zip.
        data = _zip(
            [
                ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
                ("word/document.xml", b'<?xml version="1.0"?><w:document/>'),
                ("word/media/image1.png", self.rng.randbytes(size)),
            ],
            stored=True,
        )
        name = f"季度报告_{self.count + 1:05d}.docx"
        content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        fact = FileFact(name, content_type, _sha(data), len(data), "office")
        parts = [_text("报告请审阅。"), _file_part(data, content_type, name)]
        return self._message("office", "季度报告", parts, (fact,), sender="colleague@example.com")

    def other_pdf_mail(self) -> tuple[bytes, MessageFact]:
        data = _other_pdf()
        fact = FileFact("会议通知.pdf", "application/pdf", _sha(data), len(data), "other-pdf")
        parts = [_text("会议通知见附件。"), _file_part(data, "application/pdf", "会议通知.pdf")]
        return self._message("other-pdf", "会议通知", parts, (fact,), sender="office@example.com")

    # --- invoice mail -----------------------------------------------------------------------------------------

    def _take_invoice(self) -> tuple[int, str, bytes]:
        index = self.next_invoice
        self.next_invoice += 1
        number = batch_spec(index).number
        self.indices[number] = index
        return index, number, self.pdf(index)

    def invoice_mail(self, *, message_id: bool = True) -> tuple[bytes, MessageFact]:
        index, number, pdf = self._take_invoice()
        name = f"电子发票_{number}.pdf"
        fact = FileFact(name, "application/pdf", _sha(pdf), len(pdf), "invoice-pdf", (number,))
        parts = [_text(f"您好，发票号码 {number} 的电子发票见附件。"), _file_part(pdf, "application/pdf", name)]
        subject = f"您的电子发票 {number}"
        return self._message("invoice", subject, parts, (fact,), message_id=message_id, lf=index % 5 == 4)

    def companions_mail(self) -> tuple[bytes, MessageFact]:
        """A 数电 invoice as the tax platform sends it: PDF, OFD and XML of the same invoice."""
        while batch_spec(self.next_invoice).variant not in _DIGITAL:
            self.next_invoice += 1  # the old-style invoice of this index stays unused
        index, number, pdf = self._take_invoice()
        ofd, xml = _companions(index)
        files = (
            FileFact(f"{number}.pdf", "application/pdf", _sha(pdf), len(pdf), "invoice-pdf", (number,)),
            FileFact(f"{number}.ofd", "application/ofd", _sha(ofd), len(ofd), "invoice-ofd", (number,)),
            FileFact(f"{number}.xml", "text/xml", _sha(xml), len(xml), "invoice-xml", (number,)),
        )
        parts = [_text(f"数电发票 {number}（PDF、OFD、XML）")]
        parts += [_file_part(data, f.content_type, f.name) for data, f in zip((pdf, ofd, xml), files, strict=True)]
        return self._message("companions", f"数电发票 {number}", parts, files)

    def zip_mail(self, invoices: int = 2) -> tuple[bytes, MessageFact]:
        taken = [self._take_invoice() for _ in range(invoices)]
        data = _zip([(f"发票/{number}.pdf", pdf) for _index, number, pdf in taken])
        numbers = tuple(number for _index, number, _pdf in taken)
        name = f"发票打包下载_{numbers[0]}.zip"
        fact = FileFact(name, "application/zip", _sha(data), len(data), "invoice-zip", numbers)
        parts = [_text(f"共 {invoices} 张发票，见压缩包。"), _file_part(data, "application/zip", name)]
        return self._message("zip", "发票打包下载", parts, (fact,), sender="noreply@example-baiwang.cn")

    def forward_mail(
        self, original: tuple[bytes, MessageFact], *, base64_body: bool = False
    ) -> tuple[bytes, MessageFact]:
        """An earlier invoice mail forwarded whole (message/rfc822); some clients base64-encode it."""
        data, fact = original
        inner = data.replace(b"\r\n", b"\n").replace(b"\n", CRLF)
        headers = [("Content-Type", "message/rfc822"), ("Content-Disposition", 'attachment; filename="forward.eml"')]
        if base64_body:
            part = entity([*headers, ("Content-Transfer-Encoding", "base64")], b64_body(inner))
        else:
            part = entity(headers, inner)
        files = tuple(dataclasses.replace(f, forwarded=True) for f in fact.files)
        parts = [_text("转发给财务，请报销。"), part]
        return self._message("forward", f"Fwd: {fact.subject}", parts, files, sender="colleague@example.com")

    def reattached_mail(self, original: tuple[bytes, MessageFact]) -> tuple[bytes, MessageFact]:
        """The PDF of an earlier invoice mail (or of the first invoice in its zip) sent on in a new message of its
        own: other Message-ID, the same bytes."""
        _data, fact = original
        number = min(fact.numbers)
        pdf = self.pdf(self.indices[number])
        name = f"电子发票_{number}.pdf"
        file = FileFact(name, "application/pdf", _sha(pdf), len(pdf), "invoice-pdf", (number,))
        parts = [_text("发票请查收。"), _file_part(pdf, "application/pdf", name)]
        return self._message("reattached", f"转发：{fact.subject}", parts, (file,), sender="colleague@example.com")

    def resent_mail(self, original: tuple[bytes, MessageFact]) -> tuple[bytes, MessageFact]:
        """An invoice of an earlier mail downloaded again: other PDF bytes, the same invoice number."""
        _data, fact = original
        number = min(fact.numbers)
        pdf = _rerendered(self.indices[number], self.count % 2)
        name = f"电子发票_{number}_重新下载.pdf"
        file = FileFact(name, "application/pdf", _sha(pdf), len(pdf), "invoice-pdf", (number,))
        parts = [_text("重新下载的发票。"), _file_part(pdf, "application/pdf", name)]
        return self._message("resent", f"重发：{fact.subject}", parts, (file,))

    def duplicate(self, original: tuple[bytes, MessageFact], index: int | None = None) -> tuple[bytes, MessageFact]:
        """The very same message again (a copy in two folders merged, a message delivered twice)."""
        data, fact = original
        return data, MessageFact("duplicate", fact.message_id, fact.subject, fact.files, copy_of=index)


def mailbox_messages(
    count: int = 300, *, seed: int = 20250801, maker: MailMaker | None = None
) -> Iterator[tuple[bytes, MessageFact]]:
    """`count` messages in a deterministic order: about half ordinary mail, the rest invoice mail of every
    shape, forwards and duplicates of the invoice mail before them."""
    maker = maker or MailMaker(seed=seed)
    rng = random.Random(seed ^ 0x5EED)
    seen: list[tuple[bytes, MessageFact]] = []
    openers = (maker.text_mail, maker.invoice_mail, maker.html_mail, maker.invoice_mail)
    for position in range(count):
        roll = rng.random()
        earlier = [i for i, (_data, fact) in enumerate(seen) if fact.shape in ("invoice", "companions", "zip")]
        if position < len(openers):
            made = openers[position]()
        elif roll < 0.12:
            made = maker.text_mail()
        elif roll < 0.22:
            made = maker.html_mail()
        elif roll < 0.32:
            made = maker.image_mail()
        elif roll < 0.40:
            made = maker.office_mail()
        elif roll < 0.43:
            made = maker.other_pdf_mail()
        elif roll < 0.66:
            made = maker.invoice_mail(message_id=rng.random() >= 0.1)
        elif roll < 0.72:
            made = maker.companions_mail()
        elif roll < 0.77:
            made = maker.zip_mail(2 + rng.randrange(2))
        elif roll < 0.83:
            made = maker.forward_mail(seen[rng.choice(earlier)], base64_body=rng.random() < 0.3)
        elif roll < 0.87:
            made = maker.reattached_mail(seen[rng.choice(earlier)])
        elif roll < 0.89:
            made = maker.resent_mail(seen[rng.choice(earlier)])
        else:
            index = rng.choice(earlier)
            made = maker.duplicate(seen[index], index)
        seen.append(made)
        yield made


def generated_mailbox(count: int = 300, *, seed: int = 20250801) -> Mailbox:
    """A whole generated mailbox in memory (a few MB for a few hundred messages). The first message without a
    Message-ID is also repeated at the end, so a no-ID duplicate is always there."""
    made = list(mailbox_messages(count, seed=seed))
    no_id = next((i for i, (_d, f) in enumerate(made) if f.message_id is None and f.shape == "invoice"), None)
    if no_id is not None:
        data, fact = made[no_id]
        made.append((data, MessageFact("duplicate", None, fact.subject, fact.files, copy_of=no_id)))
    messages = tuple(data for data, _fact in made)
    return Mailbox(mbox_bytes(list(messages)), messages, tuple(fact for _data, fact in made))
