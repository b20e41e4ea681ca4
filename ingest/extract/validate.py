"""Checks that turn a wrong or missing value into a reason for review: a wrong value never goes out as 'ok'."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from ingest.model import InvoiceFields, Variant

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# The oldest e-invoices (增值税电子普通发票) date from 2012 pilots; anything earlier is a misread.
EARLIEST_ISSUE_DATE = date(2012, 1, 1)

_LEGACY_TAX_ID = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{17}$|^[0-9A-Z]{20}$")
_NAME_NOISE = re.compile(r"[<>*+/=]|名称|纳税人|识别号|统一社会|信用代码|地址|电话|开户行")


def uscc_check_char(first17: str) -> str | None:
    """The 18th character of a 统一社会信用代码 (GB 32100-2015), or None if `first17` has a foreign character."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        return None
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def tax_id_problem(tax_id: str) -> str | None:
    """Why `tax_id` cannot be right, or None. 18 characters must carry a valid USCC check character;
    15-, 17- and 20-character legacy ids (individual businesses) have no check to run."""
    if len(tax_id) == 18:
        expected = uscc_check_char(tax_id[:17])
        if expected is None:
            return "has characters a 统一社会信用代码 never uses (I, O, S, V, Z)"
        if expected != tax_id[17]:
            return f"fails the 统一社会信用代码 check (last character should be {expected})"
        return None
    if _LEGACY_TAX_ID.match(tax_id):
        return None
    return f"is {len(tax_id)} characters; a tax id has 18 (or 15, 17, 20 for old registrations)"


def problems(fields: InvoiceFields, *, today: date, confirmed: frozenset[str] = frozenset()) -> list[str]:
    """Every reason this invoice needs a person's look; empty when every check passed.

    `confirmed` names the fields an independent source (the QR code) gave or agreed with.
    """
    found: list[str] = []
    variant = fields.variant
    if variant is None:
        found.append("invoice title not recognised (no 电子发票 / 增值税电子普通发票 heading found)")
    found += _missing(fields)
    found += _identity_problems(fields)
    found += _party_problems(fields)
    found += _amount_problems(fields, total_confirmed="total" in confirmed)
    if fields.issue_date is not None and not (EARLIEST_ISSUE_DATE <= fields.issue_date <= today):
        found.append(
            f"issue_date {fields.issue_date.isoformat()} is not a plausible date (before 2012 or in the future)"
        )
    return found


def _missing(fields: InvoiceFields) -> list[str]:
    required = ["invoice_number", "issue_date", "total", "pretax", "seller_name", "seller_tax_id", "buyer_name"]
    if fields.variant is not None and not fields.variant.is_digital:
        required.append("invoice_code")
    if not fields.tax_exempt:
        required.append("tax")
    return [f"{name} not found" for name in required if getattr(fields, name) is None]


def _identity_problems(fields: InvoiceFields) -> list[str]:
    found: list[str] = []
    number, code, variant = fields.invoice_number, fields.invoice_code, fields.variant
    if variant is not None and variant.is_digital:
        if number is not None and len(number) != 20:
            found.append(f"invoice_number has {len(number)} digits; a {variant} number has 20")
    elif variant is not None:
        if number is not None and len(number) != 8:
            found.append(f"invoice_number has {len(number)} digits; a {variant} number has 8")
        if code is not None and len(code) not in (10, 12):
            found.append(f"invoice_code has {len(code)} digits; expected 12 (or 10)")
    check = fields.check_code
    if check is None:
        return found
    if variant in (Variant.OLD_ORDINARY, Variant.OLD_SPECIAL) and not (check.isdigit() and len(check) == 20):
        found.append(f"check_code {check!r} is not 20 digits")
    if variant is Variant.SHENZHEN_BLOCKCHAIN and not re.fullmatch(r"[0-9a-fA-F]{5}", check):
        found.append(f"check_code {check!r} is not 5 hexadecimal characters")
    return found


def _party_problems(fields: InvoiceFields) -> list[str]:
    found: list[str] = []
    for role in ("seller", "buyer"):
        tax_id = getattr(fields, f"{role}_tax_id")
        if tax_id is not None and (reason := tax_id_problem(tax_id)):
            found.append(f"{role}_tax_id {tax_id} {reason}")
        name = getattr(fields, f"{role}_name")
        if name is not None and (len(name) < 2 or _NAME_NOISE.search(name) or name.replace(" ", "").isdigit()):
            found.append(f"{role}_name {name!r} does not look like a name (cipher or label text mixed in?)")
    return found


def _amount_problems(fields: InvoiceFields, *, total_confirmed: bool) -> list[str]:
    found: list[str] = []
    total, pretax, tax, in_words = fields.total, fields.pretax, fields.tax, fields.total_in_words
    if total is not None and in_words is not None and in_words != total:
        found.append(f"价税合计 in words ({in_words}) differs from the figure ({total})")
    if total is not None and pretax is not None and (tax is not None or fields.tax_exempt):
        expected = pretax + (tax or Decimal(0))
        if expected != total:
            found.append(f"合计金额 {pretax} + 合计税额 {tax or 0} = {expected}, but 价税合计 is {total}")
    summed = pretax is not None and (tax is not None or fields.tax_exempt)
    if total is not None and in_words is None and not summed and not total_confirmed:
        found.append("价税合计 could not be confirmed (neither the amount in words nor 金额 + 税额 was read)")
    return found
