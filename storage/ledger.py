"""Queries for people: list, find, review, status. Read-only."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from storage.archive import Outcome
from storage.models import Arrival, Invoice, ReviewChange, StoredFile
from storage.similar_numbers import closest, describe, fold_number
from storage.source_files import as_utc
from storage.unarchived import Retry, SourceTrouble, Unarchived, explain, retries_for, source_troubles, unarchived

SIMILAR_SHOWN = 20  # at most this many invoices with a similar number, nearest first


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    path: str | None  # the primary file
    companions: tuple[str, ...]


@dataclass(frozen=True)
class Similar:
    """An archived invoice whose number is within two edits of the one looked for."""

    view: InvoiceView
    compared: str  # 'number' or 'code and number'
    distance: int
    differences: str  # e.g. 'digits 5 and 6 swapped'


@dataclass(frozen=True)
class Found:
    invoices: list[InvoiceView]
    arrivals: list[Arrival]
    similar: list[Similar] = field(default_factory=list)
    # With a period and no invoice found: every arrival in it that did not become an invoice, and source
    # failures that left no arrival.
    unarchived: list[Unarchived] = field(default_factory=list)
    troubles: list[SourceTrouble] = field(default_factory=list)


def number_query(text: str) -> str | None:
    """The digits a person meant by `text` ('2532 2000 O0035', full-width digits), or None if not a number."""
    digits = re.sub(r"[\s\-_]", "", fold_number(text))
    return digits if len(digits) >= 4 and digits.isdigit() else None


def amount_query(text: str) -> int | None:
    """'117', '¥117.00', '1,117.5' -> fen; None if `text` is not an amount."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lstrip("¥").replace(",", "")
    # At most 12 digits of yuan: a longer run of digits is an invoice number, and past 2^63 fen no database
    # could even compare it.
    if not re.fullmatch(r"-?\d{1,12}(\.\d{1,2})?", cleaned):
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


def find(engine: Engine, text: str, *, period: tuple[datetime, datetime] | None = None) -> Found:
    """Invoices by number (or code), seller name or amount; and the arrivals that match, so a file that
    never made it into the archive still shows up with its reason.

    A number no invoice has brings the invoices whose number (or code and number) is within two edits of it
    (a typed code and number together count as found). With `period` and nothing found, every arrival in it
    that did not become an invoice comes too, with its reason."""
    text = text.strip()
    conditions = [col(Invoice.seller_name).contains(text), col(Invoice.buyer_name).contains(text)]
    if (digits := number_query(text)) is not None:
        conditions += [col(Invoice.invoice_number).contains(digits), col(Invoice.invoice_code).contains(digits)]
    if (fen := amount_query(text)) is not None:
        conditions.append(col(Invoice.total_fen) == fen)
    with Session(engine) as session:
        # A file name or a mail's subject (in the reason) that matches brings the invoice it became.
        named = or_(col(Arrival.source_key).contains(text), col(Arrival.reason).contains(text))
        became = select(Arrival.invoice_id).where(named, col(Arrival.invoice_id).is_not(None))
        invoices = list(
            session.exec(
                select(Invoice).where(or_(*conditions, col(Invoice.id).in_(became))).order_by(col(Invoice.issue_date))
            ).all()
        )
        similar: list[Similar] = []
        if digits is not None and not invoices:
            similar = _similar(session, text, digits)
            invoices = [hit.view.invoice for hit in similar if hit.distance == 0]
            similar = [hit for hit in similar if hit.distance > 0]
        ids = [i.id for i in invoices]
        arrivals = session.exec(
            select(Arrival).where(or_(col(Arrival.invoice_id).in_(ids), named)).order_by(col(Arrival.last_seen))
        ).all()
        found = Found(_with_files(session, invoices), list(arrivals), [] if invoices else similar)
        if period is None or invoices:
            return found
        since, until = period
        missing = unarchived(session, since=since, until=until, digits=digits)
        troubles = source_troubles(session, since=since, until=until, listed=[u.arrival for u in missing])
        return Found(found.invoices, found.arrivals, found.similar, missing, troubles)


