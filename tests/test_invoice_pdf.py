"""Tests of the synthetic invoice generator itself: what pdfplumber reads back is what was drawn."""

from __future__ import annotations

import dataclasses
import io
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pdfplumber
import pypdfium2 as pdfium
import pytest
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st
from invoice_pdf import (
    VARIANTS,
    InvoiceSpec,
    Item,
    Party,
    _drawn_texts,  # private: the generator's own list of what it drew
    capital_amount,
    drawn_qr_payload,
    image_only_invoice_pdf,
    image_only_pdf,
    invoice_pdf,
    not_invoice_pdf,
    qr_image_png,
    qr_payload,
    sample_spec,
    uscc,
)
from PIL import Image

SHUDIAN = ("数电普票", "数电专票")
OLD = ("电子普票(旧)", "电子专票(旧)", "通行费", "区块链")
TITLES = {
    "数电普票": "电子发票（普通发票）",
    "数电专票": "电子发票（增值税专用发票）",
    "电子普票(旧)": "北京增值税电子普通发票",
    "电子专票(旧)": "增值税电子专用发票",
    "通行费": "北京增值税电子普通发票",
    "区块链": "深圳电子普通发票",
}


@dataclass(frozen=True)
class PageRead:
    width: float
    height: float
    chars: tuple[dict[str, Any], ...]
    words: tuple[dict[str, Any], ...]
    images: int

    @property
    def text(self) -> str:
        return "".join(c["text"] for c in self.chars)

    def word_texts(self) -> list[str]:
        return [w["text"] for w in self.words]

    def word(self, text: str) -> dict[str, Any]:
        found = [w for w in self.words if w["text"] == text]
        assert found, f"no word {text!r} in {self.word_texts()}"
        return found[0]

    def char_indices(self, text: str) -> list[int]:
        """Indices in page.chars (content-stream order) of every word equal to text."""
        index = {(c["text"], c["x0"], c["top"]): i for i, c in enumerate(self.chars)}
        out = [index[(c["text"], c["x0"], c["top"])] for w in self.words if w["text"] == text for c in w["chars"]]
        assert out, f"no word {text!r} in {self.word_texts()}"
        return out


def read_pdf(data: bytes) -> tuple[PageRead, ...]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return tuple(
            PageRead(
                width=float(p.width),
                height=float(p.height),
                chars=tuple(p.chars),
                words=tuple(p.extract_words(return_chars=True)),
                images=len(p.images),
            )
            for p in pdf.pages
        )


@cache
def read(spec: InvoiceSpec) -> tuple[PageRead, ...]:
    # Specs are frozen and hashable: each distinct PDF is drawn and parsed once per run.
    return read_pdf(invoice_pdf(spec))


def one_page(spec: InvoiceSpec) -> PageRead:
    pages = read(spec)
    assert len(pages) == 1
    return pages[0]


def date_text(spec: InvoiceSpec) -> str:
    d = spec.issue_date
    return f"{d.year:04d}年{d.month:02d}月{d.day:02d}日"


# ---------------------------------------------------------------------------
# Every variant renders and reads back
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_reads_back_as_drawn(variant: str) -> None:
    spec = sample_spec(variant)
    data = invoice_pdf(spec)
    assert data.startswith(b"%PDF-")
    page = one_page(spec)
    assert (round(page.width), round(page.height)) == ((595, 397) if variant in SHUDIAN else (609, 394))
    assert TITLES[variant] in page.text
    words = page.word_texts()
    for value in (spec.number, date_text(spec), spec.buyer.name, spec.seller.name, spec.seller.tax_id):
        assert value in words
    if spec.buyer.tax_id:
        assert spec.buyer.tax_id in words
    assert capital_amount(spec.total) in words
    assert f"¥{spec.total:.2f}" in words
    assert f"¥{spec.pretax:.2f}" in words
    if variant in OLD:
        assert spec.code in words
        if variant == "区块链":
            assert spec.check_code in words
        else:  # 20 digits printed as 4 groups of 5
            groups = [spec.check_code[i : i + 5] for i in range(0, 20, 5)]
            assert " ".join(groups) in page.text
    if variant == "通行费":
        assert {"通行费", "﹊﹋﹌", "车牌号", "通行日期起"} <= set(words)


