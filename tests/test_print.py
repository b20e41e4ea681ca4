"""`fapiao print` and `fapiao export --format pdf`: the merged print PDF read back (pages, halves, order, cover)."""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from backup_fill import filled_archive, tree_hashes
from cli_run import fapiao
from invoice_batch import batch_spec
from invoice_ofd import ofd_digital
from invoice_pdf import Item, Party, invoice_pdf, sample_spec, uscc
from reportlab.pdfgen.canvas import Canvas

from ingest.config import DEFAULT_LAYOUT
from ingest.extract.reader import Limits
from ingest.extract.render import (
    SHEETS_PER_BATCH,
    PageSize,
    Placement,
    UnreadablePdfError,
    page_sizes,
    write_imposed,
)
from ingest.importer import ExtractWith, import_paths
from ingest.report.cover_pdf import cover_rows_per_page
from ingest.report.print_pdf import (
    Box,
    Printable,
    PrintError,
    fit,
    plan_slots,
    slot_box,
    where_printed,
    write_print_pdf,
)
from ingest.unpack import UnpackLimits
from storage import ledger
from storage.archive import STATE_FOLDER, Archive
from storage.db import open_database

MM = 72 / 25.4
A4 = (210 * MM, 297 * MM)
LONG_SELLER = Party(
    "中国示例国际贸易与跨境电子商务综合服务集团股份有限公司北京分公司第一营业部", uscc("91110108MA01AB2C6")
)
TWO_ITEMS = (
    Item("*文具*中性笔", Decimal("40.71"), "13%", Decimal("5.29")),
    Item("*纸制品*打印纸", Decimal("53.10"), "13%", Decimal("6.90")),
)
# In date order. The old-style invoice's number is the 8 digits; its code is printed before it on the cover.
OLD = "61000301"
FIRST = "25117000000000000302"
TWO_PAGES = "25117000000000000303"  # one item per page: the invoice has two pages
OFD_ONLY = "25117000000000000304"  # and a seller name far too long for the cover's column
REVIEW = "25117000000000000305"  # 大写 words that disagree with the figure: under review
OFD_WITH_PDF = "25327000000000000306"  # the OFD is the primary file, the PDF a companion
LAST = "25117000000000000307"
PRINTED_BY_DEFAULT = (OLD, FIRST, TWO_PAGES, OFD_ONLY, OFD_WITH_PDF, LAST)
ALL_NUMBERS = (OLD, FIRST, TWO_PAGES, OFD_ONLY, REVIEW, OFD_WITH_PDF, LAST)


@dataclass(frozen=True)
class PrintArchive:
    folder: Path  # config.toml is here: run the CLI in it
    root: Path

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.root / STATE_FOLDER / "fapiao.db")) as db:
            return db.execute(query, params).fetchall()

    def path_of(self, number: str) -> str:
        ((path,),) = self.sql(
            "SELECT f.path FROM stored_files f JOIN invoices i ON f.invoice_id = i.id"
            " WHERE i.invoice_number = ? AND f.role = 'primary'",
            number,
        )
        return str(path)

    def total_text(self, where: str = "1") -> str:
        """The SQL sum of the totals as a person reads it ('1,234.56'), computed apart from the code under test."""
        ((fen,),) = self.sql(f"SELECT SUM(total_fen) FROM invoices WHERE {where}")
        return f"{Decimal(fen).scaleb(-2):,.2f}"


def _import(archive: Archive, inbox: Path) -> None:
    summary = import_paths(
        [inbox], archive, extract=ExtractWith(Limits(), None, date(2026, 1, 1)), unpack_limits=UnpackLimits()
    )
    assert not summary.failures


