"""Synthetic Chinese e-invoice PDFs (数电 and old-style layouts, with real-world pitfalls) for tests."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

import pypdfium2 as pdfium
from pdfminer.cmapdb import CMap, CMapDB
from PIL import Image, ImageDraw
from reportlab.graphics.barcode import qrencoder
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib.rl_accel import escapePDF
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase._cidfontdata import CIDFontInfo
from reportlab.pdfbase.cidfonts import (
    UnicodeCIDFont,
    structToPDF,
)
from reportlab.pdfgen.canvas import Canvas

__all__ = [
    "VARIANTS",
    "InvoiceSpec",
    "Item",
    "Party",
    "capital_amount",
    "drawn_qr_payload",
    "image_only_invoice_pdf",
    "image_only_pdf",
    "invoice_pdf",
    "not_invoice_pdf",
    "qr_image_png",
    "qr_payload",
    "sample_spec",
    "uscc",
]

VARIANTS = ("数电普票", "数电专票", "电子普票(旧)", "电子专票(旧)", "通行费", "区块链")
_SHUDIAN = frozenset(VARIANTS[:2])
YEN_SIGNS = ("¥", "￥", "")

# ---------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """A buyer or seller as printed on the invoice."""

    name: str
    tax_id: str  # may be "" (e.g. buyer 个人)


@dataclass(frozen=True)
class Item:
    """One item line of the invoice table."""

    name: str
    amount: Decimal  # pre-tax line amount, may be negative (discount line)
    tax_rate: str  # e.g. "13%", "3%", "免税"
    tax: Decimal | None  # None -> printed as "***" (tax exempt)


@dataclass(frozen=True)
class InvoiceSpec:
    """Everything printed on one synthetic invoice, plus the pitfalls to reproduce."""

    variant: str
    number: str  # 20 digits for 数电, 8 digits for old style / 区块链
    issue_date: date
    buyer: Party
    seller: Party
    items: tuple[Item, ...]
    code: str = ""  # 12-digit 发票代码 for old style/toll/区块链, "" for 数电
    check_code: str = ""  # 20 digits (old style) or 5 hex chars (区块链), "" for 数电
    remarks: str = ""  # one line per "\n"; printed on the last page only
    # Pitfalls (invoices.md "Pitfalls seen in real files"). Each reproduces something seen in
    # real files so the extractor is tested against it, not against a tidy ideal.
    # layered: every label (template layer) is drawn before every value (data layer); the
    # old style also draws 年/月/日 as template text apart from the date digits.
    layered: bool = False
    # letter_spaced_labels: field labels drawn with a space between characters: '发 票 号 码 ：'.
    letter_spaced_labels: bool = False
    # seal: the red 监制章 near the title, its arc characters each rotated along the rim.
    # pdfminer still reports them upright=True (as in real files): only exact ±90° is not.
    seal: bool = True
    # margin_note: '下载次数：1' turned 90° clockwise in the right margin (upright=False).
    margin_note: bool = False
    # cipher_noise: old style/区块链 密码区, cipher lines on the buyer fields' baselines, 密/码/区.
    cipher_noise: bool = True
    # kangxi: title and some labels written with Kangxi radicals (电⼦, 开票⽇期, 开票⼈, ⾦额)
    # as macOS Quartz re-saves do; values are never altered.
    kangxi: bool = False
    yen: str = "¥"  # "¥" (U+00A5), "￥" (U+FFE5) or "" (no currency sign)
    # yen_separate: the sign is its own word: larger, with a gap before the figure.
    yen_separate: bool = False
    # items_per_page: more items spill onto further pages; every page repeats header, buyer
    # and seller, prints 共N页 第K页 and a 小计 row; 合计 and 价税合计 only on the last page.
    items_per_page: int = 8
    capital_total: str | None = None  # override the printed 价税合计（大写） text
    total_override: Decimal | None = None  # override the printed （小写） figure
    # offpage_text: a copy of the 开票人 name below the page box (top > page height), as
    # some Suwell converters leave.
    offpage_text: bool = False
    # unmapped_text: every string in an Identity-H font with no ToUnicode map, as in PDFs
    # re-saved by tools that drop it; text extraction then yields only '(cid:N)'.
    unmapped_text: bool = False
    # qr: the QR code in the top-left corner, drawn as vector rectangles (invoices.md "The QR
    # code"); qr_payload overrides its text, e.g. to make QR and text layer disagree.
    qr: bool = True
    qr_payload: str | None = None

    def __post_init__(self) -> None:
        # Fail loudly on typos: a silently ignored variant would test nothing.
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; expected one of {VARIANTS}")
        if self.yen not in YEN_SIGNS:
            raise ValueError(f"yen must be one of {YEN_SIGNS}, not {self.yen!r}")
        if self.items_per_page < 1:
            raise ValueError("items_per_page must be at least 1")

    @property
    def pretax(self) -> Decimal:
        """Sum of the item amounts (合计金额)."""
        return sum((item.amount for item in self.items), Decimal("0.00"))

    @property
    def tax(self) -> Decimal | None:
        """Sum of the item taxes (合计税额); None if every item is ***."""
        taxes = [item.tax for item in self.items if item.tax is not None]
        if not taxes:
            return None
        return sum(taxes, Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        """价税合计: pretax + tax."""
        return self.pretax + (self.tax or Decimal("0.00"))


# ---------------------------------------------------------------------------
# Capital numerals and tax IDs
# ---------------------------------------------------------------------------

_CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CENT = Decimal("0.01")


def _four_digits(n: int) -> str:
    """Render 1..9999 with 仟佰拾; inner zero runs collapse to one 零, trailing zeros vanish."""
    out: list[str] = []
    pending_zero = False
    for power, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = n // power % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_CN_DIGITS[digit] + unit)
    return "".join(out)


def capital_amount(value: Decimal) -> str:
    """The 价税合计（大写） text for an amount: 壹佰零陆圆整, 壹拾柒圆叁角肆分, 负肆圆伍角整."""
    fen_total = int(abs(value.quantize(_CENT, rounding=ROUND_HALF_UP)) * 100)
    sign = "负" if value.quantize(_CENT, rounding=ROUND_HALF_UP) < 0 else ""
    yuan, jiao_fen = divmod(fen_total, 100)
    jiao, fen = divmod(jiao_fen, 10)
    if yuan >= 10**12:
        raise ValueError(f"amount too large for capital numerals: {value}")
    if fen_total == 0:
        return "零圆整"

    integer = ""
    gap = False  # a zero group (or a group < 1000) between non-zero groups needs one 零
    for group, unit in ((yuan // 10**8, "亿"), (yuan // 10**4 % 10**4, "万"), (yuan % 10**4, "")):
        if group == 0:
            gap = bool(integer)
            continue
        if integer and (gap or group < 1000):
            integer += "零"
        integer += _four_digits(group) + unit
        gap = False

    text = integer + "圆" if yuan else ""
    if jiao:
        text += _CN_DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"  # 壹拾伍圆零肆分: the missing 角 is spoken as 零
    text += _CN_DIGITS[fen] + "分" if fen else "整"
    return sign + text


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I O S V Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc(prefix17: str) -> str:
    """Append the GB 32100-2015 check character to a 17-character 统一社会信用代码 prefix."""
    if len(prefix17) != 17 or any(ch not in _USCC_ALPHABET for ch in prefix17):
        raise ValueError(f"need 17 characters from {_USCC_ALPHABET}, got {prefix17!r}")
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(prefix17, _USCC_WEIGHTS, strict=True))
    return prefix17 + _USCC_ALPHABET[(31 - total % 31) % 31]


# ---------------------------------------------------------------------------
# Fonts
# ---------------------------------------------------------------------------

_FONT = "STSong-Light"
_QUARTZ_FONT = "STSong-Light-Quartz"
# STSong-Light's /Descent is -271: pdfminer boxes a glyph from baseline-0.271*size to
# baseline+0.729*size, so this converts the `top` seen in word dumps into a baseline.
_ASCENT = 1 - 0.271
_GAP = 4.0  # > pdfplumber's default x_tolerance (3), so label and value stay two words

# Kangxi radicals that macOS Quartz re-saves put in the text layer instead of the unified
# ideograph (same glyph, different ToUnicode entry). Applied to the title and some labels.
_KANGXI_REPLACEMENTS = (
    ("电子", "电\u2f26"),  # ⼦
    ("日期", "\u2f47期"),  # ⽇
    ("开票人", "开票\u2f08"),  # ⼈
    ("金", "\u2fa6"),  # ⾦ (table header 金额)
)
_RADICALS = frozenset("\u2f26\u2f47\u2f08\u2fa6")


@cache
def _ucs2_cmap() -> CMap:
    # pdfminer ships the Adobe UniGB-UCS2-H CMap: the same Unicode->CID table that
    # STSong-Light uses, so Identity-H codes written with it match the default font.
    cmap = CMapDB.get_cmap("UniGB-UCS2-H")
    assert isinstance(cmap, CMap)
    return cmap


def _cid(ch: str) -> int:
    cids = list(_ucs2_cmap().decode(ch.encode("utf-16-be")))
    return cids[0] if cids else 0


class _ToUnicodeStream(pdfdoc.PDFStream):  # type: ignore[misc]  # reportlab is untyped
    """A ToUnicode CMap filled in at save time, after every string has been drawn."""

    def __init__(self, font: _QuartzFont) -> None:
        super().__init__(content="")
        self._font = font

    def format(self, document: Any) -> bytes:
        entries = [
            f"<{cid:04X}> <{text.encode('utf-16-be').hex().upper()}>"
            for cid, text in sorted(self._font.to_unicode.items())
        ]
        chunks = "".join(
            f"{len(entries[i : i + 100])} beginbfchar\n" + "\n".join(entries[i : i + 100]) + "\nendbfchar\n"
            for i in range(0, len(entries), 100)
        )
        self.content = (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{chunks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        )
        result: bytes = super().format(document)
        return result


class _QuartzFont(UnicodeCIDFont):  # type: ignore[misc]  # reportlab is untyped
    """STSong-Light re-encoded as Identity-H with a ToUnicode map, like a Quartz re-save.

    Plain STSong-Light has no ToUnicode: readers map the UCS-2 code to a CID and back, and
    U+2F26 ⼦ shares its CID with 子, so it reads back as 子. Writing CIDs (Identity-H)
    and a ToUnicode that sends the shared CID to the radical reproduces what Quartz files
    contain: the glyph of 子 whose text is ⼦ (in pdfminer, pdfium and other readers).
    """

    def __init__(self) -> None:
        super().__init__(_FONT)
        self.name = self.fontName = _QUARTZ_FONT
        self.to_unicode: dict[int, str] = {}

    def formatForPdf(self, text: str) -> Any:  # noqa: N802  (reportlab's name)
        codes = bytearray()
        for ch in text:
            cid = _cid(ch)
            # A radical wins over its unified twin: only radical-bearing labels use this font.
            if ch in _RADICALS or cid not in self.to_unicode:
                self.to_unicode[cid] = ch
            codes += cid.to_bytes(2, "big")
        return escapePDF(bytes(codes))

    def addObjects(self, doc: Any) -> None:  # noqa: N802  (reportlab's name)
        internal_name = "F" + repr(len(doc.fontMapping) + 1)
        info = dict(CIDFontInfo[_FONT])  # shallow copy: reportlab mutates the shared dict
        info["Name"] = "/" + internal_name
        info["Encoding"] = "/Identity-H"
        font_dict = structToPDF(info)
        font_dict.dict["ToUnicode"] = doc.Reference(_ToUnicodeStream(self))
        doc.idToObject["BasicFonts"].dict[internal_name] = doc.Reference(font_dict, internal_name)
        doc.fontMapping[self.name] = "/" + internal_name


class _UnmappedFont(_QuartzFont):
    """The same Identity-H font with its ToUnicode map left out: readers see only CIDs."""

    def __init__(self) -> None:
        super().__init__()
        self.name = self.fontName = _UNMAPPED_FONT

    def addObjects(self, doc: Any) -> None:  # noqa: N802  (reportlab's name)
        internal_name = "F" + repr(len(doc.fontMapping) + 1)
        info = dict(CIDFontInfo[_FONT])
        info["Name"] = "/" + internal_name
        info["Encoding"] = "/Identity-H"
        # An Adobe-Identity ordering, as embedded subset fonts have: no reader-side table maps
        # these CIDs back to Unicode (Adobe-GB1 would let pdfminer decode them anyway).
        descendant = dict(info["DescendantFonts"][0])
        descendant["CIDSystemInfo"] = {"Registry": "(Adobe)", "Ordering": "(Identity)", "Supplement": 0}
        info["DescendantFonts"] = [descendant]
        doc.idToObject["BasicFonts"].dict[internal_name] = doc.Reference(structToPDF(info), internal_name)
        doc.fontMapping[self.name] = "/" + internal_name


_UNMAPPED_FONT = "STSong-Light-NoToUnicode"
pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
_QUARTZ = _QuartzFont()
pdfmetrics.registerFont(_QUARTZ)
pdfmetrics.registerFont(_UnmappedFont())


def _width(text: str, size: float) -> float:
    width: float = pdfmetrics.stringWidth(text, _FONT, size)
    return width


# ---------------------------------------------------------------------------
# Page model: text operations in template or data layer, plus vector shapes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Op:
    text: str
    x: float
    y: float  # baseline in PDF coordinates (origin bottom-left)
    size: float
    data: bool  # False: template layer (labels), True: data layer (values)
    angle: float = 0.0  # degrees, counter-clockwise
    hscale: float = 100.0
    red: bool = False


class _Page:
    """Collects what one page shows; positions are given as pdfplumber `top` values."""

    def __init__(self, spec: InvoiceSpec, width: float, height: float) -> None:
        self.spec = spec
        self.width = width
        self.height = height
        self.ops: list[_Op] = []
        self.shapes: list[Callable[[Any], None]] = []

    def baseline(self, top: float, size: float) -> float:
        return self.height - top - _ASCENT * size

    def put(
        self,
        text: str,
        x: float,
        top: float,
        size: float = 9.0,
        *,
        data: bool = True,
        hscale: float = 100.0,
        red: bool = False,
    ) -> float:
        """Draw text whose box starts at (x, top); return its right edge."""
        if text:
            op = _Op(text, x, self.baseline(top, size), size, data, hscale=hscale, red=red)
            self.ops.append(op)
        return x + _width(text, size) * hscale / 100

    def put_right(self, text: str, x1: float, top: float, size: float = 9.0) -> float:
        """Right-align data text at x1; return its left edge."""
        x0 = x1 - _width(text, size)
        self.put(text, x0, top, size)
        return x0

    def put_centred(self, text: str, xc: float, top: float, size: float = 9.0) -> None:
        self.put(text, xc - _width(text, size) / 2, top, size)

    def template(self, text: str, x: float, top: float, size: float = 9.0) -> float:
        """Template text that is not a field label (title, table header, 合 计)."""
        return self.put(self._kangxi(text), x, top, size, data=False)

    def label(self, text: str, x: float, top: float, size: float = 9.0, hscale: float = 100.0) -> float:
        """A field label, letter-spaced ('发 票 号 码 ：') when the spec asks for it."""
        text = self._kangxi(text)
        if self.spec.letter_spaced_labels:
            text = " ".join(text)
        return self.put(text, x, top, size, data=False, hscale=hscale)

    def field(
        self,
        label: str,
        x: float,
        top: float,
        value: str,
        value_x: float,
        *,
        value_top: float | None = None,
        value_size: float = 9.0,
        label_hscale: float = 100.0,
    ) -> float:
        """Label plus value on its baseline; the value moves right if the label grew."""
        label_end = self.label(label, x, top, hscale=label_hscale)
        vx = max(value_x, label_end + _GAP)
        return self.put(value, vx, top if value_top is None else value_top, value_size)

    def stack(self, text: str, x: float, top: float, step: float) -> None:
        """Vertical side label such as 购买方信息: one character per line."""
        for i, ch in enumerate(self._kangxi(text)):
            self.put(ch, x, top + i * step, data=False)

    def rotated(self, text: str, x: float, y: float, size: float, angle: float, *, data: bool, red: bool) -> None:
        """Text turned by angle degrees about its baseline origin (x, y) in PDF coordinates."""
        self.ops.append(_Op(text, x, y, size, data, angle=angle, red=red))

    def hline(self, x0: float, x1: float, top: float) -> None:
        y = self.height - top
        self.shapes.append(lambda c: c.line(x0, y, x1, y))

    def vline(self, x: float, top0: float, top1: float) -> None:
        y0, y1 = self.height - top0, self.height - top1
        self.shapes.append(lambda c: c.line(x, y0, x, y1))

    def rect(self, x0: float, top0: float, x1: float, top1: float) -> None:
        y1 = self.height - top1
        self.shapes.append(lambda c: c.rect(x0, y1, x1 - x0, top1 - top0, stroke=1, fill=0))

    def circled_cross(self, xc: float, top: float, r: float = 3.5) -> None:
        """The ⊗ before the capital amount: a drawing in real files, never text."""
        yc = self.height - top

        def draw(c: Any) -> None:
            c.circle(xc, yc, r, stroke=1, fill=0)
            d = r * 0.7
            c.line(xc - d, yc - d, xc + d, yc + d)
            c.line(xc - d, yc + d, xc + d, yc - d)

        self.shapes.append(draw)

    def _kangxi(self, text: str) -> str:
        if self.spec.kangxi:
            for plain, radical in _KANGXI_REPLACEMENTS:
                text = text.replace(plain, radical)
        return text


def _stream_order(page: _Page) -> list[_Op]:
    if page.spec.layered:
        # Template/data layers (航信 iText, Foxit): every label, then every value.
        return sorted(page.ops, key=lambda op: op.data)
    return list(page.ops)


def _render(canvas: Any, page: _Page) -> None:
    canvas.setStrokeColorRGB(0.6, 0.35, 0.2)  # the brown frame colour of real invoices
    canvas.setLineWidth(0.6)
    for shape in page.shapes:
        shape(canvas)
    for op in _stream_order(page):
        canvas.saveState()
        if op.red:
            canvas.setFillColorRGB(0.85, 0.1, 0.1)
            canvas.setStrokeColorRGB(0.85, 0.1, 0.1)
        canvas.translate(op.x, op.y)
        if op.angle:
            canvas.rotate(op.angle)
        text = canvas.beginText(0, 0)
        font = _QUARTZ_FONT if _RADICALS.intersection(op.text) else _FONT
        if page.spec.unmapped_text:
            font = _UNMAPPED_FONT
        text.setFont(font, op.size)
        if op.hscale != 100.0:
            text.setHorizScale(op.hscale)
        text.textOut(op.text)
        canvas.drawText(text)
        canvas.restoreState()


# ---------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------


def _sum_row_figures(spec: InvoiceSpec, items: Sequence[Item], last: bool) -> tuple[Decimal, Decimal | None]:
    """合计 on the last page; on earlier pages the 小计 of that page's items, a ¥ figure that is not the total."""
    if last:
        return spec.pretax, spec.tax
    pretax = sum((it.amount for it in items), Decimal("0.00"))
    page_taxes = [it.tax for it in items if it.tax is not None]
    return pretax, (sum(page_taxes, Decimal("0.00")) if page_taxes else None)


