"""QR payload parsing with literal payloads: both kinds, and the tolerances real payloads need."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest.extract.qr import parse_payload
from ingest.model import Variant


def test_old_style_payload_amount_is_pre_tax() -> None:
    qr = parse_payload("01,10,042001700112,11162913,184.65,20180323,11241636206802490280,DDB1,")
    assert qr is not None
    assert qr.variant is Variant.OLD_ORDINARY
    assert (qr.invoice_code, qr.invoice_number) == ("042001700112", "11162913")
    assert qr.issue_date == date(2018, 3, 23)
    assert qr.amount == Decimal("184.65")
    assert qr.amount_includes_tax is False
    assert qr.check_code == "11241636206802490280"


def test_digital_payload_amount_includes_tax() -> None:
    qr = parse_payload("01,32,,25322000000350147748,117.00,20250729,,2176")
    assert qr is not None
    assert qr.variant is Variant.DIGITAL_ORDINARY
    assert qr.invoice_code is None
    assert qr.check_code is None
    assert qr.amount == Decimal("117.00")
    assert qr.amount_includes_tax is True
    special = parse_payload("01,31,,24122000000021651285,14464.11,20240422,,F916")
    assert special is not None and special.variant is Variant.DIGITAL_SPECIAL


@pytest.mark.parametrize(
    "payload",
    [
        "01,10,050001700111,12235358,10000.00,20200805,16630282980991510014,7257",  # no trailing comma
        "01,10,050001700111,12235358,10000.00,20200805,16630282980991510014,725,",  # 3-character tail
        "01,10,050001700111,12235358,10000,20200805,16630282980991510014,7257,",  # amount without cents
        " 01,10,050001700111,12235358,10000.00,20200805,16630282980991510014,7257,\n",
    ],
)
def test_tolerated_old_style_forms(payload: str) -> None:
    qr = parse_payload(payload)
    assert qr is not None
    assert qr.invoice_number == "12235358"
    assert qr.amount == Decimal("10000.00")


def test_single_space_for_an_empty_field() -> None:
    qr = parse_payload("01,32, ,25442000000171936369,144.00,20250328, ,4365")
    assert qr is not None
    assert qr.invoice_code is None
    assert qr.check_code is None
    assert qr.invoice_number == "25442000000171936369"


def test_one_decimal_amount_is_read_to_the_fen() -> None:
    qr = parse_payload("01,10,044001700112,36151707,51.2,20180323,13610032493225906141,3612,")
    assert qr is not None and qr.amount == Decimal("51.20")


def test_shenzhen_url_amount_is_in_fen_and_check_code_is_the_hash_tail() -> None:
    qr = parse_payload(
        "https://bcfp.shenzhen.chinatax.gov.cn/verify/scan?hash=01913daee791050eb35525baa134ec65fe78"
        "dbf36a9cbdeae9aafd4def85df301b&bill_num=29960050&total_amount=4750"
    )
    assert qr is not None
    assert qr.variant is Variant.SHENZHEN_BLOCKCHAIN
    assert qr.invoice_number == "29960050"
    assert qr.amount == Decimal("47.50")
    assert qr.amount_includes_tax is True
    assert qr.check_code == "f301b"
    assert qr.issue_date is None


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "hello world",
        "02,10,042001700112,11162913,184.65,20180323,1,DDB1,",  # unknown version
        "01,10,042001700112,11162913,184.65,2018032,1,DDB1,",  # short date
        "01,10,042001700112,11162913,184.65,20181332,1,DDB1,",  # no such date
        "01,10,042001700112,1116291X,184.65,20180323,1,DDB1,",  # number not digits
        "01,10,042001700112,11162913,abc,20180323,1,DDB1,",
        "01,10,042001700112",
        "https://example.com/?bill_num=123",
        "https://example.com/?bill_num=123&total_amount=12.5",
    ],
)
def test_not_invoice_payloads(payload: str) -> None:
    assert parse_payload(payload) is None