@pytest.fixture
def printed(tmp_path: Path) -> Iterator[PrintArchive]:
    (tmp_path / "config.toml").write_text('[archive]\nroot = "archive"\n[extract]\nocr = false\n', encoding="utf-8")
    first, second = tmp_path / "inbox-1", tmp_path / "inbox-2"
    first.mkdir()
    second.mkdir()
    files = {
        "old.pdf": invoice_pdf(sample_spec("电子普票(旧)", number=OLD, issue_date=date(2025, 3, 1))),
        "first.pdf": invoice_pdf(sample_spec(number=FIRST, issue_date=date(2025, 3, 5))),
        "two-pages.pdf": invoice_pdf(
            sample_spec(number=TWO_PAGES, issue_date=date(2025, 3, 10), items=TWO_ITEMS, items_per_page=1)
        ),
        "ofd-only.ofd": ofd_digital(sample_spec(number=OFD_ONLY, issue_date=date(2025, 3, 12), seller=LONG_SELLER)),
        "review.pdf": invoice_pdf(sample_spec(number=REVIEW, issue_date=date(2025, 3, 15), capital_total="壹圆整")),
        "with-pdf.ofd": ofd_digital(sample_spec("数电专票", number=OFD_WITH_PDF, issue_date=date(2025, 3, 18))),
        "last.pdf": invoice_pdf(sample_spec(number=LAST, issue_date=date(2025, 3, 20))),
    }
    for name, data in files.items():
        (first / name).write_bytes(data)
    (second / "with-pdf.pdf").write_bytes(
        invoice_pdf(sample_spec("数电专票", number=OFD_WITH_PDF, issue_date=date(2025, 3, 18)))
    )
    root = tmp_path / "archive"
    engine = open_database(f"sqlite:///{root / STATE_FOLDER / 'fapiao.db'}")
    try:
        archive = Archive(root, engine, layout=DEFAULT_LAYOUT)
        _import(archive, first)
        _import(archive, second)  # after the OFD: the PDF becomes its companion
        views = {view.invoice.invoice_number: view for view in ledger.list_invoices(engine)}
    finally:
        engine.dispose()
    assert set(views) == set(ALL_NUMBERS)
    assert {n for n, v in views.items() if v.invoice.status != "ok"} == {REVIEW}
    assert views[OFD_WITH_PDF].path.endswith(".ofd") and views[OFD_WITH_PDF].companions[0].endswith(".pdf")
    assert views[OFD_ONLY].invoice.seller_name == LONG_SELLER.name
    yield PrintArchive(tmp_path, root)


# --- reading the PDF back -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintedPdf:
    pages: list[str]  # each page's text
    halves: list[tuple[set[str], set[str]]]  # per page: the known numbers in its top and its bottom half
    half_texts: list[tuple[str, str]]
    words: list[list[dict[str, Any]]]
    cover_pages: int


def read_print(path: Path, numbers: tuple[str, ...]) -> PrintedPdf:
    pages, halves, half_texts, words = [], [], [], []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            assert (round(page.width), round(page.height)) == (round(A4[0]), round(A4[1]))
            page_words = page.extract_words()
            middle = page.height / 2
            top = {w["text"] for w in page_words if w["text"] in numbers and w["bottom"] < middle}
            bottom = {w["text"] for w in page_words if w["text"] in numbers and w["top"] > middle}
            pages.append(page.extract_text())
            words.append(page_words)
            halves.append((top, bottom))
            half_texts.append(
                (
                    page.crop((0, 0, page.width, middle)).extract_text(),
                    page.crop((0, middle, page.width, page.height)).extract_text(),
                )
            )
    cover_pages = sum(1 for text in pages if "发票打印清单" in text)
    assert all("发票打印清单" in text for text in pages[:cover_pages]), "the cover comes first, in one piece"
    return PrintedPdf(pages, halves, half_texts, words, cover_pages)


def cover_lines(printed_pdf: PrintedPdf) -> list[str]:
    return [line for text in printed_pdf.pages[: printed_pdf.cover_pages] for line in text.splitlines()]


def line_with(lines: list[str], number: str) -> str:
    (line,) = [line for line in lines if f" {number} " in f" {line} "]
    return line


def run_print(archive: PrintArchive, *args: str) -> Any:
    return fapiao("print", *args, cwd=archive.folder)


# --- the command ----------------------------------------------------------------------------------------