EVERY_PITFALL: dict[str, Any] = {
    "layered": True,
    "letter_spaced_labels": True,
    "margin_note": True,
    "kangxi": True,
    "yen": "￥",
    "yen_separate": True,
    "offpage_text": True,
    "items_per_page": 1,
    "remarks": "第一行备注\n第二行备注",
}


@pytest.mark.parametrize("pitfalls", [{}, EVERY_PITFALL], ids=["plain", "every-pitfall"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_text_layer_is_exactly_what_was_drawn(variant: str, pitfalls: dict[str, Any]) -> None:
    spec = sample_spec(variant, **pitfalls)
    assert [page.text for page in read(spec)] == _drawn_texts(spec)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sample_specs_are_consistent(variant: str) -> None:
    spec = sample_spec(variant)
    assert spec.variant == variant
    assert len(spec.number) == (20 if variant in SHUDIAN else 8)
    assert len(spec.code) == (0 if variant in SHUDIAN else 12)
    assert spec.items
    for party in (spec.buyer, spec.seller):
        assert party.tax_id == "" or uscc(party.tax_id[:17]) == party.tax_id
    assert spec.total == spec.pretax + (spec.tax or 0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_values_sit_on_their_label_baseline_to_its_right(variant: str) -> None:
    spec = sample_spec(variant)
    page = one_page(spec)
    label = page.word("发票号码：" if variant in SHUDIAN else "发票号码:")
    number = page.word(spec.number)
    assert abs(number["top"] - label["top"]) < 1.5
    assert number["x0"] > label["x1"] + 3  # a separate word, not fused to the label
    if variant in SHUDIAN:
        # Buyer and seller on one text line, split by x (pitfall 2).
        buyer, seller = page.word(spec.buyer.name), page.word(spec.seller.name)
        assert abs(buyer["top"] - seller["top"]) < 0.5
        assert buyer["x1"] < 297 < seller["x0"]
        assert [w["x0"] for w in page.words if w["text"] == "名称："] == pytest.approx([32.7, 317.6])


def test_same_spec_gives_identical_bytes() -> None:
    spec = sample_spec("电子普票(旧)", layered=True, kangxi=True)
    first = invoice_pdf(spec)
    invoice_pdf(sample_spec("区块链", kangxi=True))  # other radical-bearing labels in between
    assert invoice_pdf(spec) == first


# ---------------------------------------------------------------------------
# Pitfalls
# ---------------------------------------------------------------------------

LABELS = {
    "数电普票": ["发票号码：", "开票日期：", "名称：", "开票人：", "价税合计（大写）", "（小写）"],
    # 年/月/日 belong to the old-style template layer.
    "电子普票(旧)": ["发票代码:", "发票号码:", "开票日期:", "称:", "纳税人识别号:", "开票人:", "(小写)", *"年月日"],
    "区块链": ["发票代码:", "发票号码:", "开票日期:", "称:", "电子支付标识:", "开票人:", "(小写)"],
}


def values(spec: InvoiceSpec) -> list[str]:
    out = [spec.number, spec.buyer.name, spec.seller.name, spec.seller.tax_id, f"¥{spec.total:.2f}"]
    out.append(capital_amount(spec.total))
    if spec.variant in SHUDIAN:
        out.append(date_text(spec))
    else:
        out += [spec.code, f"{spec.issue_date:%Y}", f"{spec.issue_date:%m}"]
    return out


@pytest.mark.parametrize("variant", sorted(LABELS))
def test_layered_draws_every_label_before_any_value(variant: str) -> None:
    spec = sample_spec(variant, layered=True)
    page = one_page(spec)
    last_label = max(i for label in LABELS[variant] for i in page.char_indices(label))
    first_value = min(i for value in values(spec) for i in page.char_indices(value))
    assert last_label < first_value

    flat = one_page(sample_spec(variant))  # without layers a value follows its own label
    small = "（小写）" if variant in SHUDIAN else "(小写)"
    assert min(flat.char_indices(spec.number)) < max(flat.char_indices(small))


def test_layered_old_style_date_digits_are_apart_from_template_year_month_day() -> None:
    spec = sample_spec("电子普票(旧)", layered=True)
    page = one_page(spec)
    assert [w["text"] for w in page.words if 45 < w["top"] < 50 and w["x0"] > 470] == [
        "2019",
        "年",
        "07",
        "月",
        "20",
        "日",
    ]
    assert "年月日" in page.text  # the template layer
    assert "20190720" in page.text  # the data layer, later in text order
    assert date_text(spec) in one_page(sample_spec("电子普票(旧)")).word_texts()


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_seal_chars_come_back_rotated_and_red(variant: str) -> None:
    page = one_page(sample_spec(variant))
    rotated = [c for c in page.chars if abs(c["matrix"][1]) > 0.05]
    assert set("全国统制章局") <= {c["text"] for c in rotated}
    assert all(c["non_stroking_color"] == (0.85, 0.1, 0.1) for c in rotated)
    # pdfminer calls any rotation short of exactly ±90° "upright", as it does for the seals
    # in real files: filter seal characters by matrix, colour or region, not by `upright`.
    assert all(c["upright"] for c in rotated)

    plain = one_page(sample_spec(variant, seal=False))
    assert not [c for c in plain.chars if abs(c["matrix"][1]) > 0.05]
    assert "监" not in plain.text


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_margin_note_is_the_only_non_upright_text(variant: str) -> None:
    page = one_page(sample_spec(variant, margin_note=True))
    assert "".join(c["text"] for c in page.chars if not c["upright"]) == "下载次数：1"
    assert all(c["x0"] > page.width - 25 for c in page.chars if not c["upright"])
    assert all(c["upright"] for c in one_page(sample_spec(variant)).chars)


@pytest.mark.parametrize(("variant", "spaced"), [("数电普票", "发 票 号 码 ："), ("电子普票(旧)", "发 票 号 码 :")])
def test_letter_spaced_labels(variant: str, spaced: str) -> None:
    spec = sample_spec(variant, letter_spaced_labels=True)
    page = one_page(spec)
    assert spaced in page.text
    assert "发票号码" not in page.text  # the label is never whole
    number = page.word(spec.number)
    (ma,) = [w for w in page.words if w["text"] == "码" and abs(w["top"] - number["top"]) < 1.5]
    assert number["x0"] > ma["x1"]


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)", "区块链"])
def test_kangxi_radicals_read_back_and_fold_with_nfkc(variant: str) -> None:
    spec = sample_spec(variant, kangxi=True)
    text = one_page(spec).text
    assert "电\u2f26" in text  # 电⼦
    assert "开票\u2f47期" in text  # 开票⽇期
    assert "开票\u2f08" in text  # 开票⼈
    assert "\u2fa6" in text  # ⾦ of 金额
    assert unicodedata.normalize("NFKC", TITLES[variant]) in unicodedata.normalize("NFKC", text)
    assert spec.buyer.name in text and spec.seller.name in text  # data is never altered
    plain = one_page(sample_spec(variant)).text
    assert not set("\u2f26\u2f47\u2f08\u2fa6") & set(plain)


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_currency_sign_options(variant: str) -> None:
    spec = sample_spec(variant)
    total = f"{spec.total:.2f}"
    assert f"￥{total}" in one_page(dataclasses.replace(spec, yen="￥")).word_texts()
    bare = one_page(dataclasses.replace(spec, yen=""))
    assert total in bare.word_texts()
    assert "¥" not in bare.text and "￥" not in bare.text

    apart = one_page(dataclasses.replace(spec, yen_separate=True))
    figure = apart.word(total)
    signs = [w for w in apart.words if w["text"] == "¥" and abs(w["top"] - figure["top"]) < 3]
    assert len(signs) == 1
    assert figure["x0"] - signs[0]["x1"] > 3
    assert apart.text.count("¥") == 3  # 合计 amount, 合计 tax, （小写） total


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_offpage_copy_of_drawer_name(variant: str) -> None:
    page = one_page(sample_spec(variant, offpage_text=True))
    below = [w for w in page.words if w["top"] > page.height]
    assert len(below) == 1
    label = "开票人：" if variant in SHUDIAN else "开票人:"
    drawer = next(
        w for w in page.words if abs(w["top"] - page.word(label)["top"]) < 1 and w["x0"] > page.word(label)["x1"]
    )
    assert below[0]["text"] == drawer["text"]
    assert not [w for w in one_page(sample_spec(variant)).words if w["top"] > page.height]


@pytest.mark.parametrize("variant", ["电子普票(旧)", "区块链"])
def test_cipher_block_shares_the_buyer_baselines(variant: str) -> None:
    spec = sample_spec(variant)
    page = one_page(spec)
    name = page.word(spec.buyer.name)
    cipher = [w for w in page.words if w["x0"] > 365 and 80 < w["top"] < 145 and len(w["text"]) > 20]
    assert len(cipher) == (3 if variant == "区块链" else 4)
    assert min(abs(w["top"] - name["top"]) for w in cipher) < 4.5
    assert [w["text"] for w in page.words if 349 < w["x0"] < 353 and w["top"] < 140] == ["密", "码", "区"]
    quiet = one_page(sample_spec(variant, cipher_noise=False))
    assert "密" not in quiet.text
    assert not [w for w in quiet.words if w["x0"] > 365 and 80 < w["top"] < 145]


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_multi_page_repeats_header_and_puts_the_total_on_the_last_page(variant: str) -> None:
    items = tuple(Item(f"*办公用品*文件夹{i}", Decimal("10.00"), "13%", Decimal("1.30")) for i in range(20))
    spec = sample_spec(variant, items=items)
    pages = read(spec)
    assert len(pages) == 3
    for k, page in enumerate(pages, start=1):
        words = page.word_texts()
        assert {spec.number, spec.buyer.name, spec.seller.name, "共3页", f"第{k}页"} <= set(words)
        assert ("价税合计" in page.text) == (k == 3)
        assert ("合计" in page.text) == (k == 3)
    assert [sum(w["text"].startswith("*办公用品*") for w in p.words) for p in pages] == [8, 8, 4]
    assert "¥226.00" in pages[-1].word_texts()
    assert "¥80.00" in pages[0].word_texts()  # the page subtotal (小计), not the total


def test_single_page_prints_no_page_count() -> None:
    assert "共" not in one_page(sample_spec()).text


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_credit_note_prints_minus_and_fu(variant: str) -> None:
    spec = sample_spec(variant, items=(Item("*餐饮服务*餐费", Decimal("-100.00"), "6%", Decimal("-6.00")),))
    words = one_page(spec).word_texts()
    assert spec.total == Decimal("-106.00")
    assert {"¥-106.00", "¥-100.00", "¥-6.00", "负壹佰零陆圆整"} <= set(words)


def test_tax_exempt_items_print_stars() -> None:
    spec = sample_spec(items=(Item("*农产品*大米", Decimal("80.00"), "免税", None),))
    assert spec.tax is None
    assert spec.total == Decimal("80.00")
    words = one_page(spec).word_texts()
    assert {"免税", "***", "¥80.00", "捌拾圆整"} <= set(words)


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_capital_and_total_overrides_are_printed(variant: str) -> None:
    spec = sample_spec(variant, capital_total="壹佰圆整", total_override=Decimal("99.00"))
    words = one_page(spec).word_texts()
    assert {"壹佰圆整", "¥99.00"} <= set(words)
    assert capital_amount(spec.total) not in words


def test_buyer_without_tax_id_prints_no_id() -> None:
    spec = sample_spec("数电普票", buyer=Party("个人", ""))
    page = one_page(spec)
    assert "个人" in page.word_texts()
    ids = [w for w in page.words if abs(w["top"] - 125.0) < 1 and w["x0"] < 297]
    assert [w["text"] for w in ids] == ["统一社会信用代码/纳税人识别号："]


def test_image_only_pdf_has_no_text_layer() -> None:
    (page,) = read_pdf(image_only_pdf())
    assert page.chars == ()
    assert page.images == 1


# ---------------------------------------------------------------------------
# QR code
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str
    x0: float  # bounding box of the symbol in PDF points, pdfplumber-style (top from the top edge)
    top: float
    x1: float
    bottom: float


def decode_qr(data: bytes, scale: float = 2.0) -> list[Decoded]:
    """Every barcode on page 1, rendered as ingest/extract/qr.py renders it."""
    document = pdfium.PdfDocument(data)
    try:
        bitmap = document[0].render(scale=scale, grayscale=True)
        pixels = memoryview(bitmap.buffer).cast("B", (bitmap.height, bitmap.stride))
        found = []
        for barcode in zxingcpp.read_barcodes(pixels):
            pos = barcode.position
            xs = [pt.x / scale for pt in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)]
            ys = [pt.y / scale for pt in (pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right)]
            found.append(Decoded(barcode.text, min(xs), min(ys), max(xs), max(ys)))
        return found
    finally:
        document.close()


# Where the QR must sit (invoices.md): the top-left corner of each layout, in points.
QR_BOX = {"数电": (18.0, 17.0, 75.0, 74.0), "old": (15.0, 5.0, 75.0, 65.0)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_qr_decodes_to_the_payload_in_the_top_left_corner(variant: str) -> None:
    spec = sample_spec(variant)
    (found,) = decode_qr(invoice_pdf(spec))
    assert found.text == qr_payload(spec) == drawn_qr_payload(spec)
    x0, top, x1, bottom = QR_BOX["数电" if variant in SHUDIAN else "old"]
    assert x0 <= found.x0 < found.x1 <= x1
    assert top <= found.top < found.bottom <= bottom
    assert found.x1 - found.x0 > 45  # the symbol fills most of its box: real QR codes are ~2 cm


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        # 数电: no 发票代码 or 校验码; the amount is 价税合计 (tax included).
        ("数电普票", "01,32,,25117000000012345678,106.00,20250729,,"),
        ("数电专票", "01,31,,25327000000098765432,1060.00,20250913,,"),
        # Old style: the amount is the pre-tax 合计金额; 专票 is type 08; a trailing comma follows the tail.
        ("电子普票(旧)", "01,10,011001900111,51234567,40.71,20190720,12345678901234567890,"),
        ("电子专票(旧)", "01,08,011002000113,00123456,917.43,20201118,09876543210987654321,"),
        ("通行费", "01,10,011001800112,31234567,16.50,20180323,11223344556677889900,"),
    ],
)
def test_qr_payload_fields(variant: str, expected: str) -> None:
    spec = sample_spec(variant)
    payload = qr_payload(spec)
    assert payload.startswith(expected)
    tail = payload.removeprefix(expected)
    if variant in SHUDIAN:
        assert len(tail) == 4 and int(tail, 16) >= 0
    else:
        assert tail.endswith(",") and len(tail) == 5 and int(tail[:-1], 16) >= 0
    assert qr_payload(spec) == payload  # deterministic
    assert qr_payload(sample_spec(variant, number=spec.number[:-1] + "0")) != payload


