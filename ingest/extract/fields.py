"""Pure: pages of positioned glyphs -> InvoiceFields, by the layout rules of each variant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ingest.extract.layout import Label, PageLayout, spaced_text, words
from ingest.extract.normalize import (
    digits_only,
    parse_amount,
    parse_capital_amount,
    parse_date,
    tax_id_text,
    without_spaces,
)
from ingest.extract.pdf import Page
from ingest.model import InvoiceFields, Variant

# Labels, matched in folded text without spaces (NFKC has made '：（）' into ':()').
NUMBER = re.compile(r"发票号码:?")
CODE = re.compile(r"发票代码:?")
DATE = re.compile(r"开票日期:?")
CHECK_CODE = re.compile(r"校验码:?")
# Not the item table's 项目名称 / 货物或应税劳务、服务名称 headers.
PARTY_NAME = re.compile(r"(?<![目务物])名称:?")
TAX_ID = re.compile(r"(?:统一社会信用代码/?)?纳税人识别号:?|统一社会信用代码:?")
TOTAL_IN_FIGURES = re.compile(r"\(?小写\)?:?")
TOTAL_IN_WORDS = re.compile(r"价税合计\(?大写\)?:?")
SUM_ROW = re.compile(r"(?<![税小])合计:?")
# Labels whose only job is to stop a neighbouring value from running into them.
OTHER_LABELS = re.compile(
    r"地址、?电话:?|开户行及账号:?|机器编号:?|电子支付标识:?|开票人:?|收款人:?|复核:?|"
    r"销售方:?\(章\)|下载次数:?|共\d+页|第\d+页|订单号:?"
)

TITLES: tuple[tuple[re.Pattern[str], Variant], ...] = (
    (re.compile(r"电子发票\(增值税专用发票\)"), Variant.DIGITAL_SPECIAL),
    (re.compile(r"电子发票\(普通发票\)"), Variant.DIGITAL_ORDINARY),
    (re.compile(r"电子发票\((?:铁路电子客票|航空运输电子客票行程单)\)|电子客票行程单"), Variant.DIGITAL_OTHER),
    (re.compile(r"深圳电子普通发票"), Variant.SHENZHEN_BLOCKCHAIN),
    (re.compile(r"增值税电子专用发票"), Variant.OLD_SPECIAL),
    (re.compile(r"增值税电子普通发票"), Variant.OLD_ORDINARY),
)

# The 密码区 cipher: digits and + - * / < >, long, with at least one operator.
_CIPHER = re.compile(r"^(?=.*[+*/<>])[0-9+\-*/<>]{6,}$")


@dataclass(frozen=True)
class PartyLabels:
    name: Label | None
    tax_id: Label | None


def read_fields(pages: list[Page]) -> InvoiceFields:
    """Every field the text layer gives; missing ones stay None (validation decides what that means)."""
    first = PageLayout(pages[0])
    labels = _find_labels(first)
    buyer, seller = _party_labels(first, labels["name"], labels["tax_id"])
    totals_page = _totals_page(pages, first)
    totals = _find_labels(totals_page)
    pretax, tax, tax_exempt = _sum_row(totals_page, totals["sum_row"])
    code, number = _digits_after(first, labels["code"]), _digits_after(first, labels["number"])
    check_code = _check_code(first, labels["check_code"])
    return InvoiceFields(
        variant=detect_variant(first.text) or _variant_without_title(code, number, check_code),
        invoice_code=code,
        invoice_number=number,
        issue_date=parse_date(_text_after(first, labels["date"], max_gap=3.0)),
        total=_amount_after(totals_page, totals["total_in_figures"]),
        pretax=pretax,
        tax=tax,
        tax_exempt=tax_exempt,
        total_in_words=parse_capital_amount(_text_after(totals_page, totals["total_in_words"], max_first_gap=15.0)),
        seller_name=_party_name(first, seller.name),
        seller_tax_id=_tax_id_after(first, seller.tax_id),
        buyer_name=_party_name(first, buyer.name),
        buyer_tax_id=_tax_id_after(first, buyer.tax_id),
        check_code=check_code,
        pages=len(pages),
    )


def detect_variant(page_text: str) -> Variant | None:
    for pattern, variant in TITLES:
        if pattern.search(page_text):
            return variant
    return None


def _variant_without_title(code: str | None, number: str | None, check_code: str | None) -> Variant | None:
    """Some producers draw the title as an image. Only the Shenzhen blockchain invoice can be told
    without it (its 校验码 is five hex characters); old style 普票 and 专票 look alike, so no guess."""
    looks_old_style = code is not None and len(code) == 12 and number is not None and len(number) == 8
    if looks_old_style and check_code and re.fullmatch(r"[0-9a-fA-F]{5}", check_code):
        return Variant.SHENZHEN_BLOCKCHAIN
    return None


def _find_labels(layout: PageLayout) -> dict[str, list[Label]]:
    labels = {
        "number": layout.find(NUMBER),
        "code": layout.find(CODE),
        "date": layout.find(DATE),
        "check_code": layout.find(CHECK_CODE),
        "name": layout.find(PARTY_NAME),
        "tax_id": layout.find(TAX_ID),
        "total_in_figures": layout.find(TOTAL_IN_FIGURES),
        "total_in_words": layout.find(TOTAL_IN_WORDS),
        "sum_row": layout.find(SUM_ROW),
    }
    # Found only so that values stop in front of them; every label must be known before any value is read.
    layout.find(OTHER_LABELS)
    return labels


def _totals_page(pages: list[Page], first: PageLayout) -> PageLayout:
    """价税合计 and 合计 are printed only on the last page of a multi-page invoice: search from the end,
    laying out only the pages looked at."""
    for page in reversed(pages[1:]):
        layout = PageLayout(page)
        if TOTAL_IN_FIGURES.search(layout.text):
            return layout
    return first


def _party_labels(layout: PageLayout, names: list[Label], tax_ids: list[Label]) -> tuple[PartyLabels, PartyLabels]:
    """Which 名称 and 纳税人识别号 belong to the buyer and which to the seller.

    The side label (购买方 / 销售方, stacked in the block's margin) says it;
    without one, two names on one line are buyer left and seller right
    (数电), and names one above the other are buyer first (old style).
    """
    roles: dict[str, list[Label]] = {"buyer": [], "seller": []}
    unknown: list[Label] = []
    for label in names:
        role = _role(layout, label)
        (roles[role] if role else unknown).append(label)
    for label in sorted(unknown, key=lambda lab: (lab.top, lab.x0)):
        if not roles["buyer"] and not any(
            abs(other.top - label.top) < label.size and other.x0 < label.x0 for other in unknown
        ):
            roles["buyer"].append(label)
        elif not roles["seller"]:
            roles["seller"].append(label)
    parties = []
    for role in ("buyer", "seller"):
        name = min(roles[role], key=lambda lab: lab.top, default=None)
        parties.append(PartyLabels(name, _tax_id_label_for(layout, name, role, tax_ids)))
    return parties[0], parties[1]


def _role(layout: PageLayout, label: Label) -> str | None:
    side = layout.side_label_at(label, right=False)
    if side is None:
        return None
    if side.text.startswith("购"):
        return "buyer"
    if side.text.startswith("销"):
        return "seller"
    return None


def _tax_id_label_for(layout: PageLayout, name: Label | None, role: str, tax_ids: list[Label]) -> Label | None:
    if name is None:
        return None
    below = [t for t in tax_ids if t.top >= name.top - 1 and abs(t.x0 - name.x0) < 4 * name.size]
    same_role = [t for t in below if _role(layout, t) in (role, None)]
    return min(same_role or below, key=lambda t: t.top - name.top, default=None)


def _first(labels: list[Label]) -> Label | None:
    return min(labels, key=lambda lab: (lab.top, lab.x0), default=None)


def _text_after(layout: PageLayout, labels: list[Label], *, max_first_gap: float = 12.0, max_gap: float = 1.5) -> str:
    label = _first(labels)
    if label is None:
        return ""
    return spaced_text(layout.glyphs_right_of(label, max_first_gap=max_first_gap, max_gap=max_gap))


def _digits_after(layout: PageLayout, labels: list[Label]) -> str | None:
    """The first run of digits after the label ('发票号码:' '2532…' or fused '发票代码:1440…')."""
    for word in _text_after(layout, labels).split(" "):
        digits = digits_only(word)
        if digits:
            return digits
    return None


def _check_code(layout: PageLayout, labels: list[Label]) -> str | None:
    # Old style prints 20 digits in four groups of five; 区块链 prints five hex characters.
    code = without_spaces(_text_after(layout, labels))
    return code or None


def _party_name(layout: PageLayout, label: Label | None) -> str | None:
    if label is None:
        return None
    kept = []
    for word in words(layout.glyphs_right_of(label, max_first_gap=8.0, max_gap=2.0)):
        if _CIPHER.match(word):
            break
        kept.append(word)
    name = " ".join(kept).strip()
    return name or None


def _tax_id_after(layout: PageLayout, label: Label | None) -> str | None:
    if label is None:
        return None
    for word in words(layout.glyphs_right_of(label, max_first_gap=12.0, max_gap=1.0)):
        if _CIPHER.match(word):
            break
        tax_id = tax_id_text(word)
        if tax_id:
            return tax_id
    return None


def _money_words(texts: list[str]) -> list[str]:
    """Words with a lone currency sign joined to the figure after it ('¥', '117.00' -> '¥117.00')."""
    merged: list[str] = []
    for text in texts:
        if merged and merged[-1] in ("¥", "-¥", "¥-"):
            merged[-1] += text
        else:
            merged.append(text)
    return merged


def _amount_after(layout: PageLayout, labels: list[Label]) -> Decimal | None:
    label = _first(labels)
    if label is None:
        return None
    for word in _money_words(words(layout.glyphs_right_of(label, max_first_gap=4.0, max_gap=1.0))):
        amount = parse_amount(word)
        if amount is not None:
            return amount
    return None


def _sum_row(layout: PageLayout, labels: list[Label]) -> tuple[Decimal | None, Decimal | None, bool]:
    """合计 row: (pre-tax, tax, tax printed as ***). The two figures sit far apart under 金额 and 税额."""
    label = _first(labels)
    if label is None:
        return None, None, False
    glyphs = layout.glyphs_right_of(label, max_first_gap=1000.0, max_gap=1000.0, stop_x=layout.page.width + 1)
    figures: list[Decimal | None] = []
    for word in _money_words(words(glyphs)):
        if set(word.lstrip("¥")) == {"*"}:
            figures.append(None)
            continue
        amount = parse_amount(word)
        if amount is not None:
            figures.append(amount)
    if not figures:
        return None, None, False
    pretax = figures[0]
    if len(figures) == 1:
        return pretax, None, False
    tax = figures[-1]
    return pretax, tax, tax is None