def _similar(session: Session, typed: str, digits: str) -> list[Similar]:
    """Invoices whose number, or code and number, is within two edits of `digits`; nearest first."""
    low, high = len(digits) - 2, len(digits) + 2
    rows = session.exec(select(Invoice.id, Invoice.invoice_code, Invoice.invoice_number)).all()
    candidates: list[tuple[tuple[int, str], str]] = []
    for invoice_id, code, number in rows:
        if invoice_id is None:
            continue
        if low <= len(number) <= high:
            candidates.append(((invoice_id, "number"), number))
        if code and low <= len(code) + len(number) <= high:
            candidates.append(((invoice_id, "code and number"), code + number))
    best: dict[int, tuple[str, str, int]] = {}
    for (invoice_id, compared), number, distance in closest(digits, candidates):
        if invoice_id not in best:  # nearest first: the first hit of an invoice is its best
            best[invoice_id] = (compared, number, distance)
    chosen = sorted(best.items(), key=lambda item: item[1][2])[:SIMILAR_SHOWN]
    invoices = {i.id: i for i in session.exec(select(Invoice).where(col(Invoice.id).in_([k for k, _ in chosen])))}
    views = {view.invoice.id: view for view in _with_files(session, list(invoices.values()))}
    typed_digits = re.sub(r"[\s\-_]", "", typed)  # keeps the look-alike letters for the description
    found = []
    for invoice_id, (compared, number, distance) in chosen:
        view, shown_typed = views[invoice_id], typed_digits
        code = view.invoice.invoice_code or ""
        if compared == "code and number" and code and digits.startswith(code):
            # The code was typed right: say which digits of the number differ.
            compared, number, shown_typed = "number", view.invoice.invoice_number, typed_digits[len(code) :]
        found.append(Similar(view, compared, distance, describe(shown_typed, number)))
    return found


# --- review ------------------------------------------------------------------------------------------------

INVOICE, FILE, ARRIVAL = "invoice", "file", "arrival"
_REVIEW_ID = re.compile(r"(?i)([fa]?)(\d+)")


@dataclass(frozen=True)
class ReviewId:
    """What a person types to name a review item: '12' an invoice, 'f7' a stored file, 'a3' an arrival."""

    kind: str  # INVOICE, FILE or ARRIVAL
    number: int

    def __str__(self) -> str:
        return {INVOICE: "", FILE: "f", ARRIVAL: "a"}[self.kind] + str(self.number)


def parse_review_id(text: str) -> ReviewId | None:
    match = _REVIEW_ID.fullmatch(text.strip())
    if match is None:
        return None
    kind = {"": INVOICE, "f": FILE, "a": ARRIVAL}[match[1].lower()]
    return ReviewId(kind, int(match[2]))


@dataclass(frozen=True)
class ReviewItem:
    what: str  # 'invoice', 'conflict', 'unrecognized', 'failed'
    path: str  # the file (for a failure: where it came from)
    reasons: tuple[str, ...]
    id: ReviewId | None = None
    issue_date: date | None = None
    number: str | None = None  # code and number for old-style invoices
    total_fen: int | None = None
    seller: str | None = None
    retry: Retry | None = None


def review(engine: Engine) -> list[ReviewItem]:
    """Everything that needs a person: invoices whose checks failed, conflicts, unrecognized files, failures;
    without what a person has accepted or set aside."""
    items: list[ReviewItem] = []
    with Session(engine) as session:
        invoices = list(session.exec(select(Invoice).where(Invoice.status != "ok").order_by(col(Invoice.id))).all())
        for view in _with_files(session, invoices):
            invoice = view.invoice
            items.append(
                ReviewItem(
                    "invoice",
                    view.path or invoice.key,
                    tuple(json.loads(invoice.problems)),
                    ReviewId(INVOICE, invoice.id or 0),
                    invoice.issue_date,
                    _number(invoice),
                    invoice.total_fen,
                    invoice.seller_name,
                )
            )
        stored = list(
            session.exec(
                select(StoredFile)
                .where(col(StoredFile.role).in_(("conflict", "unrecognized")))
                .order_by(col(StoredFile.id))
            ).all()
        )
        aside = set_aside_files(session, [f.id for f in stored if f.id is not None])
        owners = {
            i.id: i for i in session.exec(select(Invoice).where(col(Invoice.id).in_([f.invoice_id for f in stored])))
        }
        for file in stored:
            if file.id in aside:
                continue
            reasons = session.exec(select(Arrival.reason).where(Arrival.file_id == file.id)).all()
            owner = owners.get(file.invoice_id)
            items.append(
                ReviewItem(
                    file.role,
                    file.path,
                    tuple(r for r in reasons if r),
                    ReviewId(FILE, file.id or 0),
                    number=_number(owner) if owner else None,
                )
            )
        failed = list(session.exec(select(Arrival).where(Arrival.outcome == Outcome.FAILED).order_by(col(Arrival.id))))
        aside = set_aside_arrivals(session, failed)
        retries = retries_for(session, failed)
        for arrival in failed:
            if arrival.id in aside:
                continue
            items.append(
                ReviewItem(
                    "failed",
                    arrival.source_key,
                    (arrival.reason,),
                    ReviewId(ARRIVAL, arrival.id or 0),
                    retry=retries.get(arrival.id or 0),
                )
            )
    return items


