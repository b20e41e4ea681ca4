"""An archive with known invoices for the export and stats tests, imported through the real pipeline: several
months, a Chinese, an ASCII and a '='-starting seller, an old-style invoice with a code, two under review;
plus the database's own answers (SQL) that every export and every sum must agree with to the fen."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from invoice_pdf import InvoiceSpec, Item, Party, invoice_pdf, sample_spec, uscc
from sqlalchemy import Engine

from ingest.config import DEFAULT_LAYOUT
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, import_paths
from ingest.unpack import UnpackLimits
from storage.archive import STATE_FOLDER, Archive
from storage.db import open_database

_RATES = {
    "数电普票": ("13%", Decimal("0.13")),
    "数电专票": ("6%", Decimal("0.06")),
    "电子普票(旧)": ("13%", Decimal("0.13")),
}
ACME = Party("ACME", uscc("91110108MA01AB2C5"))
FORMULA_SELLER = Party("=HYPERLINK(1)示例有限公司", uscc("91110108MA01AB2C4"))
OTHER_BUYER = Party("蓝湾示例信息技术有限公司", uscc("91320214MA1XYW7Q0"))
CHINESE_SELLER = "星河示例文具有限公司"  # the 数电普票 sample's seller


def _spec(variant: str, number: str, issued: date, amount: str, **overrides: Any) -> InvoiceSpec:
    label, rate = _RATES[variant]
    pretax = Decimal(amount)
    tax = (pretax * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    item = Item("*办公用品*样品", pretax, label, tax)
    return sample_spec(variant, number=number, issue_date=issued, items=(item,), **overrides)


KNOWN_SPECS = (
    _spec("数电普票", "25117000000000000101", date(2025, 7, 2), "1234.57"),
    _spec("数电普票", "25117000000000000102", date(2025, 7, 29), "88.50"),
    # 大写 words that disagree with the figure: archived for review
    _spec("数电普票", "25117000000000000103", date(2025, 7, 15), "300.00", capital_total="壹圆整"),
    # a name that is not a name: review too; in a spreadsheet it must stay text, never a formula
    _spec("数电普票", "25117000000000000104", date(2025, 8, 3), "45.13", seller=FORMULA_SELLER),
    _spec("数电普票", "25117000000000000105", date(2025, 8, 15), "12345.67", seller=ACME, buyer=OTHER_BUYER),
    _spec("数电专票", "25327000000000000106", date(2025, 9, 13), "1000.00"),
    _spec("电子普票(旧)", "51234567", date(2019, 7, 20), "40.71"),  # code 011001900111, buyer 个人 without tax id
)
REVIEW_NUMBERS = {"25117000000000000103", "25117000000000000104"}


@dataclass(frozen=True)
class KnownArchive:
    folder: Path  # holds config.toml; run the CLI here
    archive: Archive

    @property
    def engine(self) -> Engine:
        return self.archive.engine

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.archive.root / STATE_FOLDER / "fapiao.db")) as db:
            return db.execute(query, params).fetchall()

    def ledger_rows(self, where: str = "1", *params: object) -> list[tuple[Any, ...]]:
        """The ledger's columns straight from the tables, in ledger order."""
        return self.sql(
            "SELECT i.issue_date, i.invoice_number, i.invoice_code, i.variant, i.seller_name, i.seller_tax_id,"
            " i.buyer_name, i.buyer_tax_id, i.pretax_fen, i.tax_fen, i.total_fen, i.status, f.path"
            " FROM invoices i LEFT JOIN stored_files f ON f.invoice_id = i.id AND f.role = 'primary'"
            f" WHERE {where} ORDER BY i.issue_date, i.invoice_number",
            *params,
        )

    def sums(self, where: str = "1", *params: object) -> tuple[int, int, int, int]:
        """(count, pretax, tax, total) in fen by SQL."""
        ((count, pretax, tax, total),) = self.sql(
            f"SELECT COUNT(*), SUM(pretax_fen), SUM(tax_fen), SUM(total_fen) FROM invoices WHERE {where}", *params
        )
        return count, pretax or 0, tax or 0, total or 0


def yuan(fen: int | None) -> str:
    """Fen as the ledger's yuan text, computed here independently of the code under test."""
    return "" if fen is None else f"{Decimal(fen).scaleb(-2):.2f}"


@contextmanager
def known_archive(folder: Path) -> Iterator[KnownArchive]:
    """The archive at folder/archive with KNOWN_SPECS, and folder/config.toml pointing at it."""
    (folder / "config.toml").write_text('[archive]\nroot = "archive"\n[extract]\nocr = false\n', encoding="utf-8")
    inbox = folder / "inbox"
    inbox.mkdir()
    for spec in KNOWN_SPECS:
        (inbox / f"{spec.number}.pdf").write_bytes(invoice_pdf(spec))
    root = folder / "archive"
    engine = open_database(f"sqlite:///{root / STATE_FOLDER / 'fapiao.db'}")
    archive = Archive(root, engine, layout=DEFAULT_LAYOUT)
    summary = import_paths(
        [inbox], archive, extract=ExtractWith(Limits(), None, date(2026, 1, 1)), unpack_limits=UnpackLimits()
    )
    assert not summary.failures
    try:
        known = KnownArchive(folder, archive)
        # The archive holds what the specs say, so "equal to the database" also means "equal to the invoices".
        assert known.sums() == (
            len(KNOWN_SPECS),
            sum(int(spec.pretax * 100) for spec in KNOWN_SPECS),
            sum(int((spec.tax or 0) * 100) for spec in KNOWN_SPECS),
            sum(int(spec.total * 100) for spec in KNOWN_SPECS),
        )
        assert {n for (n,) in known.sql("SELECT invoice_number FROM invoices WHERE status = 'review'")} == (
            REVIEW_NUMBERS
        )
        yield known
    finally:
        engine.dispose()
