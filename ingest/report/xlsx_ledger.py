"""The ledger as an Excel workbook; the only openpyxl import in ingest/.

Every cell holds its value, the totals rows too: openpyxl cannot compute formulas, so a formula's value would
be missing for every program that reads the file without recalculating it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ingest.report.ledger_rows import (
    COLUMNS,
    HEADER,
    NO_DATE,
    TOTALS_LABEL,
    CellValue,
    Kind,
    column_widths,
    ledger_row,
    missing_note,
    totals_row,
)
from storage.ledger import InvoiceView
from storage.report import Group, Totals, group_views, totals

LEDGER_SHEET = "发票"
SUMMARY_SHEET = "汇总"
DATE_FORMAT = "yyyy-mm-dd"
AMOUNT_FORMAT = "#,##0.00"
COUNT_FORMAT = '0" 张"'
TEXT_FORMAT = "@"  # also keeps a number typed into the column later as text
_BOLD = Font(bold=True)
_FORMULA_START = ("=", "+", "-", "@")
_SUMMARY_TITLES = ("月份", "张数", "金额", "税额", "价税合计", "备注")
_SUMMARY_KINDS = (Kind.TEXT, Kind.COUNT, Kind.AMOUNT, Kind.AMOUNT, Kind.AMOUNT, Kind.TEXT)


def write_xlsx_ledger(out: BinaryIO, views: Sequence[InvoiceView], *, by_month: bool = False) -> None:
    """One sheet with every invoice and a totals row; `by_month`: a summary sheet (汇总), then a sheet per month
    (named '2025-07'; invoices without a date under 无日期), each with its own totals row.

    Written in openpyxl's streaming mode, so a large archive never sits in memory as cell objects."""
    workbook = Workbook(write_only=True)
    if by_month:
        months = group_views(views, "month")
        _summary_sheet(workbook, months, totals(views))
        for month in months:
            _ledger_sheet(workbook, month.key or NO_DATE, month.views)
    else:
        _ledger_sheet(workbook, LEDGER_SHEET, views)
    workbook.save(out)


def _ledger_sheet(workbook: Workbook, title: str, views: Sequence[InvoiceView]) -> None:
    rows = [ledger_row(view) for view in views]
    last_row = totals_row(totals(views))
    kinds = tuple(column.kind for column in COLUMNS)
    sheet = _new_sheet(workbook, title, HEADER, column_widths(HEADER, kinds, [*rows, last_row]), len(rows))
    for row in rows:
        sheet.append([_cell(sheet, kind, value) for kind, value in zip(kinds, row, strict=True)])
    sheet.append([_cell(sheet, kind, value, bold=True) for kind, value in zip(kinds, last_row, strict=True)])


def _summary_sheet(workbook: Workbook, months: list[Group], grand: Totals) -> None:
    rows: list[tuple[CellValue, ...]] = [_summary_row(month.key or NO_DATE, month.totals) for month in months]
    last_row = _summary_row(TOTALS_LABEL, grand)
    widths = column_widths(_SUMMARY_TITLES, _SUMMARY_KINDS, [*rows, last_row])
    sheet = _new_sheet(workbook, SUMMARY_SHEET, _SUMMARY_TITLES, widths, len(rows))
    for row in rows:
        sheet.append([_cell(sheet, kind, value) for kind, value in zip(_SUMMARY_KINDS, row, strict=True)])
    sheet.append([_cell(sheet, kind, value, bold=True) for kind, value in zip(_SUMMARY_KINDS, last_row, strict=True)])


def _summary_row(label: str, sums: Totals) -> tuple[CellValue, ...]:
    return (label, sums.invoices, sums.pretax_fen, sums.tax_fen, sums.total_fen, missing_note(sums) or None)


def _new_sheet(workbook: Workbook, title: str, titles: Sequence[str], widths: list[int], data_rows: int) -> Any:
    """A sheet with a bold, frozen header row with filters over the data rows (not the totals row, which
    sorting must not move); widths, like every column setting in streaming mode, before the first row."""
    sheet: Any = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{data_rows + 1}"
    sheet.append([_cell(sheet, Kind.TEXT, title, bold=True) for title in titles])
    return sheet


def _cell(sheet: Any, kind: Kind, value: CellValue, *, bold: bool = False) -> Cell:
    cell = WriteOnlyCell(sheet)
    if isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    elif isinstance(value, int) and kind is Kind.AMOUNT:
        cell.value = Decimal(value).scaleb(-2)  # exact yuan from fen
        cell.number_format = AMOUNT_FORMAT
    elif isinstance(value, int):  # a count: the only whole numbers in a ledger
        cell.value = value
        cell.number_format = COUNT_FORMAT
    elif value is not None:
        _set_text(cell, value)
    else:
        cell.number_format = _EMPTY_FORMAT[kind]
    if bold:
        cell.font = _BOLD
    return cell


_EMPTY_FORMAT = {Kind.DATE: DATE_FORMAT, Kind.AMOUNT: AMOUNT_FORMAT, Kind.COUNT: COUNT_FORMAT, Kind.TEXT: TEXT_FORMAT}


def _set_text(cell: Cell, text: str) -> None:
    """A text cell whatever the text: a 20-digit number stays digits (not 2.53E+19), and a name starting
    with '=' stays a name. openpyxl would store that as a formula, so the type is set back to text, and
    Excel's quote prefix keeps it text when someone edits the cell."""
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)  # control characters make the file unreadable
    cell.data_type = "s"
    cell.number_format = TEXT_FORMAT
    if text.startswith(_FORMULA_START):
        cell.quotePrefix = True