_PAYEE, _REVIEWER, _DRAWER = "钱晓", "孙立", "赵敏"
_SELLER_ADDRESS = "北京市海淀区示例路88号 010-55550123"
_SELLER_BANK = "示例银行北京海淀支行 6200000000000012345"
_MACHINE_NO = "499098765432"
_TOLL_PLATE, _TOLL_VEHICLE = "京A12345", "小型客车"


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP):.2f}"


def _cn_date(d: date) -> str:
    return f"{d.year:04d}年{d.month:02d}月{d.day:02d}日"


def _put_money(
    page: _Page,
    figure: str,
    top: float,
    size: float,
    *,
    x: float | None = None,
    x1: float | None = None,
    sign_size: float | None = None,
) -> None:
    """A currency figure, left-aligned at x or right-aligned at x1, with the spec's sign."""
    spec = page.spec
    sign = spec.yen if figure != "***" else ""
    if sign and spec.yen_separate:
        # A separate word: own text object, bigger size and a real gap (Suwell, Quartz).
        sign_size = sign_size or size + 2
        sign_w = _width(sign, sign_size)
        if x1 is not None:
            fx = x1 - _width(figure, size)
        else:
            assert x is not None
            fx = x + sign_w + _GAP
        page.put(sign, fx - _GAP - sign_w, top - (sign_size - size) / 2, sign_size)
        page.put(figure, fx, top, size)
        return
    text = sign + figure
    if x1 is not None:
        page.put_right(text, x1, top, size)
    else:
        assert x is not None
        page.put(text, x, top, size)