def test_qr_payload_of_blockchain_invoice_is_a_url_with_the_total_in_fen() -> None:
    spec = sample_spec("区块链")
    url = urlsplit(qr_payload(spec))
    assert (url.scheme, url.netloc, url.path) == ("https", "bcfp.shenzhen.chinatax.gov.cn", "/verify/scan")
    query = {key: value for key, (value,) in parse_qs(url.query).items()}
    assert set(query) == {"hash", "bill_num", "total_amount"}
    assert len(query["hash"]) == 64 and int(query["hash"], 16) >= 0
    assert query["hash"].endswith(spec.check_code)  # the printed 5-hex 校验码 is the hash's tail
    assert query["bill_num"] == spec.number
    assert query["total_amount"] == "10000"  # 价税合计 100.00 in fen


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_qr_false_draws_none(variant: str) -> None:
    data = invoice_pdf(sample_spec(variant, qr=False))
    assert decode_qr(data) == []
    assert [p.text for p in read_pdf(data)] == [p.text for p in read(sample_spec(variant))]  # text unchanged


@pytest.mark.parametrize("variant", ["数电专票", "通行费"])
def test_qr_payload_override_is_what_decodes(variant: str) -> None:
    other = "01,32,,25117000000099999999,1.00,20250101,,ABCD"
    spec = sample_spec(variant, qr_payload=other)
    assert [d.text for d in decode_qr(invoice_pdf(spec))] == [other]
    assert drawn_qr_payload(spec) == other != qr_payload(spec)


