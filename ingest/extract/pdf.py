"""The only pdfplumber import: PDF bytes -> pages of positioned, folded, upright glyphs."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfminer.psparser import PSException
from pdfplumber.utils.exceptions import PdfminerException

from ingest.extract.normalize import fold


class PdfError(Exception):
    """A PDF we cannot read at all; the message says why, for a person."""


class EncryptedPdfError(PdfError):
    """The PDF needs a password to open."""


class DamagedPdfError(PdfError):
    """The PDF is truncated or its structure is broken."""


class TooManyPagesError(PdfError):
    """More pages than one invoice can have: a merged batch or not an invoice."""


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character on a page, in PDF points, top-down like pdfplumber."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float
    glyphs: tuple[Glyph, ...]
    image_count: int
    unmapped_glyphs: int  # '(cid:NNN)': the font has no ToUnicode map, the text is unreadable


PDF_MAGIC = b"%PDF-"
# Some generators put a few bytes of junk (or a BOM) before the header; readers accept up to 1 KiB.
_HEADER_WINDOW = 1024
_UNMAPPED = re.compile(r"^\(cid:\d+\)$")


def looks_like_pdf(data: bytes) -> bool:
    return PDF_MAGIC in data[:_HEADER_WINDOW]


def read_pages(data: bytes, *, max_pages: int) -> list[Page]:
    """Every page's upright glyphs inside the page box, folded (NFKC + radicals).

    Rotated text (the 监制章 seal, '下载次数' in the margin) and text drawn outside
    the page box are dropped here, because in reading order they land between
    real values.
    """
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            page_count = len(pdf.pages)
            if page_count > max_pages:
                raise TooManyPagesError(
                    f"{page_count} pages, more than the {max_pages} one invoice can have "
                    "(a merged batch of invoices? split it first; the limit is [extract] max_pages)"
                )
            return [_read_page(number, page) for number, page in enumerate(pdf.pages, start=1)]
    except PdfError:
        raise
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise EncryptedPdfError("encrypted PDF: it needs a password to open") from exc
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise EncryptedPdfError("encrypted PDF: it needs a password to open") from exc
        raise DamagedPdfError(f"damaged PDF: {_describe(cause)}") from exc
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, IndexError, AssertionError) as exc:
        # pdfminer signals broken structure with whatever the failing line raised.
        raise DamagedPdfError(f"damaged PDF: {_describe(exc)}") from exc
    except RecursionError as exc:
        raise DamagedPdfError("damaged PDF: its object tree nests without end") from exc


def _describe(exc: object) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text[:200]}" if text else name


def _read_page(number: int, page: pdfplumber.page.Page) -> Page:
    x_min, top_min, x_max, bottom_max = page.bbox
    glyphs: list[Glyph] = []
    unmapped = 0
    for char in page.chars:
        raw = char["text"]
        if not char["upright"]:
            continue
        if len(raw) > 1 and _UNMAPPED.match(raw):
            unmapped += 1
            continue
        top, bottom, x0, x1 = char["top"], char["bottom"], char["x0"], char["x1"]
        middle = (top + bottom) / 2
        if not (top_min <= middle <= bottom_max and x_min <= (x0 + x1) / 2 <= x_max):
            continue
        text = raw if raw.isascii() else fold(raw)
        if not text or text.isspace():
            continue
        glyphs.append(Glyph(text.strip(), x0, x1, top, bottom, char["size"]))
    return Page(
        number=number,
        width=float(page.width),
        height=float(page.height),
        glyphs=tuple(glyphs),
        image_count=len(page.images),
        unmapped_glyphs=unmapped,
    )
