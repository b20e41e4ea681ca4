"""PDF pages through pdfium (the only pypdfium2 import): page 1 as pixels for the QR decoder and for OCR, and
pages of several PDFs laid out on new sheets, as the print PDF needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

# A page declared a metre wide must not become a gigapixel bitmap.
MAX_PIXELS = 25_000_000


def render_first_page(data: bytes, *, scale: float, corner: tuple[float, float] | None = None) -> Image.Image | None:
    """Page 1 in grey at `scale` (1.0 = 72 dpi), or smaller if that would pass MAX_PIXELS; only its
    top-left `corner` (width and height fractions) when given. None when pdfium cannot open or draw it."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return None
    try:
        if len(document) == 0:
            return None
        page = document[0]
        try:
            width, height = page.get_size()
            scale = min(scale, math.sqrt(MAX_PIXELS / max(width * height, 1.0)))
            crop = (0.0, 0.0, 0.0, 0.0)
            if corner is not None:
                crop = (0.0, height * (1 - corner[1]), width * (1 - corner[0]), 0.0)  # cut left, bottom, right, top
            bitmap = page.render(scale=scale, crop=crop, grayscale=True)
            try:
                image: Image.Image = bitmap.to_pil().copy()  # the copy outlives the pdfium buffer
                return image
            finally:
                bitmap.close()
        except pdfium.PdfiumError:
            return None
        finally:
            page.close()
    finally:
        document.close()


class UnreadablePdfError(Exception):
    """pdfium cannot open a PDF, or a page of it (damaged, encrypted, not a PDF at all)."""


@dataclass(frozen=True)
class PageSize:
    """A page as a viewer shows it (its own rotation applied), in points."""

    width: float
    height: float


@dataclass(frozen=True)
class Placement:
    """One page of one source PDF on a sheet: turned, scaled, its lower-left corner at (x, y) in points."""

    source: int  # index into the sources
    page: int  # 0-based
    x: float
    y: float
    scale: float
    quarter_turn: bool  # turned 90 degrees counter-clockwise, after the page's own rotation


PdfSource = Path | bytes


def page_sizes(source: PdfSource) -> tuple[PageSize, ...]:
    """Each page's size as shown. UnreadablePdfError when pdfium cannot open it; OSError when the file cannot be read.
    A path is opened for reading only."""
    with _open(source) as document:
        sizes = []
        for index in range(len(document)):
            page = _page(document, index)
            try:
                sizes.append(PageSize(*page.get_size()))  # pdfium gives it turned by the page's /Rotate
            finally:
                page.close()
        return tuple(sizes)


SHEETS_PER_BATCH = 50  # a few MB of pages in memory at a time


def write_imposed(
    out: BinaryIO,
    *,
    front: bytes,
    sources: Sequence[PdfSource],
    sheets: Sequence[Sequence[Placement]],
    sheet_size: PageSize,
) -> int:
    """A new PDF to `out`: every page of `front`, then one page of `sheet_size` per sheet holding its placements.
    Sources are opened for reading only; annotations meant for printing (the signature seal of a 数电 invoice
    is one) are flattened in memory first, since a page copied as a form keeps its content but not its
    annotations. Returns the page count. UnreadablePdfError when a source cannot be opened or copied."""
    last_use = {placement.source: number for number, sheet in enumerate(sheets) for placement in sheet}
    opened: dict[int, pdfium.PdfDocument] = {}
    output = pdfium.PdfDocument.new()
    try:
        with _open(front) as front_document:
            output.import_pages(front_document)
        # Sheets are drawn in a small document of their own, then copied over: pdfium's content generation
        # walks every object of the document a page is in, so drawing each sheet straight into the output
        # made a print take time in the square of its length (70 minutes for 10,000 invoices).
        for first in range(0, len(sheets), SHEETS_PER_BATCH):
            batch = pdfium.PdfDocument.new()
            try:
                for number in range(first, min(first + SHEETS_PER_BATCH, len(sheets))):
                    _draw_sheet(batch, sheets[number], sheet_size, sources, opened)
                    for source in [s for s in opened if last_use[s] == number]:
                        opened.pop(source).close()  # a source's pages are in consecutive slots: no later sheet
                output.import_pages(batch)
            finally:
                batch.close()
        pages = len(output)
        output.save(out)
        return pages
    finally:
        for document in opened.values():
            document.close()
        output.close()


def _draw_sheet(
    document: pdfium.PdfDocument,
    sheet: Sequence[Placement],
    size: PageSize,
    sources: Sequence[PdfSource],
    opened: dict[int, pdfium.PdfDocument],
) -> None:
    page = document.new_page(size.width, size.height)
    try:
        for placement in sheet:
            if placement.source not in opened:
                opened[placement.source] = _printable_document(sources[placement.source])
            _place(document, page, opened[placement.source], placement)
        page.gen_content()
    finally:
        page.close()


def _place(output: pdfium.PdfDocument, sheet: pdfium.PdfPage, source: pdfium.PdfDocument, at: Placement) -> None:
    page = _page(source, at.page)
    try:
        height = page.get_height()
    finally:
        page.close()
    try:
        # pdfium's form copy shows the page as a viewer does: its /Rotate and crop box applied, its lower-left
        # corner at (0, 0), the size page_sizes gives.
        form = source.page_as_xobject(at.page, output)
    except pdfium.PdfiumError as exc:
        raise UnreadablePdfError(f"page {at.page + 1} cannot be copied: {exc}") from exc
    matrix = pdfium.PdfMatrix()
    if at.quarter_turn:
        matrix = matrix.rotate(90, ccw=True).translate(height, 0.0)  # (x, y) -> (height - y, x)
    matrix = matrix.scale(at.scale, at.scale).translate(at.x, at.y)
    placed = form.as_pageobject()
    placed.transform(matrix)
    sheet.insert_obj(placed)
    form.close()


def _printable_document(source: PdfSource) -> pdfium.PdfDocument:
    """The source opened with its printable annotations drawn into the page content (in memory only)."""
    try:
        document = _open(source)
    except (OSError, UnreadablePdfError) as exc:  # it was readable when measured: it changed since
        raise UnreadablePdfError(f"{source if isinstance(source, Path) else 'a PDF'}: {exc}") from exc
    try:
        for index in range(len(document)):
            page = _page(document, index)
            try:
                # The raw call: pypdfium2's wrapper insists on a form environment, which a PDF without form
                # fields never gets, while flattening only draws each annotation's own appearance stream.
                # On failure the page prints without its annotations, as a viewer that ignores them shows it.
                pdfium_c.FPDFPage_Flatten(page, pdfium_c.FLAT_PRINT)
            finally:
                page.close()
    except BaseException:
        document.close()
        raise
    return document


def _open(source: PdfSource) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise UnreadablePdfError(str(exc)) from exc


def _page(document: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
    try:
        return document[index]
    except pdfium.PdfiumError as exc:
        raise UnreadablePdfError(f"page {index + 1} cannot be read: {exc}") from exc
