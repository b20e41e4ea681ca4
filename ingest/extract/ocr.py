"""Pure: the fields of a scanned invoice from OCR words, kept only where a check vouches for them.

OCR misreads; a misread that looks plausible is worse than a gap. So each value
must pass a check before it is used: a tax id its 统一社会信用代码 check
character, amounts that add up to the total the QR code gave, a name that
looks like a name. The caller still marks the invoice for review: OCR values
are a head start for the person, not a confirmation.

Roles come from where the label sits: on 数电 layouts the seller is the right
column, on older layouts the block below the totals.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from decimal import Decimal

from ingest.extract.normalize import fold, parse_amount
from ingest.extract.tesseract import OcrWord
from ingest.extract.validate import tax_id_problem
from ingest.model import InvoiceFields

# A column boundary: words further apart than this many line heights belong to different cells.
_GAP_IN_LINE_HEIGHTS = 1.5
# Labels right of this fraction of the page width are in the seller column (数电 layout).
_SELLER_COLUMN_FROM = 0.45

# 名称 but not 项目名称 / 货物或应税劳务、服务名称 (the items table header).
_NAME_LABEL = re.compile(r"(?<![目务物])名称[:;：；]?")
_TAX_ID_LABEL = re.compile(r"识别号[:;：；]?|信用代码(?![/纳])[:;：；]?")
_ANY_LABEL = re.compile(f"{_NAME_LABEL.pattern}|{_TAX_ID_LABEL.pattern}|地址|开户行|电话")
# Whole 18-character tokens only: an invoice number or bank account has 18-character runs inside it.
_TAX_ID_TOKEN = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
_TAX_ID_LINE = re.compile(r"识别号|信用代码|税号")
_AMOUNT = re.compile(r"[¥￥]\s*(-?\d[\d,. ]*\d)")
_BRACKETS = str.maketrans("〈〔【「<[{〉〕】」>]}", "((((((()))))))")
_NAME_EDGES = re.compile(r"^[^0-9A-Za-z\u4e00-\u9fff]+|[^0-9A-Za-z\u4e00-\u9fff)]+$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class _Line:
    words: tuple[OcrWord, ...]
    text: str  # folded words joined without spaces
    owner: tuple[int, ...]  # for each character of `text`, the index of its word
    top: int
    height: float


@dataclass(frozen=True)
class _Found:
    role: str  # 'buyer' or 'seller'
    value: str


def read_ocr_fields(
    words: list[OcrWord],
    *,
    page_width: int,
    known_total: Decimal | None,
    known_pretax: Decimal | None,
) -> InvoiceFields:
    """Names, tax ids and amounts that pass their checks; None for every other field."""
    lines = _lines(words)
    totals_top = next((line.top for line in lines if "小写" in line.text or "价税合计" in line.text), None)

    def role(line: _Line, start: int) -> str:
        word = line.words[line.owner[start]]
        if word.left > page_width * _SELLER_COLUMN_FROM or (totals_top is not None and line.top > totals_top):
            return "seller"
        return "buyer"

    names = [
        _Found(role(line, m.start()), name)
        for line in lines
        for m in _NAME_LABEL.finditer(line.text)
        if (name := _clean_name(_value_after(line, m.end()))) is not None
    ]
    tax_ids = [
        _Found(role(line, m.start()), m.group())
        for line in lines
        if _TAX_ID_LINE.search(line.text)
        for m in _TAX_ID_TOKEN.finditer(line.text)
        if tax_id_problem(m.group()) is None
    ]
    pretax, tax, total = _amounts(lines, known_total=known_total, known_pretax=known_pretax)
    return InvoiceFields(
        seller_name=_only(names, "seller"),
        buyer_name=_only(names, "buyer"),
        seller_tax_id=_only(tax_ids, "seller"),
        buyer_tax_id=_only(tax_ids, "buyer"),
        pretax=pretax,
        tax=tax,
        total=total,
    )


def _lines(words: list[OcrWord]) -> list[_Line]:
    grouped: dict[tuple[int, int, int], list[OcrWord]] = {}
    for word in words:
        grouped.setdefault(word.line, []).append(word)
    lines = []
    for members in grouped.values():
        members.sort(key=lambda w: w.left)
        texts = [fold(w.text).replace(" ", "") for w in members]
        owner = tuple(i for i, text in enumerate(texts) for _ in text)
        lines.append(
            _Line(
                words=tuple(members),
                text="".join(texts),
                owner=owner,
                top=min(w.top for w in members),
                height=statistics.median(w.height for w in members),
            )
        )
    lines.sort(key=lambda line: line.top)
    return lines


def _value_after(line: _Line, start: int) -> str:
    """The characters after a label up to a column gap or the next label."""
    following = _ANY_LABEL.search(line.text, start)
    end = following.start() if following else len(line.text)
    chars: list[str] = []
    previous_word: OcrWord | None = None
    for index in range(start, end):
        word = line.words[line.owner[index]]
        gap = 0 if previous_word is None or word is previous_word else word.left - previous_word.right
        if gap > line.height * _GAP_IN_LINE_HEIGHTS:
            break
        previous_word = word
        chars.append(line.text[index])
    return "".join(chars)


def _clean_name(raw: str) -> str | None:
    # Stray marks from table rules and side labels stick to either end: keep from the first
    # ideograph, letter or digit to the last one (or closing bracket).
    name = _NAME_EDGES.sub("", raw.translate(_BRACKETS))
    if len(name) < 2 or not _CJK.search(name) or re.search(r"[|=*<>/\\]", name):
        return None
    return name


def _only(found: list[_Found], role: str) -> str | None:
    """The one value read for `role`; None when none or when two readings disagree."""
    values = {f.value for f in found if f.role == role}
    return values.pop() if len(values) == 1 else None


def _amounts(
    lines: list[_Line], *, known_total: Decimal | None, known_pretax: Decimal | None
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(pretax, tax, total) from the 合计 and 价税合计(小写) lines, each only if the sum closes."""
    printed_total = next(
        (amounts[-1] for line in lines if "小写" in line.text and (amounts := _amounts_in(line.text))), None
    )
    for line in lines:
        amounts = _amounts_in(line.text)
        if "小写" in line.text or len(amounts) < 2:
            continue
        pretax, tax = amounts[0], amounts[1]
        if known_pretax is not None and pretax != known_pretax:
            continue
        total = known_total if known_total is not None else printed_total
        if total is not None and pretax + tax == total:
            return pretax, tax, total
    return None, None, None


def _amounts_in(text: str) -> list[Decimal]:
    found = []
    for match in _AMOUNT.finditer(text):
        digits = match.group(1).replace(" ", "")
        # OCR often reads the decimal point as a comma: '146,83'.
        digits = re.sub(r",(\d{2})$", r".\1", digits)
        if (value := parse_amount(digits)) is not None:
            found.append(value)
    return found