def _cipher_lines(spec: InvoiceSpec) -> list[str]:
    # Deterministic per invoice so that identical specs give identical bytes.
    rng = random.Random(f"{spec.code}/{spec.number}")
    if spec.variant == "区块链":
        return ["".join(rng.choice("0123456789abcdef") for _ in range(22)) for _ in range(3)]
    return ["".join(rng.choice("0123456789+-*/<>") for _ in range(28)) for _ in range(4)]


def _seal(page: _Page, cx: float, centre_top: float, bottom_text: str) -> None:
    """The 监制章: red ellipse, arc text with each glyph rotated along the rim."""
    cy = page.height - centre_top
    rx, ry = 37.0, 24.0

    def ellipse(c: Any) -> None:
        c.saveState()
        c.setStrokeColorRGB(0.85, 0.1, 0.1)
        c.setLineWidth(1.2)
        c.ellipse(cx - rx, cy - ry, cx + rx, cy + ry, stroke=1, fill=0)
        c.restoreState()

    page.shapes.append(ellipse)

    def arc(text: str, start: float, end: float, inset: float, outward: bool) -> None:
        n = len(text)
        for i, ch in enumerate(text):
            a = math.radians(start + (end - start) * i / (n - 1))
            px, py = cx + (rx - inset) * math.cos(a), cy + (ry - inset) * math.sin(a)
            # Glyph "up" points away from the centre on the top arc, towards it below.
            rot = math.degrees(a) - 90 if outward else math.degrees(a) + 90
            r = math.radians(rot)
            half = 4.5  # half a 9 pt glyph: centre the glyph on the rim point
            ox = px - half * math.cos(r)
            oy = py - half * math.sin(r)
            page.rotated(ch, ox, oy, 9.0, rot, data=False, red=True)

    arc("全国统一发票监制章", 155.0, 25.0, 10.0, outward=True)
    page.put("国家税务总局", cx - _width("国家税务总局", 7) / 2, centre_top - 1.0, 7.0, data=False, red=True)
    arc(bottom_text, 215.0, 325.0, 3.0, outward=False)


