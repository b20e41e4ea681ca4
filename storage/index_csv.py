"""Pure: the archive's index.csv, one row per invoice, for people who open it in Excel or WPS."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

HEADER = (
    "开票日期",
    "发票号码",
    "发票代码",
    "销售方名称",
    "销售方税号",
    "购买方名称",
    "购买方税号",
    "价税合计",
    "金额",
    "税额",
    "发票类型",
    "状态",
    "文件",
    "其他格式",
    "问题",
)
# A cell starting with one of these is run as a formula by Excel and WPS: names come from
# untrusted files, so such text cells get a leading apostrophe (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class IndexRow:
    issue_date: date | None
    invoice_number: str
    invoice_code: str | None
    seller_name: str | None
    seller_tax_id: str | None
    buyer_name: str | None
    buyer_tax_id: str | None
    total_fen: int | None
    pretax_fen: int | None
    tax_fen: int | None
    variant: str | None
    status: str
    path: str
    companions: tuple[str, ...]
    problems: tuple[str, ...]


def render_index(rows: Iterable[IndexRow]) -> bytes:
    """The whole file for `rows` in any order (sorted here by date and number)."""
    out = io.BytesIO()
    write_index_csv(out, sorted(rows, key=lambda r: (r.issue_date or date.min, r.invoice_number)))
    return out.getvalue()


def write_index_csv(out: BinaryIO, rows: Iterable[IndexRow]) -> None:
    """UTF-8 with a BOM (without it Excel reads Chinese as mojibake), CRLF line ends, rows as they come
    (already sorted): written as a stream, so a large archive never sits in memory whole."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(
            (
                row.issue_date.isoformat() if row.issue_date else "",
                _text(row.invoice_number),
                _text(row.invoice_code),
                _text(row.seller_name),
                _text(row.seller_tax_id),
                _text(row.buyer_name),
                _text(row.buyer_tax_id),
                fen_to_yuan(row.total_fen),
                fen_to_yuan(row.pretax_fen),
                fen_to_yuan(row.tax_fen),
                _text(row.variant),
                row.status,
                _text(row.path),
                _text(" | ".join(row.companions)),
                _text("; ".join(row.problems)),
            )
        )
    text.flush()
    text.detach()  # the caller owns `out`


def fen_to_yuan(fen: int | None) -> str:
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def grouped_yuan(fen: int) -> str:
    """10345678 -> '103,456.78': amounts as people read them."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def formula_safe(value: str | None) -> str:
    """A text cell for a spreadsheet: '' for None, a leading apostrophe when it would start a formula."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


_text = formula_safe
