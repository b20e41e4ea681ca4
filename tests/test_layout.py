"""The page geometry rules with literal glyphs: lines, side labels, values beside their labels."""

from __future__ import annotations

import re

from ingest.extract.layout import PageLayout, group_lines, spaced_text, words
from ingest.extract.pdf import Glyph, Page


def run(text: str, x0: float, top: float, *, size: float = 9.0, pitch: float | None = None) -> list[Glyph]:
    """Glyphs of `text` from x0 on one baseline, one per character, `pitch` apart (default: touching)."""
    step = pitch or size
    return [Glyph(c, x0 + i * step, x0 + i * step + size, top, top + size, size) for i, c in enumerate(text)]


def page(*runs: list[Glyph], width: float = 600.0) -> PageLayout:
    glyphs = tuple(g for r in runs for g in r)
    return PageLayout(Page(1, width, 400.0, glyphs, image_count=0, unmapped_glyphs=0))


def value_of(layout: PageLayout, label: str) -> str:
    [found] = layout.find(re.compile(label))
    return spaced_text(layout.glyphs_right_of(found))


def test_letter_spaced_label_far_apart_still_matches() -> None:
    layout = page(run("名", 48, 87), run("称:", 93, 87), run("个人", 108, 86.5))
    assert value_of(layout, "名称:") == "个人"


def test_small_seal_characters_do_not_break_the_title() -> None:
    title = run("深圳电子普通发票", 227, 19, size=20)
    seal = run("发票", 283, 31, size=7, pitch=12)  # sits between the title's letters, bottom within tolerance
    lines = group_lines(title + seal)
    assert "深圳电子普通发票" in [line.text for line in lines]


def test_buyer_value_stops_at_the_seller_side_label() -> None:
    side = [Glyph(c, 302, 310, 93 + 10 * i, 102 + 10 * i, 9) for i, c in enumerate("销售方信息")]
    layout = page(
        run("统一社会信用代码/纳税人识别号:", 32, 125),
        run("125000004504018996", 186, 125, size=12, pitch=6),
        side,
        run("统一社会信用代码/纳税人识别号:", 318, 125, pitch=6),
    )
    assert layout.side_labels[0].text == "销售方信息"
    labels = layout.find(re.compile("纳税人识别号:"))
    buyer = min(labels, key=lambda lab: lab.x0)
    assert spaced_text(layout.glyphs_right_of(buyer)) == "125000004504018996"


def test_value_stops_at_the_cipher_block_side_label() -> None:
    side = [Glyph(c, 351, 360, 90 + 19 * i, 99 + 19 * i, 9) for i, c in enumerate("密码区")]
    layout = page(run("纳税人识别号:", 48, 101), run("91440300MA5ENJ8J27", 108, 101, pitch=6), side)
    layout_with_cipher = page(
        run("纳税人识别号:", 48, 101),
        run("91440300MA5ENJ8J27", 108, 101, pitch=6),
        side,
        run("<>9200518*10-0<9>051-736759", 380, 101, pitch=7),
    )
    assert value_of(layout, "纳税人识别号:") == "91440300MA5ENJ8J27"
    assert value_of(layout_with_cipher, "纳税人识别号:") == "91440300MA5ENJ8J27"


def test_value_stops_at_a_wide_gap_and_at_the_next_label() -> None:
    layout = page(run("名称:", 48, 295), run("某某贸易有限公司", 108, 295), run("订单号:1000", 370, 295))
    layout.find(re.compile("订单号:"))
    assert value_of(layout, "名称:") == "某某贸易有限公司"


def test_value_on_a_slightly_different_baseline_and_size() -> None:
    # 数电: the 12 pt id sits 0.5 pt higher and ends 2.5 pt lower than its 9 pt label.
    layout = page(run("纳税人识别号:", 32, 125.5), run("91320583MA25CRY789", 97, 125.0, size=12, pitch=7))
    assert value_of(layout, "纳税人识别号:") == "91320583MA25CRY789"


def test_a_character_drawn_twice_counts_once() -> None:
    glyphs = run("开票人:", 55, 368) + run("查玮", 91, 368) + run("查玮", 91.2, 368)
    layout = page(glyphs)
    assert value_of(layout, "开票人:") == "查玮"


def test_values_are_ordered_by_position_not_by_drawing_order() -> None:
    # Template layer (年月日) drawn before the data layer (digits): order comes from x.
    template = run("年", 500, 47.7) + run("月", 522, 47.7) + run("日", 542, 47.7)
    data = run("2019", 477, 47.8, pitch=5.5) + run("07", 509, 47.8, pitch=5.5) + run("20", 531, 47.8, pitch=5.5)
    layout = page(run("开票日期:", 434, 47.6), template, data)
    assert value_of(layout, "开票日期:").replace(" ", "") == "2019年07月20日"


def test_words_split_at_gaps() -> None:
    glyphs = run("¥", 406, 260) + run("36.28", 412.6, 260, pitch=5) + run("¥4.72", 558, 260, pitch=5)
    assert words(sorted(glyphs, key=lambda g: g.x0)) == ["¥36.28", "¥4.72"]