def _pages(spec: InvoiceSpec) -> list[tuple[Item, ...]]:
    per = spec.items_per_page
    chunks = [spec.items[i : i + per] for i in range(0, len(spec.items), per)]
    return chunks or [()]


def _remark_lines(spec: InvoiceSpec) -> list[str]:
    return [line for line in spec.remarks.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# 数电 layout (595.28 x 396.85, Suwell / Quartz positions)
# ---------------------------------------------------------------------------

_SD_W, _SD_H = 595.28, 396.85
_SD_ROW0, _SD_ROW_STEP = 160.9, 11.0


def _shudian_page(spec: InvoiceSpec, items: tuple[Item, ...], page_no: int, pages: int) -> _Page:
    pg = _Page(spec, _SD_W, _SD_H)
    last = page_no == pages

    # Frame first: the template's vector drawing.
    pg.rect(10.0, 88.0, 585.0, 356.0)
    pg.vline(297.0, 88.0, 146.0)
    pg.vline(28.0, 88.0, 146.0)
    pg.vline(313.0, 88.0, 146.0)
    pg.hline(10.0, 585.0, 146.0)
    pg.hline(10.0, 585.0, 275.0)
    pg.hline(10.0, 585.0, 292.0)
    pg.vline(28.0, 292.0, 356.0)
    _qr(pg, 18.0, 17.0, 57.0)

    title = "电子发票（普通发票）" if spec.variant == "数电普票" else "电子发票（增值税专用发票）"
    title = pg._kangxi(title)
    pg.template(title, 292.9 - _width(title, 20) / 2, 22.7, 20)
    if spec.seal:
        _seal(pg, 297.0, 50.0, "北京市税务局")

    pg.field("发票号码：", 438.0, 31.7, spec.number, 481.9, value_top=31.8)
    pg.field("开票日期：", 438.0, 48.7, _cn_date(spec.issue_date), 481.9, value_top=49.1)
    if pages > 1:
        pg.put(f"共{pages}页 第{page_no}页", 530.8, 72.5)

    # Buyer left, seller right, on the same baselines (pitfall 2).
    pg.stack("购买方信息", 16.9, 92.9, 9.9)
    pg.stack("销售方信息", 301.8, 92.9, 9.9)
    pg.field("名称：", 32.7, 95.8, spec.buyer.name, 56.7)
    pg.field("名称：", 317.6, 95.8, spec.seller.name, 340.2)
    id_label = "统一社会信用代码/纳税人识别号："
    # Real producers squeeze this long label (8 pt pitch at 9 pt): horizontal scale 89 %.
    pg.field(id_label, 32.5, 125.5, spec.buyer.tax_id, 153.1, value_top=125.0, value_size=12.0, label_hscale=89.0)
    pg.field(id_label, 317.4, 125.5, spec.seller.tax_id, 437.9, value_top=125.0, value_size=12.0, label_hscale=89.0)

    for text, x in (
        ("项目名称", 45.4), ("规格型号", 119.4), ("单", 190.0), ("位", 208.0),
        ("数", 263.7), ("量", 281.7), ("单", 334.6), ("价", 352.6), ("金", 406.8),
        ("额", 424.8), ("税率/征收率", 446.5), ("税", 551.4), ("额", 569.4),
    ):  # fmt: skip
        pg.template(text, x, 151.1)
    for i, item in enumerate(items):
        top = _SD_ROW0 + _SD_ROW_STEP * i
        pg.put(item.name, 12.8, top)
        if item.amount >= 0:  # discount lines carry no quantity or unit price
            pg.put_right("1", 290.2, top)
            pg.put(_money(item.amount), 293.9, top)
        pg.put_right(_money(item.amount), 430.3, top)
        pg.put_centred(item.tax_rate, 471.6, top)
        pg.put_right("***" if item.tax is None else _money(item.tax), 579.1, top)

    pg.template("合" if last else "小", 58.2, 261.6)
    pg.template("计", 103.5, 261.6)
    pretax, tax = _sum_row_figures(spec, items, last)
    _put_money(pg, _money(pretax), 260.5, 9.0, x1=433.4)
    _put_money(pg, "***" if tax is None else _money(tax), 260.5, 9.0, x1=579.1)

    if last:
        pg.label("价税合计（大写）", 48.0, 280.0)
        pg.circled_cross(171.0, 283.6)
        capital = spec.capital_total if spec.capital_total is not None else capital_amount(spec.total)
        pg.put(capital, 178.4, 278.1)
        small_end = pg.label("（小写）", 406.8, 280.0)
        shown = spec.total if spec.total_override is None else spec.total_override
        _put_money(pg, _money(shown), 278.4, 11.0, x=max(440.8, small_end + _GAP), sign_size=11.0)

    pg.template("备", 17.1, 309.8)
    pg.template("注", 17.1, 326.8)
    if last:
        for i, line in enumerate(_remark_lines(spec)):
            pg.put(line, 34.5, 300.0 + 10.0 * i)
    pg.field("开票人：", 55.3, 367.9, _DRAWER, 90.7, value_top=368.2)
    if spec.offpage_text:
        # Suwell converters leave a copy of the drawer's name far below the page box.
        pg.put(_DRAWER, 91.0, 2 * _SD_H + 18.7, 10.0)
    if spec.margin_note:
        # Rotated 90° clockwise, reading top to bottom, in the right margin.
        pg.rotated("下载次数：1", 590.1, _SD_H - 90.0, 9.0, -90.0, data=True, red=False)
    return pg


# ---------------------------------------------------------------------------
# Old layout (609.44 x 394.01, 航信 iText positions): 电子普票/专票(旧), 通行费, 区块链
# ---------------------------------------------------------------------------

_OLD_W, _OLD_H = 609.44, 394.01
_OLD_ROW0, _OLD_ROW_STEP = 161.1, 12.0


def _old_title(spec: InvoiceSpec) -> str:
    return {
        "电子普票(旧)": "北京增值税电子普通发票",
        "通行费": "北京增值税电子普通发票",
        "电子专票(旧)": "增值税电子专用发票",
        "区块链": "深圳电子普通发票",
    }[spec.variant]


def _old_date(pg: _Page, spec: InvoiceSpec) -> None:
    label_end = pg.label("开票日期:", 434.3, 47.6)
    x = max(477.0, label_end + _GAP)
    d = spec.issue_date
    if not spec.layered:
        pg.put(_cn_date(d), x, 47.8)
        return
    # iText template owns 年/月/日; the data layer only fills the digits in between,
    # so text order gives '2019 07 20' (pitfall 1).
    pg.put(f"{d.year:04d}", x, 47.8)
    pg.put("年", x + 21.0, 47.7, data=False)
    pg.put(f"{d.month:02d}", x + 34.0, 47.8)
    pg.put("月", x + 46.3, 47.7, data=False)
    pg.put(f"{d.day:02d}", x + 59.3, 47.8)
    pg.put("日", x + 71.6, 47.7, data=False)


def _old_page(spec: InvoiceSpec, items: tuple[Item, ...], page_no: int, pages: int) -> _Page:
    pg = _Page(spec, _OLD_W, _OLD_H)
    last = page_no == pages
    toll = spec.variant == "通行费"
    chain = spec.variant == "区块链"

    pg.rect(20.0, 82.0, 592.0, 350.0)
    pg.vline(40.0, 82.0, 145.0)
    pg.vline(345.0, 82.0, 145.0)
    pg.vline(365.0, 82.0, 145.0)
    pg.hline(20.0, 592.0, 145.0)
    pg.hline(20.0, 592.0, 271.0)
    pg.hline(20.0, 592.0, 290.0)
    pg.vline(40.0, 290.0, 350.0)
    pg.vline(345.0, 290.0, 350.0)
    pg.vline(365.0, 290.0, 350.0)
    _qr(pg, 15.0, 5.0, 60.0)

    title = pg._kangxi(_old_title(spec))
    pg.template(title, 296.2 - _width(title, 20) / 2, 19.0 if chain else 23.7, 20)
    if toll:
        pg.template("通行费", 94.8, 30.0, 16)
        pg.template("﹊﹋﹌", 94.8, 48.7, 16)  # NFKC turns these into space + U+0305
    if spec.seal:
        _seal(pg, 301.0, 50.0, "深圳市税务局" if chain else "北京市税务局")

    pg.field("发票代码:", 434.9, 12.9, spec.code, 475.0, value_top=12.1)
    pg.field("发票号码:", 434.8, 30.4, spec.number, 475.0, value_top=30.1)
    _old_date(pg, spec)
    pg.label("校", 434.6, 65.3)
    pg.label("验", 448.1, 65.3)
    check_end = pg.label("码:", 461.6, 65.3)
    check = spec.check_code
    if len(check) == 20 and check.isdigit():
        check = " ".join(check[i : i + 5] for i in range(0, 20, 5))
    pg.put(check, max(475.0, check_end + _GAP), 65.1)
    if not chain:
        pg.field("机器编号:", 31.1, 65.1, _MACHINE_NO, 75.0, value_top=64.1)
    if pages > 1:
        pg.put(f"共{pages}页 第{page_no}页", 31.1, 76.5)

    # Buyer block, with the 密码区 sharing its baselines on the right (pitfall 5).
    pg.stack("购买方", 28.7, 93.5, 15.65)
    cipher = _cipher_lines(spec) if spec.cipher_noise else []
    cipher_x, cipher_tops = (372.6, (90.3, 106.3, 121.3)) if chain else (370.0, (86.3, 101.3, 116.3, 131.3))

    def cipher_line(i: int) -> None:
        if i < len(cipher):
            pg.put(cipher[i], cipher_x, cipher_tops[i], 12.0)

    pg.label("名", 48.3, 86.8)
    pg.field("称:", 93.3, 86.8, spec.buyer.name, 108.0, value_top=86.1)
    cipher_line(0)
    pg.field("纳税人识别号:", 48.5, 101.9, spec.buyer.tax_id, 108.0, value_top=100.3, value_size=12.0)
    cipher_line(1)
    pg.label("地", 48.4, 117.0)
    pg.label("址、电", 61.9, 117.0)
    pg.label("话:", 93.4, 117.0)
    cipher_line(2)
    pg.label("电子支付标识:" if chain else "开户行及账号:", 48.4, 132.1)
    cipher_line(3)
    if spec.cipher_noise:
        pg.stack("密码区", 351.5, 89.9, 19.5)

    if toll:
        header: Sequence[tuple[str, float]] = (
            ("项目名称", 67.8), ("车牌号", 180.8), ("类型", 249.8), ("通行日期起", 281.8),
            ("通行日期止", 337.8), ("金", 416.8), ("额", 434.8), ("税率", 479.8),
            ("税", 530.8), ("额", 548.8),
        )  # fmt: skip
    else:
        header = (
            ("货物或应税劳务、服务名称", 44.0), ("规格型号", 180.4), ("单位", 226.7),
            ("数", 275.3), ("量", 288.8), ("单", 343.9), ("价", 357.4), ("金", 423.4),
            ("额", 441.4), ("税率", 483.6), ("税", 536.8), ("额", 554.8),
        )  # fmt: skip
    for text, x in header:
        pg.template(text, x, 148.3 if toll else 147.7)

    travel = (spec.issue_date - timedelta(days=1)).strftime("%Y%m%d")
    for i, item in enumerate(items):
        top = _OLD_ROW0 + _OLD_ROW_STEP * i
        tax = "***" if item.tax is None else _money(item.tax)
        if toll:
            pg.put(item.name, 24.8, top)
            pg.put(_TOLL_PLATE, 149.8, top)
            pg.put(_TOLL_VEHICLE, 240.0, top)
            pg.put(travel, 284.3, top)
            pg.put(travel, 341.3, top)
        else:
            pg.put(item.name, 27.0, top)
            if item.amount >= 0:
                pg.put_right("1", 319.7, top)
                pg.put_right(_money(item.amount), 395.6, top)
        pg.put_right(_money(item.amount), 481.7, top)
        pg.put_centred(item.tax_rate, 494.3, top)
        pg.put_right(tax, 593.4, top)

    pg.template("合" if last else "小", 61.2, 257.5)
    pg.template("计", 101.7, 257.5)
    pretax, total_tax = _sum_row_figures(spec, items, last)
    _put_money(pg, _money(pretax), 259.1, 11.0, x=438.4)
    _put_money(pg, "***" if total_tax is None else _money(total_tax), 259.1, 11.0, x=557.0)

    if last:
        pg.label("价税合计(大写)", 61.4, 276.3)
        pg.circled_cross(182.5, 280.6)
        capital = spec.capital_total if spec.capital_total is not None else capital_amount(spec.total)
        pg.put(capital, 190.0, 276.1)
        small_end = pg.label("(小写)", 448.4, 276.0)
        shown = spec.total if spec.total_override is None else spec.total_override
        _put_money(pg, _money(shown), 275.1, 11.0, x=max(474.0, small_end + _GAP))

    # Seller block at the bottom, 备注 to its right.
    pg.stack("销售方", 29.5, 302.1, 14.15)
    pg.label("名", 47.9, 295.3)
    pg.field("称:", 92.9, 295.3, spec.seller.name, 108.0, value_top=295.1)
    pg.field("纳税人识别号:", 48.0, 309.7, spec.seller.tax_id, 108.0, value_top=308.3, value_size=12.0)
    pg.label("地", 48.0, 324.0)
    pg.label("址、电", 61.5, 324.0)
    pg.field("话:", 93.0, 324.0, _SELLER_ADDRESS, 108.0, value_top=324.9, value_size=7.0)
    pg.field("开户行及账号:", 48.0, 337.5, _SELLER_BANK, 108.0, value_top=338.0, value_size=8.0)
    pg.stack("备注", 351.3, 302.1, 30.2)
    if last:
        for i, line in enumerate(_remark_lines(spec)):
            pg.put(line, 370.0, 294.1 + 10.0 * i)

    pg.field("收款人:", 32.9, 356.0, _PAYEE, 65.0, value_top=356.1)
    pg.field("复核:", 191.9, 356.6, _REVIEWER, 215.0, value_top=356.1)
    pg.field("开票人:", 314.0, 356.4, _DRAWER, 347.0, value_top=356.1)
    pg.label("销售方:(章)", 436.3, 356.4)
    if spec.offpage_text:
        pg.put(_DRAWER, 347.0, 2 * _OLD_H + 18.7, 10.0)
    if spec.margin_note:
        pg.rotated("下载次数：1", 604.0, _OLD_H - 90.0, 9.0, -90.0, data=True, red=False)
    return pg


# ---------------------------------------------------------------------------
# QR code (invoices.md "The QR code")
# ---------------------------------------------------------------------------

# Level L keeps the modules big enough for a 2x render even for the long 区块链 URL; two
# modules of quiet zone inside the box, and nothing else is drawn around it.
_QR_LEVEL = "L"
_QR_BORDER = 2
_QR_TYPE = {"数电普票": "32", "数电专票": "31", "电子普票(旧)": "10", "通行费": "10", "电子专票(旧)": "08"}
_SHENZHEN_VERIFY = "https://bcfp.shenzhen.chinatax.gov.cn/verify/scan"


def _qr_tail(spec: InvoiceSpec) -> str:
    # Real tails are 3-4 hex characters of no documented meaning; derive them so bytes are stable.
    return f"{zlib.crc32(spec.number.encode()) & 0xFFFF:04X}"


def qr_payload(spec: InvoiceSpec) -> str:
    """The payload a real QR of this invoice carries (ignores spec.qr_payload)."""
    ymd = spec.issue_date.strftime("%Y%m%d")
    if spec.variant == "区块链":
        # The printed 5-hex 校验码 is the tail of the hash, as on real Shenzhen invoices.
        digest = hashlib.sha256(f"{spec.code}/{spec.number}".encode()).hexdigest()
        check = spec.check_code.lower()
        if len(check) == 5 and all(ch in "0123456789abcdef" for ch in check):
            digest = digest[:-5] + check
        fen = int(spec.total.quantize(_CENT, rounding=ROUND_HALF_UP) * 100)
        return f"{_SHENZHEN_VERIFY}?hash={digest}&bill_num={spec.number}&total_amount={fen}"
    kind = _QR_TYPE[spec.variant]
    if spec.variant in _SHUDIAN:
        # 数电: no 发票代码 or 校验码, and the amount includes tax (价税合计).
        return f"01,{kind},,{spec.number},{_money(spec.total)},{ymd},,{_qr_tail(spec)}"
    # Old style: the amount is the pre-tax 合计金额, and the payload ends with a comma.
    return f"01,{kind},{spec.code},{spec.number},{_money(spec.pretax)},{ymd},{spec.check_code},{_qr_tail(spec)},"


def drawn_qr_payload(spec: InvoiceSpec) -> str:
    """The payload actually drawn: spec.qr_payload if set, else qr_payload(spec)."""
    return qr_payload(spec) if spec.qr_payload is None else spec.qr_payload


def _qr_matrix(payload: str) -> list[list[bool]]:
    """Dark modules, row by row, from the same encoder QrCodeWidget uses (so PNG and PDF agree)."""
    code = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, _QR_LEVEL))
    code.addData(payload)
    code.make()
    return [[bool(module) for module in row] for row in code.modules]


