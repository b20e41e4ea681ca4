"""Hand corrections from `fapiao review`: a person's values kept in an invoice's row, its files renamed to the
names the layout then gives, every change recorded in review_changes; accepting an invoice as it is; setting
aside a conflict, an unrecognized file or a failed arrival.

The values come parsed and checked (that is ingest's work: storage never imports it), with the invoice key and
the problems recomputed for them; the status follows the problems as on arrival: 'ok' when none are left.
Each change is one transaction (row, key, history, and the renames journaled in file_moves), then the renames,
which `Archive.recover` finishes if a crash cuts them short. The transaction takes the invoice row's write lock
before it reads anything, so a daemon filing at the same time waits for it instead of racing it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.archive import Archive, Outcome, Renamed
from storage.index_csv import fen_to_yuan
from storage.ledger import set_aside_arrivals, set_aside_files
from storage.models import Arrival, Invoice, ReviewChange, StoredFile

# The invoice columns a person may correct, in the order `review show` lists them.
EDITABLE = (
    "invoice_number",
    "invoice_code",
    "issue_date",
    "pretax_fen",
    "tax_fen",
    "total_fen",
    "seller_name",
    "seller_tax_id",
    "buyer_name",
    "buyer_tax_id",
    "check_code",
    "variant",
)
SET_ASIDE_ROLES = ("conflict", "unrecognized")

Renamer = Callable[[Collection[int]], list[Renamed]]


class ReviewEditError(Exception):
    """A change that cannot be made; nothing was changed."""


class UnknownItemError(ReviewEditError):
    """No invoice, file or arrival with that id."""


class KeyTakenError(ReviewEditError):
    """The corrected number (and code) is another archived invoice's."""


class NotReviewableError(ReviewEditError):
    """The item is not waiting for a person (already accepted, set aside, or not a review item)."""


