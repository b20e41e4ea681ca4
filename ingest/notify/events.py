"""Pure: what is worth telling a person, made from the worker's results and from troubles the daemon sees."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ingest.pipeline import Result
from storage.archive import Outcome
from storage.digest_query import InvoiceFacts


class Kind(StrEnum):
    INVOICE = "invoice"  # a new invoice, filed with every check passed
    REVIEW = "review"  # something filed that a person should look at
    FAILURE = "failure"  # something that could not be filed, or a source or backup that fails


# What `fapiao review` lists, and a mail whose invoice is only a link to download: each needs a person.
_REVIEW_OUTCOMES = frozenset({Outcome.REVIEW, Outcome.CONFLICT, Outcome.UNRECOGNIZED, Outcome.LINK_ONLY})
TROUBLE = "error"  # the outcome of a trouble event: a mailbox that cannot log in, a backup that failed


@dataclass(frozen=True)
class Event:
    kind: Kind
    source: str  # 'folder:<path>', 'imap:<account>', 'backup'
    name: str  # the file or mail part; for a trouble, what is in trouble
    outcome: str  # a storage Outcome value, or TROUBLE
    path: str | None = None  # where it was filed, relative to the archive root
    reason: str = ""
    # The invoice, when there is one (filled in from the database before sending):
    number: str = ""
    issue_date: date | None = None
    seller: str = ""
    total_fen: int | None = None
    status: str = ""  # 'ok' or 'review'


def event_from_result(source: str, result: Result) -> Event | None:
    """The event a stored (or failed) arrival makes; None for duplicates, companions and skipped files."""
    filed = result.filed
    if filed.outcome is Outcome.ARCHIVED:
        kind = Kind.INVOICE
    elif filed.outcome in _REVIEW_OUTCOMES:
        kind = Kind.REVIEW
    elif filed.outcome is Outcome.FAILED:
        kind = Kind.FAILURE
    else:
        return None
    return Event(kind, source, result.name, str(filed.outcome), filed.path, filed.reason)


def trouble_event(source: str, message: str) -> Event:
    return Event(Kind.FAILURE, source, source, TROUBLE, reason=message)


def with_invoice(event: Event, facts: InvoiceFacts) -> Event:
    return dataclasses.replace(
        event,
        number=facts.number,
        issue_date=facts.issue_date,
        seller=facts.seller,
        total_fen=facts.total_fen,
        status=facts.status,
    )


def failure_key(event: Event) -> tuple[str, str, str]:
    """Failures that are the same thing failing the same way again (a file retried with backoff)."""
    return (event.source, event.name, event.reason)
