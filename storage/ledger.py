"""Queries for people: list, find, review, status. Read-only."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from storage.models import Arrival, Invoice, StoredFile

# What people and OCR confuse in a typed number: letter O for zero, I or l for one.
_NUMBER_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "L": "1"})


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    path: str | None  # the primary file
    companions: tuple[str, ...]


@dataclass(frozen=True)
class Found:
    invoices: list[InvoiceView]
    arrivals: list[Arrival]


def number_query(text: str) -> str | None:
    """The digits a person meant by `text` ('2532 2000 O0035', full-width digits), or None if not a number."""
    folded = unicodedata.normalize("NFKC", text).translate(_NUMBER_LOOKALIKES)
    digits = re.sub(r"[\s\-_]", "", folded)
    return digits if len(digits) >= 4 and digits.isdigit() else None


def amount_query(text: str) -> int | None:
    """'117', '¥117.00', '1,117.5' -> fen; None if `text` is not an amount."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lstrip("¥").replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d{1,2})?", cleaned):
        return None
    try:
        return int(Decimal(cleaned) * 100)
    except InvalidOperation:
        return None


def list_invoices(
    engine: Engine,
    *,
    since: date | None = None,
    until: date | None = None,
    seller: str | None = None,
    buyer: str | None = None,
    status: str | None = None,
) -> list[InvoiceView]:
    """The invoices chosen by issue date (inclusive), seller or buyer name (contains) and status, in date order."""
    query = select(Invoice)
    if since is not None:
        query = query.where(col(Invoice.issue_date) >= since)
    if until is not None:
        query = query.where(col(Invoice.issue_date) <= until)
    if seller:
        query = query.where(col(Invoice.seller_name).contains(seller))
    if buyer:
        query = query.where(col(Invoice.buyer_name).contains(buyer))
    if status:
        query = query.where(Invoice.status == status)
    with Session(engine) as session:
        invoices = session.exec(query.order_by(col(Invoice.issue_date), col(Invoice.invoice_number))).all()
        return _with_files(session, list(invoices))


def find(engine: Engine, text: str) -> Found:
    """Invoices by number (or code), seller name or amount; and the arrivals that match, so a file that
    never made it into the archive still shows up with its reason."""
    text = text.strip()
    conditions = [col(Invoice.seller_name).contains(text), col(Invoice.buyer_name).contains(text)]
    if (digits := number_query(text)) is not None:
        conditions += [col(Invoice.invoice_number).contains(digits), col(Invoice.invoice_code).contains(digits)]
    if (fen := amount_query(text)) is not None:
        conditions.append(col(Invoice.total_fen) == fen)
    with Session(engine) as session:
        invoices = list(session.exec(select(Invoice).where(or_(*conditions)).order_by(col(Invoice.issue_date))).all())
        ids = [i.id for i in invoices]
        arrivals = session.exec(
            select(Arrival)
            .where(
                or_(
                    col(Arrival.invoice_id).in_(ids),
                    col(Arrival.source_key).contains(text),
                    col(Arrival.reason).contains(text),  # a mail's subject, a download link
                )
            )
            .order_by(col(Arrival.last_seen))
        ).all()
        return Found(_with_files(session, invoices), list(arrivals))


@dataclass(frozen=True)
class ReviewItem:
    what: str  # 'invoice', 'conflict', 'unrecognized', 'failed'
    path: str
    reasons: tuple[str, ...]


def review(engine: Engine) -> list[ReviewItem]:
    """Everything that needs a person: invoices whose checks failed, conflicts, unrecognized files, failures."""
    items: list[ReviewItem] = []
    with Session(engine) as session:
        for view in _with_files(session, list(session.exec(select(Invoice).where(Invoice.status != "ok")).all())):
            items.append(ReviewItem("invoice", view.path or view.invoice.key, tuple(json.loads(view.invoice.problems))))
        for stored in session.exec(select(StoredFile).where(col(StoredFile.role).in_(("conflict", "unrecognized")))):
            reasons = session.exec(select(Arrival.reason).where(Arrival.file_id == stored.id)).all()
            items.append(ReviewItem(stored.role, stored.path, tuple(r for r in reasons if r)))
        for arrival in session.exec(select(Arrival).where(Arrival.outcome == "failed")):
            items.append(ReviewItem("failed", arrival.source_key, (arrival.reason,)))
    return items


@dataclass(frozen=True)
class Status:
    invoices_by_status: Counter[str]
    files_by_role: Counter[str]
    arrivals_by_outcome: Counter[str]
    last_arrival: datetime | None


def status(engine: Engine) -> Status:
    with Session(engine) as session:
        by_status = Counter(dict(session.exec(select(Invoice.status, func.count()).group_by(Invoice.status)).all()))
        by_role = Counter(dict(session.exec(select(StoredFile.role, func.count()).group_by(StoredFile.role)).all()))
        by_outcome = Counter(dict(session.exec(select(Arrival.outcome, func.count()).group_by(Arrival.outcome)).all()))
        last = session.exec(select(func.max(Arrival.last_seen))).one()
    return Status(by_status, by_role, by_outcome, last)


def _with_files(session: Session, invoices: list[Invoice]) -> list[InvoiceView]:
    ids = [i.id for i in invoices]
    files: dict[int, list[StoredFile]] = {}
    for stored in session.exec(select(StoredFile).where(col(StoredFile.invoice_id).in_(ids))).all():
        files.setdefault(stored.invoice_id or 0, []).append(stored)
    views = []
    for invoice in invoices:
        mine = files.get(invoice.id or 0, [])
        primary = next((f.path for f in mine if f.role == "primary"), None)
        views.append(InvoiceView(invoice, primary, tuple(sorted(f.path for f in mine if f.role == "companion"))))
    return views
