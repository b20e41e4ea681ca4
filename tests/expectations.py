"""What extraction must return for a generated invoice spec (shared by the extraction tests)."""

from __future__ import annotations

from typing import Any

from invoice_pdf import InvoiceSpec

from ingest.extract.normalize import fold
from ingest.model import Extraction, Variant


def expected_variant(spec: InvoiceSpec) -> Variant:
    # Toll-road invoices are 增值税电子普通发票 with toll items, not a variant of their own.
    return Variant.OLD_ORDINARY if spec.variant == "通行费" else Variant(spec.variant)


def assert_read_right(result: Extraction, spec: InvoiceSpec) -> None:
    fields = result.fields
    expected: dict[str, Any] = {
        "variant": expected_variant(spec),
        "invoice_code": spec.code or None,
        "invoice_number": spec.number,
        "issue_date": spec.issue_date,
        "total": spec.total,
        "pretax": spec.pretax,
        "tax": spec.tax,
        "seller_name": fold(spec.seller.name),
        "seller_tax_id": spec.seller.tax_id,
        "buyer_name": fold(spec.buyer.name),
        "buyer_tax_id": spec.buyer.tax_id or None,
        "check_code": spec.check_code.replace(" ", "") or None,
    }
    got = {name: getattr(fields, name) for name in expected}
    assert got == expected
    assert fields.pages == -(-len(spec.items) // spec.items_per_page)