@dataclass(frozen=True)
class InvoiceReview:
    """One invoice as `fapiao review show` presents it."""

    invoice: Invoice
    files: list[StoredFile]  # primary first, then companions and conflicting copies
    arrivals: list[Arrival]
    history: list[ReviewChange]


@dataclass(frozen=True)
class FileReview:
    file: StoredFile
    arrivals: list[Unarchived]
    invoice: InvoiceView | None  # for a conflict: the archived invoice it disagrees with
    history: list[ReviewChange]


@dataclass(frozen=True)
class ArrivalReview:
    arrival: Unarchived
    history: list[ReviewChange]


def review_detail(engine: Engine, item: ReviewId) -> InvoiceReview | FileReview | ArrivalReview | None:
    """Everything known about one review item; None when there is no such invoice, file or arrival."""
    with Session(engine) as session:
        if item.kind == INVOICE:
            invoice = session.get(Invoice, item.number)
            if invoice is None:
                return None
            files = list(session.exec(select(StoredFile).where(StoredFile.invoice_id == invoice.id)).all())
            order = {"primary": 0, "companion": 1}
            files.sort(key=lambda f: (order.get(f.role, 2), f.id or 0))
            arrivals = list(
                session.exec(
                    select(Arrival).where(Arrival.invoice_id == invoice.id).order_by(col(Arrival.first_seen))
                ).all()
            )
            return InvoiceReview(invoice, files, arrivals, history(session, invoice_id=invoice.id))
        if item.kind == FILE:
            stored = session.get(StoredFile, item.number)
            if stored is None:
                return None
            arrivals = list(session.exec(select(Arrival).where(Arrival.file_id == stored.id)).all())
            owner = session.get(Invoice, stored.invoice_id) if stored.invoice_id is not None else None
            view = _with_files(session, [owner])[0] if owner is not None else None
            return FileReview(stored, explain(session, arrivals), view, history(session, file_id=stored.id))
        arrival = session.get(Arrival, item.number)
        if arrival is None:
            return None
        return ArrivalReview(explain(session, [arrival])[0], history(session, arrival_id=arrival.id))


def set_aside_files(session: Session, file_ids: Collection[int]) -> set[int]:
    """Those of `file_ids` a person has set aside."""
    rows = session.exec(
        select(ReviewChange.file_id).where(
            ReviewChange.action == "set_aside", col(ReviewChange.file_id).in_(list(file_ids))
        )
    ).all()
    return {row for row in rows if row is not None}


def set_aside_arrivals(session: Session, arrivals: Collection[Arrival]) -> set[int]:
    """The ids of those `arrivals` a person has set aside since they last failed (a new failure brings one back)."""
    last_seen = {arrival.id: as_utc(arrival.last_seen) for arrival in arrivals if arrival.id is not None}
    rows = session.exec(
        select(ReviewChange).where(
            ReviewChange.action == "set_aside", col(ReviewChange.arrival_id).in_(list(last_seen))
        )
    ).all()
    return {
        row.arrival_id
        for row in rows
        if row.arrival_id is not None and as_utc(row.changed_at) >= last_seen[row.arrival_id]
    }


def history(
    session: Session, *, invoice_id: int | None = None, file_id: int | None = None, arrival_id: int | None = None
) -> list[ReviewChange]:
    """What people did to one invoice (and its files), one file, or one arrival, oldest first."""
    query = select(ReviewChange)
    if invoice_id is not None:
        query = query.where(ReviewChange.invoice_id == invoice_id)
    elif file_id is not None:
        query = query.where(ReviewChange.file_id == file_id)
    else:
        query = query.where(ReviewChange.arrival_id == arrival_id)
    return list(session.exec(query.order_by(col(ReviewChange.id))).all())


def _number(invoice: Invoice) -> str:
    return f"{invoice.invoice_code} {invoice.invoice_number}" if invoice.invoice_code else invoice.invoice_number


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