def qr_image_png(payload: str, *, box: int = 4) -> bytes:
    """A PNG of the QR code: box pixels per module, black on white, 4-module quiet zone."""
    if box < 1:
        raise ValueError("box must be at least 1 pixel")
    matrix = _qr_matrix(payload)
    border = 4  # a standalone image carries the full quiet zone the standard asks for
    side = len(matrix) + 2 * border
    img = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                draw.point((c + border, r + border), fill=0)
    buf = io.BytesIO()
    img.resize((side * box, side * box), Image.Resampling.NEAREST).convert("1").save(buf, format="PNG")
    return buf.getvalue()


def _qr(page: _Page, x: float, top: float, size: float) -> None:
    """The QR code in a size x size box whose top-left corner is (x, top), when the spec wants one."""
    if not page.spec.qr:
        return
    widget = QrCodeWidget(
        drawn_qr_payload(page.spec), barLevel=_QR_LEVEL, barBorder=_QR_BORDER, barWidth=size, barHeight=size
    )
    # The widget's geometry, painted as one filled path: its own renderer wraps each module run
    # in q/Q with a dozen state operators (pdfminer then parsed every invoice 2.5x slower), and
    # separately filled runs leave anti-aliased seams that kept the 49-module 区块链 code from
    # decoding out of a 150-dpi raster.
    runs = [shape for shape in widget.draw().contents if shape.fillColor is not None]
    y = page.height - top - size

    def draw(c: Any) -> None:
        c.saveState()
        c.setFillColorRGB(0, 0, 0)
        path = c.beginPath()
        for run in runs:
            path.rect(x + run.x, y + run.y, run.width, run.height)
        c.drawPath(path, stroke=0, fill=1)
        c.restoreState()

    page.shapes.append(draw)