@pytest.mark.parametrize("variant", VARIANTS)
def test_image_only_invoice_pdf_has_no_text_but_its_qr_decodes(variant: str) -> None:
    spec = sample_spec(variant)
    data = image_only_invoice_pdf(spec)
    (page,) = read_pdf(data)
    assert page.chars == ()
    assert page.images == 1
    assert (round(page.width), round(page.height)) == ((595, 397) if variant in SHUDIAN else (609, 394))
    assert [d.text for d in decode_qr(data)] == [qr_payload(spec)]


def test_image_only_invoice_pdf_dpi_sets_the_raster_size() -> None:
    spec = sample_spec()
    for dpi in (72, 144):
        with pdfplumber.open(io.BytesIO(image_only_invoice_pdf(spec, dpi=dpi))) as pdf:
            (image,) = pdf.pages[0].images
        width, height = image["srcsize"]
        # pdfium rounds the bitmap size up to whole pixels
        assert abs(width - 595.28 * dpi / 72) < 1 and abs(height - 396.85 * dpi / 72) < 1


@pytest.mark.parametrize("box", [2, 4, 8])
def test_qr_image_png_decodes(box: int) -> None:
    payload = qr_payload(sample_spec("区块链"))
    with Image.open(io.BytesIO(qr_image_png(payload, box=box))) as image:
        assert image.format == "PNG"
        # 49 modules (version 8) plus a 4-module quiet zone on each side
        assert image.size == (57 * box, 57 * box)
        assert [b.text for b in zxingcpp.read_barcodes(image.convert("L"))] == [payload]


