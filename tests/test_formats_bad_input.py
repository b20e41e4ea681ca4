"""Hostile or broken OFD and XML files: a clear status each, nothing expanded, nothing raised."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest

from ingest.extract.reader import extract_bytes
from ingest.model import Status

TODAY = date(2026, 11, 24)
OFD_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">'
    b"<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
)
DOCUMENT_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="http://www.ofdspec.org/2016">'
    b'<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>'
)
PAGE_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content>'
    b'<ofd:Layer><ofd:TextObject ID="5"><ofd:TextCode X="0" Y="0">hello</ofd:TextCode></ofd:TextObject>'
    b"</ofd:Layer></ofd:Content></ofd:Page>"
)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def extract(data: bytes, name: str = "x.ofd") -> tuple[Status, str]:
    result = extract_bytes(data, name, today=TODAY)
    return result.status, "; ".join(result.problems)


def test_ofd_that_is_not_a_zip() -> None:
    status, reason = extract(b"this is not a zip at all", "fake.ofd")
    assert status is Status.ERROR
    assert "not a PDF, OFD or XML file" in reason


def test_truncated_ofd() -> None:
    whole = zipped({"OFD.xml": OFD_XML, "Doc_0/Document.xml": DOCUMENT_XML})
    status, reason = extract(whole[: len(whole) // 2])
    assert status is Status.ERROR
    assert "OFD" in reason


def test_zip_without_ofd_xml_is_not_an_invoice_file() -> None:
    status, reason = extract(zipped({"a.txt": b"hello"}), "archive.ofd")
    assert status is Status.ERROR
    assert "a zip archive, not an invoice file" in reason


def test_zip_bomb_named_ofd_is_refused_without_expanding_it() -> None:
    bomb = zipped({"OFD.xml": OFD_XML, "Doc_0/Res/big.png": b"\0" * (30 * 1024 * 1024)})
    assert len(bomb) < 100_000
    status, reason = extract(bomb, "bomb.ofd")
    assert status is Status.ERROR
    assert "zip bomb" in reason


def test_too_many_members_are_refused() -> None:
    members = {f"m{i}.xml": b"<a/>" for i in range(5_001)}
    members["OFD.xml"] = OFD_XML
    status, reason = extract(zipped(members))
    assert status is Status.ERROR
    assert "5002 members" in reason


def test_ofd_without_invoice_data() -> None:
    ofd = zipped({"OFD.xml": OFD_XML, "Doc_0/Document.xml": DOCUMENT_XML, "Doc_0/Pages/Page_0/Content.xml": PAGE_XML})
    status, reason = extract(ofd)
    assert status is Status.NOT_INVOICE
    assert "without invoice data" in reason


def test_ofd_with_broken_ofd_xml() -> None:
    status, reason = extract(zipped({"OFD.xml": b"<ofd:OFD><unclosed>"}))
    assert status is Status.ERROR
    assert "OFD.xml is not well-formed" in reason


def test_ofd_without_doc_root() -> None:
    status, reason = extract(zipped({"OFD.xml": b"<OFD><DocBody/></OFD>"}))
    assert status is Status.ERROR
    assert "names no DocRoot" in reason


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<EInvoice><Header><EIid>&lol4;</EIid></Header></EInvoice>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<EInvoice><Header><EIid>&secret;</EIid></Header></EInvoice>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_xml_with_entities_is_refused(xml: bytes) -> None:
    status, reason = extract(xml, "invoice.xml")
    assert status is Status.ERROR
    assert "refused" in reason


def test_entity_expansion_inside_an_ofd_is_refused_too() -> None:
    status, reason = extract(zipped({"OFD.xml": BILLION_LAUGHS}))
    assert status is Status.ERROR
    assert "refused" in reason


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"<EInvoice><Header>", "not well-formed"),
        (b"<html><body>not an invoice</body></html>", "not a 数电 <EInvoice>"),
        (b"\xef\xbb\xbf  <notes/>", "not a 数电 <EInvoice>"),
    ],
)
def test_xml_that_is_not_an_invoice(xml: bytes, reason: str) -> None:
    status, found = extract(xml, "invoice.xml")
    assert status is Status.ERROR
    assert reason in found


def test_empty_digital_xml_is_review_with_missing_fields() -> None:
    status, reason = extract(b"<EInvoice><Header><EIid></EIid></Header></EInvoice>", "invoice.xml")
    assert status is Status.REVIEW
    assert "invoice_number not found" in reason
