"""Read-only queries for notifications: the invoice behind a stored file, and what a period brought (for the digest).

Times are aware datetimes (the columns store UTC).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage import ledger
from storage.models import Arrival, Invoice, StoredFile

REVIEW_ROLES = ("conflict", "unrecognized")  # stored files that wait for a person, as `fapiao review` lists them


@dataclass(frozen=True)
class InvoiceFacts:
    """What a person recognises an invoice by."""

    number: str  # 'code number' for old-style invoices
    issue_date: date | None
    seller: str
    total_fen: int | None
    status: str  # 'ok' or 'review'
    path: str  # the stored file's path, relative to the archive root


@dataclass(frozen=True)
class ReviewEntry:
    what: str  # 'invoice' (its checks failed), 'conflict' or 'unrecognized'
    path: str
    reason: str


@dataclass(frozen=True)
class FailureEntry:
    source: str
    source_key: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class PeriodReport:
    """What happened between two moments, and what waits for a person now."""

    filed: list[InvoiceFacts]  # invoices new in the period, in date order (ok and review)
    review: list[ReviewEntry]  # things filed in the period that need a person
    failures: list[FailureEntry]  # arrivals failing at the end of the period that failed within it
    open_review: int  # everything `fapiao review` lists now

    @property
    def filed_total_fen(self) -> int:
        return sum(facts.total_fen or 0 for facts in self.filed)

    @property
    def empty(self) -> bool:
        return not (self.filed or self.review or self.failures)


def invoice_facts(engine: Engine, paths: Collection[str]) -> dict[str, InvoiceFacts]:
    """The invoice each stored file (a primary, a companion or a conflict) belongs to, by the file's path."""
    if not paths:
        return {}
    with Session(engine) as session:
        rows = session.exec(
            select(StoredFile.path, Invoice)
            .join(Invoice, col(Invoice.id) == col(StoredFile.invoice_id))
            .where(col(StoredFile.path).in_(list(paths)))
        ).all()
        return {path: _facts(invoice, path) for path, invoice in rows}


def period_report(engine: Engine, start: datetime, end: datetime) -> PeriodReport:
    """New invoices, review items and failures from `start` (inclusive) to `end` (exclusive)."""
    since, until = start.astimezone(UTC), end.astimezone(UTC)
    with Session(engine) as session:
        invoices = session.exec(
            select(Invoice, StoredFile.path)
            .join(StoredFile, col(StoredFile.invoice_id) == col(Invoice.id))
            .where(StoredFile.role == "primary")
            .where(col(Invoice.created_at) >= since, col(Invoice.created_at) < until)
            .order_by(col(Invoice.issue_date), col(Invoice.invoice_number))
        ).all()
        filed = [_facts(invoice, path) for invoice, path in invoices]
        review = [
            ReviewEntry("invoice", facts.path, "; ".join(_problems(invoice)))
            for (invoice, _), facts in zip(invoices, filed, strict=True)
            if invoice.status != "ok"
        ]
        stored = session.exec(
            select(StoredFile)
            .where(col(StoredFile.role).in_(REVIEW_ROLES))
            .where(col(StoredFile.created_at) >= since, col(StoredFile.created_at) < until)
            .order_by(col(StoredFile.created_at))
        ).all()
        for entry in stored:
            reasons = session.exec(select(Arrival.reason).where(Arrival.file_id == entry.id)).all()
            review.append(ReviewEntry(entry.role, entry.path, "; ".join(r for r in reasons if r)))
        failed = session.exec(
            select(Arrival)
            .where(Arrival.outcome == "failed")
            .where(col(Arrival.last_seen) >= since, col(Arrival.last_seen) < until)
            .order_by(col(Arrival.last_seen))
        ).all()
        failures = [FailureEntry(a.source, a.source_key, a.reason, a.attempts) for a in failed]
    open_review = len(ledger.review(engine))  # what a person has set aside is not waiting any more
    return PeriodReport(filed, review, failures, open_review)


def _facts(invoice: Invoice, path: str) -> InvoiceFacts:
    number = f"{invoice.invoice_code} {invoice.invoice_number}" if invoice.invoice_code else invoice.invoice_number
    return InvoiceFacts(number, invoice.issue_date, invoice.seller_name or "", invoice.total_fen, invoice.status, path)


def _problems(invoice: Invoice) -> list[str]:
    try:
        problems = json.loads(invoice.problems)
    except ValueError:
        return []
    return [str(p) for p in problems] if isinstance(problems, list) else []