def test_not_invoice_pdf_has_text_but_no_invoice_fields() -> None:
    (page,) = read_pdf(not_invoice_pdf())
    assert "会议" in page.text and "Meeting" in page.text
    for label in ("发票号码", "发票代码", "价税合计", "开票日期", "纳税人识别号"):
        assert label not in page.text


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="variant"):
        sample_spec("增值税发票")
    with pytest.raises(ValueError, match="variant"):
        sample_spec(variant="增值税发票")
    with pytest.raises(ValueError, match="yen"):
        sample_spec(yen="$")
    with pytest.raises(ValueError, match="items_per_page"):
        sample_spec(items_per_page=0)


# ---------------------------------------------------------------------------
# Capital numerals
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.50", "伍角整"),
        ("0.05", "伍分"),
        ("0.15", "壹角伍分"),
        ("1.00", "壹圆整"),
        ("10.00", "壹拾圆整"),
        ("15.04", "壹拾伍圆零肆分"),
        ("17.34", "壹拾柒圆叁角肆分"),
        ("105.80", "壹佰零伍圆捌角整"),
        ("106.00", "壹佰零陆圆整"),
        ("117.00", "壹佰壹拾柒圆整"),
        ("1005.80", "壹仟零伍圆捌角整"),
        ("1010.00", "壹仟零壹拾圆整"),
        ("10000.00", "壹万圆整"),
        ("100000.05", "壹拾万圆零伍分"),
        ("100100.00", "壹拾万零壹佰圆整"),
        ("101000.00", "壹拾万壹仟圆整"),
        ("100010000.00", "壹亿零壹万圆整"),
        ("100000001.00", "壹亿零壹圆整"),
        ("99999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖圆玖角玖分"),
        ("0.00", "零圆整"),
        ("-4.50", "负肆圆伍角整"),
        ("-106.00", "负壹佰零陆圆整"),
    ],
)
def test_capital_amount_literal_cases(amount: str, expected: str) -> None:
    assert capital_amount(Decimal(amount)) == expected


