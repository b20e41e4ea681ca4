"""Extraction end to end on generated invoices: every variant, every pitfall of invoices.md, every check."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from expectations import assert_read_right
from hypothesis import given, settings
from hypothesis import strategies as st
from invoice_pdf import (
    VARIANTS,
    InvoiceSpec,
    Item,
    Party,
    capital_amount,
    image_only_pdf,
    invoice_pdf,
    not_invoice_pdf,
    sample_spec,
    uscc,
)

from ingest.extract.normalize import fold, parse_capital_amount
from ingest.extract.reader import extract_bytes
from ingest.model import Extraction, Status

TODAY = date(2026, 11, 24)


def extract(spec: InvoiceSpec) -> Extraction:
    return extract_bytes(invoice_pdf(spec), "generated.pdf", today=TODAY)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_is_read_right_and_ok(variant: str) -> None:
    spec = sample_spec(variant)
    result = extract(spec)
    assert result.problems == ()
    assert result.status is Status.OK
    assert_read_right(result, spec)
    assert result.sources["invoice_number"] == "text+qr"


PITFALLS: list[dict[str, Any]] = [
    {"layered": True},
    {"letter_spaced_labels": True},
    {"seal": True},
    {"margin_note": True},
    {"kangxi": True},
    {"yen": "￥"},
    {"yen": ""},
    {"yen_separate": True},
    {"offpage_text": True},
    {"layered": True, "letter_spaced_labels": True, "yen_separate": True, "kangxi": True},
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("pitfall", PITFALLS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_pitfalls_do_not_change_what_is_read(variant: str, pitfall: dict[str, Any]) -> None:
    spec = sample_spec(variant, **pitfall)
    result = extract(spec)
    assert result.problems == ()
    assert_read_right(result, spec)


@pytest.mark.parametrize("variant", ["数电普票", "电子普票(旧)"])
def test_multi_page_invoice_takes_totals_from_the_last_page(variant: str) -> None:
    base = sample_spec(variant)
    items = tuple(Item(f"*办公用品*文件夹{i}", Decimal("10.00"), "13%", Decimal("1.30")) for i in range(1, 12))
    spec = dataclasses.replace(base, items=items, items_per_page=5)
    result = extract(spec)
    assert result.fields.pages == 3
    assert result.problems == ()
    assert_read_right(result, spec)


def test_credit_note_with_negative_total() -> None:
    spec = sample_spec("数电普票", items=(Item("*餐饮服务*餐费", Decimal("-100.00"), "6%", Decimal("-6.00")),))
    result = extract(spec)
    assert result.fields.total == Decimal("-106.00")
    assert result.fields.total_in_words == Decimal("-106.00")
    assert result.status is Status.OK


def test_discount_line_and_tax_exempt_items() -> None:
    items = (
        Item("*食品*饼干", Decimal("50.18"), "13%", Decimal("6.52")),
        Item("*食品*饼干", Decimal("-2.92"), "13%", Decimal("-0.38")),
    )
    result = extract(sample_spec("电子普票(旧)", items=items))
    assert (result.fields.pretax, result.fields.tax, result.fields.total) == (
        Decimal("47.26"),
        Decimal("6.14"),
        Decimal("53.40"),
    )
    assert result.status is Status.OK
    exempt = extract(sample_spec("数电普票", items=(Item("*农产品*大米", Decimal("80.00"), "免税", None),)))
    assert exempt.fields.tax is None
    assert exempt.fields.total == Decimal("80.00")
    assert exempt.status is Status.OK, exempt.problems


def test_buyer_without_tax_id() -> None:
    spec = sample_spec("电子普票(旧)", buyer=Party("个人", ""))
    result = extract(spec)
    assert result.fields.buyer_name == "个人"
    assert result.fields.buyer_tax_id is None
    assert result.status is Status.OK


def test_names_with_full_width_parentheses_and_odd_endings() -> None:
    seller = Party("聚光科技（杭州）股份有限公司", uscc("91330100MA2H3K4L5"[:17]))
    for name in ("某某五金商行（个体工商户）", "小怪兽气动元件销售中心"):
        spec = sample_spec("数电普票", seller=dataclasses.replace(seller, name=name))
        result = extract(spec)
        assert result.fields.seller_name == fold(name)
        assert result.status is Status.OK


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"capital_total": "壹佰圆整"}, "in words"),
        ({"total_override": Decimal("999.00")}, "价税合计"),
    ],
)
def test_inconsistent_amounts_go_to_review(change: dict[str, Any], reason: str) -> None:
    result = extract(sample_spec("数电普票", **change))
    assert result.status is Status.REVIEW
    assert any(reason in p for p in result.problems), result.problems


def test_bad_tax_id_goes_to_review() -> None:
    spec = sample_spec("数电专票")
    wrong = spec.seller.tax_id[:17] + ("0" if spec.seller.tax_id[17] != "0" else "1")
    result = extract(dataclasses.replace(spec, seller=Party(spec.seller.name, wrong)))
    assert result.status is Status.REVIEW
    assert any("seller_tax_id" in p and "check" in p for p in result.problems)


def test_future_date_goes_to_review() -> None:
    result = extract(sample_spec("数电普票", issue_date=date(2027, 3, 1)))
    assert result.status is Status.REVIEW
    assert any("plausible date" in p for p in result.problems)


def test_image_only_pdf_is_review_without_values() -> None:
    result = extract_bytes(image_only_pdf(), "scan.pdf", today=TODAY)
    assert result.status is Status.REVIEW
    assert "no text layer" in result.problems[0]
    assert result.fields.invoice_number is None


def test_ordinary_pdf_is_not_an_invoice() -> None:
    result = extract_bytes(not_invoice_pdf(), "notice.pdf", today=TODAY)
    assert result.status is Status.NOT_INVOICE


def test_json_contract() -> None:
    spec = sample_spec("电子普票(旧)")
    out = extract(spec).to_json_dict()
    assert list(out) == [
        "file", "status", "problems", "variant", "invoice_code", "invoice_number", "issue_date", "total",
        "pretax", "tax", "seller_name", "seller_tax_id", "buyer_name", "buyer_tax_id", "check_code",
        "pages", "sources",
    ]  # fmt: skip
    assert out["status"] == "ok"
    assert out["variant"] == "电子普票(旧)"
    assert out["issue_date"] == spec.issue_date.isoformat()
    assert out["total"] == f"{spec.total:.2f}"


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2))
def test_capital_numerals_round_trip(amount: Decimal) -> None:
    assert parse_capital_amount(capital_amount(amount)) == amount
    assert parse_capital_amount(capital_amount(-amount)) == -amount


def test_pdf_without_unicode_map_is_review_not_a_guess() -> None:
    result = extract(sample_spec("数电普票", unmapped_text=True, qr=False))
    assert result.status is Status.REVIEW
    assert "(cid:)" in result.problems[0]
    assert result.fields.invoice_number is None
    assert result.fields.total is None
