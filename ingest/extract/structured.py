"""Pure: named values from structured invoice data (OFD eInvoice XML, OFD custom tags, 数电 XML) -> InvoiceFields.

Every structured format names its values with one of a few element names;
the first non-empty value under any of a field's names wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from ingest.extract.normalize import fold, parse_amount, parse_date, tax_id_text, without_spaces
from ingest.model import InvoiceFields, Variant

NAMES: dict[str, tuple[str, ...]] = {
    "invoice_code": ("InvoiceCode",),
    "invoice_number": ("InvoiceNo", "InvoiceNumber", "EIid"),
    "issue_date": ("IssueDate", "IssueTime"),
    "total": ("TaxInclusiveTotalAmount", "TotalTax-includedAmount"),
    "pretax": ("TaxExclusiveTotalAmount", "TotalAmWithoutTax"),
    "tax": ("TaxTotalAmount", "TotalTaxAm"),
    "seller_name": ("SellerName",),
    "seller_tax_id": ("SellerTaxID", "SellerIdNum"),
    "buyer_name": ("BuyerName",),
    "buyer_tax_id": ("BuyerTaxID", "BuyerIdNum"),
    "check_code": ("InvoiceCheckCode",),
}


def first_value(values: Mapping[str, Sequence[str]], names: Sequence[str]) -> str | None:
    for name in names:
        for value in values.get(name, ()):
            if value.strip():
                return value.strip()
    return None


def fields_from_values(values: Mapping[str, Sequence[str]], *, variant: Variant | None, pages: int) -> InvoiceFields:
    """InvoiceFields from element-name -> texts (in document order)."""

    def text(field: str) -> str | None:
        return first_value(values, NAMES[field])

    def amount(field: str) -> Decimal | None:
        raw = text(field)
        return parse_amount(raw) if raw is not None else None

    def name(field: str) -> str | None:
        raw = text(field)
        return " ".join(fold(raw).split()) if raw else None

    def tax_id(field: str) -> str | None:
        raw = text(field)
        return (tax_id_text(raw) or None) if raw else None

    raw_tax = text("tax")
    tax_exempt = raw_tax is not None and set(raw_tax.lstrip("¥￥")) == {"*"}
    raw_date = text("issue_date")
    number = text("invoice_number")
    code = text("invoice_code")
    check = text("check_code")
    return InvoiceFields(
        variant=variant,
        invoice_code=without_spaces(code) if code else None,
        invoice_number=without_spaces(number) if number else None,
        issue_date=parse_date(raw_date) if raw_date else None,
        total=amount("total"),
        pretax=amount("pretax"),
        tax=None if tax_exempt else amount("tax"),
        tax_exempt=tax_exempt,
        seller_name=name("seller_name"),
        seller_tax_id=tax_id("seller_tax_id"),
        buyer_name=name("buyer_name"),
        buyer_tax_id=tax_id("buyer_tax_id"),
        check_code=without_spaces(check) if check else None,
        pages=pages,
    )