CAPITAL_CHARS = set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿圆角分整")
_DIGIT = {ch: i for i, ch in enumerate("零壹贰叁肆伍陆柒捌玖")}
_UNIT = {"拾": 10, "佰": 100, "仟": 1000}


def parse_capital(text: str) -> Decimal:
    """Independent reader for the round trip: sections split at 亿/万, then 圆/角/分."""
    sign = -1 if text.startswith("负") else 1
    text = text.removeprefix("负").removesuffix("整")
    integer_part, _, fraction = text.partition("圆") if "圆" in text else ("", "", text)
    total = 0
    section = 0
    digit = 0
    for ch in integer_part:
        if ch in _DIGIT:
            digit = _DIGIT[ch]
        elif ch in _UNIT:
            section += digit * _UNIT[ch]
            digit = 0
        else:  # 万 / 亿 close a section
            total += (section + digit) * (10_000 if ch == "万" else 100_000_000)
            section = digit = 0
    total += section + digit
    cents = total * 100
    if "角" in fraction:
        cents += _DIGIT[fraction[fraction.index("角") - 1]] * 10
    if "分" in fraction:
        cents += _DIGIT[fraction[fraction.index("分") - 1]]
    return sign * Decimal(cents) / 100


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2))
def test_capital_amount_uses_only_capital_numerals_and_round_trips(value: Decimal) -> None:
    text = capital_amount(value)
    assert set(text) <= CAPITAL_CHARS
    assert not text.startswith("零")
    assert "零零" not in text
    assert text.endswith("整") == (value * 100 % 10 == 0)
    assert parse_capital(text) == value
    assert capital_amount(-value) == "负" + text