# ---------------------------------------------------------------------------
# Public builders
# ---------------------------------------------------------------------------


def _new_canvas(buf: io.BytesIO, width: float, height: float) -> Any:
    # invariant: no timestamps or random IDs, so equal specs give equal bytes.
    return Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=0)


def _build(spec: InvoiceSpec) -> list[_Page]:
    chunks = _pages(spec)
    build = _shudian_page if spec.variant in _SHUDIAN else _old_page
    return [build(spec, items, k + 1, len(chunks)) for k, items in enumerate(chunks)]


def _drawn_texts(spec: InvoiceSpec) -> list[str]:
    """Per page, every string drawn, concatenated in content-stream order (for round-trip tests)."""
    return ["".join(op.text for op in _stream_order(page)) for page in _build(spec)]


def invoice_pdf(spec: InvoiceSpec) -> bytes:
    """Draw the whole invoice described by spec and return the PDF bytes."""
    pages = _build(spec)
    # The ToUnicode map lists only this document's characters, so bytes do not depend on history.
    _QUARTZ.to_unicode.clear()
    buf = io.BytesIO()
    canvas = _new_canvas(buf, pages[0].width, pages[0].height)
    canvas.setProducer("fapiao-inbox test generator")
    for page in pages:
        _render(canvas, page)
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def image_only_pdf() -> bytes:
    """A one-page PDF holding only a raster image (a scan): no text layer at all."""
    width, height = 1190, 794  # 595.28 x 396.85 pt at 144 dpi
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    rng = random.Random(20250101)
    draw.rectangle((20, 176, 1170, 712), outline=90, width=2)
    draw.rectangle((400, 40, 780, 80), fill=60)  # where a title would be
    for row in range(18):
        y = 190 + row * 28
        x = 40
        while x < 1120:
            w = rng.randint(20, 120)
            draw.rectangle((x, y, min(x + w, 1150), y + 14), fill=rng.randint(30, 110))
            x += w + rng.randint(12, 40)
    buf = io.BytesIO()
    canvas = _new_canvas(buf, _SD_W, _SD_H)
    canvas.drawImage(ImageReader(img), 0, 0, width=_SD_W, height=_SD_H)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def image_only_invoice_pdf(spec: InvoiceSpec, *, dpi: int = 150) -> bytes:
    """Page 1 of invoice_pdf(spec) rasterised (pypdfium2) into a one-page image-only PDF, like a scan.

    STSong-Light is not embedded: pdfium draws the Chinese text only when a system CJK font is
    installed (scripts/test installs fonts-wqy-microhei); the QR code is always there.
    """
    document = pdfium.PdfDocument(invoice_pdf(spec))
    try:
        page = document[0]
        width, height = page.get_size()
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
        page.close()
    finally:
        document.close()
    buf = io.BytesIO()
    canvas = _new_canvas(buf, width, height)
    canvas.drawImage(ImageReader(image), 0, 0, width=width, height=height)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


