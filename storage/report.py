"""Counts and sums of invoices for ledgers and `fapiao stats`: exact (int fen), read-only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from sqlalchemy import Engine

from storage import ledger
from storage.ledger import InvoiceView

Grouping = Literal["month", "seller", "variant"]
GROUPINGS: tuple[Grouping, ...] = get_args(Grouping)


@dataclass(frozen=True)
class Totals:
    """How many invoices and what they add up to. An invoice without an amount adds nothing to that sum and
    is counted in `missing_*`, so a short total is never taken for the whole one."""

    invoices: int = 0
    pretax_fen: int = 0
    tax_fen: int = 0
    total_fen: int = 0
    missing_pretax: int = 0
    missing_tax: int = 0
    missing_total: int = 0

    @property
    def complete(self) -> bool:
        return not (self.missing_pretax or self.missing_tax or self.missing_total)


@dataclass(frozen=True)
class Group:
    """The invoices that share a month ('2025-07'), a seller name or a variant; key None: they have none."""

    key: str | None
    views: tuple[InvoiceView, ...]
    totals: Totals


@dataclass(frozen=True)
class Stats:
    by: Grouping
    groups: tuple[Group, ...]
    total: Totals


def totals(views: Iterable[InvoiceView]) -> Totals:
    invoices = pretax = tax = total = missing_pretax = missing_tax = missing_total = 0
    for view in views:
        invoice = view.invoice
        invoices += 1
        if invoice.pretax_fen is None:
            missing_pretax += 1
        else:
            pretax += invoice.pretax_fen
        if invoice.tax_fen is None:
            missing_tax += 1
        else:
            tax += invoice.tax_fen
        if invoice.total_fen is None:
            missing_total += 1
        else:
            total += invoice.total_fen
    return Totals(invoices, pretax, tax, total, missing_pretax, missing_tax, missing_total)


def _month_of(issue_date: date | None) -> str | None:
    return f"{issue_date:%Y-%m}" if issue_date else None


_KEYS: dict[Grouping, Callable[[InvoiceView], str | None]] = {
    "month": lambda view: _month_of(view.invoice.issue_date),
    "seller": lambda view: view.invoice.seller_name or None,
    "variant": lambda view: view.invoice.variant or None,
}


def group_views(views: Sequence[InvoiceView], by: Grouping) -> list[Group]:
    """`views` in groups, each keeping the order it was given: months in calendar order, sellers and variants
    by total, largest first (then by name); the group without a key always last."""
    key_of = _KEYS[by]
    members: dict[str | None, list[InvoiceView]] = {}
    for view in views:
        members.setdefault(key_of(view), []).append(view)
    groups = [Group(key, tuple(chosen), totals(chosen)) for key, chosen in members.items()]
    if by == "month":
        groups.sort(key=lambda g: (g.key is None, g.key or ""))
    else:
        groups.sort(key=lambda g: (g.key is None, -g.totals.total_fen, g.key or ""))
    return groups


def stats(
    engine: Engine,
    *,
    by: Grouping = "month",
    since: date | None = None,
    until: date | None = None,
    seller: str | None = None,
    buyer: str | None = None,
    status: str | None = None,
) -> Stats:
    """Counts and sums per group of the invoices `ledger.list_invoices` chooses, and over all of them."""
    views = ledger.list_invoices(engine, since=since, until=until, seller=seller, buyer=buyer, status=status)
    return Stats(by, tuple(group_views(views, by)), totals(views))
