"""The print PDF for reimbursement: a cover listing the chosen invoices with their total, then the invoices in
date order, two to an A4 page, each at true size or shrunk to fit its half, never enlarged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ingest.extract.render import PageSize, PdfSource, Placement, UnreadablePdfError, page_sizes, write_imposed
from ingest.report.cover_pdf import Card, Cover, CoverRow, cards_pdf, cover_page_count, cover_pdf
from storage.atomic import PlacementError, replace_file_streamed
from storage.index_csv import grouped_yuan
from storage.ledger import InvoiceView

_MM = 72 / 25.4
SHEET = PageSize(210 * _MM, 297 * _MM)  # A4 portrait
# Around each half: enough for a printer's unprintable edge and a clean cut between the two invoices.
# A 数电 invoice (210 x 140 mm) still prints at 95%.
SLOT_MARGIN = 5 * _MM
TITLE = "发票打印清单  Invoices for reimbursement"
_HALVES = ("上", "下")  # top, bottom


class PrintError(PlacementError):
    """The print PDF was not written (nothing was left at the output path)."""


@dataclass(frozen=True)
class PrintResult:
    invoices: int
    pages: int  # cover included
    total_fen: int
    missing: tuple[str, ...]  # files missing from the archive or unreadable as PDF: their slot holds a card
    cover_pages: int = 1
    not_pdf: tuple[str, ...] = ()  # OFD or XML only: their slot holds a card saying so
    unreadable: tuple[str, ...] = ()  # those of `missing` that are there but are not a readable PDF
    without_total: int = 0  # invoices with no total, left out of total_fen


@dataclass(frozen=True)
class Selection:
    """How the invoices were chosen, for the cover."""

    since: date | None = None
    until: date | None = None
    seller: str | None = None
    buyer: str | None = None
    status: str | None = None  # None: every status


class StandIn(StrEnum):
    """Why a card stands in an invoice's slot instead of its pages."""

    NOT_PDF = "not_pdf"
    MISSING = "missing"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Printable:
    """A chosen invoice and what fills its slots: the pages of a PDF, or one card."""

    view: InvoiceView
    pages: tuple[PageSize, ...]  # of `file` when it is printed; empty when a card stands in
    file: str | None  # the printed PDF, or the file the card names
    stand_in: StandIn | None = None
    reason: str = ""  # why the file cannot be read, for the card


@dataclass(frozen=True)
class Slot:
    invoice: int  # index into the printables
    page: int | None  # the page of its PDF; None: its card
    sheet: int  # 0-based, after the cover
    half: int  # 0 top, 1 bottom


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float


def write_print_pdf(
    views: Sequence[InvoiceView], root: Path, out: Path, *, selection: Selection | None = None
) -> PrintResult:
    """The print PDF of `views` at `out`, written atomically; archive files are only read. A card stands in for
    an invoice with no printable PDF; those whose file is missing or unreadable are listed in `missing`.
    PrintError (a PlacementError) when `out` is inside the archive or cannot be written."""
    if out.resolve().is_relative_to(root.resolve()):
        raise PrintError(f"{out} is inside the archive ({root}): it would be a stray file there")
    printables = [probe(view, root) for view in print_order(views)]
    slots = plan_slots(printables)
    notes = cover_notes(printables, selection)
    cover_pages = cover_page_count(len(printables), len(notes))
    sheets = (len(slots) + 1) // 2
    cover = Cover(
        TITLE, notes, cover_rows(printables, slots, cover_pages), cover_summary(printables, cover_pages + sheets)
    )
    front = cover_pdf(cover)
    sources, placements = _sources(printables, slots, root)
    pages = 0

    def write(stream: BinaryIO) -> None:
        nonlocal pages
        pages = write_imposed(
            stream,
            front=front,
            sources=sources,
            sheets=[placements[first : first + 2] for first in range(0, len(placements), 2)],
            sheet_size=SHEET,
        )

    try:
        replace_file_streamed(out, write)
    except UnreadablePdfError as exc:  # a file changed or went away since it was probed
        raise PrintError(f"cannot copy an invoice's pages: {exc}") from exc
    except PlacementError as exc:
        raise PrintError(str(exc)) from exc
    missing = [p for p in printables if p.stand_in in (StandIn.MISSING, StandIn.UNREADABLE)]
    return PrintResult(
        invoices=len(printables),
        pages=pages,
        total_fen=sum(p.view.invoice.total_fen or 0 for p in printables),
        missing=tuple(_named(p) for p in missing),
        cover_pages=cover_pages,
        not_pdf=tuple(_named(p) for p in printables if p.stand_in is StandIn.NOT_PDF),
        unreadable=tuple(_named(p) for p in missing if p.stand_in is StandIn.UNREADABLE),
        without_total=sum(1 for p in printables if p.view.invoice.total_fen is None),
    )