def not_invoice_pdf() -> bytes:
    """A one-page Chinese+English meeting notice: text, dates and money, but no invoice."""
    lines = [
        (16.0, "关于召开2025年第三季度工作例会的通知"),
        (12.0, "Notice: Q3 2025 Staff Meeting"),
        (10.5, "各部门："),
        (10.5, "定于2025年07月29日（星期二）14:00在示例大厦3楼会议室召开季度例会。"),
        (10.5, "The meeting starts at 14:00 on 29 July 2025, Room 301."),
        (10.5, "会议预算：¥1200.00，请参会人员会后提交差旅发票报销。"),
        (10.5, "联系人：周敏  电话：010-55550188"),
        (10.5, "Please reply by 25 July 2025. Thank you."),
        (10.5, "示例科技有限公司行政部  2025年07月20日"),
    ]
    buf = io.BytesIO()
    canvas = _new_canvas(buf, 595.28, 841.89)
    y = 780.0
    for size, text in lines:
        canvas.setFont(_FONT, size)
        canvas.drawString(60.0, y, text)
        y -= size * 2.2
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


# ---------------------------------------------------------------------------
# Sample specs
# ---------------------------------------------------------------------------


def _item(name: str, amount: str, rate: str, tax: str | None) -> Item:
    return Item(name, Decimal(amount), rate, None if tax is None else Decimal(tax))


