"""The ledger as CSV: one row per invoice, then a totals row (合计) with the count and the three sums."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import BinaryIO

from ingest.report.ledger_rows import COLUMNS, HEADER, CellValue, csv_cell, ledger_row, totals_row
from storage.ledger import InvoiceView
from storage.report import totals


def write_csv_ledger(out: BinaryIO, views: Sequence[InvoiceView]) -> None:
    """UTF-8 with a BOM (without it Excel reads Chinese as mojibake) and CRLF line ends, as index.csv."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    for view in views:
        writer.writerow(_cells(ledger_row(view)))
    writer.writerow(_cells(totals_row(totals(views))))
    text.flush()
    text.detach()  # the caller owns `out`


def _cells(row: tuple[CellValue, ...]) -> list[str]:
    return [csv_cell(column.kind, value) for column, value in zip(COLUMNS, row, strict=True)]
