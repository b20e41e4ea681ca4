"""Pure: the ledger's columns (titled as in index.csv) and what an invoice puts in them, for every ledger format."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum

from storage.index_csv import fen_to_yuan, formula_safe, grouped_yuan
from storage.ledger import InvoiceView
from storage.report import Totals

TOTALS_LABEL = "合计"
NO_DATE = "无日期"


class Kind(Enum):
    DATE = "date"
    TEXT = "text"
    AMOUNT = "amount"  # int fen in a row; yuan in a file
    COUNT = "count"  # only in summaries


CellValue = date | str | int | None


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind
    value: Callable[[InvoiceView], CellValue]


COLUMNS: tuple[Column, ...] = (
    Column("开票日期", Kind.DATE, lambda view: view.invoice.issue_date),
    Column("发票号码", Kind.TEXT, lambda view: view.invoice.invoice_number),
    Column("发票代码", Kind.TEXT, lambda view: view.invoice.invoice_code),
    Column("发票类型", Kind.TEXT, lambda view: view.invoice.variant),
    Column("销售方名称", Kind.TEXT, lambda view: view.invoice.seller_name),
    Column("销售方税号", Kind.TEXT, lambda view: view.invoice.seller_tax_id),
    Column("购买方名称", Kind.TEXT, lambda view: view.invoice.buyer_name),
    Column("购买方税号", Kind.TEXT, lambda view: view.invoice.buyer_tax_id),
    Column("金额", Kind.AMOUNT, lambda view: view.invoice.pretax_fen),
    Column("税额", Kind.AMOUNT, lambda view: view.invoice.tax_fen),
    Column("价税合计", Kind.AMOUNT, lambda view: view.invoice.total_fen),
    Column("状态", Kind.TEXT, lambda view: view.invoice.status),
    Column("文件", Kind.TEXT, lambda view: view.path),
)
HEADER = tuple(column.title for column in COLUMNS)
_COUNT_AT = HEADER.index("发票号码")  # the totals row says how many invoices under their numbers
_NOTE_AT = HEADER.index("状态")


def ledger_row(view: InvoiceView) -> tuple[CellValue, ...]:
    return tuple(column.value(view) for column in COLUMNS)


def totals_row(totals: Totals) -> tuple[CellValue, ...]:
    """合计 under the dates, the count under the numbers, the three sums, and what the sums leave out."""
    row: list[CellValue] = [None] * len(COLUMNS)
    row[0] = TOTALS_LABEL
    row[_COUNT_AT] = totals.invoices
    row[HEADER.index("金额")] = totals.pretax_fen
    row[HEADER.index("税额")] = totals.tax_fen
    row[HEADER.index("价税合计")] = totals.total_fen
    row[_NOTE_AT] = missing_note(totals) or None
    return tuple(row)


def missing_note(totals: Totals) -> str:
    """'其中 1 张缺少价税合计' when an invoice has no amount and the sums leave it out; '' when none does."""
    parts = [
        f"{count} 张缺少{what}"
        for count, what in (
            (totals.missing_total, "价税合计"),
            (totals.missing_pretax, "金额"),
            (totals.missing_tax, "税额"),
        )
        if count
    ]
    return "其中 " + "、".join(parts) if parts else ""


def shown(kind: Kind, value: CellValue) -> str:
    """The text a cell shows (yuan grouped by thousands, dates ISO): what a column must be wide enough for."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and kind is Kind.AMOUNT:
        return grouped_yuan(value)
    if isinstance(value, int) and kind is Kind.COUNT:
        return f"{value} 张"
    return str(value)


def csv_cell(kind: Kind, value: CellValue) -> str:
    """A cell of the CSV ledger: ISO dates, yuan with two decimals and no separators (so every program parses
    them), text guarded against being run as a formula."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return fen_to_yuan(value) if kind is Kind.AMOUNT else str(value)
    return formula_safe(value)


def display_width(text: str) -> int:
    """Columns `text` takes in a spreadsheet: a wide (CJK) character counts as two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def column_widths(titles: tuple[str, ...], kinds: tuple[Kind, ...], rows: list[tuple[CellValue, ...]]) -> list[int]:
    """Each column as wide as its widest shown cell (title included), plus a margin; at most 60."""
    widest = [display_width(title) for title in titles]
    for row in rows:
        for index, (kind, value) in enumerate(zip(kinds, row, strict=True)):
            widest[index] = max(widest[index], display_width(shown(kind, value)))
    return [min(width + 2, 60) for width in widest]
