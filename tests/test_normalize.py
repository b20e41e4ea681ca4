"""Unit tests of the pure normalisers, with literal inputs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest.extract.normalize import (
    digits_only,
    fold,
    parse_amount,
    parse_capital_amount,
    parse_date,
    tax_id_text,
)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("电\u2f26发票（普通发票）", "电子发票(普通发票)"),  # Kangxi radical ⼦, full-width parentheses
        ("\u2ed3期", "长期"),  # CJK Radicals Supplement ⻓, which NFKC leaves alone
        ("\u2ec5", "见"),
        ("￥117.00", "¥117.00"),
        ("发票号码：", "发票号码:"),
        ("﹊﹋﹌", "   "),  # the toll invoices' wavy lines: no combining overline left behind
        ("ＡＢＣ１２３", "ABC123"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("¥117.00", Decimal("117.00")),
        ("￥17.34", Decimal("17.34")),
        ("¥ 117.00", Decimal("117.00")),
        ("1,234.50", Decimal("1234.50")),
        ("-5.00", Decimal("-5.00")),
        ("¥-5.00", Decimal("-5.00")),
        ("-¥5.00", Decimal("-5.00")),
        ("12", Decimal("12.00")),
        ("0.5", Decimal("0.50")),
    ],
)
def test_parse_amount(text: str, amount: Decimal) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["", "***", "1.2.3", "abc", "12.345", "--5", "-¥-5.00", "1,23.00"])
def test_parse_amount_rejects(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("壹佰零陆圆整", "106"),
        ("⊗壹佰零陆圆整", "106"),
        ("ⓧ肆拾壹圆整", "41"),
        ("壹拾柒元叁角肆分", "17.34"),
        ("壹拾伍圆零肆分", "15.04"),
        ("伍角整", "0.5"),
        ("伍拾叁圆肆角", "53.4"),
        ("壹佰零伍圆捌角整", "105.8"),
        ("壹仟零伍圆捌角整", "1005.8"),
        ("壹万圆整", "10000"),
        ("壹拾万圆零伍分", "100000.05"),
        ("壹万肆仟肆佰陆拾肆圆壹角壹分", "14464.11"),
        ("壹亿贰仟万圆整", "120000000"),
        ("负壹佰零陆圆整", "-106"),
        ("拾伍圆整", "15"),
        ("壹 佰 零 陆 圆 整", "106"),
    ],
)
def test_parse_capital_amount(text: str, amount: str) -> None:
    assert parse_capital_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "整", "壹佰零陆", "壹佰零陆圆Q", "壹佰圆伍", "肆拾柒圆伍角伍"])
def test_parse_capital_amount_rejects(text: str) -> None:
    assert parse_capital_amount(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年06月21日", date(2024, 6, 21)),
        ("2019 年 07 月 20 日", date(2019, 7, 20)),
        ("2024 06 07", date(2024, 6, 7)),
        ("2024-06-21", date(2024, 6, 21)),
        ("20240621", date(2024, 6, 21)),
        ("2024年6月1日", date(2024, 6, 1)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "2024年13月01日", "2023年02月29日", "no date"])
def test_parse_date_rejects(text: str) -> None:
    assert parse_date(text) is None


def test_tax_id_text_and_digits() -> None:
    assert tax_id_text(" 91440300ma5gfqkc9f ") == "91440300MA5GFQKC9F"
    assert tax_id_text("９１４４") == "9144"
    assert digits_only("No.１２３-45") == "12345"