def print_order(views: Sequence[InvoiceView]) -> list[InvoiceView]:
    """By issue date, then number; invoices without a date last."""
    return sorted(
        views,
        key=lambda view: (
            view.invoice.issue_date is None,
            view.invoice.issue_date or date.min,
            view.invoice.invoice_number,
            view.invoice.invoice_code or "",
        ),
    )


def probe(
    view: InvoiceView, root: Path, *, sizes: Callable[[PdfSource], tuple[PageSize, ...]] = page_sizes
) -> Printable:
    """What to print for `view`: its primary file if that is a PDF, else a PDF companion; a card when there is
    none, or when the PDF is missing or unreadable."""
    pdfs = [path for path in (view.path, *view.companions) if path and PurePosixPath(path).suffix.lower() == ".pdf"]
    if not pdfs:
        if view.path is None:
            return Printable(view, (), None, StandIn.MISSING, "the archive has no file for this invoice")
        if not (root / view.path).is_file():
            return Printable(view, (), view.path, StandIn.MISSING)
        return Printable(view, (), view.path, StandIn.NOT_PDF)
    failures: list[Printable] = []
    for pdf in pdfs:
        try:
            pages = sizes(root / pdf)
        except FileNotFoundError:
            failures.append(Printable(view, (), pdf, StandIn.MISSING))
        except OSError as exc:
            failures.append(Printable(view, (), pdf, StandIn.UNREADABLE, exc.strerror or str(exc)))
        except UnreadablePdfError as exc:
            failures.append(Printable(view, (), pdf, StandIn.UNREADABLE, str(exc)))
        else:
            if pages:
                return Printable(view, pages, pdf)
            failures.append(Printable(view, (), pdf, StandIn.UNREADABLE, "it has no pages"))
    return failures[0]  # the primary's problem, which `fapiao check` reports too


