"""Synthetic 数电 XML invoice files (the structured original sent beside the PDF and OFD) for tests."""

from __future__ import annotations

from decimal import Decimal
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from invoice_pdf import _DRAWER, _SHUDIAN, InvoiceSpec, _money

__all__ = ["LABELS", "digital_xml", "xml_tax_rate"]

# Header/InherentLabel/GeneralOrSpecialVAT: (LabelCode, LabelName) per variant.
LABELS = {"数电专票": ("01", "增值税专用发票"), "数电普票": ("02", "普通发票")}


def xml_tax_rate(rate: str) -> str:
    """'13%' -> '0.13' as the XML writes rates; a tax-exempt item ('免税') gets '0'."""
    if not rate.endswith("%"):
        return "0"
    return str((Decimal(rate[:-1]) / 100).normalize())


def _leaf(parent: Element, tag: str, text: str) -> None:
    SubElement(parent, tag).text = text


def digital_xml(spec: InvoiceSpec, *, declaration: bool = True) -> bytes:
    """The 数电 XML file of spec (UTF-8); declaration=False leaves out the <?xml ...?> line.

    Always the true values: total_override, capital_total and qr_payload only change what a PDF
    shows. Tax-exempt amounts are written as 0.00 (the XML holds numbers, never ***).
    """
    if spec.variant not in _SHUDIAN:
        raise ValueError(f"digital_xml needs 数电普票 or 数电专票, not {spec.variant!r}")
    zero = Decimal("0.00")
    root = Element("EInvoice")
    header = SubElement(root, "Header")
    _leaf(header, "EIid", spec.number)
    kind = SubElement(SubElement(header, "InherentLabel"), "GeneralOrSpecialVAT")
    code, name = LABELS[spec.variant]
    _leaf(kind, "LabelCode", code)
    _leaf(kind, "LabelName", name)

    data = SubElement(root, "EInvoiceData")
    seller = SubElement(data, "SellerInformation")
    _leaf(seller, "SellerIdNum", spec.seller.tax_id)
    _leaf(seller, "SellerName", spec.seller.name)
    buyer = SubElement(data, "BuyerInformation")
    _leaf(buyer, "BuyerIdNum", spec.buyer.tax_id)
    _leaf(buyer, "BuyerName", spec.buyer.name)
    basic = SubElement(data, "BasicInformation")
    _leaf(basic, "TotalAmWithoutTax", _money(spec.pretax))
    _leaf(basic, "TotalTaxAm", _money(spec.tax or zero))
    _leaf(basic, "TotalTax-includedAmount", _money(spec.total))
    _leaf(basic, "Drawer", _DRAWER)
    for item in spec.items:
        line = SubElement(data, "IssuItemInformation")
        _leaf(line, "ItemName", item.name)
        _leaf(line, "Amount", _money(item.amount))
        _leaf(line, "TaxRate", xml_tax_rate(item.tax_rate))
        _leaf(line, "ComTaxAm", _money(item.tax or zero))
    if spec.remarks:
        _leaf(SubElement(data, "AdditionalInformation"), "Remark", spec.remarks)

    supervision = SubElement(root, "TaxSupervisionInfo")
    _leaf(supervision, "InvoiceNumber", spec.number)
    _leaf(supervision, "IssueTime", spec.issue_date.isoformat())

    indent(root)
    body = tostring(root, encoding="unicode").encode("utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body if declaration else body