def test_print_puts_every_ok_invoice_two_per_page_in_date_order_after_a_cover(printed: PrintArchive) -> None:
    before = tree_hashes(printed.root)
    out = printed.folder / "报销.pdf"
    result = run_print(printed, "-o", str(out))
    assert result.returncode == 0, result.stderr
    total = printed.total_text("status = 'ok'")
    assert result.stdout.splitlines()[-1] == f"print: 6 invoices on 5 pages (cover 1), total {total} -> {out}"
    assert f"print it from an OFD reader): {printed.path_of(OFD_ONLY)}" in result.stdout
    pdf = read_print(out, ALL_NUMBERS)
    # 7 slots (the two-page invoice takes two) on 4 sheets, after 1 cover page; the review invoice is left out
    assert pdf.cover_pages == 1 and len(pdf.pages) == 5
    assert pdf.halves[1:] == [
        ({OLD}, {FIRST}),
        ({TWO_PAGES}, {TWO_PAGES}),
        ({OFD_ONLY}, {OFD_WITH_PDF}),
        ({LAST}, set()),
    ]
    # the two pages of one invoice in their order
    assert "共2页 第1页" in pdf.half_texts[2][0] and "共2页 第2页" in pdf.half_texts[2][1]
    # the OFD-only invoice: a card with its fields and file; the OFD with a PDF companion: that PDF's pages
    card = pdf.half_texts[3][0]
    assert "OFD 发票：请用 OFD 阅读器打印" in card and "OFD file: print it from an OFD reader" in card
    assert printed.path_of(OFD_ONLY) in card.replace("\n", "")
    assert "电子发票（增值税专用发票）" in pdf.half_texts[3][1].replace(" ", "")
    # the cover: every invoice in date order, the page and half it is on, the exact total
    lines = cover_lines(pdf)
    rows = [line_with(lines, number) for number in PRINTED_BY_DEFAULT]
    assert [lines.index(row) for row in rows] == sorted(lines.index(row) for row in rows)
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert [row.split(" ", 2)[1] for row in rows] == [
        "2025-03-01",
        "2025-03-05",
        "2025-03-10",
        "2025-03-12",
        "2025-03-18",
        "2025-03-20",
    ]
    assert rows[0].split()[2:4] == ["011001900111", OLD]  # old style: code and number
    wheres = [row.rsplit(" ", 1)[-1] for row in rows]
    assert wheres == ["2上", "2下", "3上–3下", "占位", "4下", "5上"]
    assert rows[3].endswith("4上 占位")
    assert REVIEW not in pdf.pages[0]
    assert f"合计：6 张发票，价税合计 ¥{total}" in lines
    assert "共 5 页（含封面）" in lines
    assert tree_hashes(printed.root) == before, "the archive files are only read"


def test_cover_cuts_a_long_seller_name_before_the_total_column(printed: PrintArchive) -> None:
    out = printed.folder / "print.pdf"
    assert run_print(printed, "-o", str(out)).returncode == 0
    pdf = read_print(out, ALL_NUMBERS)
    words = pdf.words[0]
    (number,) = [w for w in words if w["text"] == OFD_ONLY]
    row = sorted((w for w in words if abs(w["top"] - number["top"]) < 2), key=lambda w: w["x0"])
    texts = [w["text"] for w in row]
    total = printed.sql("SELECT total_fen FROM invoices WHERE invoice_number = ?", OFD_ONLY)[0][0]
    total_word = row[texts.index(f"{Decimal(total).scaleb(-2):,.2f}")]
    seller = row[texts.index(OFD_ONLY) + 1]
    assert seller["text"].startswith("中国示例国际贸易") and seller["text"].endswith("…")
    assert seller["x1"] < total_word["x0"], "the name stops before the total"


def test_invoices_print_at_most_true_size(printed: PrintArchive, tmp_path: Path) -> None:
    out = printed.folder / "print.pdf"
    assert run_print(printed, "-o", str(out)).returncode == 0
    with pdfplumber.open(printed.root / printed.path_of(LAST)) as original:
        (word,) = [w for w in original.pages[0].extract_words() if w["text"] == LAST]
        original_width = word["x1"] - word["x0"]
    pdf = read_print(out, ALL_NUMBERS)
    (word,) = [w for w in pdf.words[4] if w["text"] == LAST]
    ratio = (word["x1"] - word["x0"]) / original_width
    assert 0.9 < ratio <= 1.0, "a 210 x 140 mm invoice fits half an A4 page almost at full size, never larger"


