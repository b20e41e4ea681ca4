"""Page 1 of a PDF as pixels (the only pypdfium2 import): for the QR decoder and for OCR."""

from __future__ import annotations

import math

import pypdfium2 as pdfium
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
