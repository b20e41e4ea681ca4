"""Plain data passed between the stages: invoice fields and extraction results (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ingest.extract.normalize import decimal_string


class Status(StrEnum):
    OK = "ok"
    REVIEW = "review"
    NOT_INVOICE = "not_invoice"
    ERROR = "error"


class Variant(StrEnum):
    """The kinds of e-invoice we read, spelled as people and our truth files call them."""

    DIGITAL_ORDINARY = "数电普票"
    DIGITAL_SPECIAL = "数电专票"
    DIGITAL_OTHER = "数电其他"  # 铁路电子客票, 航空行程单 and other full-digital layouts
    OLD_ORDINARY = "电子普票(旧)"  # toll-road invoices are this variant too
    OLD_SPECIAL = "电子专票(旧)"
    SHENZHEN_BLOCKCHAIN = "区块链"

    @property
    def is_digital(self) -> bool:
        return self in (Variant.DIGITAL_ORDINARY, Variant.DIGITAL_SPECIAL, Variant.DIGITAL_OTHER)


@dataclass(frozen=True)
class InvoiceFields:
    """What an invoice says; None where it was not found."""

    variant: Variant | None = None
    invoice_code: str | None = None
    invoice_number: str | None = None
    issue_date: date | None = None
    total: Decimal | None = None  # 价税合计 (tax included): the amount people mean
    pretax: Decimal | None = None  # 合计金额
    tax: Decimal | None = None  # 合计税额; None when printed as *** (tax exempt)
    seller_name: str | None = None
    seller_tax_id: str | None = None
    buyer_name: str | None = None
    buyer_tax_id: str | None = None
    check_code: str | None = None
    pages: int | None = None
    total_in_words: Decimal | None = None  # 价税合计（大写）, read only to check `total`
    tax_exempt: bool = False  # tax printed as ***


OUTPUT_FIELDS = (
    "variant",
    "invoice_code",
    "invoice_number",
    "issue_date",
    "total",
    "pretax",
    "tax",
    "seller_name",
    "seller_tax_id",
    "buyer_name",
    "buyer_tax_id",
    "check_code",
    "pages",
)


@dataclass(frozen=True)
class Extraction:
    """The result of reading one file: its fields, how far to trust them, and where they came from."""

    file: str
    status: Status
    problems: tuple[str, ...] = ()
    fields: InvoiceFields = field(default_factory=InvoiceFields)
    sources: dict[str, str] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """The `fapiao extract --json` contract of design.md: strings, dates as YYYY-MM-DD, money as decimals."""
        out: dict[str, Any] = {"file": self.file, "status": str(self.status), "problems": list(self.problems)}
        for name in OUTPUT_FIELDS:
            value = getattr(self.fields, name)
            if isinstance(value, Decimal):
                value = decimal_string(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Variant):
                value = str(value)
            out[name] = value
        out["sources"] = dict(self.sources)
        return out


@dataclass(frozen=True)
class Candidate:
    """A file a source brought in: its bytes and where they came from."""

    source: str  # 'import', 'folder:<path>', 'imap:<account>'
    source_key: str  # unique within the source: a path, or mailbox/UIDVALIDITY/UID/part
    name: str  # the file name as it came, for messages and _unrecognized/
    data: bytes
    # The mail it came in, for a file from a message (IMAP, .eml, mbox): its Message-ID, or a digest of its
    # envelope when it has none (`mail_identity`). The same message's same file arriving again by any way
    # (an mbox imported twice, a message also seen over IMAP) adds nothing.
    message_id: str | None = None