def test_status_all_and_filters_choose_the_invoices_and_show_on_the_cover(printed: PrintArchive) -> None:
    out = printed.folder / "march.pdf"
    result = run_print(printed, "-o", str(out), "--status", "all", "--since", "2025-03-10", "--until", "2025-03-18")
    assert result.returncode == 0, result.stderr
    pdf = read_print(out, ALL_NUMBERS)
    assert len(pdf.pages) == 1 + 3
    assert pdf.halves[1:] == [({TWO_PAGES}, {TWO_PAGES}), ({OFD_ONLY}, {REVIEW}), ({OFD_WITH_PDF}, set())]
    lines = cover_lines(pdf)
    assert "开票日期：2025-03-10 至 2025-03-18" in lines
    assert "筛选：状态 不限" in lines
    total = printed.total_text("issue_date BETWEEN '2025-03-10' AND '2025-03-18'")
    assert f"合计：4 张发票，价税合计 ¥{total}" in lines

    result = run_print(printed, "-o", str(out), "--seller", "示例科技", "--status", "ok")
    assert result.returncode == 0, result.stderr
    pdf = read_print(out, ALL_NUMBERS)
    assert pdf.halves[1:] == [({OFD_WITH_PDF}, set())]
    assert "筛选：销售方包含“示例科技”；状态 ok" in cover_lines(pdf)


def test_export_pdf_prints_every_invoice_review_included(printed: PrintArchive) -> None:
    before = tree_hashes(printed.root)
    out = printed.folder / "x.pdf"
    result = fapiao("export", "--format", "pdf", "-o", str(out), cwd=printed.folder)
    assert result.returncode == 0, result.stderr
    assert printed.total_text() in result.stdout
    pdf = read_print(out, ALL_NUMBERS)
    assert len(pdf.pages) == 1 + 4
    assert pdf.halves[1:] == [
        ({OLD}, {FIRST}),
        ({TWO_PAGES}, {TWO_PAGES}),
        ({OFD_ONLY}, {REVIEW}),
        ({OFD_WITH_PDF}, {LAST}),
    ]
    lines = cover_lines(pdf)
    assert [lines.index(line_with(lines, n)) for n in ALL_NUMBERS] == sorted(
        lines.index(line_with(lines, n)) for n in ALL_NUMBERS
    )
    assert f"合计：7 张发票，价税合计 ¥{printed.total_text()}" in lines
    assert tree_hashes(printed.root) == before


def test_a_missing_file_gets_a_card_is_named_and_exits_1_after_writing(printed: PrintArchive) -> None:
    gone = printed.path_of(LAST)
    (printed.root / gone).unlink()
    out = printed.folder / "print.pdf"
    result = run_print(printed, "-o", str(out))
    assert result.returncode == 1
    assert f"missing from the archive: {gone}" in result.stderr
    assert "1 invoice file is missing or unreadable" in result.stderr
    assert result.stdout.splitlines()[-1].startswith("print: 6 invoices on 5 pages")
    pdf = read_print(out, ALL_NUMBERS)
    assert pdf.halves[4] == ({LAST}, set())
    card = pdf.half_texts[4][0]
    assert "文件缺失" in card and gone in card.replace("\n", "")
    assert line_with(cover_lines(pdf), LAST).endswith("5上 占位")


def test_an_unreadable_pdf_gets_a_card_and_exits_1(printed: PrintArchive) -> None:
    broken = printed.path_of(FIRST)
    (printed.root / broken).write_bytes(b"%PDF-1.7\nthis is not really a PDF\n")
    out = printed.folder / "print.pdf"
    result = run_print(printed, "-o", str(out))
    assert result.returncode == 1
    assert f"unreadable, not a PDF pdfium can open: {broken}" in result.stderr
    pdf = read_print(out, ALL_NUMBERS)
    assert pdf.halves[1] == ({OLD}, {FIRST})
    assert "无法读取的 PDF 文件" in pdf.half_texts[1][1]


