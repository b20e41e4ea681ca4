"""Pure text folding and value parsing: Unicode, amounts (also in capital numerals), dates, ids."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from ingest.extract.radicals import RADICAL_SUPPLEMENT_TO_IDEOGRAPH

_RADICALS = {src: chr(dst) for src, dst in RADICAL_SUPPLEMENT_TO_IDEOGRAPH.items()}


def fold(text: str) -> str:
    """Fold text to one spelling: radicals to ideographs, then NFKC.

    NFKC makes full-width punctuation, ￥ and Kangxi radicals plain, but turns
    the toll invoices' decorative wavy lines into a space plus a combining
    overline; combining marks carry no meaning on an invoice, so they go.
    """
    folded = unicodedata.normalize("NFKC", text.translate(_RADICALS))
    if folded.isascii():
        return folded
    return "".join(c for c in folded if not unicodedata.combining(c))


def without_spaces(text: str) -> str:
    return "".join(text.split())


_AMOUNT = re.compile(r"^([+-]?)¥?([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$")


def parse_amount(text: str) -> Decimal | None:
    """'¥1,234.50', '-5.00', '¥-5.00', '¥ 117.00' -> Decimal; anything else -> None."""
    match = _AMOUNT.match(without_spaces(fold(text)))
    if match is None:
        return None
    sign_before, sign_after, whole, cents = match.groups()
    if sign_before and sign_after:
        return None
    negative = "-" in (sign_before, sign_after)
    value = Decimal(whole.replace(",", "") + "." + (cents or "0").ljust(2, "0"))
    return -value if negative else value


_CAPITAL_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_CAPITAL_DIGITS.update({"两": 2, "貮": 2, "〇": 0})
_SMALL_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_FRACTION_UNITS = {"角": Decimal("0.1"), "分": Decimal("0.01")}
# Printers put a crossed circle (⊗, ⓧ, ×) before the capital amount so nothing can be written in front;
# NFKC turns ⓧ into a plain x.
_CAPITAL_NOISE = str.maketrans("", "", "⊗×⨂xX*: ")


def parse_capital_amount(text: str) -> Decimal | None:
    """Read an amount written in Chinese capital numerals ('壹佰零陆圆整', '负伍角') or return None."""
    text = without_spaces(fold(text)).translate(_CAPITAL_NOISE)
    negative = text.startswith("负")
    if negative:
        text = text[1:]
    text = text.removesuffix("整").removesuffix("正")
    if not text:
        return None
    yuan_text, fraction_text = _split_yuan(text)
    if yuan_text is None:
        return None
    whole = _parse_capital_integer(yuan_text) if yuan_text else 0
    fraction = _parse_capital_fraction(fraction_text)
    if whole is None or fraction is None:
        return None
    value = Decimal(whole) + fraction
    return -value if negative else value


def _split_yuan(text: str) -> tuple[str | None, str]:
    for unit in ("圆", "元"):
        if unit in text:
            head, _, tail = text.partition(unit)
            return head, tail
    # No 圆: only an amount below one yuan ('伍角') is well formed.
    if text[-1] in _FRACTION_UNITS:
        return "", text
    return None, ""


def _parse_capital_integer(text: str) -> int | None:
    # 亿 closes everything before it; 万 closes only the digits since the last 亿.
    above_yi = 0
    wan_part = 0
    section = 0
    digit: int | None = None
    for char in text:
        if char in _CAPITAL_DIGITS:
            digit = _CAPITAL_DIGITS[char]
        elif char in _SMALL_UNITS:
            # '拾' alone at the start means one ten (拾伍 = 15).
            section += (1 if digit is None else digit) * _SMALL_UNITS[char]
            digit = None
        elif char == "万":
            wan_part = (section + (digit or 0)) * 10_000
            section, digit = 0, None
        elif char == "亿":
            above_yi = (above_yi + wan_part + section + (digit or 0)) * 100_000_000
            wan_part, section, digit = 0, 0, None
        else:
            return None
    return above_yi + wan_part + section + (digit or 0)


def _parse_capital_fraction(text: str) -> Decimal | None:
    fraction = Decimal(0)
    digit: int | None = None
    for char in text:
        if char in _CAPITAL_DIGITS:
            digit = _CAPITAL_DIGITS[char]
        elif char in _FRACTION_UNITS and digit is not None:
            fraction += digit * _FRACTION_UNITS[char]
            digit = None
        else:
            return None
    if digit not in (None, 0):
        return None
    return fraction


_DATE = re.compile(r"(\d{4})\s*[年./-]?\s*(\d{1,2})\s*[月./-]?\s*(\d{1,2})\s*日?")


def parse_date(text: str) -> date | None:
    """'2024年06月21日', '2019 年 07 月 20 日', '2024-06-21', '20240621' -> date; else None."""
    match = _DATE.search(fold(text))
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def tax_id_text(text: str) -> str:
    """The tax id as printed, upper-cased, without spaces or punctuation."""
    return "".join(c for c in fold(text).upper() if c.isascii() and c.isalnum())


def digits_only(text: str) -> str:
    return "".join(c for c in fold(text) if c.isascii() and c.isdigit())


def decimal_string(value: Decimal | None) -> str | None:
    """Money as a string with two decimals, the way invoices print it."""
    if value is None:
        return None
    try:
        return str(value.quantize(Decimal("0.01")))
    except InvalidOperation:
        return str(value)
