"""The invoice QR code: found on page 1 (pypdfium2 renders, zxing-cpp decodes) and its payload parsed.

The QR is the second, independent source of number, date and amount: it is
drawn from the tax system's data, not from the text layer, so it confirms
what the text says and stands in for it on scans and broken fonts.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit

import zxingcpp
from PIL import Image, UnidentifiedImageError

from ingest.extract.render import render_first_page
from ingest.model import Variant

# Where the QR sits: the top left corner on every layout we know (fractions of the page).
_CORNER = (0.32, 0.45)
# 2x (144 dpi) gives a vector QR about 8 px per module and keeps a 150-300 dpi scan legible.
_RENDER_SCALE = 2.0
_MAX_IMAGE_PIXELS = 25_000_000
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_TYPE_CODES = {
    "31": Variant.DIGITAL_SPECIAL,
    "32": Variant.DIGITAL_ORDINARY,
    "10": Variant.OLD_ORDINARY,
    "14": Variant.OLD_ORDINARY,  # toll-road invoices are also cited with 14
    "08": Variant.OLD_SPECIAL,
}


@dataclass(frozen=True)
class QrInvoice:
    """What an invoice QR says. `amount` is 价税合计 for 数电 and 区块链 but the pre-tax 合计金额 for old style."""

    payload: str
    variant: Variant | None
    invoice_code: str | None
    invoice_number: str
    issue_date: date | None
    amount: Decimal | None
    amount_includes_tax: bool
    check_code: str | None


def parse_payload(payload: str) -> QrInvoice | None:
    """Read either payload kind; None when the text is not an invoice QR."""
    text = payload.strip()
    if text.lower().startswith(("http://", "https://")):
        return _parse_shenzhen_url(text)
    return _parse_comma_payload(text)


def _parse_comma_payload(text: str) -> QrInvoice | None:
    # '01,10,code,number,amount,YYYYMMDD,check,tail,' — a field may be one space, the
    # trailing comma may be missing, and the tail is 3-4 characters of no documented meaning.
    fields = [f.strip() for f in text.split(",")]
    if len(fields) < 6 or fields[0] != "01":
        return None
    type_code, code, number, amount_text, date_text = fields[1:6]
    check = fields[6] if len(fields) > 6 else ""
    if not number.isdigit() or (code and not code.isdigit()):
        return None
    issue_date = _yyyymmdd(date_text)
    amount = _decimal(amount_text)
    if issue_date is None or amount is None:
        return None
    digital = not code and len(number) == 20
    variant = _TYPE_CODES.get(type_code)
    if variant is None and digital:
        variant = Variant.DIGITAL_OTHER
    return QrInvoice(
        payload=text,
        variant=variant,
        invoice_code=code or None,
        invoice_number=number,
        issue_date=issue_date,
        amount=amount,
        amount_includes_tax=digital,
        check_code=check or None,
    )


def _parse_shenzhen_url(text: str) -> QrInvoice | None:
    query = parse_qs(urlsplit(text).query)
    number = (query.get("bill_num") or [""])[0].strip()
    fen = (query.get("total_amount") or [""])[0].strip()
    if not number.isdigit() or not re.fullmatch(r"-?\d+", fen):
        return None
    digest = (query.get("hash") or [""])[0].strip()
    # The printed 5-character 校验码 is the tail of the hash (the hash is also the 密码区).
    check = digest[-5:] if re.fullmatch(r"[0-9a-fA-F]{10,}", digest) else None
    return QrInvoice(
        payload=text,
        variant=Variant.SHENZHEN_BLOCKCHAIN,
        invoice_code=None,
        invoice_number=number,
        issue_date=None,
        amount=Decimal(fen) / 100,
        amount_includes_tax=True,
        check_code=check,
    )


def _yyyymmdd(text: str) -> date | None:
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _decimal(text: str) -> Decimal | None:
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", text):
        return None
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def read_pdf_qr(data: bytes) -> QrInvoice | None:
    """The invoice QR on page 1: the top-left corner first, the whole page only if that fails."""
    for corner in (_CORNER, None):
        image = render_first_page(data, scale=_RENDER_SCALE, corner=corner)
        if image is None:
            return None
        for barcode in zxingcpp.read_barcodes(image, formats=_QR_ONLY):
            found = parse_payload(barcode.text)
            if found is not None:
                return found
    return None


def read_image_qr(data: bytes) -> QrInvoice | None:
    """The invoice QR in an image file (PNG, JPEG, BMP; OFDs carry one); None if it does not decode."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            # The header gives the size before any pixel is decoded: refuse a decompression bomb early.
            if image.width * image.height > _MAX_IMAGE_PIXELS:
                return None
            barcodes = zxingcpp.read_barcodes(image.convert("L"), formats=_QR_ONLY)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    for barcode in barcodes:
        found = parse_payload(barcode.text)
        if found is not None:
            return found
    return None