def _sample(variant: str) -> InvoiceSpec:
    # All names, numbers and IDs are invented; the IDs carry valid check characters.
    if variant == "数电普票":
        return InvoiceSpec(
            variant=variant,
            number="25117000000012345678",
            issue_date=date(2025, 7, 29),
            buyer=Party("示例理工大学", uscc("12110000MB1234567")),
            seller=Party("星河示例文具有限公司", uscc("91110108MA01AB2C3")),
            items=(
                _item("*文具*中性笔", "40.71", "13%", "5.29"),
                _item("*纸制品*打印纸", "53.10", "13%", "6.90"),
            ),
            remarks="订单号:SL2025072900017",
        )
    if variant == "数电专票":
        return InvoiceSpec(
            variant=variant,
            number="25327000000098765432",
            issue_date=date(2025, 9, 13),
            buyer=Party("蓝湾示例信息技术有限公司", uscc("91320214MA1XYW7Q0")),
            seller=Party("示例科技（杭州）股份有限公司", uscc("91330106MA2CD4E5F")),
            items=(_item("*信息技术服务*软件维护服务", "1000.00", "6%", "60.00"),),
        )
    if variant == "电子普票(旧)":
        return InvoiceSpec(
            variant=variant,
            number="51234567",
            code="011001900111",
            check_code="12345678901234567890",
            issue_date=date(2019, 7, 20),
            buyer=Party("个人", ""),
            seller=Party("示例商贸有限公司", uscc("91120110MA06XY2K1")),
            items=(
                _item("*其他食品*坚果礼盒", "45.13", "13%", "5.87"),
                _item("*其他食品*坚果礼盒", "-4.42", "13%", "-0.58"),
            ),
            remarks="订单号:700012345678",
        )
    if variant == "电子专票(旧)":
        return InvoiceSpec(
            variant=variant,
            number="00123456",
            code="011002000113",
            check_code="09876543210987654321",
            issue_date=date(2020, 11, 18),
            buyer=Party("示例制造有限公司", uscc("91110302MA00PQ8R1")),
            seller=Party("示例物流运输有限公司", uscc("91110105MA01KL3M2")),
            items=(_item("*运输服务*货物运输服务", "917.43", "9%", "82.57"),),
        )
    if variant == "通行费":
        return InvoiceSpec(
            variant=variant,
            number="31234567",
            code="011001800112",
            check_code="11223344556677889900",
            issue_date=date(2018, 3, 23),
            buyer=Party("示例物流运输有限公司", uscc("91110105MA01KL3M2")),
            seller=Party("示例路桥运营有限公司", uscc("91110000MA00RB4T3")),
            items=(_item("*经营租赁*通行费", "16.50", "3%", "0.50"),),
        )
    if variant == "区块链":
        return InvoiceSpec(
            variant=variant,
            number="29876543",
            code="144031900110",
            check_code="a3f9c",
            issue_date=date(2024, 7, 23),
            buyer=Party("示例理工大学", uscc("12110000MB1234567")),
            seller=Party("深圳示例餐饮管理有限公司", uscc("91440300MA5ABCD12")),
            items=(_item("*餐饮服务*餐费", "97.09", "3%", "2.91"),),
        )
    raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")


def sample_spec(variant: str = "数电普票", **overrides: Any) -> InvoiceSpec:
    """A valid, fully filled fictitious invoice of that variant; overrides as dataclasses.replace."""
    return dataclasses.replace(_sample(variant), **overrides)
