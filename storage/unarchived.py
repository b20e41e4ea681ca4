"""Arrivals that did not become invoices, and why, in words a person reads: the answer `fapiao find` gives to
"where is my invoice?" when the archive does not have it, and the failures `fapiao review` lists.

What the sources remember of a failure (a folder's file or a mail waiting for its next try, or quarantined)
is joined to the arrival it belongs to; a source failure without an arrival (the work crashed before anything
was recorded) is listed on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from storage.archive import Outcome
from storage.models import Arrival, Invoice, MailMessage, SourceFile, StoredFile
from storage.similar_numbers import describe, fold_number, within
from storage.source_files import FileState

NOT_ARCHIVED = (Outcome.UNRECOGNIZED, Outcome.SKIPPED, Outcome.LINK_ONLY, Outcome.CONFLICT, Outcome.FAILED)
NO_TEXT_NO_QR = "no QR code found"  # the end of the extractor's reason for a page it cannot read at all
_DIGIT_RUN = re.compile(r"\d{8,}")


@dataclass(frozen=True)
class Retry:
    """What a source remembers of a failure: tried again at `next_try`, or quarantined."""

    state: str  # 'retry' or 'quarantined'
    attempts: int
    next_try: datetime | None
    reason: str


@dataclass(frozen=True)
class Unarchived:
    arrival: Arrival
    kind: str  # see `kind_of`
    detail: str
    file: str | None  # where the archive keeps it (_unrecognized/..., _review/...), if it does
    conflict_with: Invoice | None  # the archived invoice a conflicting copy disagrees with
    conflict_path: str | None  # that invoice's primary file
    retry: Retry | None
    similar: str | None = None  # how a number in its name or reason resembles the number looked for


@dataclass(frozen=True)
class SourceTrouble:
    """A folder file or a mail that failed without leaving an arrival."""

    source: str
    key: str  # the file's path, or the mail's folder/UIDVALIDITY/UID
    subject: str
    retry: Retry
    updated: datetime


def kind_of(arrival: Arrival) -> str:
    """'not an invoice', 'no text and no QR', 'not an invoice file', 'link only', 'conflict' or 'failed N times'."""
    if arrival.outcome == Outcome.UNRECOGNIZED:
        return "no text and no QR" if NO_TEXT_NO_QR in arrival.reason else "not an invoice"
    if arrival.outcome == Outcome.SKIPPED:
        return "not an invoice file"
    if arrival.outcome == Outcome.LINK_ONLY:
        return "link only"
    if arrival.outcome == Outcome.CONFLICT:
        return "conflict"
    if arrival.outcome == Outcome.FAILED:
        return "failed once" if arrival.attempts == 1 else f"failed {arrival.attempts} times"
    return str(arrival.outcome)


def unarchived(session: Session, *, since: datetime, until: datetime, digits: str | None = None) -> list[Unarchived]:
    """Every arrival last seen in [since, until] that did not become an invoice, oldest first; with `digits`,
    each says whether a number in its name or reason is within two edits of it."""
    arrivals = list(
        session.exec(
            select(Arrival)
            .where(
                col(Arrival.outcome).in_([str(outcome) for outcome in NOT_ARCHIVED]),
                col(Arrival.last_seen) >= since,
                col(Arrival.last_seen) <= until,
            )
            .order_by(col(Arrival.last_seen), col(Arrival.id))
        ).all()
    )
    return explain(session, arrivals, digits=digits)


def explain(session: Session, arrivals: list[Arrival], *, digits: str | None = None) -> list[Unarchived]:
    """Each of `arrivals` with its kind, the file kept for it, the invoice it conflicts with, the retry state."""
    file_ids = [a.file_id for a in arrivals if a.file_id is not None]
    files = {f.id: f.path for f in session.exec(select(StoredFile).where(col(StoredFile.id).in_(file_ids))).all()}
    conflict_ids = [a.invoice_id for a in arrivals if a.outcome == Outcome.CONFLICT and a.invoice_id is not None]
    invoices = {i.id: i for i in session.exec(select(Invoice).where(col(Invoice.id).in_(conflict_ids))).all()}
    primaries = dict(
        session.exec(
            select(StoredFile.invoice_id, StoredFile.path).where(
                col(StoredFile.invoice_id).in_(conflict_ids), StoredFile.role == "primary"
            )
        ).all()
    )
    retries = retries_for(session, arrivals)
    found = []
    for arrival in arrivals:
        conflict = invoices.get(arrival.invoice_id) if arrival.outcome == Outcome.CONFLICT else None
        found.append(
            Unarchived(
                arrival=arrival,
                kind=kind_of(arrival),
                detail=arrival.reason,
                file=files.get(arrival.file_id),
                conflict_with=conflict,
                conflict_path=primaries.get(conflict.id) if conflict else None,
                retry=retries.get(arrival.id or 0),
                similar=similar_in(digits, (arrival.source_key, arrival.reason)) if digits else None,
            )
        )
    return found


def similar_in(digits: str, texts: Iterable[str]) -> str | None:
    """How the closest run of 8 or more digits in `texts` differs from `digits`, if within two edits."""
    best: tuple[int, str] | None = None
    for text in texts:
        for run in _DIGIT_RUN.findall(fold_number(text)):
            found = within(digits, run)
            if found is not None and (best is None or found < best[0]):
                best = (found, run)
    if best is None:
        return None
    return f"{best[1]}: the number itself" if best[0] == 0 else f"{best[1]}: {describe(digits, best[1])}"


def retries_for(session: Session, arrivals: list[Arrival]) -> dict[int, Retry]:
    """For failed arrivals, what their source remembers (by arrival id): the folder file of the same path,
    or the mail the part came from."""
    failed = [a for a in arrivals if a.outcome == Outcome.FAILED and a.id is not None]
    if not failed:
        return {}
    sources = sorted({a.source for a in failed})
    files = {
        (row.source, row.path): row
        for row in session.exec(
            select(SourceFile).where(col(SourceFile.source).in_(sources), SourceFile.state != FileState.DONE)
        ).all()
    }
    mails = _mails_by_key(session, sources)
    found: dict[int, Retry] = {}
    for arrival in failed:
        row = files.get((arrival.source, arrival.source_key))
        if row is not None:
            found[arrival.id or 0] = Retry(row.state, row.attempts, row.next_try, row.reason)
            continue
        mail = _mail_of(mails, arrival.source, arrival.source_key)
        if mail is not None:
            found[arrival.id or 0] = Retry(mail.state, mail.attempts, mail.next_try, mail.reason)
    return found


def source_troubles(
    session: Session, *, since: datetime, until: datetime, listed: Iterable[Arrival] = ()
) -> list[SourceTrouble]:
    """Folder files and mails waiting for a retry or quarantined, changed in [since, until], that no arrival in
    `listed` stands for already."""
    covered = {(a.source, a.source_key) for a in listed}
    troubles = []
    for row in session.exec(
        select(SourceFile).where(
            SourceFile.state != FileState.DONE, col(SourceFile.updated) >= since, col(SourceFile.updated) <= until
        )
    ).all():
        if (row.source, row.path) not in covered:
            troubles.append(
                SourceTrouble(
                    row.source, row.path, "", Retry(row.state, row.attempts, row.next_try, row.reason), row.updated
                )
            )
    for mail in session.exec(
        select(MailMessage).where(
            MailMessage.state != FileState.DONE, col(MailMessage.updated) >= since, col(MailMessage.updated) <= until
        )
    ).all():
        key = _mail_key(mail)
        if not any(source == mail.source and _part_of(k, key) for source, k in covered):
            retry = Retry(mail.state, mail.attempts, mail.next_try, mail.reason)
            troubles.append(SourceTrouble(mail.source, key, mail.subject, retry, mail.updated))
    return sorted(troubles, key=lambda trouble: trouble.updated)


def _mails_by_key(session: Session, sources: list[str]) -> dict[tuple[str, str], MailMessage]:
    """The failed mails of `sources`, by (source, folder/UIDVALIDITY/UID)."""
    query = select(MailMessage).where(col(MailMessage.source).in_(sources), MailMessage.state != FileState.DONE)
    return {(row.source, _mail_key(row)): row for row in session.exec(query).all()}


def _mail_of(mails: dict[tuple[str, str], MailMessage], source: str, source_key: str) -> MailMessage | None:
    # A part's key is the message's key plus '/<section>' (and '!member' inside a zip): try each shorter prefix.
    key = source_key
    while key:
        if (source, key) in mails:
            return mails[(source, key)]
        cut = max(key.rfind("/"), key.rfind("!"))
        if cut <= 0:
            return None
        key = key[:cut]
    return None


def _mail_key(mail: MailMessage) -> str:
    return f"{mail.folder}/{mail.uidvalidity}/{mail.uid}"


def _part_of(source_key: str, mail_key: str) -> bool:
    return source_key == mail_key or source_key.startswith((mail_key + "/", mail_key + "!"))
