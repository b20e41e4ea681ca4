"""OCR of scans: the pure reader of OCR words, Tesseract's TSV, and real Tesseract on generated scans."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest
from invoice_pdf import image_only_invoice_pdf, invoice_pdf, sample_spec

from ingest.extract.normalize import fold
from ingest.extract.ocr import read_ocr_fields
from ingest.extract.reader import extract_bytes
from ingest.extract.render import render_first_page
from ingest.extract.tesseract import OcrError, OcrWord, Tesseract, find_tesseract, parse_tsv
from ingest.model import Status

TODAY = date(2026, 1, 1)
PAGE_WIDTH = 3700
BUYER_ID = "12110000MB1234567G"
SELLER_ID = "91110108MA01AB2C3T"


def line(number: int, top: int, *pieces: tuple[int, str]) -> list[OcrWord]:
    """One OCR line: (left, text) pieces, each 40 px high and 50 px per character wide."""
    return [OcrWord(text, left, top, 50 * len(text), 40, (1, 1, number)) for left, text in pieces]


def digital_layout(
    buyer_name: str = "示例理工大学",
    seller_name: str = "星河示例文具有限公司",
    buyer_id: str = BUYER_ID,
    seller_id: str = SELLER_ID,
    pretax: str = "¥93.81",
    tax: str = "¥12.19",
) -> list[OcrWord]:
    """A 数电 page as Tesseract reads it: buyer left, seller right, with the junk it adds."""
    return [
        *line(1, 100, (2900, "发票号码:25117000000012345678")),
        *line(
            2, 500, (80, "购"), (180, "名称:"), (420, buyer_name), (1650, "全"), (1900, "|名称:"), (2200, seller_name)
        ),
        *line(3, 700, (180, "统一社会信用代码/纳税人识别号:"), (1000, buyer_id), (1950, "识别号:"), (2300, seller_id)),
        *line(4, 900, (200, "项目名称"), (900, "规格型号"), (2500, "金额")),
        *line(5, 1500, (300, "it"), (2500, pretax), (3400, tax)),
        *line(6, 1600, (300, "价税合计(大写)"), (2400, "(小写)"), (2700, "¥106.00")),
        *line(7, 1800, (200, "开户行及账号:示例银行"), (1200, "310002740900880120")),
    ]


def old_style_layout() -> list[OcrWord]:
    """An old-style page: buyer at the top, seller below the totals, both in the left column."""
    return [
        *line(1, 300, (120, "名"), (300, "称:"), (500, "示例制造有限公司"), (2600, "密码区")),
        *line(2, 380, (120, "纳税人识别号:"), (700, BUYER_ID)),
        *line(3, 1100, (300, "合计"), (2500, "¥917.43"), (3400, "¥82.57")),
        *line(4, 1200, (300, "价税合计(大写)"), (2400, "(小写)"), (2700, "¥1000.00")),
        *line(5, 1300, (120, "名称:"), (500, "示例物流运输有限公司")),
        *line(6, 1380, (120, "纳税人识别号:"), (700, SELLER_ID)),
    ]


def read(words: list[OcrWord], total: str | None = "106.00", pretax: str | None = None) -> dict[str, object]:
    fields = read_ocr_fields(
        words,
        page_width=PAGE_WIDTH,
        known_total=Decimal(total) if total else None,
        known_pretax=Decimal(pretax) if pretax else None,
    )
    names = ("seller_name", "seller_tax_id", "buyer_name", "buyer_tax_id", "pretax", "tax", "total")
    return {name: getattr(fields, name) for name in names}


def test_digital_layout_reads_both_columns() -> None:
    assert read(digital_layout()) == {
        "seller_name": "星河示例文具有限公司",
        "seller_tax_id": SELLER_ID,
        "buyer_name": "示例理工大学",
        "buyer_tax_id": BUYER_ID,
        "pretax": Decimal("93.81"),
        "tax": Decimal("12.19"),
        "total": Decimal("106.00"),
    }


def test_old_layout_puts_the_block_below_the_totals_on_the_seller() -> None:
    got = read(old_style_layout(), total=None, pretax="917.43")
    assert got == {
        "seller_name": "示例物流运输有限公司",
        "seller_tax_id": SELLER_ID,
        "buyer_name": "示例制造有限公司",
        "buyer_tax_id": BUYER_ID,
        "pretax": Decimal("917.43"),
        "tax": Decimal("82.57"),
        "total": Decimal("1000.00"),  # printed (小写), accepted because the QR's pretax + OCR tax close it
    }


def test_a_misread_tax_id_fails_its_check_and_is_left_out() -> None:
    misread = SELLER_ID.replace("MA01", "MAO1")  # O for 0: the check character no longer fits
    got = read(digital_layout(seller_id=misread))
    assert got["seller_tax_id"] is None
    assert got["buyer_tax_id"] == BUYER_ID


def test_an_18_character_run_inside_a_longer_number_is_not_a_tax_id() -> None:
    # The 20-digit invoice number and a bank account line hold 18-character runs; neither is a tax id.
    words = [*line(1, 100, (2900, "发票号码:25442000000171936369")), *digital_layout(seller_id="", buyer_id="")]
    got = read(words)
    assert (got["seller_tax_id"], got["buyer_tax_id"]) == (None, None)


def test_amounts_with_a_comma_for_the_point_are_read_when_they_add_up() -> None:
    got = read(digital_layout(pretax="¥ 93, 81", tax="¥12. 19"))
    assert (got["pretax"], got["tax"]) == (Decimal("93.81"), Decimal("12.19"))


def test_amounts_that_do_not_add_up_to_the_qr_total_are_left_out() -> None:
    got = read(digital_layout(pretax="¥98.81"))  # one digit misread
    assert (got["pretax"], got["tax"], got["total"]) == (None, None, None)


def test_without_a_qr_amount_the_printed_total_must_close_the_sum() -> None:
    assert read(digital_layout(), total=None)["total"] == Decimal("106.00")
    words = [
        w if w.text != "¥106.00" else OcrWord("¥108.00", w.left, w.top, w.width, w.height, w.line)
        for w in digital_layout()
    ]
    assert read(words, total=None)["pretax"] is None


def test_names_are_cleaned_of_stray_marks_and_ocr_brackets() -> None:
    got = read(digital_layout(buyer_name="”示例理工大学", seller_name="轮趣科技〈东莞) 有限公司 ="))
    assert got["buyer_name"] == "示例理工大学"
    assert got["seller_name"] == "轮趣科技(东莞)有限公司"


def test_two_different_readings_for_one_role_give_none() -> None:
    words = [*digital_layout(), *line(9, 1700, (1900, "名称:"), (2200, "别的公司"))]
    got = read(words)
    assert got["seller_name"] is None
    assert got["buyer_name"] == "示例理工大学"


def test_the_items_header_is_not_a_name_label() -> None:
    words = line(1, 900, (200, "项目名称"), (500, "规格型号"))
    assert read(words)["buyer_name"] is None


TSV = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    "1\t1\t0\t0\t0\t0\t0\t0\t3722\t2482\t-1\t\n"
    "5\t1\t1\t1\t8\t9\t913\t806\t31\t29\t87.1\t号\n"
    "5\t1\t1\t1\t8\t10\t966\t788\t793\t47\t78.5\t:125000004504018996\n"
    "5\t1\t1\t1\t8\t11\t1891\t772\t38\t91\t53.0\t \n"
)


def test_parse_tsv_keeps_words_with_their_boxes_and_lines() -> None:
    assert parse_tsv(TSV) == [
        OcrWord("号", 913, 806, 31, 29, (1, 1, 8)),
        OcrWord(":125000004504018996", 966, 788, 793, 47, (1, 1, 8)),
    ]


def test_parse_tsv_rejects_a_row_it_cannot_read() -> None:
    with pytest.raises(OcrError, match="cannot read"):
        parse_tsv(TSV.replace("\t913\t", "\tx\t"))


# --- real Tesseract on generated scans -------------------------------------------------------------


def _cjk_renders() -> bool:
    """pdfium draws the generator's non-embedded STSong-Light only with a system CJK font installed."""
    image = render_first_page(invoice_pdf(sample_spec("数电普票", qr=False, seal=False)), scale=1.0)
    assert image is not None
    darkest, _ = image.crop((image.width // 3, 0, 2 * image.width // 3, image.height // 8)).getextrema()
    return bool(darkest < 128)


@pytest.fixture(scope="module")
def tesseract() -> Tesseract:
    found = find_tesseract()
    missing = []
    if found is None:
        missing.append("Tesseract with chi_sim (apt-get install tesseract-ocr tesseract-ocr-chi-sim)")
    if not _cjk_renders():
        missing.append("a CJK font for the scans (apt-get install fonts-wqy-microhei)")
    if missing:
        message = "OCR tests need " + " and ".join(missing) + "; scripts/test installs them where it may"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert found is not None
    return found


def test_ocr_reads_a_digital_scan_completely_but_leaves_it_for_review(tesseract: Tesseract) -> None:
    spec = sample_spec("数电普票")
    result = extract_bytes(image_only_invoice_pdf(spec, dpi=200), "scan.pdf", today=TODAY, ocr=tesseract)
    fields = result.fields
    assert result.status is Status.REVIEW
    assert (fields.seller_name, fields.seller_tax_id) == (fold(spec.seller.name), spec.seller.tax_id)
    assert (fields.buyer_name, fields.buyer_tax_id) == (fold(spec.buyer.name), spec.buyer.tax_id)
    assert (fields.pretax, fields.tax, fields.total) == (spec.pretax, spec.tax, spec.total)
    assert result.sources["seller_name"] == "ocr"
    assert result.sources["total"] == "qr"
    assert any(p.startswith("read by OCR, to be checked: pretax, tax, seller_name") for p in result.problems)


def test_ocr_gives_an_old_style_scan_its_total(tesseract: Tesseract) -> None:
    spec = sample_spec("电子专票(旧)")
    result = extract_bytes(image_only_invoice_pdf(spec, dpi=200), "scan.pdf", today=TODAY, ocr=tesseract)
    assert (result.fields.pretax, result.fields.tax, result.fields.total) == (spec.pretax, spec.tax, spec.total)
    assert (result.sources["pretax"], result.sources["total"]) == ("qr", "ocr")
    assert result.fields.seller_tax_id == spec.seller.tax_id


@pytest.mark.parametrize("variant", ["数电专票", "电子普票(旧)", "区块链", "通行费"])
def test_whatever_ocr_reads_on_a_scan_is_right(variant: str, tesseract: Tesseract) -> None:
    # Tesseract loses parts of some layouts (the 区块链 buyer block beside the 密码区); what it
    # does give must never be a wrong value.
    spec = sample_spec(variant)
    result = extract_bytes(image_only_invoice_pdf(spec, dpi=200), "scan.pdf", today=TODAY, ocr=tesseract)
    truth = {
        "seller_name": fold(spec.seller.name),
        "seller_tax_id": spec.seller.tax_id,
        "buyer_name": fold(spec.buyer.name),
        "buyer_tax_id": spec.buyer.tax_id or None,
        "pretax": spec.pretax,
        "tax": spec.tax,
        "total": spec.total,
    }
    from_ocr = [name for name, source in result.sources.items() if source == "ocr"]
    assert from_ocr, "OCR read nothing"
    assert {name: getattr(result.fields, name) for name in from_ocr} == {name: truth[name] for name in from_ocr}
    assert result.status is Status.REVIEW


def test_a_failing_tesseract_leaves_the_qr_values_and_says_why() -> None:
    spec = sample_spec("数电普票")
    result = extract_bytes(image_only_invoice_pdf(spec), "scan.pdf", today=TODAY, ocr=Tesseract("/bin/false"))
    assert result.status is Status.REVIEW
    assert "OCR failed: tesseract failed (exit 1): no message" in result.problems
    assert result.fields.total == spec.total
    assert result.fields.seller_name is None


def test_a_missing_tesseract_program_is_a_clear_reason() -> None:
    spec = sample_spec("数电普票")
    result = extract_bytes(
        image_only_invoice_pdf(spec), "scan.pdf", today=TODAY, ocr=Tesseract("/nonexistent/tesseract")
    )
    assert any(p.startswith("OCR failed: cannot run /nonexistent/tesseract") for p in result.problems)


def test_without_ocr_a_scan_says_what_is_missing() -> None:
    result = extract_bytes(image_only_invoice_pdf(sample_spec("数电普票")), "scan.pdf", today=TODAY)
    assert any(p.startswith("no OCR (off, or Tesseract with chi_sim not installed)") for p in result.problems)


def test_a_text_layer_pdf_is_never_sent_to_ocr() -> None:
    # /bin/false would add an 'OCR failed' reason if it were called.
    spec = sample_spec("数电普票")
    result = extract_bytes(invoice_pdf(spec), "text.pdf", today=TODAY, ocr=Tesseract("/bin/false"))
    assert result.status is Status.OK
    assert not any("OCR" in p for p in result.problems)