def test_output_inside_the_archive_is_refused(printed: PrintArchive) -> None:
    before = tree_hashes(printed.root)
    inside = printed.root / "2025" / "print.pdf"
    result = run_print(printed, "-o", str(inside))
    assert result.returncode == 2
    assert "is inside the archive" in result.stderr
    assert not inside.exists()
    engine = open_database(f"sqlite:///{printed.root / STATE_FOLDER / 'fapiao.db'}")
    try:
        views = ledger.list_invoices(engine)
    finally:
        engine.dispose()
    with pytest.raises(PrintError, match="inside the archive"):
        write_print_pdf(views, printed.root, printed.root / "print.pdf")
    assert tree_hashes(printed.root) == before


def test_a_failed_write_leaves_no_temp_file(printed: PrintArchive) -> None:
    engine = open_database(f"sqlite:///{printed.root / STATE_FOLDER / 'fapiao.db'}")
    try:
        views = ledger.list_invoices(engine)
    finally:
        engine.dispose()
    target = printed.folder / "a-folder.pdf"
    target.mkdir()
    (target / "kept.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(PrintError, match=r"a-folder\.pdf"):
        write_print_pdf(views, printed.root, target)  # the whole PDF is made, then cannot take the folder's name
    assert sorted(p.name for p in printed.folder.iterdir() if p.name.startswith(".")) == []
    assert [p.name for p in target.iterdir()] == ["kept.txt"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--since", "2025-13-01"), 2, "'2025-13-01' is not a date like 2025-07-29"),
        (("--since", "2025-03-20", "--until", "2025-03-01"), 2, "no day is in that range"),
        (("--status", "paid"), 2, "'paid' is not one of"),
        (("--since", "2025-03-15", "--until", "2025-03-15"), 1, "1 invoice under review matches: add --status review"),
        (("--seller", "nobody at all"), 1, "no invoices match, nothing written"),
    ],
)
def test_bad_options(printed: PrintArchive, args: tuple[str, ...], code: int, message: str) -> None:
    out = printed.folder / "print.pdf"
    result = run_print(printed, "-o", str(out), *args)
    assert result.returncode == code
    assert message in re.sub(r"[\s│]+", " ", result.stderr)
    assert not out.exists()


def test_bad_output_paths(printed: PrintArchive) -> None:
    result = run_print(printed, "-o", str(printed.folder / "no-such-folder" / "print.pdf"))
    assert result.returncode == 1
    assert "no-such-folder is not a folder (create it first)" in result.stderr
    result = run_print(printed, "-o", str(printed.folder))
    assert result.returncode == 2
    assert "is a folder; give a file name" in re.sub(r"[\s│]+", " ", result.stderr)
    result = fapiao("print", cwd=printed.folder)
    assert result.returncode == 2
    assert "Missing option" in result.stderr


