"""Pure: combine what two independent sources say about one invoice, and say where each value came from.

Agreement confirms a value ('text+qr'); disagreement is a problem naming both
values; a value only one source has is taken from it. The primary source
(text layer, OFD or XML data) is never overwritten by the QR.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from ingest.extract.qr import QrInvoice
from ingest.model import OUTPUT_FIELDS, InvoiceFields

Value = str | date | Decimal | int | None


@dataclasses.dataclass(frozen=True)
class Merged:
    fields: InvoiceFields
    sources: dict[str, str]
    problems: list[str]


def sources_of(fields: InvoiceFields, source: str) -> dict[str, str]:
    """Every output field that has a value, attributed to `source`."""
    return {name: source for name in OUTPUT_FIELDS if name != "pages" and getattr(fields, name) is not None}


def merge_qr(primary: InvoiceFields, source: str, qr: QrInvoice | None) -> Merged:
    """Cross-check `primary` (read from `source`) against the QR code, field by field."""
    sources = sources_of(primary, source)
    if qr is None:
        return Merged(primary, sources, [])
    amount_field = "total" if qr.amount_includes_tax else "pretax"
    claims: dict[str, Value] = {
        "variant": qr.variant,
        "invoice_code": qr.invoice_code,
        "invoice_number": qr.invoice_number,
        "issue_date": qr.issue_date,
        amount_field: qr.amount,
        "check_code": qr.check_code,
    }
    updates: dict[str, Value] = {}
    problems: list[str] = []
    for name, from_qr in claims.items():
        if from_qr is None:
            continue
        current = getattr(primary, name)
        if current is None:
            updates[name] = from_qr
            sources[name] = "qr"
        elif _same(current, from_qr):
            sources[name] = f"{source}+qr"
        else:
            problems.append(f"{name}: {source} says {_show(current)}, QR code says {_show(from_qr)}")
    return Merged(dataclasses.replace(primary, **updates), sources, problems)  # type: ignore[arg-type]


def _same(a: Value, b: Value) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        # The 区块链 校验码 is printed in lower case; the QR hash may be either.
        return a.casefold() == b.casefold()
    return a == b


def _show(value: Value) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