# ---------------------------------------------------------------------------
# 统一社会信用代码
# ---------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_is_valid(code: str) -> bool:
    """GB 32100-2015 check, with the weights computed as 3**i mod 31 rather than copied."""
    if len(code) != 18 or any(ch not in ALPHABET for ch in code):
        return False
    total = sum(ALPHABET.index(ch) * pow(3, i, 31) for i, ch in enumerate(code[:17]))
    return ALPHABET[(31 - total % 31) % 31] == code[17]


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_uscc_check_character_verifies(prefix: str) -> None:
    code = uscc(prefix)
    assert code[:17] == prefix
    assert uscc_is_valid(code)
    wrong = ALPHABET[(ALPHABET.index(code[17]) + 1) % 31]
    assert not uscc_is_valid(code[:17] + wrong)


def test_uscc_rejects_bad_prefixes() -> None:
    for bad in ("9111010857712345", "911101085771234567", "91110108MA01AB2CI", "91110108MA01AB2Co"):
        with pytest.raises(ValueError):
            uscc(bad)


def test_spec_sums() -> None:
    items = (
        Item("a", Decimal("10.00"), "13%", Decimal("1.30")),
        Item("b", Decimal("-2.00"), "13%", Decimal("-0.26")),
        Item("c", Decimal("5.00"), "免税", None),
    )
    spec = sample_spec(items=items)
    assert (spec.pretax, spec.tax, spec.total) == (Decimal("13.00"), Decimal("1.04"), Decimal("14.04"))
    exempt = sample_spec(items=items[2:])
    assert exempt.tax is None
    assert exempt.total == Decimal("5.00")
