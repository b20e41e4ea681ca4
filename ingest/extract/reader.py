"""Read one file into an Extraction: sniff the format, read the text layer, validate; never raise for bad input."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.extract import pdf, validate
from ingest.extract.fields import read_fields
from ingest.model import OUTPUT_FIELDS, Extraction, InvoiceFields, Status


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one hostile or odd file from taking the daemon's time or memory."""

    max_pages: int = 20
    max_file_bytes: int = 50 * 1024 * 1024


def extract_bytes(data: bytes, name: str, *, today: date, limits: Limits = Limits()) -> Extraction:
    """Fields of the invoice in `data` (named `name` in messages), with status and reasons."""
    if not data:
        return Extraction(name, Status.ERROR, ("empty file (0 bytes)",))
    if len(data) > limits.max_file_bytes:
        return Extraction(
            name, Status.ERROR, (f"file is {len(data)} bytes, over the {limits.max_file_bytes}-byte limit",)
        )
    if not pdf.looks_like_pdf(data):
        return Extraction(name, Status.ERROR, (f"not a PDF: the file starts with {data[:8]!r}",))
    try:
        pages = pdf.read_pages(data, max_pages=limits.max_pages)
    except pdf.PdfError as exc:
        return Extraction(name, Status.ERROR, (str(exc),))
    return _from_pages(name, pages, today=today)


def extract_path(path: Path, *, today: date, limits: Limits = Limits()) -> Extraction:
    """Like extract_bytes, for a file on disk; a missing or unreadable path is an 'error' result."""
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            return Extraction(name, Status.ERROR, ("is a directory, not a file",))
        if size > limits.max_file_bytes:
            return Extraction(
                name, Status.ERROR, (f"file is {size} bytes, over the {limits.max_file_bytes}-byte limit",)
            )
        data = path.read_bytes()
    except FileNotFoundError:
        return Extraction(name, Status.ERROR, ("no such file",))
    except OSError as exc:
        return Extraction(name, Status.ERROR, (f"cannot read: {os.strerror(exc.errno or 0) or exc}",))
    return extract_bytes(data, name, today=today, limits=limits)


def _from_pages(name: str, pages: list[pdf.Page], *, today: date) -> Extraction:
    glyph_count = sum(len(page.glyphs) for page in pages)
    unmapped = sum(page.unmapped_glyphs for page in pages)
    if glyph_count == 0 or unmapped > glyph_count:
        reason = (
            "text layer unreadable: its fonts have no Unicode map ((cid:) glyphs)"
            if unmapped
            else "no text layer (an image-only PDF, e.g. a scan)"
        )
        fields = InvoiceFields(pages=len(pages))
        return Extraction(name, Status.REVIEW, (reason + "; the fields need the QR code or a person",), fields)
    fields = read_fields(pages)
    if fields.variant is None and fields.invoice_number is None and fields.total is None:
        return Extraction(name, Status.NOT_INVOICE, ("no invoice title, number or total found",), fields)
    found = validate.problems(fields, today=today)
    sources = {key: "text" for key in OUTPUT_FIELDS if key != "pages" and getattr(fields, key) is not None}
    return Extraction(name, Status.REVIEW if found else Status.OK, tuple(found), fields, sources)