def test_sixty_invoices_continue_the_cover_and_keep_their_order(tmp_path: Path) -> None:
    count = 60
    with filled_archive(tmp_path / "archive", count):
        pass
    (tmp_path / "config.toml").write_text('[archive]\nroot = "archive"\n[extract]\nocr = false\n', encoding="utf-8")
    specs = sorted((batch_spec(i) for i in range(count)), key=lambda spec: (spec.issue_date, spec.number))
    numbers = tuple(spec.number for spec in specs)
    out = tmp_path / "all.pdf"
    result = fapiao("print", "-o", str(out), "--status", "all", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pdf = read_print(out, numbers)
    assert pdf.cover_pages >= 2
    assert len(pdf.pages) == pdf.cover_pages + count // 2
    assert result.stdout.splitlines()[-1].startswith(
        f"print: 60 invoices on {len(pdf.pages)} pages (cover {pdf.cover_pages}), total "
    )
    for index, number in enumerate(numbers):
        page, half = pdf.cover_pages + index // 2, index % 2
        assert number in pdf.halves[page][half], f"invoice {index + 1} on page {page + 1}, half {half}"
    lines = cover_lines(pdf)
    rows = [line_with(lines, number) for number in numbers]
    assert [row.split()[0] for row in rows] == [str(i + 1) for i in range(count)]
    assert [lines.index(row) for row in rows] == sorted(lines.index(row) for row in rows)
    total = sum((spec.total for spec in specs), Decimal("0.00"))
    summary = f"合计：60 张发票，价税合计 ¥{total:,.2f}"
    assert summary in pdf.pages[pdf.cover_pages - 1].splitlines()
    assert all(summary not in text for text in pdf.pages[: pdf.cover_pages - 1])
    assert f"清单 {pdf.cover_pages} / {pdf.cover_pages}" in pdf.pages[pdf.cover_pages - 1]


# --- the parts ------------------------------------------------------------------------------------------


def test_plan_slots_gives_an_invoice_consecutive_halves() -> None:
    view = ledger.InvoiceView(sample_invoice(), "a.pdf", ())
    one, three = PageSize(595, 397), (PageSize(595, 397),) * 3
    printables = [Printable(view, (one,), "a.pdf"), Printable(view, three, "b.pdf"), Printable(view, (), "c.ofd")]
    slots = plan_slots(printables)
    assert [(s.invoice, s.page, s.sheet, s.half) for s in slots] == [
        (0, 0, 0, 0),
        (1, 0, 0, 1),
        (1, 1, 1, 0),
        (1, 2, 1, 1),
        (2, None, 2, 0),
    ]
    assert where_printed(slots[1:4], cover_pages=2) == "3下–4下"
    assert where_printed(slots[4:], cover_pages=1) == "4上"


def test_fit_never_enlarges_and_turns_a_portrait_page() -> None:
    box = slot_box(1)
    assert box.y >= 0 and box.y + box.height <= A4[1] / 2
    # a 数电 invoice, 210 x 140 mm: upright, a little smaller than true size
    scale, turned, x, y = fit(PageSize(210 * MM, 140 * MM), box)
    assert not turned and 0.94 < scale < 1.0
    assert _inside((x, y, 210 * MM * scale, 140 * MM * scale), box)
    # a small receipt: true size, centred, never enlarged
    scale, turned, x, y = fit(PageSize(100 * MM, 60 * MM), box)
    assert (scale, turned) == (1.0, False)
    assert abs((x - box.x) - (box.x + box.width - x - 100 * MM)) < 0.01
    # an A4 portrait page: larger turned a quarter than upright
    scale, turned, x, y = fit(PageSize(*A4), box)
    assert turned and scale > box.height / A4[1]
    assert _inside((x, y, A4[1] * scale, A4[0] * scale), box)


def test_cover_rows_per_page_hold_every_row_and_leave_room_for_the_total() -> None:
    for rows in (0, 1, 30, 37, 38, 39, 60, 200):
        per_page = cover_rows_per_page(rows, notes=3)
        assert sum(per_page) == rows
        assert rows == 0 or per_page[-1] >= 1, "the total never stands alone on a page"
    assert len(cover_rows_per_page(10, notes=3)) == 1
    assert len(cover_rows_per_page(60, notes=3)) == 2


def test_imposed_pages_keep_printable_annotations_and_their_rotation() -> None:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.drawString(72, 700, "BODYTEXT")
    # a value only in a field's annotation, as a 数电 invoice's signature seal is
    canvas.acroForm.textfield(name="seal", value="SEALTEXT", x=72, y=600, width=200, height=30, annotationFlags="print")
    canvas.showPage()
    canvas.setPageSize((A4[1], A4[0]))
    canvas.setPageRotation(90)  # reportlab stores it portrait with /Rotate 90: a viewer shows it landscape
    canvas.drawString(72, 300, "TURNEDTEXT")
    canvas.showPage()
    canvas.save()
    source = buffer.getvalue()
    sizes = page_sizes(source)
    assert [(round(size.width), round(size.height)) for size in sizes] == [(595, 842), (842, 595)]
    cover = io.BytesIO()
    blank = Canvas(cover, pagesize=A4)
    blank.showPage()
    blank.save()
    boxes = [slot_box(0), slot_box(1)]
    placements = []
    for page, (size, box) in enumerate(zip(sizes, boxes, strict=True)):
        scale, turned, x, y = fit(size, box)
        placements.append(Placement(0, page, x, y, scale, turned))
    assert [p.quarter_turn for p in placements] == [True, False]
    out = io.BytesIO()
    pages = write_imposed(out, front=cover.getvalue(), sources=[source], sheets=[placements], sheet_size=PageSize(*A4))
    assert pages == 2
    with pdfplumber.open(io.BytesIO(out.getvalue())) as pdf:
        assert len(pdf.pages) == 2
        sheet = pdf.pages[1]
        # the A4 portrait page, turned a quarter into the top half: its lines run up the sheet
        assert _lines(sheet, boxes[0], upward=True) == {"BODYTEXT", "SEALTEXT"}
        # the landscape page, as a viewer shows it: its line runs down the bottom half
        assert _lines(sheet, boxes[1], upward=False) == {"TURNEDTEXT"}


def test_sheets_drawn_in_several_batches_keep_their_order_and_sources() -> None:
    """Sheets are drawn in batches of their own document and then copied into the output: more sheets than
    one batch holds come out in order, each half holding its own source, and sources shared across a batch
    boundary (one document with a page on each side) are copied from the right page."""
    count = 2 * SHEETS_PER_BATCH + 11
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(A4[1], A4[0] / 2))
    for n in range(2 * count):
        canvas.drawString(72, 100, f"PAGE{n:04d}")
        canvas.showPage()
    canvas.save()
    source = buffer.getvalue()
    (size, *_) = page_sizes(source)
    cover = io.BytesIO()
    blank = Canvas(cover, pagesize=A4)
    blank.showPage()
    blank.save()
    sheets = []
    for sheet in range(count):
        placements = []
        for half in (0, 1):
            scale, turned, x, y = fit(size, slot_box(half))
            placements.append(Placement(0, 2 * sheet + half, x, y, scale, turned))
        sheets.append(placements)
    out = io.BytesIO()
    pages = write_imposed(out, front=cover.getvalue(), sources=[source], sheets=sheets, sheet_size=PageSize(*A4))
    assert pages == 1 + count
    with pdfplumber.open(io.BytesIO(out.getvalue())) as pdf:
        read = [
            [word["text"] for word in sorted(page.extract_words(), key=lambda w: w["top"])] for page in pdf.pages[1:]
        ]
    assert read == [[f"PAGE{2 * n:04d}", f"PAGE{2 * n + 1:04d}"] for n in range(count)]


