"""Every merge rule between a primary source and the QR code, with literal values."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from ingest.extract.merge import merge_qr
from ingest.extract.qr import parse_payload
from ingest.model import InvoiceFields, Variant

DIGITAL_QR = parse_payload("01,32,,25322000000350147748,117.00,20250729,,2176")
OLD_QR = parse_payload("01,10,012001900111,51142414,47.26,20190720,65431824771847114698,8BDD,")

DIGITAL_TEXT = InvoiceFields(
    variant=Variant.DIGITAL_ORDINARY,
    invoice_number="25322000000350147748",
    issue_date=date(2025, 7, 29),
    total=Decimal("117.00"),
    pretax=Decimal("103.54"),
    tax=Decimal("13.46"),
    seller_name="示例科技有限公司",
)
OLD_TEXT = InvoiceFields(
    variant=Variant.OLD_ORDINARY,
    invoice_code="012001900111",
    invoice_number="51142414",
    issue_date=date(2019, 7, 20),
    total=Decimal("53.40"),
    pretax=Decimal("47.26"),
    tax=Decimal("6.14"),
    check_code="65431824771847114698",
)


def test_agreement_confirms_and_keeps_values() -> None:
    merged = merge_qr(DIGITAL_TEXT, "text", DIGITAL_QR)
    assert merged.problems == []
    assert merged.fields == DIGITAL_TEXT
    assert merged.sources["invoice_number"] == "text+qr"
    assert merged.sources["total"] == "text+qr"
    assert merged.sources["issue_date"] == "text+qr"
    assert merged.sources["seller_name"] == "text"
    assert merged.sources["pretax"] == "text"


def test_old_style_qr_amount_is_compared_with_pre_tax_not_total() -> None:
    merged = merge_qr(OLD_TEXT, "text", OLD_QR)
    assert merged.problems == []
    assert merged.sources["pretax"] == "text+qr"
    assert merged.sources["total"] == "text"
    assert merged.sources["check_code"] == "text+qr"
    assert merged.sources["invoice_code"] == "text+qr"


def test_disagreement_names_both_values_and_keeps_the_primary() -> None:
    wrong = dataclasses.replace(DIGITAL_TEXT, invoice_number="25322000000350147749", total=Decimal("171.00"))
    merged = merge_qr(wrong, "text", DIGITAL_QR)
    assert merged.fields.invoice_number == "25322000000350147749"
    assert "invoice_number: text says 25322000000350147749, QR code says 25322000000350147748" in merged.problems
    assert "total: text says 171.00, QR code says 117.00" in merged.problems


def test_date_and_variant_disagreements() -> None:
    wrong = dataclasses.replace(DIGITAL_TEXT, issue_date=date(2025, 7, 28), variant=Variant.DIGITAL_SPECIAL)
    merged = merge_qr(wrong, "text", DIGITAL_QR)
    assert "issue_date: text says 2025-07-28, QR code says 2025-07-29" in merged.problems
    assert "variant: text says 数电专票, QR code says 数电普票" in merged.problems


def test_missing_text_values_come_from_the_qr() -> None:
    merged = merge_qr(InvoiceFields(pages=1), "text", DIGITAL_QR)
    assert merged.problems == []
    assert merged.fields.invoice_number == "25322000000350147748"
    assert merged.fields.total == Decimal("117.00")
    assert merged.fields.pretax is None
    assert merged.sources == {
        "variant": "qr",
        "invoice_number": "qr",
        "issue_date": "qr",
        "total": "qr",
    }


def test_old_style_qr_alone_gives_pre_tax_not_total() -> None:
    merged = merge_qr(InvoiceFields(pages=1), "text", OLD_QR)
    assert merged.fields.pretax == Decimal("47.26")
    assert merged.fields.total is None


def test_without_a_qr_everything_is_from_the_primary_source() -> None:
    merged = merge_qr(OLD_TEXT, "ofd", None)
    assert merged.problems == []
    assert set(merged.sources.values()) == {"ofd"}


def test_check_code_case_does_not_matter() -> None:
    qr = parse_payload(
        "https://bcfp.shenzhen.chinatax.gov.cn/verify/scan?hash="
        + "A" * 59
        + "F301B&bill_num=29960050&total_amount=4750"
    )
    text = InvoiceFields(variant=Variant.SHENZHEN_BLOCKCHAIN, invoice_number="29960050", check_code="f301b")
    merged = merge_qr(text, "text", qr)
    assert merged.problems == []
    assert merged.sources["check_code"] == "text+qr"
