"""Pure: what a person may correct in `fapiao review set`, how the typed values are read (the extractor's own
parsers), which of an invoice's problems concern which field, and the problems left after a correction.

A correction is re-checked with the same checks that put the invoice in review (extract/validate.py). What
those checks cannot recompute from the archived row — the extractor's notes ("read by OCR, to be checked"),
a text/QR disagreement, the amount in words — stays, unless the person has set every field it concerns:
a value a person typed (or confirmed by typing it again) is taken as checked.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ingest.extract import validate
from ingest.extract.normalize import digits_only, fold, parse_amount, parse_date, tax_id_text, without_spaces
from ingest.model import InvoiceFields, Variant
from ingest.pipeline import invoice_key
from storage.models import Invoice
from storage.review_edit import Correction


@dataclass(frozen=True)
class ReviewField:
    label: str  # as `review show` prints it
    name: str  # as `review set` takes it
    column: str  # the invoice column
    source: str  # the InvoiceFields name (the key in `sources`, the word in problems)


FIELDS = (
    ReviewField("number", "number", "invoice_number", "invoice_number"),
    ReviewField("code", "code", "invoice_code", "invoice_code"),
    ReviewField("date", "date", "issue_date", "issue_date"),
    ReviewField("pretax", "pretax", "pretax_fen", "pretax"),
    ReviewField("tax", "tax", "tax_fen", "tax"),
    ReviewField("total", "total", "total_fen", "total"),
    ReviewField("seller", "seller", "seller_name", "seller_name"),
    ReviewField("seller tax id", "seller_tax_id", "seller_tax_id", "seller_tax_id"),
    ReviewField("buyer", "buyer", "buyer_name", "buyer_name"),
    ReviewField("buyer tax id", "buyer_tax_id", "buyer_tax_id", "buyer_tax_id"),
    ReviewField("check code", "check_code", "check_code", "check_code"),
    ReviewField("variant", "variant", "variant", "variant"),
)
# Also accepted: the column and the extractor's names, and '-' for '_' ('seller-tax-id', 'issue_date').
_BY_NAME = {
    alias: field
    for field in FIELDS
    for name in (field.name, field.column, field.source)
    for alias in (name, name.replace("_", "-"))
}
TAX_EXEMPT = "***"  # as invoices print the tax of an exempt sale
_HAND = "hand"

# Problem texts name fields by their extractor names, or by the labels printed on the invoice.
_FIELD_WORDS = {field.source: re.compile(rf"(?<![A-Za-z_]){field.source}(?![A-Za-z_])") for field in FIELDS}
_LABELS = {
    "价税合计": ("total",),
    "合计金额": ("pretax",),
    "合计税额": ("tax",),
    "invoice title": ("variant",),
}
# Checks that depend on what the archive does not keep (the amount in words) or on the day they ran: they are
# check problems although re-running the checks on the row cannot reproduce them.
_UNREPRODUCIBLE = re.compile(r"^价税合计 in words |^价税合计 could not be confirmed|^issue_date \S+ is not a plausible")
_NOT_CONFIRMED = "价税合计 could not be confirmed"


class FieldError(ValueError):
    """A `field=value` a person typed that cannot be taken; the message says why and what would be."""


Value = str | int | date | None


def parse_assignments(texts: list[str]) -> tuple[dict[str, Value], bool]:
    """['total=¥1,234.50', 'date=2025年7月29日'] -> ({column: value}, tax_exempt); FieldError on the first
    unknown field, repeated field or malformed value. An empty value clears an optional field."""
    values: dict[str, Value] = {}
    exempt = False
    for text in texts:
        name, equals, raw = text.partition("=")
        field = _BY_NAME.get(name.strip().lower())
        if not equals:
            raise FieldError(f"{text!r}: write FIELD=VALUE, e.g. total=117.00")
        if field is None:
            raise FieldError(f"{name.strip()!r} is not a field; fields: {', '.join(f.name for f in FIELDS)}")
        if field.column in values:
            raise FieldError(f"{field.name} is given twice")
        values[field.column] = parse_value(field, raw.strip())
        exempt = exempt or (field.column == "tax_fen" and raw.strip() == TAX_EXEMPT)
    if not values:
        raise FieldError("give at least one FIELD=VALUE, e.g. total=117.00")
    return values, exempt


def parse_value(field: ReviewField, raw: str) -> Value:
    """One typed value, read like the extractor reads the invoice; FieldError if it cannot be that field."""
    if not raw or (field.column == "tax_fen" and raw == TAX_EXEMPT):
        if field.column == "invoice_number":
            raise FieldError("number cannot be empty: every archived invoice has one")
        return None
    if field.column in ("invoice_number", "invoice_code"):
        digits = without_spaces(fold(raw))
        if not digits.isdigit():
            raise FieldError(f"{field.name} {raw!r} is not a number (digits only)")
        return digits
    if field.column == "issue_date":
        parsed = parse_date(raw)
        if parsed is None or len(digits_only(raw)) < 6:
            raise FieldError(f"date {raw!r} is not a date like 2025-07-29 or 2025年07月29日")
        return parsed
    if field.column.endswith("_fen"):
        amount = parse_amount(raw)
        if amount is None:
            raise FieldError(f"{field.name} {raw!r} is not an amount like 117.00, ¥1,234.50 or -5.00")
        return int(amount * 100)
    if field.column.endswith("_tax_id"):
        if re.search(r"[^0-9A-Za-z\s\-]", fold(raw)):
            raise FieldError(f"{field.name} {raw!r} is not a tax id (letters and digits only)")
        return tax_id_text(raw)
    if field.column == "variant":
        names = [str(v) for v in Variant]
        if raw not in names:
            raise FieldError(f"variant {raw!r} is not one of {', '.join(names)}")
        return raw
    return " ".join(fold(raw).split())


def correction(invoice: Invoice, texts: list[str], *, today: date) -> Correction:
    """What `fapiao review set` hands to storage for `texts` ('total=117.00', ...): the values, the invoice
    key they give and the problems left. FieldError when a field or value cannot be taken."""
    values, exempt = parse_assignments(texts)
    checked = recheck(invoice, values, tax_exempt=exempt, today=today)
    return Correction(values, checked.key, checked.problems)


@dataclass(frozen=True)
class Rechecked:
    key: str
    problems: tuple[str, ...]


def recheck(invoice: Invoice, values: dict[str, Value], *, tax_exempt: bool, today: date) -> Rechecked:
    """The invoice key and the problems of `invoice` with `values` put in; FieldError when the values leave
    it without an identity (an old-style number needs its code)."""
    before = fields_of(invoice)
    after = dataclasses.replace(before, **_field_values(values), tax_exempt=tax_exempt or _exempt(invoice, values))
    key = invoice_key(after)
    if key is None:
        raise FieldError("without a code this number is no invoice identity: set code too (or variant)")
    old_problems = list(json.loads(invoice.problems))
    sources = json.loads(invoice.sources)
    by_hand = {field.source for field in FIELDS if field.column in values} | {
        name for name, source in sources.items() if source == _HAND
    }
    confirmed_before = _confirmed(sources, old_problems, set())
    checks_before = set(validate.problems(before, today=today, confirmed=confirmed_before))
    kept = [
        problem
        for problem in old_problems
        if problem not in checks_before
        and not _UNREPRODUCIBLE.search(problem)
        and not ((concerned := problem_fields(problem)) and concerned <= by_hand)
    ]
    # The amount in words is not kept: its disagreement stands until a person sets the total.
    words = [p for p in old_problems if p.startswith("价税合计 in words") and "total" not in by_hand]
    confirmed = _confirmed(sources, old_problems, by_hand)
    checks = validate.problems(after, today=today, confirmed=confirmed)
    return Rechecked(key, tuple(dict.fromkeys(kept + words + checks)))


def problem_fields(problem: str) -> frozenset[str]:
    """The fields (extractor names) a problem text is about, by the names and invoice labels it mentions."""
    found = {name for name, word in _FIELD_WORDS.items() if word.search(problem)}
    for label, names in _LABELS.items():
        if label in problem:
            found.update(names)
    return frozenset(found)


def fields_of(invoice: Invoice) -> InvoiceFields:
    """The archived row as the extractor's fields (money back to Decimal yuan)."""
    variant = invoice.variant if invoice.variant in {str(v) for v in Variant} else None
    return InvoiceFields(
        variant=Variant(variant) if variant else None,
        invoice_code=invoice.invoice_code,
        invoice_number=invoice.invoice_number,
        issue_date=invoice.issue_date,
        total=_yuan(invoice.total_fen),
        pretax=_yuan(invoice.pretax_fen),
        tax=_yuan(invoice.tax_fen),
        seller_name=invoice.seller_name,
        seller_tax_id=invoice.seller_tax_id,
        buyer_name=invoice.buyer_name,
        buyer_tax_id=invoice.buyer_tax_id,
        check_code=invoice.check_code,
        tax_exempt=_exempt(invoice, {}),
    )


