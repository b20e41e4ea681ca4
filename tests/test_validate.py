"""Unit tests of the validators: every check that can fail turns into a reason, with literal inputs."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from ingest.extract.validate import problems, tax_id_problem, uscc_check_char
from ingest.model import InvoiceFields, Variant

TODAY = date(2026, 11, 24)

GOOD_DIGITAL = InvoiceFields(
    variant=Variant.DIGITAL_ORDINARY,
    invoice_number="25322000000350147748",
    issue_date=date(2025, 7, 29),
    total=Decimal("117.00"),
    pretax=Decimal("103.54"),
    tax=Decimal("13.46"),
    total_in_words=Decimal("117.00"),
    seller_name="示例科技有限公司",
    seller_tax_id="91320583MA25CRY789",
    buyer_name="某某大学",
    buyer_tax_id="125000004504018996",
    pages=1,
)
GOOD_OLD = dataclasses.replace(
    GOOD_DIGITAL,
    variant=Variant.OLD_ORDINARY,
    invoice_code="012001900111",
    invoice_number="51142414",
    check_code="65431824771847114698",
)


@pytest.mark.parametrize(
    ("tax_id", "ok"),
    [
        ("91440300MA5GFQKC9F", True),
        ("91320583MA25CRY789", True),
        ("125000004504018996", True),
        ("91120223727492229X", True),
        ("91440300MA5GFQKC9E", False),  # wrong check character
        ("9150010807MGZHI002", False),  # I is not in the USCC alphabet
        ("32040419760706081301", True),  # 20-character legacy id of an individual business
        ("440301123456789", True),  # 15-character legacy id
        ("12345", False),
    ],
)
def test_tax_id_problem(tax_id: str, ok: bool) -> None:
    assert (tax_id_problem(tax_id) is None) is ok


def test_uscc_check_char() -> None:
    assert uscc_check_char("91440300MA5GFQKC9") == "F"
    assert uscc_check_char("9144030OMA5GFQKC9") is None  # letter O
    assert uscc_check_char("short") is None


def test_good_invoices_have_no_problems() -> None:
    assert problems(GOOD_DIGITAL, today=TODAY) == []
    assert problems(GOOD_OLD, today=TODAY) == []


def test_tax_exempt_total_equals_pretax() -> None:
    exempt = dataclasses.replace(
        GOOD_DIGITAL, tax=None, tax_exempt=True, total=Decimal("103.54"), total_in_words=Decimal("103.54")
    )
    assert problems(exempt, today=TODAY) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"variant": None}, "title not recognised"),
        ({"invoice_number": None}, "invoice_number not found"),
        ({"invoice_number": "2532200000035014774"}, "has 19 digits"),
        ({"issue_date": None}, "issue_date not found"),
        ({"issue_date": date(2027, 1, 1)}, "not a plausible date"),
        ({"issue_date": date(1999, 1, 1)}, "not a plausible date"),
        ({"total": None}, "total not found"),
        ({"total_in_words": Decimal("171.00")}, "in words (171.00) differs"),
        ({"tax": Decimal("13.45")}, "but 价税合计 is 117.00"),
        ({"tax": None}, "tax not found"),
        ({"seller_name": None}, "seller_name not found"),
        ({"seller_name": "示例公司 037+143*5*753"}, "does not look like a name"),
        ({"buyer_name": "名称:某某"}, "does not look like a name"),
        ({"seller_tax_id": None}, "seller_tax_id not found"),
        ({"seller_tax_id": "91320583MA25CRY788"}, "fails the 统一社会信用代码 check"),
        ({"buyer_tax_id": "1250000045040189"}, "is 16 characters"),
        ({"total_in_words": None, "pretax": None}, "could not be confirmed"),
    ],
)
def test_each_failed_check_gives_a_reason(change: dict[str, object], reason: str) -> None:
    found = problems(dataclasses.replace(GOOD_DIGITAL, **change), today=TODAY)  # type: ignore[arg-type]
    assert any(reason in p for p in found), found


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"invoice_code": None}, "invoice_code not found"),
        ({"invoice_code": "0120019001"}, None),  # 10-digit codes exist (older paper-era codes)
        ({"invoice_code": "01200190011"}, "has 11 digits"),
        ({"invoice_number": "5114241"}, "has 7 digits"),
        ({"check_code": "6543182477184711469"}, "is not 20 digits"),
    ],
)
def test_old_style_identity_checks(change: dict[str, object], reason: str | None) -> None:
    found = problems(dataclasses.replace(GOOD_OLD, **change), today=TODAY)  # type: ignore[arg-type]
    if reason is None:
        assert found == []
    else:
        assert any(reason in p for p in found), found


def test_blockchain_check_code_is_five_hex() -> None:
    blockchain = dataclasses.replace(GOOD_OLD, variant=Variant.SHENZHEN_BLOCKCHAIN, check_code="f301b")
    assert problems(blockchain, today=TODAY) == []
    found = problems(dataclasses.replace(blockchain, check_code="f301"), today=TODAY)
    assert any("5 hexadecimal" in p for p in found)
