"""Read one file into an Extraction: sniff the format, read every source it has, merge, validate; never raise."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.extract import pdf, validate
from ingest.extract.fields import read_fields
from ingest.extract.merge import Merged, merge_qr, sources_of
from ingest.extract.ocr import read_ocr_fields
from ingest.extract.ofd import OfdError, is_ofd_zip, read_ofd
from ingest.extract.qr import QrInvoice, read_pdf_qr
from ingest.extract.render import render_first_page
from ingest.extract.tesseract import OcrError, Tesseract
from ingest.extract.xml import XmlError, read_digital_xml
from ingest.model import Extraction, InvoiceFields, Status

# 300 dpi: Tesseract's sweet spot for print-size CJK; lower loses strokes of 12-pixel characters.
_OCR_SCALE = 300 / 72
_OCR_FIELDS = ("pretax", "tax", "total", "seller_name", "seller_tax_id", "buyer_name", "buyer_tax_id")


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one hostile or odd file from taking the daemon's time or memory."""

    max_pages: int = 20
    max_file_bytes: int = 50 * 1024 * 1024


def sniff(data: bytes) -> str:
    """'pdf', 'ofd', 'xml', 'zip' or 'unknown', by content: names and declared types lie."""
    # Zip first: a zip whose first member is a stored PDF has '%PDF-' in its first kilobyte.
    if data.startswith(b"PK\x03\x04"):
        return "ofd" if is_ofd_zip(data) else "zip"
    if pdf.looks_like_pdf(data):
        return "pdf"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "xml"
    return "unknown"


def extract_bytes(
    data: bytes, name: str, *, today: date, limits: Limits = Limits(), ocr: Tesseract | None = None
) -> Extraction:
    """Fields of the invoice in `data` (named `name` in messages), with status, reasons and sources.

    `ocr` reads the pages that have no usable text layer (scans); without it they keep only what the QR says.
    """
    if not data:
        return Extraction(name, Status.ERROR, ("empty file (0 bytes)",))
    if len(data) > limits.max_file_bytes:
        return _error(name, f"file is {len(data)} bytes, over the {limits.max_file_bytes}-byte limit")
    kind = sniff(data)
    if kind == "pdf":
        return _from_pdf(data, name, today=today, limits=limits, ocr=ocr)
    if kind == "ofd":
        return _from_ofd(data, name, today=today)
    if kind == "xml":
        return _from_xml(data, name, today=today)
    if kind == "zip":
        return _error(name, "a zip archive, not an invoice file (`fapiao import` unpacks zips)")
    return _error(name, f"not a PDF, OFD or XML file: it starts with {data[:8]!r}")


def extract_path(path: Path, *, today: date, limits: Limits = Limits(), ocr: Tesseract | None = None) -> Extraction:
    """Like extract_bytes, for a file on disk; a missing or unreadable path is an 'error' result."""
    name = str(path)
    try:
        if path.is_dir():
            return _error(name, "is a directory, not a file")
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            return _error(name, f"file is {size} bytes, over the {limits.max_file_bytes}-byte limit")
        data = path.read_bytes()
    except FileNotFoundError:
        return _error(name, "no such file")
    except OSError as exc:
        return _error(name, f"cannot read: {os.strerror(exc.errno or 0) or exc}")
    return extract_bytes(data, name, today=today, limits=limits, ocr=ocr)


def _error(name: str, reason: str) -> Extraction:
    return Extraction(name, Status.ERROR, (reason,))