def plan_slots(printables: Sequence[Printable]) -> list[Slot]:
    """One half-page slot per page (or card), in order: an invoice's pages in consecutive slots."""
    slots: list[Slot] = []
    for index, printable in enumerate(printables):
        pages: Sequence[int | None] = range(len(printable.pages)) if printable.pages else [None]
        for page in pages:
            slots.append(Slot(index, page, len(slots) // 2, len(slots) % 2))
    return slots


def slot_box(half: int) -> Box:
    """Where a page may go on the sheet: the top (0) or bottom (1) half, inside SLOT_MARGIN."""
    half_height = SHEET.height / 2
    bottom = half_height if half == 0 else 0.0
    return Box(SLOT_MARGIN, bottom + SLOT_MARGIN, SHEET.width - 2 * SLOT_MARGIN, half_height - 2 * SLOT_MARGIN)


def fit(page: PageSize, box: Box) -> tuple[float, bool, float, float]:
    """(scale, quarter turn, x, y) that put `page` centred in `box`: as large as fits but never above 100%
    (true size is what an auditor expects), turned a quarter when that shows it larger (an A4 portrait page)."""
    upright = min(box.width / page.width, box.height / page.height, 1.0)
    turned = min(box.width / page.height, box.height / page.width, 1.0)
    quarter_turn = turned > upright
    scale = turned if quarter_turn else upright
    width, height = (page.height, page.width) if quarter_turn else (page.width, page.height)
    x = box.x + (box.width - width * scale) / 2
    y = box.y + (box.height - height * scale) / 2
    return scale, quarter_turn, x, y


def where_printed(slots: Sequence[Slot], cover_pages: int) -> str:
    """'3上' (page 3 of the PDF, top half), or '3下–4上' for an invoice over several slots."""

    def at(slot: Slot) -> str:
        return f"{cover_pages + slot.sheet + 1}{_HALVES[slot.half]}"

    first, last = at(slots[0]), at(slots[-1])
    return first if first == last else f"{first}–{last}"


def cover_notes(printables: Sequence[Printable], selection: Selection | None) -> tuple[str, ...]:
    """The lines under the title: the period, the filters, how to read the table."""
    notes = [f"开票日期：{_period(printables, selection)}"]
    if selection is not None:
        filters = [
            f"销售方包含“{selection.seller}”" if selection.seller else "",
            f"购买方包含“{selection.buyer}”" if selection.buyer else "",
            f"状态 {selection.status}" if selection.status else "状态 不限",
        ]
        notes.append("筛选：" + "；".join(f for f in filters if f))
    notes.append("所在页：本文件的页码，上/下 = 上半页/下半页（发票按开票日期排列，每页两张）")
    return tuple(notes)


def cover_rows(printables: Sequence[Printable], slots: Sequence[Slot], cover_pages: int) -> tuple[CoverRow, ...]:
    by_invoice: dict[int, list[Slot]] = {}
    for slot in slots:
        by_invoice.setdefault(slot.invoice, []).append(slot)
    rows = []
    for index, printable in enumerate(printables):
        invoice = printable.view.invoice
        where = where_printed(by_invoice[index], cover_pages)
        rows.append(
            CoverRow(
                position=str(index + 1),
                issue_date=invoice.issue_date.isoformat() if invoice.issue_date else "无日期",
                number=_number(printable.view),
                seller=invoice.seller_name or "",
                total=grouped_yuan(invoice.total_fen) if invoice.total_fen is not None else "—",
                where=f"{where} 占位" if printable.stand_in else where,  # a card, not the invoice: look at it
            )
        )
    return tuple(rows)


def cover_summary(printables: Sequence[Printable], pages: int) -> tuple[str, ...]:
    total = sum(p.view.invoice.total_fen or 0 for p in printables)
    without = sum(1 for p in printables if p.view.invoice.total_fen is None)
    lines = [f"合计：{len(printables)} 张发票，价税合计 ¥{grouped_yuan(total)}"]
    if without:
        lines[0] += f"（其中 {without} 张缺少价税合计，未计入）"
    not_pdf = sum(1 for p in printables if p.stand_in is StandIn.NOT_PDF)
    missing = sum(1 for p in printables if p.stand_in in (StandIn.MISSING, StandIn.UNREADABLE))
    if not_pdf:
        lines.append(f"{not_pdf} 张只有 OFD/XML 文件：本文件中是占位卡片，请另用 OFD 阅读器打印")
    if missing:
        lines.append(f"{missing} 张的文件缺失或无法读取：本文件中是占位卡片（运行 fapiao check 查看）")
    lines.append(f"共 {pages} 页（含封面）")
    return tuple(lines)


def card_of(printable: Printable) -> Card:
    invoice = printable.view.invoice
    fields = (
        ("发票号码", _number(printable.view)),
        ("开票日期", invoice.issue_date.isoformat() if invoice.issue_date else "无日期"),
        ("销售方", invoice.seller_name or ""),
        ("购买方", invoice.buyer_name or ""),
        ("价税合计", f"¥{grouped_yuan(invoice.total_fen)}" if invoice.total_fen is not None else "—"),
        ("文件", printable.file or "(none)"),
    )
    if printable.stand_in is StandIn.NOT_PDF:
        suffix = PurePosixPath(printable.file or "").suffix.lower()
        if suffix == ".xml":
            return Card("XML 发票：没有可打印的版式文件", "XML file: no printable layout; print the PDF or OFD", fields)
        return Card("OFD 发票：请用 OFD 阅读器打印", "OFD file: print it from an OFD reader", fields)
    if printable.stand_in is StandIn.UNREADABLE:
        return Card("无法读取的 PDF 文件", f"Not a readable PDF: {printable.reason}", fields)
    why = printable.reason or "run `fapiao check`"
    return Card("文件缺失：归档中没有这个文件", f"File missing from the archive: {why}", fields)


def _sources(
    printables: Sequence[Printable], slots: Sequence[Slot], root: Path
) -> tuple[list[PdfSource], list[Placement]]:
    """The PDFs to copy pages from (the drawn cards, one page each, then the invoices' files) and where each
    slot's page goes."""
    sources: list[PdfSource] = []
    card_page: dict[int, int] = {}
    stand_ins = [index for index, printable in enumerate(printables) if printable.stand_in]
    if stand_ins:
        box = slot_box(0)
        sources.append(cards_pdf([card_of(printables[index]) for index in stand_ins], box.width, box.height))
        card_page = {invoice: page for page, invoice in enumerate(stand_ins)}
    source_of: dict[int, int] = {}
    for index, printable in enumerate(printables):
        if printable.pages and printable.file:
            source_of[index] = len(sources)
            sources.append(root / printable.file)
    placements = []
    for slot in slots:
        box = slot_box(slot.half)
        if slot.page is None:
            source, page, size = 0, card_page[slot.invoice], PageSize(box.width, box.height)
        else:
            source, page, size = source_of[slot.invoice], slot.page, printables[slot.invoice].pages[slot.page]
        scale, quarter_turn, x, y = fit(size, box)
        placements.append(Placement(source, page, x, y, scale, quarter_turn))
    return sources, placements


def _period(printables: Sequence[Printable], selection: Selection | None) -> str:
    dates = [p.view.invoice.issue_date for p in printables if p.view.invoice.issue_date]
    first = selection.since if selection and selection.since else min(dates, default=None)
    last = selection.until if selection and selection.until else max(dates, default=None)
    if first is None and last is None:
        return "不限"
    return f"{first.isoformat() if first else '…'} 至 {last.isoformat() if last else '…'}"


def _number(view: InvoiceView) -> str:
    invoice = view.invoice
    return f"{invoice.invoice_code} {invoice.invoice_number}" if invoice.invoice_code else invoice.invoice_number


def _named(printable: Printable) -> str:
    return printable.file or f"invoice {_number(printable.view)} (no file)"