def _field_values(values: dict[str, Value]) -> dict[str, Any]:
    """Columns -> InvoiceFields values (fen -> Decimal yuan, variant name -> Variant)."""
    out: dict[str, Any] = {}  # InvoiceFields values of several types, for dataclasses.replace
    for field in FIELDS:
        if field.column not in values:
            continue
        value = values[field.column]
        if field.column.endswith("_fen"):
            out[field.source] = _yuan(value if isinstance(value, int) else None)
        elif field.column == "variant":
            out[field.source] = Variant(value) if isinstance(value, str) else None
        else:
            out[field.source] = value
    return out


def _exempt(invoice: Invoice, values: dict[str, Value]) -> bool:
    """Tax exempt (printed ***): no tax, and the extractor did not miss it (it said 'tax not found' then)."""
    tax = values.get("tax_fen", invoice.tax_fen)
    return tax is None and "tax_fen" not in values and "tax not found" not in json.loads(invoice.problems)


def _confirmed(sources: dict[str, str], problems: list[str], by_hand: set[str]) -> frozenset[str]:
    """The fields a second witness vouches for: the QR code, a person, or (the total) the amount in words,
    which the archive does not keep but which confirmed the total if the extractor did not complain."""
    confirmed = {name for name, source in sources.items() if "qr" in source} | by_hand
    if not any(problem.startswith(_NOT_CONFIRMED) for problem in problems):
        confirmed.add("total")
    return frozenset(confirmed)


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)