def _from_pdf(data: bytes, name: str, *, today: date, limits: Limits, ocr: Tesseract | None) -> Extraction:
    try:
        pages = pdf.read_pages(data, max_pages=limits.max_pages)
    except (pdf.EncryptedPdfError, pdf.TooManyPagesError) as exc:
        return _error(name, str(exc))
    except pdf.DamagedPdfError as exc:
        # pdfium may still draw page 1 where pdfminer gave up: the QR can save the invoice.
        qr = read_pdf_qr(data)
        if qr is None:
            return _error(name, str(exc))
        return _finish(name, merge_qr(InvoiceFields(), "text", qr), [f"{exc}; fields come from the QR code"], today)
    qr = read_pdf_qr(data)
    glyph_count = sum(len(page.glyphs) for page in pages)
    unmapped = sum(page.unmapped_glyphs for page in pages)
    if glyph_count == 0 or unmapped > glyph_count:
        reason = (
            "text layer unreadable: its fonts have no Unicode map ((cid:) glyphs)"
            if unmapped
            else "no text layer (an image-only PDF, e.g. a scan)"
        )
        empty = InvoiceFields(pages=len(pages))
        if qr is None:
            return Extraction(name, Status.REVIEW, (reason + " and no QR code found; a person must read it",), empty)
        merged = merge_qr(empty, "text", qr)
        notes = [reason + "; number, date and amount come from the QR code"]
        if ocr is None:
            notes.append("no OCR (off, or Tesseract with chi_sim not installed): names and tax ids are not read")
        else:
            merged, ocr_note = _with_ocr(data, merged, qr, ocr)
            notes.append(ocr_note)
        return _finish(name, merged, notes, today)
    fields = read_fields(pages)
    if qr is None and fields.variant is None and fields.invoice_number is None and fields.total is None:
        return Extraction(name, Status.NOT_INVOICE, ("no invoice title, number, total or QR code found",), fields)
    return _finish(name, merge_qr(fields, "text", qr), [], today)


def _with_ocr(data: bytes, merged: Merged, qr: QrInvoice, ocr: Tesseract) -> tuple[Merged, str]:
    """Fill the fields the QR code cannot give (names, tax ids, pretax and tax) from OCR of page 1."""
    image = render_first_page(data, scale=_OCR_SCALE)
    if image is None:
        return merged, "OCR skipped: page 1 could not be drawn"
    try:
        words = ocr.read_words(image)
    except OcrError as exc:
        return merged, f"OCR failed: {exc}"
    read = read_ocr_fields(
        words,
        page_width=image.width,
        known_total=qr.amount if qr.amount_includes_tax else None,
        known_pretax=None if qr.amount_includes_tax else qr.amount,
    )
    updates = {
        name: value
        for name in _OCR_FIELDS
        if getattr(merged.fields, name) is None and (value := getattr(read, name)) is not None
    }
    if not updates:
        return merged, "OCR read no name, tax id or amount that passed its checks"
    sources = {**merged.sources, **dict.fromkeys(updates, "ocr")}
    fields = dataclasses.replace(merged.fields, **updates)
    return Merged(fields, sources, merged.problems), f"read by OCR, to be checked: {', '.join(updates)}"


def _from_ofd(data: bytes, name: str, *, today: date) -> Extraction:
    try:
        ofd = read_ofd(data)
    except OfdError as exc:
        return _error(name, str(exc))
    if ofd.data_source is None and ofd.qr is None:
        return Extraction(name, Status.NOT_INVOICE, ("an OFD without invoice data (no eInvoice XML, tags or QR)",))
    notes = [] if ofd.data_source else ["the OFD carries no invoice data; fields come from its QR code"]
    return _finish(name, merge_qr(ofd.fields, "ofd", ofd.qr), notes, today)


def _from_xml(data: bytes, name: str, *, today: date) -> Extraction:
    try:
        fields = read_digital_xml(data)
    except XmlError as exc:
        return _error(name, str(exc))
    return _finish(name, Merged(fields, sources_of(fields, "xml"), []), [], today)


def _finish(name: str, merged: Merged, notes: list[str], today: date) -> Extraction:
    """Validate the merged fields: every note, disagreement or failed check makes it 'review'."""
    # The QR is drawn from the tax system's own data: a value it gave or agreed with needs no other witness.
    confirmed = frozenset(name for name, source in merged.sources.items() if "qr" in source)
    problems = notes + merged.problems + validate.problems(merged.fields, today=today, confirmed=confirmed)
    status = Status.REVIEW if problems else Status.OK
    return Extraction(name, status, tuple(problems), merged.fields, merged.sources)
