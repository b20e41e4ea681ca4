"""The pages of the print PDF that are drawn, not copied: the cover list and the cards that stand in for an
invoice with no printable PDF (the only reportlab import in ingest/; Chinese in the built-in STSong-Light font)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from ingest.logs import printable

FONT = "STSong-Light"  # built into every PDF reader (Adobe-GB1): nothing to embed, nothing to install
PAGE_WIDTH, PAGE_HEIGHT = A4
_MARGIN = 42.0  # about 15 mm: inside what any office printer can print
_ROW = 15.0
_ROW_SIZE = 9.0
_TITLE_SIZE = 18.0
_TITLE_BLOCK = 34.0  # the title and the space under it
_NOTE = 14.0
_NOTES_GAP = 10.0
_CONTINUED_BLOCK = 24.0  # the small title of a continuation page
_SUMMARY = 18.0
_SUMMARY_GAP = 10.0
_GAP = 6.0  # between table columns


@dataclass(frozen=True)
class CoverRow:
    """One invoice in the cover's table, as text."""

    position: str
    issue_date: str
    number: str
    seller: str
    total: str
    where: str  # the page (and half) it is printed on


@dataclass(frozen=True)
class Cover:
    title: str
    notes: tuple[str, ...]  # lines under the title: the selection, how to read the table
    rows: tuple[CoverRow, ...]
    summary: tuple[str, ...]  # lines under the table: the count and the total


@dataclass(frozen=True)
class _Column:
    title: str
    width: float
    right: bool  # right-aligned (numbers)


_COLUMNS = (
    _Column("序号", 24.0, right=True),
    _Column("开票日期", 58.0, right=False),
    _Column("发票号码", 100.0, right=False),
    _Column("销售方", 0.0, right=False),  # takes what the others leave
    _Column("价税合计", 72.0, right=True),
    _Column("所在页", 64.0, right=False),
)
_SELLER_WIDTH = PAGE_WIDTH - 2 * _MARGIN - sum(c.width for c in _COLUMNS) - _GAP * (len(_COLUMNS) - 1)


@dataclass(frozen=True)
class Card:
    """What stands in a slot for an invoice that cannot be printed from here."""

    headline: str
    subline: str
    fields: tuple[tuple[str, str], ...]  # label, value


