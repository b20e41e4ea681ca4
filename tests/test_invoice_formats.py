"""Tests of the OFD and XML invoice generators: well-formed packages that say what the spec says."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, fromstring

import pytest
import zxingcpp
from invoice_ofd import BUILDS, FP_NS, OFD_NS, OLD_STYLE_VARIANTS, ofd_digital, ofd_old_style
from invoice_pdf import (
    _DRAWER,  # private: the fixed drawer name every generated invoice prints
    InvoiceSpec,
    Item,
    Party,
    drawn_qr_payload,
    qr_payload,
    sample_spec,
)
from invoice_xml import digital_xml
from PIL import Image

OFD = f"{{{OFD_NS}}}"
FP = f"{{{FP_NS}}}"
SHUDIAN = ("数电普票", "数电专票")

# (variant, keyword arguments) for every generator option worth a structural check.
CASES: list[tuple[str, dict[str, Any]]] = [
    *((variant, {"build": build}) for variant in OLD_STYLE_VARIANTS for build in BUILDS),
    ("数电普票", {}),
    ("数电专票", {}),
    ("数电普票", {"doubled_text": True}),
    ("数电专票", {"cdata": True}),
    ("数电普票", {"qr": False}),
    ("电子专票(旧)", {"qr": False}),
]
CASE_IDS = [f"{variant}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'default'}" for variant, kwargs in CASES]


def make(spec: InvoiceSpec, **kwargs: Any) -> bytes:
    return ofd_digital(spec, **kwargs) if spec.variant in SHUDIAN else ofd_old_style(spec, **kwargs)


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


@dataclass(frozen=True)
class Ofd:
    """An unpacked OFD, read independently of ingest/: members in zip order, parsed on demand."""

    members: dict[str, bytes]

    @classmethod
    def open(cls, data: bytes) -> Ofd:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None
            return cls({name: archive.read(name) for name in archive.namelist()})

    def xml(self, name: str) -> Element:
        return fromstring(self.members[name])

    @property
    def document(self) -> Element:
        doc_root = self.xml("OFD.xml").findtext(f"{OFD}DocBody/{OFD}DocRoot")
        assert doc_root == "Doc_0/Document.xml"
        return self.xml(doc_root)

    @property
    def page(self) -> tuple[str, Element]:
        """(page ID, Content.xml root) of the only page."""
        (page,) = self.document.findall(f"{OFD}Pages/{OFD}Page")
        return page.attrib["ID"], self.xml("Doc_0/" + page.attrib["BaseLoc"])

    @property
    def template(self) -> Element:
        (template,) = self.document.findall(f"{OFD}CommonData/{OFD}TemplatePage")
        return self.xml("Doc_0/" + template.attrib["BaseLoc"])

    def texts(self, content: Element) -> dict[str, str]:
        # TextCode text only: indented files put whitespace between the elements.
        return {
            obj.attrib["ID"]: "".join(code.text or "" for code in obj.iter(f"{OFD}TextCode"))
            for obj in content.iter(f"{OFD}TextObject")
        }

    def tags(self) -> list[tuple[str, list[str]]]:
        """Every tagged field as (path below the root, texts of its ObjectRefs); asserts they resolve."""
        (tag_file,) = self.xml("Doc_0/Tags/CustomTags.xml").iter(f"{OFD}FileLoc")
        root = self.xml("Doc_0/Tags/" + (tag_file.text or ""))
        page_id, content = self.page
        texts = self.texts(content)
        found: list[tuple[str, list[str]]] = []

        def walk(element: Element, path: str) -> None:
            refs = [child for child in element if local(child.tag) == "ObjectRef"]
            if refs:
                assert all(ref.attrib["PageRef"] == page_id for ref in refs)
                assert all(ref.text in texts for ref in refs), "an ObjectRef names no TextObject on the page"
                found.append((path, [texts[ref.text or ""] for ref in refs]))
            for child in element:
                if local(child.tag) != "ObjectRef":
                    walk(child, f"{path}/{local(child.tag)}" if path else local(child.tag))

        walk(root, "")
        return found

    def tag(self, path: str) -> list[str]:
        (texts,) = [texts for p, texts in self.tags() if p == path]
        return texts

    def custom_datas(self) -> dict[str, str]:
        datas = self.xml("OFD.xml").iter(f"{OFD}CustomData")
        return {data.attrib["Name"]: data.text or "" for data in datas}

    def qr_images(self) -> list[tuple[str, bytes]]:
        res = self.xml("Doc_0/DocumentRes.xml")
        base = res.attrib["BaseLoc"]
        media = res.findall(f"{OFD}MultiMedias/{OFD}MultiMedia")
        return [(m.attrib["ID"], self.members[f"Doc_0/{base}/{m.findtext(f'{OFD}MediaFile')}"]) for m in media]


def expand_delta_x(delta: str) -> list[str]:
    """OFD DeltaX with its 'g N w' runs written out."""
    out: list[str] = []
    tokens = delta.split()
    i = 0
    while i < len(tokens):
        if tokens[i] == "g":
            out += [tokens[i + 2]] * int(tokens[i + 1])
            i += 3
        else:
            out.append(tokens[i])
            i += 1
    return out


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def cn_date(spec: InvoiceSpec) -> str:
    return f"{spec.issue_date:%Y}年{spec.issue_date:%m}月{spec.issue_date:%d}日"


# ---------------------------------------------------------------------------
# Both OFD kinds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "kwargs"), CASES, ids=CASE_IDS)
def test_ofd_is_a_zip_of_well_formed_linked_parts(variant: str, kwargs: dict[str, Any]) -> None:
    ofd = Ofd.open(make(sample_spec(variant), **kwargs))
    for name, data in ofd.members.items():
        if name.endswith(".xml"):
            fromstring(data)  # raises on anything malformed
    root = ofd.xml("OFD.xml")
    assert root.tag == f"{OFD}OFD"
    document = ofd.document
    assert document.tag == f"{OFD}Document"
    common = document.find(f"{OFD}CommonData")
    assert common is not None
    for loc in (
        common.findtext(f"{OFD}PublicRes"),
        common.findtext(f"{OFD}DocumentRes"),
        document.findtext(f"{OFD}CustomTags"),
        *(e.attrib["BaseLoc"] for e in document.iter() if "BaseLoc" in e.attrib),
    ):
        assert f"Doc_0/{loc}" in ofd.members
    assert ("Doc_0/Attachs/Attachments.xml" in ofd.members) == (variant in OLD_STYLE_VARIANTS)

    page_id, page = ofd.page
    template = ofd.template
    (template_ref,) = page.iter(f"{OFD}Template")
    assert template_ref.attrib["TemplateID"] == common.find(f"{OFD}TemplatePage").attrib["ID"]  # type: ignore[union-attr]
    fonts = {font.attrib["ID"] for font in ofd.xml("Doc_0/PublicRes.xml").iter(f"{OFD}Font")}
    ids: list[str] = [page_id]
    for content in (page, template):
        for obj in content.iter(f"{OFD}TextObject"):
            ids.append(obj.attrib["ID"])
            assert obj.attrib["Font"] in fonts
            assert len(obj.attrib["Boundary"].split()) == 4
            float(obj.attrib["Size"])
            (code,) = obj.findall(f"{OFD}TextCode")
            float(code.attrib["X"]), float(code.attrib["Y"])
            text = code.text or ""
            assert text
            assert len(expand_delta_x(code.attrib.get("DeltaX", ""))) == len(text) - 1
    assert len(ids) == len(set(ids))  # object IDs are unique
    assert max(map(int, ids)) <= int(common.findtext(f"{OFD}MaxUnitID") or 0)


@pytest.mark.parametrize(("variant", "kwargs"), CASES, ids=CASE_IDS)
def test_labels_are_template_text_and_values_are_page_text(variant: str, kwargs: dict[str, Any]) -> None:
    spec = sample_spec(variant)
    ofd = Ofd.open(make(spec, **kwargs))
    labels = set(ofd.texts(ofd.template).values())
    values = set(ofd.texts(ofd.page[1]).values())
    title = {
        "数电普票": "电子发票（普通发票）",
        "数电专票": "电子发票（增值税专用发票）",
        "电子专票(旧)": "增值税电子专用发票",
    }.get(variant, "北京增值税电子普通发票")
    number_label = "发票号码：" if variant in SHUDIAN else "发票号码:"
    assert {title, number_label} <= labels
    assert {spec.number, spec.seller.name, spec.seller.tax_id} <= values
    assert not labels & {spec.number, spec.seller.name}


@pytest.mark.parametrize(("variant", "kwargs"), CASES, ids=CASE_IDS)
def test_tags_resolve_to_the_spec_values(variant: str, kwargs: dict[str, Any]) -> None:
    spec = sample_spec(variant)
    ofd = Ofd.open(make(spec, **kwargs))
    tax = spec.tax
    assert tax is not None
    expected = {
        "InvoiceNo": [spec.number],
        "IssueDate": [cn_date(spec)],
        "Buyer/BuyerName": [spec.buyer.name],
        "Seller/SellerName": [spec.seller.name] * (2 if kwargs.get("doubled_text") else 1),
        "Seller/SellerTaxID": [spec.seller.tax_id],
        # Amounts are '¥' and the figure: two TextObjects, two ObjectRefs.
        "TaxExclusiveTotalAmount": ["¥", money(spec.pretax)],
        "TaxTotalAmount": ["¥", money(tax)],
        "TaxInclusiveTotalAmount": ["¥", money(spec.total)],
    }
    if spec.buyer.tax_id:
        expected["Buyer/BuyerTaxID"] = [spec.buyer.tax_id]
    if variant in OLD_STYLE_VARIANTS:
        groups = " ".join(spec.check_code[i : i + 5] for i in range(0, 20, 5))
        expected |= {"InvoiceCode": [spec.code], "InvoiceCheckCode": [groups]}
    tags = ofd.tags()
    for path, texts in expected.items():
        assert ofd.tag(path) == texts, path
    clerks = [texts for path, texts in tags if path == "InvoiceClerk"]
    assert clerks == [[_DRAWER]] * (2 if kwargs.get("doubled_text") else 1)
    assert [texts for path, texts in tags if path == "Item"] == [[item.name] for item in spec.items]
    assert [texts for path, texts in tags if path == "Amount"] == [[money(item.amount)] for item in spec.items]


def test_doubled_drawer_copy_lies_below_the_page() -> None:
    ofd = Ofd.open(ofd_digital(sample_spec(), doubled_text=True))
    _, page = ofd.page
    tops = sorted(
        float(obj.attrib["Boundary"].split()[1])
        for obj in page.iter(f"{OFD}TextObject")
        if "".join(obj.itertext()) == _DRAWER
    )
    assert len(tops) == 2
    assert tops[0] < 140 < tops[1]


def test_cdata_changes_the_bytes_not_the_values() -> None:
    spec = sample_spec("数电专票")
    plain, cdata = Ofd.open(ofd_digital(spec)), Ofd.open(ofd_digital(spec, cdata=True))
    raw = cdata.members["Doc_0/Pages/Page_0/Content.xml"].decode()
    assert raw.count("<![CDATA[") == raw.count("<ofd:TextCode") > 10
    assert "<![CDATA[" not in plain.members["Doc_0/Pages/Page_0/Content.xml"].decode()
    assert cdata.tags() == plain.tags()
    assert cdata.texts(cdata.template) == plain.texts(plain.template)


@pytest.mark.parametrize(("variant", "kwargs"), CASES, ids=CASE_IDS)
def test_qr_image_decodes_to_the_payload(variant: str, kwargs: dict[str, Any]) -> None:
    spec = sample_spec(variant)
    ofd = Ofd.open(make(spec, **kwargs))
    _, page = ofd.page
    images = ofd.qr_images()
    if kwargs.get("qr") is False:
        assert images == []
        assert page.find(f".//{OFD}ImageObject") is None
        assert not [name for name in ofd.members if name.endswith(".png")]
        return
    ((media_id, png),) = images
    (image_object,) = page.iter(f"{OFD}ImageObject")
    assert image_object.attrib["ResourceID"] == media_id
    with Image.open(io.BytesIO(png)) as image:
        assert [barcode.text for barcode in zxingcpp.read_barcodes(image.convert("L"))] == [qr_payload(spec)]


def test_qr_payload_override_reaches_the_ofd() -> None:
    other = "01,10,011001900111,51234567,1.00,20190720,12345678901234567890,ABCD,"
    spec = sample_spec("电子普票(旧)", qr_payload=other)
    ofd = Ofd.open(ofd_old_style(spec))
    ((_, png),) = ofd.qr_images()
    with Image.open(io.BytesIO(png)) as image:
        assert [barcode.text for barcode in zxingcpp.read_barcodes(image.convert("L"))] == [other]
    assert ofd.xml("Doc_0/Attachs/original_invoice.xml").findtext(f"{FP}GraphCode") == other == drawn_qr_payload(spec)


@pytest.mark.parametrize(("variant", "kwargs"), CASES, ids=CASE_IDS)
def test_same_arguments_give_the_same_bytes(variant: str, kwargs: dict[str, Any]) -> None:
    assert make(sample_spec(variant), **kwargs) == make(sample_spec(variant), **kwargs)


def test_printed_overrides_change_the_page_not_the_structured_data() -> None:
    spec = sample_spec("数电普票", total_override=Decimal("99.00"))
    ofd = Ofd.open(ofd_digital(spec))
    assert ofd.tag("TaxInclusiveTotalAmount") == ["¥", "99.00"]
    assert ofd.custom_datas()["价税合计"] == money(spec.total)


def test_tax_exempt_prints_stars_in_the_ofd() -> None:
    spec = sample_spec("电子普票(旧)", items=(Item("*农产品*大米", Decimal("80.00"), "免税", None),))
    ofd = Ofd.open(ofd_old_style(spec))
    assert ofd.tag("TaxTotalAmount") == ["***"]
    assert ofd.custom_datas()["合计税额"] == "***"
    assert ofd.xml("Doc_0/Attachs/original_invoice.xml").findtext(f"{FP}TaxTotalAmount") == "***"


def test_generators_refuse_the_wrong_variant() -> None:
    with pytest.raises(ValueError, match="ofd_old_style"):
        ofd_old_style(sample_spec("数电普票"))
    with pytest.raises(ValueError, match="ofd_old_style"):
        ofd_old_style(sample_spec("区块链"))
    with pytest.raises(ValueError, match="build"):
        ofd_old_style(sample_spec("电子普票(旧)"), build="foxit")
    with pytest.raises(ValueError, match="ofd_digital"):
        ofd_digital(sample_spec("电子专票(旧)"))
    with pytest.raises(ValueError, match="digital_xml"):
        digital_xml(sample_spec("通行费"))


# ---------------------------------------------------------------------------
# Old style: original_invoice.xml and the two builds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("variant", OLD_STYLE_VARIANTS)
def test_original_invoice_holds_the_spec(variant: str, build: str) -> None:
    spec = sample_spec(variant)
    ofd = Ofd.open(ofd_old_style(spec, build=build))
    (attachment,) = ofd.xml("Doc_0/Attachs/Attachments.xml").iter(f"{OFD}Attachment")
    assert attachment.findtext(f"{OFD}FileLoc") == "original_invoice.xml"
    root = ofd.xml("Doc_0/Attachs/original_invoice.xml")
    assert root.tag == "eInvoice"  # unprefixed and in no namespace, as real files; children are fp:
    assert all(child.tag.startswith(FP) for child in root.iter() if child is not root)

    def text(path: str) -> str | None:
        return root.findtext("/".join(FP + step for step in path.split("/")))

    tax = spec.tax
    assert tax is not None
    expected = {
        "InvoiceCode": spec.code,
        "InvoiceNo": spec.number,
        "IssueDate": cn_date(spec),
        "InvoiceCheckCode": spec.check_code,
        "Buyer/BuyerName": spec.buyer.name,
        "Seller/SellerName": spec.seller.name,
        "Seller/SellerTaxID": spec.seller.tax_id,
        "TaxInclusiveTotalAmount": money(spec.total),
        "TaxTotalAmount": money(tax),
        "TaxExclusiveTotalAmount": money(spec.pretax),
        "GraphCode": qr_payload(spec),
    }
    assert {path: text(path) for path in expected} == expected
    buyer_id = text("Buyer/BuyerTaxID")
    assert buyer_id is not None
    if spec.buyer.tax_id:
        assert buyer_id == spec.buyer.tax_id
    else:  # an empty buyer tax ID is whitespace, never an empty element
        assert buyer_id != "" and buyer_id.strip() == ""
    goods = root.findall(f"{FP}GoodsInfos/{FP}GoodsInfo")
    assert [(g.findtext(f"{FP}Item"), g.findtext(f"{FP}Amount")) for g in goods] == [
        (item.name, money(item.amount)) for item in spec.items
    ]
    assert sum(Decimal(g.findtext(f"{FP}Amount") or "") for g in goods) == spec.pretax


def test_buyer_without_tax_id_in_every_structured_copy() -> None:
    spec = sample_spec("电子专票(旧)", buyer=Party("个人", ""))
    ofd = Ofd.open(ofd_old_style(spec))
    assert "购买方纳税人识别号" not in ofd.custom_datas()
    assert "Buyer/BuyerTaxID" not in dict(ofd.tags())
    assert ofd.xml("Doc_0/Attachs/original_invoice.xml").findtext(f"{FP}Buyer/{FP}BuyerTaxID") == " "


@pytest.mark.parametrize("variant", OLD_STYLE_VARIANTS)
def test_two_builds_differ_in_bytes_but_hold_the_same_invoice(variant: str) -> None:
    spec = sample_spec(variant)
    suwell, other = ofd_old_style(spec), ofd_old_style(spec, build="other")
    assert suwell != other
    a, b = Ofd.open(suwell), Ofd.open(other)
    assert list(a.members) != list(b.members)  # member order
    assert sorted(n for n in a.members if n.endswith(".png")) != sorted(n for n in b.members if n.endswith(".png"))
    assert "Doc_0/Res/qrcode.png" in b.members

    def doc_id(ofd: Ofd) -> str | None:
        return ofd.xml("OFD.xml").findtext(f"{OFD}DocBody/{OFD}DocInfo/{OFD}DocID")

    assert doc_id(a) != doc_id(b)
    assert set(a.texts(a.page[1])) != set(b.texts(b.page[1]))  # object IDs
    assert a.page[0] != b.page[0]
    # ... and the same invoice: every value, wherever it is stored.
    assert a.custom_datas() == b.custom_datas()
    assert sorted(a.tags()) == sorted(b.tags())
    assert sorted(a.texts(a.page[1]).values()) == sorted(b.texts(b.page[1]).values())

    def leaves(ofd: Ofd) -> list[tuple[str, str]]:
        root = ofd.xml("Doc_0/Attachs/original_invoice.xml")
        return [(local(e.tag), (e.text or "").strip()) for e in root.iter() if len(e) == 0]

    assert leaves(a) == leaves(b)
    assert [png for _, png in a.qr_images()] == [png for _, png in b.qr_images()]


def test_other_build_writes_indented_xml_with_a_bom() -> None:
    ofd = Ofd.open(ofd_old_style(sample_spec("通行费"), build="other"))
    original = ofd.members["Doc_0/Attachs/original_invoice.xml"]
    assert original.startswith(b"\xef\xbb\xbf<?xml")
    assert b"\n  <fp:InvoiceNo>" in original
    assert not ofd.members["OFD.xml"].startswith(b"\xef\xbb\xbf")


# ---------------------------------------------------------------------------
# 数电 XML
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", SHUDIAN)
def test_digital_xml_holds_the_spec(variant: str) -> None:
    spec = sample_spec(variant, remarks="订单号:SL2025")
    data = digital_xml(spec)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert spec.seller.name.encode("utf-8") in data  # UTF-8 text, not character references
    root = fromstring(data)
    assert root.tag == "EInvoice"
    tax = spec.tax
    assert tax is not None
    expected = {
        "Header/EIid": spec.number,
        "Header/InherentLabel/GeneralOrSpecialVAT/LabelCode": "01" if variant == "数电专票" else "02",
        "Header/InherentLabel/GeneralOrSpecialVAT/LabelName": "增值税专用发票" if variant == "数电专票" else "普通发票",
        "EInvoiceData/SellerInformation/SellerIdNum": spec.seller.tax_id,
        "EInvoiceData/SellerInformation/SellerName": spec.seller.name,
        "EInvoiceData/BuyerInformation/BuyerIdNum": spec.buyer.tax_id,
        "EInvoiceData/BuyerInformation/BuyerName": spec.buyer.name,
        "EInvoiceData/BasicInformation/TotalAmWithoutTax": money(spec.pretax),
        "EInvoiceData/BasicInformation/TotalTaxAm": money(tax),
        "EInvoiceData/BasicInformation/TotalTax-includedAmount": money(spec.total),
        "EInvoiceData/AdditionalInformation/Remark": "订单号:SL2025",
        "TaxSupervisionInfo/InvoiceNumber": spec.number,
        "TaxSupervisionInfo/IssueTime": spec.issue_date.isoformat(),
    }
    assert {path: root.findtext(path) for path in expected} == expected
    lines = root.findall("EInvoiceData/IssuItemInformation")
    assert [
        (line.findtext("ItemName"), line.findtext("Amount"), line.findtext("TaxRate"), line.findtext("ComTaxAm"))
        for line in lines
    ] == [
        (item.name, money(item.amount), str(Decimal(item.tax_rate[:-1]) / 100), money(item.tax or Decimal(0)))
        for item in spec.items
    ]


def test_digital_xml_tax_rate_is_a_fraction() -> None:
    root = fromstring(digital_xml(sample_spec("数电普票")))
    assert {line.findtext("TaxRate") for line in root.iter("IssuItemInformation")} == {"0.13"}


def test_digital_xml_without_declaration_and_tax_exempt() -> None:
    spec = sample_spec(
        "数电普票", items=(Item("*农产品*大米", Decimal("80.00"), "免税", None),), buyer=Party("个人", "")
    )
    data = digital_xml(spec, declaration=False)
    assert data.startswith(b"<EInvoice>")
    root = fromstring(data)
    assert root.findtext("EInvoiceData/BasicInformation/TotalTaxAm") == "0.00"
    assert root.findtext("EInvoiceData/IssuItemInformation/TaxRate") == "0"
    assert root.findtext("EInvoiceData/BuyerInformation/BuyerIdNum") == ""
    assert digital_xml(spec, declaration=False) == data