def test_a_source_gone_since_it_was_measured_is_named(tmp_path: Path) -> None:
    gone = tmp_path / "gone.pdf"
    gone.write_bytes(invoice_pdf(sample_spec()))
    (size,) = page_sizes(gone)
    gone.unlink()
    scale, turned, x, y = fit(size, slot_box(0))
    cover = io.BytesIO()
    blank = Canvas(cover, pagesize=A4)
    blank.showPage()
    blank.save()
    with pytest.raises(UnreadablePdfError, match=r"gone\.pdf"):
        write_imposed(
            io.BytesIO(),
            front=cover.getvalue(),
            sources=[gone],
            sheets=[[Placement(0, 0, x, y, scale, turned)]],
            sheet_size=PageSize(*A4),
        )


def _lines(sheet: Any, box: Box, *, upward: bool) -> set[str]:
    """The vertical lines of text inside `box`, read in their direction; every char must be inside."""
    top, bottom = sheet.height - box.y - box.height, sheet.height - box.y
    columns: dict[int, list[dict[str, Any]]] = {}
    for char in sheet.chars:
        if top <= char["top"] and char["bottom"] <= bottom:
            assert box.x <= char["x0"] and char["x1"] <= box.x + box.width
            columns.setdefault(round(char["x0"]), []).append(char)
    return {
        "".join(c["text"] for c in sorted(chars, key=lambda c: -c["top"] if upward else c["top"]))
        for chars in columns.values()
    }


def sample_invoice() -> Any:
    from storage.models import Invoice

    return Invoice(key="num:1", invoice_number="1", status="ok", created_at=date(2025, 1, 1))


def _inside(rect: tuple[float, float, float, float], box: Box) -> bool:
    x, y, width, height = rect
    return (
        x >= box.x - 0.01
        and y >= box.y - 0.01
        and x + width <= box.x + box.width + 0.01
        and y + height <= box.y + box.height + 0.01
    )