def cover_rows_per_page(rows: int, notes: int) -> list[int]:
    """How many table rows each cover page holds (pure; the drawing follows it). The summary always shares a
    page with at least one row, so a page never holds the total alone."""
    counts: list[int] = []
    remaining = rows
    while True:
        first = not counts
        room = PAGE_HEIGHT - 2 * _MARGIN - _ROW  # the column titles
        room -= _TITLE_BLOCK + notes * _NOTE + _NOTES_GAP if first else _CONTINUED_BLOCK
        capacity = max(int(room // _ROW), 1)
        with_summary = max(int((room - _SUMMARY_GAP - 2 * _SUMMARY) // _ROW), 0)
        if remaining <= with_summary:
            counts.append(remaining)
            return counts
        take = min(capacity, remaining - 1) if remaining <= capacity else capacity
        counts.append(take)
        remaining -= take


def cover_page_count(rows: int, notes: int) -> int:
    return len(cover_rows_per_page(rows, notes))


def cover_pdf(cover: Cover) -> bytes:
    """The cover: title, notes, the table over as many pages as it needs, the summary at its end."""
    out = io.BytesIO()
    canvas = _canvas(out, (PAGE_WIDTH, PAGE_HEIGHT))
    per_page = cover_rows_per_page(len(cover.rows), len(cover.notes))
    start = 0
    for page_number, count in enumerate(per_page, start=1):
        top = PAGE_HEIGHT - _MARGIN
        if page_number == 1:
            canvas.setFont(FONT, _TITLE_SIZE)
            canvas.drawString(_MARGIN, top - _TITLE_SIZE, _drawable(cover.title))
            top -= _TITLE_BLOCK
            canvas.setFont(FONT, 9.5)
            for note in cover.notes:
                canvas.drawString(_MARGIN, top - 10, _fitted(note, PAGE_WIDTH - 2 * _MARGIN, 9.5))
                top -= _NOTE
            top -= _NOTES_GAP
        else:
            canvas.setFont(FONT, 11)
            canvas.drawString(_MARGIN, top - 11, _drawable(f"{cover.title}（续）"))
            top -= _CONTINUED_BLOCK
        top = _table(canvas, cover.rows[start : start + count], top)
        start += count
        if page_number == len(per_page):
            top -= _SUMMARY_GAP
            canvas.setFont(FONT, 11)
            for line in cover.summary:
                canvas.drawString(_MARGIN, top - 13, _fitted(line, PAGE_WIDTH - 2 * _MARGIN, 11))
                top -= _SUMMARY
        canvas.setFont(FONT, 8)
        canvas.drawCentredString(PAGE_WIDTH / 2, _MARGIN / 2, f"清单 {page_number} / {len(per_page)}")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def cards_pdf(cards: Sequence[Card], width: float, height: float) -> bytes:
    """One page of `width` x `height` points per card, in order."""
    out = io.BytesIO()
    canvas = _canvas(out, (width, height))
    for card in cards:
        inset = 4.0
        canvas.setDash(4, 3)
        canvas.setLineWidth(0.8)
        canvas.rect(inset, inset, width - 2 * inset, height - 2 * inset)
        canvas.setDash()
        left, text_width = 24.0, width - 48.0
        top = height - 30.0
        canvas.setFont(FONT, 15)
        canvas.drawString(left, top - 15, _fitted(card.headline, text_width, 15))
        top -= 26
        canvas.setFont(FONT, 10)
        canvas.drawString(left, top - 10, _fitted(card.subline, text_width, 10))
        top -= 30
        label_width = max(pdfmetrics.stringWidth(label, FONT, 10) for label, _ in card.fields) + 10
        for label, value in card.fields:
            canvas.drawString(left, top - 10, _drawable(label))
            for line in _wrapped(value, text_width - label_width, 10, max_lines=3):
                canvas.drawString(left + label_width, top - 10, line)
                top -= 15
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _table(canvas: Any, rows: Sequence[CoverRow], top: float) -> float:
    canvas.setFont(FONT, _ROW_SIZE)
    _row(canvas, tuple(c.title for c in _COLUMNS), top)
    top -= _ROW
    canvas.setLineWidth(0.6)
    canvas.line(_MARGIN, top + 1, PAGE_WIDTH - _MARGIN, top + 1)
    for row in rows:
        _row(canvas, (row.position, row.issue_date, row.number, row.seller, row.total, row.where), top)
        top -= _ROW
    canvas.setLineWidth(0.3)
    canvas.line(_MARGIN, top + 1, PAGE_WIDTH - _MARGIN, top + 1)
    return top


def _row(canvas: Any, cells: tuple[str, ...], top: float) -> None:
    x = _MARGIN
    baseline = top - 11
    for column, cell in zip(_COLUMNS, cells, strict=True):
        width = column.width or _SELLER_WIDTH
        text = _fitted(cell, width, _ROW_SIZE)  # a long seller name is cut, never drawn over the next column
        if column.right:
            canvas.drawRightString(x + width, baseline, text)
        else:
            canvas.drawString(x, baseline, text)
        x += width + _GAP


def _fitted(text: str, width: float, size: float) -> str:
    """`text` cut to `width` points, with '…' where it was cut."""
    text = _drawable(text)
    if pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    return text[: _fitting(text, width - pdfmetrics.stringWidth("…", FONT, size), size)] + "…"


def _wrapped(text: str, width: float, size: float, *, max_lines: int) -> list[str]:
    """`text` broken into lines of at most `width` points (anywhere: paths and Chinese have no spaces to
    break at); the last line cut with '…' when it does not fit in `max_lines`."""
    lines: list[str] = []
    rest = _drawable(text)
    while rest and len(lines) < max_lines - 1:
        cut = max(_fitting(rest, width, size), 1)
        lines.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        lines.append(_fitted(rest, width, size))
    return lines or [""]


def _fitting(text: str, width: float, size: float) -> int:
    """How many leading characters of `text` fit in `width` points."""
    used = 0.0
    for count, char in enumerate(text):
        used += pdfmetrics.stringWidth(char, FONT, size)
        if used > width:
            return count
    return len(text)


def _drawable(text: str) -> str:
    """Control characters out (untrusted names), and characters beyond the font's 16-bit codes as '?'."""
    return "".join("?" if ord(c) > 0xFFFF else c for c in printable(text))


def _canvas(out: io.BytesIO, size: tuple[float, float]) -> Any:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    # invariant: no creation time or random id, so the same invoices give the same bytes.
    return Canvas(out, pagesize=size, invariant=1)