@dataclass(frozen=True)
class Correction:
    """What a person typed, as column -> value (every value typed, changed or only confirmed), with the
    invoice key and the problems those values give."""

    values: Mapping[str, str | int | date | None]
    key: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Changed:
    """One value as it was and as it is now, as a person reads it."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Applied:
    changes: list[Changed]
    status: str
    problems: tuple[str, ...]
    renamed: list[Renamed]


def correct(archive: Archive, invoice_id: int, correction: Correction, *, rename: Renamer | None = None) -> Applied:
    """Keep a person's values for invoice `invoice_id`, rename its files to match, rewrite index.csv.
    `rename` (default: `archive.finish_moves`) does the renames after the commit."""
    unknown = sorted(set(correction.values) - set(EDITABLE))
    if unknown:
        raise ValueError(f"not an editable column: {', '.join(unknown)}")
    now = archive.now()
    with Session(archive.engine) as session:
        invoice = _held_invoice(session, invoice_id)
        if correction.key != invoice.key:
            other = session.exec(select(Invoice).where(Invoice.key == correction.key)).first()
            if other is not None:
                raise KeyTakenError(_taken_message(session, correction.key, other))
        changes: list[Changed] = []
        sources = json.loads(invoice.sources)
        for column, value in correction.values.items():
            changes.append(Changed(column, _shown(column, getattr(invoice, column)), _shown(column, value)))
            setattr(invoice, column, value)
            sources[column.removesuffix("_fen")] = "hand"
        invoice.key = correction.key
        invoice.sources = json.dumps(sources, ensure_ascii=False)
        for change in changes:
            session.add(_record(invoice_id, "set", now, change))
        status = "ok" if not correction.problems else "review"
        changes += _new_status(session, invoice, status, correction.problems, now)
        staged = _stage_renames(archive, session, invoice, now)
        try:
            session.commit()
        except IntegrityError as exc:  # the daemon filed an invoice with this key since we looked
            session.rollback()
            raise KeyTakenError(
                f"an invoice with the key {correction.key} was filed meanwhile; nothing was changed"
            ) from exc
    return Applied(changes, status, correction.problems, _finish(archive, staged, rename))


def accept(archive: Archive, invoice_id: int, *, rename: Renamer | None = None) -> Applied:
    """A person vouches for invoice `invoice_id` as it is: status ok, its files out of _review/, the
    acceptance recorded with the problems it had."""
    now = archive.now()
    with Session(archive.engine) as session:
        invoice = _held_invoice(session, invoice_id)
        if invoice.status == "ok":
            raise NotReviewableError(f"invoice {invoice_id} is not in review (its status is ok)")
        had = tuple(json.loads(invoice.problems))
        session.add(
            ReviewChange(
                invoice_id=invoice_id,
                action="accepted",
                note=json.dumps(list(had), ensure_ascii=False),
                changed_at=now,
            )
        )
        changes = _new_status(session, invoice, "ok", (), now)
        staged = _stage_renames(archive, session, invoice, now)
        session.commit()
    return Applied(changes, "ok", had, _finish(archive, staged, rename))


def set_aside_file(archive: Archive, file_id: int) -> StoredFile:
    """A conflict or unrecognized file a person has seen: it leaves the review list and stays where it is."""
    with Session(archive.engine) as session:
        stored = session.get(StoredFile, file_id)
        if stored is None:
            raise UnknownItemError(f"no stored file f{file_id}")
        if stored.role not in SET_ASIDE_ROLES:
            raise NotReviewableError(f"f{file_id} is the {stored.role} file of an invoice, not a review item")
        if set_aside_files(session, [file_id]):
            raise NotReviewableError(f"f{file_id} is already set aside")
        reasons = session.exec(select(Arrival.reason).where(Arrival.file_id == file_id)).all()
        note = "; ".join([stored.role, *(reason for reason in reasons if reason)])
        session.add(
            ReviewChange(
                invoice_id=stored.invoice_id, file_id=file_id, action="set_aside", note=note, changed_at=archive.now()
            )
        )
        session.commit()
        session.refresh(stored)
        return stored


def set_aside_arrival(archive: Archive, arrival_id: int) -> Arrival:
    """A failed arrival a person has seen: it leaves the review list until it fails again."""
    with Session(archive.engine) as session:
        arrival = session.get(Arrival, arrival_id)
        if arrival is None:
            raise UnknownItemError(f"no arrival a{arrival_id}")
        if arrival.outcome != Outcome.FAILED:
            raise NotReviewableError(
                f"a{arrival_id} did not fail (it was {arrival.outcome}); only failures are reviewed"
            )
        if arrival_id in set_aside_arrivals(session, [arrival]):
            raise NotReviewableError(f"a{arrival_id} is already set aside")
        note = f"failed {arrival.attempts}x: {arrival.reason}"
        session.add(ReviewChange(arrival_id=arrival_id, action="set_aside", note=note, changed_at=archive.now()))
        session.commit()
        session.refresh(arrival)
        return arrival


def _held_invoice(session: Session, invoice_id: int) -> Invoice:
    """The invoice row, after taking its write lock (the first statement of the transaction is a write, so
    a concurrent writer is waited for, never raced)."""
    session.execute(update(Invoice).where(col(Invoice.id) == invoice_id).values(id=col(Invoice.id)))
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise UnknownItemError(f"no invoice {invoice_id}")
    unsettled = session.exec(
        select(StoredFile.path).where(StoredFile.invoice_id == invoice_id, StoredFile.state != "placed")
    ).first()
    if unsettled is not None:
        raise NotReviewableError(f"{unsettled} is still being placed or renamed; run `fapiao check --fix` first")
    return invoice


def _new_status(
    session: Session, invoice: Invoice, status: str, problems: tuple[str, ...], now: datetime
) -> list[Changed]:
    """Set status and problems; record the status when it changes."""
    invoice.problems = json.dumps(list(problems), ensure_ascii=False)
    old, invoice.status = invoice.status, status
    session.add(invoice)
    if old == status:
        return []
    change = Changed("status", old, status)
    session.add(_record(invoice.id, "status", now, change, note=invoice.problems))
    return [change]


def _stage_renames(archive: Archive, session: Session, invoice: Invoice, now: datetime) -> list[int]:
    staged = archive.stage_moves(session, invoice)
    for stored, old_path in staged:
        session.add(
            ReviewChange(
                invoice_id=invoice.id,
                file_id=stored.id,
                action="renamed",
                old_value=old_path,
                new_value=stored.path,
                changed_at=now,
            )
        )
    return [stored.id for stored, _ in staged if stored.id is not None]


def _finish(archive: Archive, file_ids: list[int], rename: Renamer | None) -> list[Renamed]:
    renamed = (rename or archive.finish_moves)(file_ids) if file_ids else []
    archive.write_index()
    return renamed


def _record(invoice_id: int | None, action: str, now: datetime, change: Changed, note: str = "") -> ReviewChange:
    return ReviewChange(
        invoice_id=invoice_id,
        action=action,
        field=change.field,
        old_value=change.old,
        new_value=change.new,
        note=note,
        changed_at=now,
    )


def _taken_message(session: Session, key: str, other: Invoice) -> str:
    path = session.exec(
        select(StoredFile.path).where(StoredFile.invoice_id == other.id, StoredFile.role == "primary")
    ).first()
    number = f"{other.invoice_code} {other.invoice_number}" if other.invoice_code else other.invoice_number
    return f"invoice {other.id} already has the number {number} ({path or 'no file'}); nothing was changed"


def _shown(column: str, value: object) -> str | None:
    """A value as a person reads it: money in yuan, dates as YYYY-MM-DD."""
    if value is None:
        return None
    if column.endswith("_fen") and isinstance(value, int):
        return fen_to_yuan(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
