"""`fapiao export` as CSV and xlsx: every column of every row, totals equal to the database's sums to the fen,
xlsx cell types and formats read back with openpyxl, sheets per month, filters, and every refused output."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from cli_run import fapiao
from openpyxl.worksheet.worksheet import Worksheet
from report_archive import CHINESE_SELLER, REVIEW_NUMBERS, KnownArchive, known_archive, yuan

from ingest.report.csv_ledger import write_csv_ledger
from ingest.report.ledger_rows import HEADER, display_width
from ingest.report.xlsx_ledger import write_xlsx_ledger
from storage import ledger
from storage.ledger import InvoiceView
from storage.models import Invoice

BOM = b"\xef\xbb\xbf"
SELLER_COLUMN = "E"  # 销售方名称
AMOUNT_COLUMNS = ("I", "J", "K")  # 金额, 税额, 价税合计


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnownArchive]:
    with known_archive(tmp_path_factory.mktemp("known")) as archive:
        yield archive


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))


def expected_csv_row(row: tuple[Any, ...]) -> list[str]:
    issued, number, code, variant, seller, seller_id, buyer, buyer_id, pretax, tax, total, status, path = row
    texts = [number, code, variant, seller, seller_id, buyer, buyer_id]
    guarded = ["'" + t if t and t[0] in "=+-@" else (t or "") for t in texts]
    return [issued or "", *guarded, yuan(pretax), yuan(tax), yuan(total), status, path]


def csv_export(views: list[InvoiceView]) -> list[list[str]]:
    out = io.BytesIO()
    write_csv_ledger(out, views)
    return csv_rows(out.getvalue())


def xlsx_export(views: list[InvoiceView], path: Path, *, by_month: bool = False) -> openpyxl.Workbook:
    with path.open("wb") as out:
        write_xlsx_ledger(out, views, by_month=by_month)
    return openpyxl.load_workbook(path)


def as_decimal(value: object) -> Decimal:
    """An amount cell read back (openpyxl gives int or float) as the exact yuan it shows."""
    assert isinstance(value, int | float) and not isinstance(value, bool)
    return Decimal(str(value)).quantize(Decimal("0.01"))


def fen_decimal(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def data_rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    """The invoice rows (between the header and the totals row)."""
    return list(sheet.iter_rows(min_row=2, max_row=sheet.max_row - 1, values_only=True))


def assert_totals_row(sheet: Worksheet, sums: tuple[int, int, int, int]) -> None:
    count, pretax, tax, total = sums
    last = sheet.max_row
    assert sheet[f"A{last}"].value == "合计" and sheet[f"A{last}"].font.b
    assert sheet[f"B{last}"].value == count and sheet[f"B{last}"].number_format == '0" 张"'
    for column, fen in zip(AMOUNT_COLUMNS, (pretax, tax, total), strict=True):
        cell = sheet[f"{column}{last}"]
        assert cell.data_type == "n" and cell.number_format == "#,##0.00"
        assert as_decimal(cell.value) == fen_decimal(fen)


# --- CSV --------------------------------------------------------------------------------------------------------


def test_csv_has_every_invoice_with_every_column_and_the_database_totals(known: KnownArchive) -> None:
    rows = csv_export(ledger.list_invoices(known.engine))
    assert rows[0] == list(HEADER)
    expected = known.ledger_rows()
    assert len(rows) == 1 + len(expected) + 1
    assert rows[1:-1] == [expected_csv_row(row) for row in expected]
    count, pretax, tax, total = known.sums()
    assert rows[-1] == ["合计", str(count), "", "", "", "", "", "", yuan(pretax), yuan(tax), yuan(total), "", ""]
    # The cases the ledger must get right, spelled out.
    by_number = {row[1]: row for row in rows[1:-1]}
    assert by_number["51234567"][2] == "011001900111" and by_number["51234567"][7] == ""  # old style, buyer 个人
    assert by_number["25117000000000000104"][4] == "'=HYPERLINK(1)示例有限公司"
    assert {n for n, row in by_number.items() if row[11] == "review"} == REVIEW_NUMBERS
    assert by_number["25117000000000000105"][10] == "13950.61"  # 12345.67 + 13% tax


def test_csv_of_no_invoices_is_a_header_and_a_zero_total() -> None:
    assert csv_export([]) == [list(HEADER), ["合计", "0", *[""] * 6, "0.00", "0.00", "0.00", "", ""]]


# --- xlsx -------------------------------------------------------------------------------------------------------


def test_xlsx_cells_have_types_and_formats_and_the_totals_are_the_database_sums(
    known: KnownArchive, tmp_path: Path
) -> None:
    workbook = xlsx_export(ledger.list_invoices(known.engine), tmp_path / "ledger.xlsx")
    assert workbook.sheetnames == ["发票"]
    sheet = workbook["发票"]
    assert [cell.value for cell in sheet[1]] == list(HEADER)
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    expected = known.ledger_rows()
    assert sheet.auto_filter.ref == f"A1:M{1 + len(expected)}"  # the totals row stays out of sorting
    assert sheet.max_row == 1 + len(expected) + 1
    for row_number, row in enumerate(expected, start=2):
        issued, number, code, variant, seller, seller_id, buyer, buyer_id, pretax, tax, total, status, path = row
        date_cell = sheet[f"A{row_number}"]
        assert date_cell.is_date and date_cell.number_format == "yyyy-mm-dd"
        assert date_cell.value.date() == date.fromisoformat(issued)
        # Numbers, codes and tax ids are text: a 20-digit number as a float would lose its last digits.
        texts = (number, code, variant, seller, seller_id, buyer, buyer_id, status, path)
        for column, text in zip("BCDEFGHLM", texts, strict=True):
            cell = sheet[f"{column}{row_number}"]
            assert cell.value == text
            if text is not None:
                assert cell.data_type == "s" and cell.number_format == "@"
        for column, fen in zip(AMOUNT_COLUMNS, (pretax, tax, total), strict=True):
            cell = sheet[f"{column}{row_number}"]
            assert cell.data_type == "n" and cell.number_format == "#,##0.00"
            assert as_decimal(cell.value) == fen_decimal(fen)
    assert_totals_row(sheet, known.sums())


def test_xlsx_keeps_a_formula_looking_name_as_text(known: KnownArchive, tmp_path: Path) -> None:
    sheet = xlsx_export(ledger.list_invoices(known.engine, seller="=HYPERLINK"), tmp_path / "f.xlsx")["发票"]
    cell = sheet[f"{SELLER_COLUMN}2"]
    assert cell.value == "=HYPERLINK(1)示例有限公司" and cell.data_type == "s" and cell.quotePrefix


def test_xlsx_column_widths_fit_chinese_text(known: KnownArchive, tmp_path: Path) -> None:
    chinese = xlsx_export(ledger.list_invoices(known.engine, seller=CHINESE_SELLER), tmp_path / "zh.xlsx")["发票"]
    ascii_only = xlsx_export(ledger.list_invoices(known.engine, seller="ACME"), tmp_path / "en.xlsx")["发票"]
    chinese_width = chinese.column_dimensions[SELLER_COLUMN].width
    assert chinese_width >= display_width(CHINESE_SELLER) == 2 * len(CHINESE_SELLER)
    # ACME is narrower than the title 销售方名称, which sets the width then.
    assert ascii_only.column_dimensions[SELLER_COLUMN].width < chinese_width
    assert ascii_only.column_dimensions[SELLER_COLUMN].width >= display_width("销售方名称")


def test_xlsx_by_month_has_a_summary_and_a_sheet_per_month_with_its_totals(known: KnownArchive, tmp_path: Path) -> None:
    workbook = xlsx_export(ledger.list_invoices(known.engine), tmp_path / "months.xlsx", by_month=True)
    months = [m for (m,) in known.sql("SELECT DISTINCT strftime('%Y-%m', issue_date) FROM invoices ORDER BY 1")]
    assert months == ["2019-07", "2025-07", "2025-08", "2025-09"]
    assert workbook.sheetnames == ["汇总", *months]
    summary = workbook["汇总"]
    assert [cell.value for cell in summary[1]] == ["月份", "张数", "金额", "税额", "价税合计", "备注"]
    assert summary.freeze_panes == "A2"
    for row_number, month in enumerate(months, start=2):
        sums = known.sums("strftime('%Y-%m', issue_date) = ?", month)
        count, pretax, tax, total = sums
        row = [cell.value for cell in summary[row_number]]
        assert row[:2] == [month, count]
        assert [as_decimal(v) for v in row[2:5]] == [fen_decimal(pretax), fen_decimal(tax), fen_decimal(total)]
        sheet = workbook[month]
        assert sheet.freeze_panes == "A2"
        numbers = [row[1] for row in data_rows(sheet)]
        where = "strftime('%Y-%m', i.issue_date) = ?"
        assert numbers == [row[1] for row in known.ledger_rows(where, month)]
        assert_totals_row(sheet, sums)
    grand = [cell.value for cell in summary[len(months) + 2]]
    count, pretax, tax, total = known.sums()
    assert grand[:2] == ["合计", count]
    assert [as_decimal(v) for v in grand[2:5]] == [fen_decimal(pretax), fen_decimal(tax), fen_decimal(total)]
    # The review invoices stay in their months.
    assert "review" in [row[11] for row in data_rows(workbook["2025-07"])]


def loose_view(number: str, issued: date | None, total_fen: int | None, seller: str = "示例") -> InvoiceView:
    """An invoice as the database may hold one that lacks a date or an amount (never made by the pipeline's
    happy path, so built here directly)."""
    invoice = Invoice(
        key=f"num:{number}",
        invoice_number=number,
        issue_date=issued,
        total_fen=total_fen,
        pretax_fen=None if total_fen is None else total_fen - 100,
        tax_fen=None if total_fen is None else 100,
        seller_name=seller,
        status="review",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return InvoiceView(invoice, None, ())


def test_xlsx_puts_undated_invoices_on_their_own_sheet_and_says_what_the_sums_leave_out(tmp_path: Path) -> None:
    views = [
        loose_view("1", date(2025, 7, 1), 1000),
        loose_view("2", None, 2500, seller="控制\x07字符"),
        loose_view("3", None, None),
    ]
    workbook = xlsx_export(views, tmp_path / "loose.xlsx", by_month=True)
    assert workbook.sheetnames == ["汇总", "2025-07", "无日期"]
    undated = workbook["无日期"]
    assert [row[1] for row in data_rows(undated)] == ["2", "3"]
    assert undated[f"{SELLER_COLUMN}2"].value == "控制字符"  # a control character would make the file unreadable
    assert undated["A2"].value is None
    last = undated.max_row
    assert as_decimal(undated[f"K{last}"].value) == Decimal("25.00")
    assert undated[f"L{last}"].value == "其中 1 张缺少价税合计、1 张缺少金额、1 张缺少税额"
    summary_rows = [[cell.value for cell in row] for row in workbook["汇总"].iter_rows(min_row=2)]
    assert summary_rows[1][0] == "无日期" and summary_rows[1][5].startswith("其中 1 张缺少价税合计")
    assert summary_rows[2][:2] == ["合计", 3] and as_decimal(summary_rows[2][4]) == Decimal("35.00")


# --- the command ------------------------------------------------------------------------------------------------


def exported_numbers(known: KnownArchive, name: str, *options: str) -> list[str]:
    out = known.folder / "out" / name
    out.parent.mkdir(exist_ok=True)
    completed = fapiao("export", "-o", str(out), *options, cwd=known.folder)
    assert completed.returncode == 0, completed.stderr
    return [row[1] for row in csv_rows(out.read_bytes())[1:-1]]


def numbers_where(known: KnownArchive, where: str, *params: object) -> list[str]:
    return [row[1] for row in known.ledger_rows(where, *params)]


def test_export_filters_choose_the_same_invoices_as_the_database(known: KnownArchive) -> None:
    cases = [
        (("--since", "2025-07-15", "--until", "2025-08-15"), "i.issue_date BETWEEN '2025-07-15' AND '2025-08-15'"),
        (("--seller", "示例"), "i.seller_name LIKE '%示例%'"),
        (("--buyer", "蓝湾"), "i.buyer_name LIKE '%蓝湾%'"),
        (("--status", "review"), "i.status = 'review'"),
        (("--status", "ok", "--since", "2025-01-01"), "i.status = 'ok' AND i.issue_date >= '2025-01-01'"),
    ]
    for options, where in cases:
        expected = numbers_where(known, where)
        assert expected, where  # each filter must choose something, or it tests nothing
        assert exported_numbers(known, "filtered.csv", *options) == expected, options


def test_export_prints_a_summary_and_writes_the_format_of_the_suffix(known: KnownArchive) -> None:
    out = known.folder / "out" / "ledger.xlsx"
    out.parent.mkdir(exist_ok=True)
    completed = fapiao("export", "-o", str(out), "--by", "month", cwd=known.folder)
    assert completed.returncode == 0, completed.stderr
    count, pretax, tax, total = known.sums()
    assert completed.stdout == (
        f"export: {count} invoices, total {Decimal(total).scaleb(-2):,.2f} "
        f"(pretax {Decimal(pretax).scaleb(-2):,.2f}, tax {Decimal(tax).scaleb(-2):,.2f}) -> {out}\n"
    )
    assert openpyxl.load_workbook(out).sheetnames[0] == "汇总"
    # --format wins over the suffix.
    forced = known.folder / "out" / "ledger.txt"
    assert fapiao("export", "-o", str(forced), "--format", "csv", cwd=known.folder).returncode == 0
    assert forced.read_bytes().startswith(BOM)


def test_export_replaces_an_existing_file_and_leaves_no_temp_file(known: KnownArchive, tmp_path: Path) -> None:
    out = tmp_path / "ledger.csv"
    out.write_text("old content", encoding="utf-8")
    completed = fapiao("export", "-o", str(out), "--since", "2030-01-01", cwd=known.folder)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("export: 0 invoices, total 0.00 (pretax 0.00, tax 0.00) -> ")
    assert csv_rows(out.read_bytes()) == [list(HEADER), ["合计", "0", *[""] * 6, "0.00", "0.00", "0.00", "", ""]]
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.csv"]


def unwritable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    if os.access(folder, os.W_OK):  # root writes anyway: take a folder the kernel refuses to everyone
        folder = Path("/sys")
    return folder


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (("--since", "July"), 2, "'July' is not a date like 2025-07-29"),
        (("--until", "2025-13-01"), 2, "'2025-13-01' is not a date like 2025-07-29"),
        (("--since", "2025-08-01", "--until", "2025-07-01"), 2, "2025-08-01 is after --until 2025-07-01"),
        (("--status", "done"), 2, "'done' is not one of 'ok', 'review'"),
        (("--format", "ods"), 2, "'ods' is not one of 'csv', 'xlsx', 'pdf'"),
        (("--by", "month"), 2, "sheets per month need --format xlsx, not csv"),
        (("--by", "seller", "--format", "xlsx"), 2, "'seller' is not one of 'month'"),
    ],
)
def test_bad_options_are_usage_errors_and_write_nothing(
    known: KnownArchive, tmp_path: Path, options: tuple[str, ...], code: int, message: str
) -> None:
    completed = fapiao("export", "-o", str(tmp_path / "ledger.csv"), *options, cwd=known.folder)
    assert completed.returncode == code
    assert message in " ".join(completed.stderr.replace("│", " ").split())
    assert list(tmp_path.iterdir()) == []


def test_refused_outputs_say_why_and_leave_no_file(known: KnownArchive, tmp_path: Path) -> None:
    before = sorted(p for p in known.archive.root.rglob("*") if ".fapiao" not in p.parts)
    locked = unwritable_folder(tmp_path)
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    cases = [
        (str(known.archive.root / "2025" / "ledger.csv"), 2, "is inside the archive"),
        ("archive/ledger.csv", 2, "is inside the archive"),  # relative to where the command runs
        (str(tmp_path / "ledger.ods"), 2, "cannot tell the format from 'ledger.ods'"),
        (str(tmp_path), 2, "is a folder; give a file name"),
        (str(tmp_path / "missing" / "ledger.csv"), 1, "missing is not a folder (create it first)"),
        (str(tmp_path / "a-file" / "ledger.csv"), 1, "a-file is not a folder (create it first)"),
        (str(locked / "ledger.csv"), 1, f"export: cannot write into {locked}: Permission denied"),
    ]
    for output, code, message in cases:
        completed = fapiao("export", "-o", output, cwd=known.folder)
        assert completed.returncode == code, output
        assert message in " ".join(completed.stderr.replace("│", " ").split()), completed.stderr
    assert sorted(p for p in known.archive.root.rglob("*") if ".fapiao" not in p.parts) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "locked"]
    assert not (locked / "ledger.csv").exists()
    assert fapiao("check", cwd=known.folder).returncode == 0
