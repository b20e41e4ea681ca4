"""Second sources on generated files: the QR on PDFs (agreeing, disagreeing, alone), OFD and 数电 XML."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from expectations import assert_read_right
from invoice_ofd import ofd_digital, ofd_old_style
from invoice_pdf import (
    VARIANTS,
    image_only_invoice_pdf,
    invoice_pdf,
    qr_payload,
    sample_spec,
)
from invoice_xml import digital_xml

from ingest.extract.reader import extract_bytes
from ingest.model import Extraction, Status

TODAY = date(2026, 11, 24)
OLD_STYLE = ("电子普票(旧)", "电子专票(旧)", "通行费")
DIGITAL = ("数电普票", "数电专票")


def read(data: bytes, name: str = "generated") -> Extraction:
    return extract_bytes(data, name, today=TODAY)


@pytest.mark.parametrize("variant", VARIANTS)
def test_text_and_qr_agree(variant: str) -> None:
    spec = sample_spec(variant)
    result = read(invoice_pdf(spec))
    assert result.status is Status.OK, result.problems
    assert result.sources["invoice_number"] == "text+qr"
    amount_field = "pretax" if variant in OLD_STYLE else "total"
    assert result.sources[amount_field] == "text+qr"
    if variant != "区块链":  # the Shenzhen URL carries no date
        assert result.sources["issue_date"] == "text+qr"


def test_qr_disagreeing_on_the_amount_goes_to_review_with_both_values() -> None:
    spec = sample_spec("数电普票")
    payload = qr_payload(spec).replace(f",{spec.total:.2f},", ",999.99,")
    result = read(invoice_pdf(dataclasses.replace(spec, qr_payload=payload)))
    assert result.status is Status.REVIEW
    assert f"total: text says {spec.total:.2f}, QR code says 999.99" in result.problems
    assert result.fields.total == spec.total  # the text value stays; a person decides


def test_qr_disagreeing_on_the_number_goes_to_review() -> None:
    spec = sample_spec("电子普票(旧)")
    other = spec.number[:-1] + ("0" if spec.number[-1] != "0" else "1")
    payload = qr_payload(spec).replace(f",{spec.number},", f",{other},")
    result = read(invoice_pdf(dataclasses.replace(spec, qr_payload=payload)))
    assert result.status is Status.REVIEW
    assert any(p.startswith("invoice_number: text says") and other in p for p in result.problems)


@pytest.mark.parametrize("variant", DIGITAL)
def test_scan_gives_number_date_and_total_from_the_qr(variant: str) -> None:
    spec = sample_spec(variant)
    result = read(image_only_invoice_pdf(spec))
    assert result.status is Status.REVIEW
    assert "no text layer" in result.problems[0]
    assert "seller_name not found" in result.problems
    assert (result.fields.invoice_number, result.fields.issue_date, result.fields.total) == (
        spec.number,
        spec.issue_date,
        spec.total,
    )
    assert result.sources == {"variant": "qr", "invoice_number": "qr", "issue_date": "qr", "total": "qr"}


def test_scan_of_an_old_style_invoice_gives_the_pre_tax_amount_only() -> None:
    spec = sample_spec("电子普票(旧)")
    result = read(image_only_invoice_pdf(spec))
    assert result.fields.invoice_code == spec.code
    assert result.fields.pretax == spec.pretax
    assert result.fields.total is None
    assert "total not found" in result.problems


def test_unmapped_fonts_fall_back_to_the_qr() -> None:
    spec = sample_spec("数电专票", unmapped_text=True)
    result = read(invoice_pdf(spec))
    assert result.status is Status.REVIEW
    assert "(cid:)" in result.problems[0]
    assert result.fields.invoice_number == spec.number
    assert result.fields.total == spec.total


def test_scan_without_a_qr_is_review_with_no_values() -> None:
    result = read(image_only_invoice_pdf(sample_spec("数电普票", qr=False)))
    assert result.status is Status.REVIEW
    assert "no QR code found" in result.problems[0]
    assert result.fields.invoice_number is None


def test_text_pdf_without_a_qr_still_reads_from_text() -> None:
    spec = sample_spec("数电普票", qr=False)
    result = read(invoice_pdf(spec))
    assert result.status is Status.OK
    assert result.sources["invoice_number"] == "text"


@pytest.mark.parametrize("variant", OLD_STYLE)
def test_old_style_ofd(variant: str) -> None:
    spec = sample_spec(variant)
    result = read(ofd_old_style(spec), "invoice.ofd")
    assert result.status is Status.OK, result.problems
    assert_read_right(result, spec)
    assert result.fields.check_code == spec.check_code.replace(" ", "")
    assert result.sources["invoice_number"] == "ofd+qr"
    assert result.sources["seller_name"] == "ofd"


def test_two_builds_of_one_ofd_give_the_same_fields() -> None:
    spec = sample_spec("电子普票(旧)")
    first, second = ofd_old_style(spec), ofd_old_style(spec, build="other")
    assert first != second
    assert read(first).to_json_dict() | {"file": ""} == read(second).to_json_dict() | {"file": ""}


@pytest.mark.parametrize("variant", DIGITAL)
@pytest.mark.parametrize("options", [{}, {"doubled_text": True}, {"cdata": True}, {"qr": False}])
def test_digital_ofd_custom_tags(variant: str, options: dict[str, bool]) -> None:
    spec = sample_spec(variant)
    result = read(ofd_digital(spec, **options), "invoice.ofd")
    assert result.status is Status.OK, result.problems
    assert_read_right(result, spec)
    assert result.sources["invoice_number"] == ("ofd" if options.get("qr") is False else "ofd+qr")


def test_ofd_whose_qr_disagrees_goes_to_review() -> None:
    spec = sample_spec("数电专票")
    payload = qr_payload(spec).replace(f",{spec.total:.2f},", ",1.00,")
    ofd = ofd_digital(dataclasses.replace(spec, qr_payload=payload))
    result = read(ofd, "invoice.ofd")
    assert result.status is Status.REVIEW
    assert any(p.startswith("total: ofd says") for p in result.problems)


@pytest.mark.parametrize("variant", DIGITAL)
def test_digital_xml(variant: str) -> None:
    spec = sample_spec(variant)
    result = read(digital_xml(spec), "invoice.xml")
    assert result.status is Status.OK, result.problems
    assert_read_right(result, spec)
    assert set(result.sources.values()) == {"xml"}


def test_digital_xml_without_declaration_is_sniffed_by_content() -> None:
    spec = sample_spec("数电普票")
    result = read(digital_xml(spec, declaration=False), "download.bin")
    assert result.status is Status.OK
