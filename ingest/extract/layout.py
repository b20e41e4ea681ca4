"""Pure geometry on one page: lines, labels found in them, side labels, and the value beside a label.

Values are found by where they sit (right of their label, on its baseline),
never by text order: many producers draw all labels first and all values
later, so the order of the content stream says nothing about what belongs
together.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from ingest.extract.pdf import Glyph, Page


@dataclass(frozen=True)
class Line:
    """Glyphs sharing a baseline, left to right; `text` has no spaces, `owner[i]` is the glyph of text[i]."""

    glyphs: tuple[Glyph, ...]
    text: str
    owner: tuple[int, ...]


@dataclass(frozen=True)
class Label:
    """A label found on a page, e.g. '发 票 号 码 ：' letter-spaced over five glyphs."""

    glyphs: tuple[Glyph, ...]
    text: str

    @property
    def x0(self) -> float:
        return self.glyphs[0].x0

    @property
    def x1(self) -> float:
        return self.glyphs[-1].x1

    @property
    def top(self) -> float:
        return min(g.top for g in self.glyphs)

    @property
    def bottom(self) -> float:
        return max(g.bottom for g in self.glyphs)

    @property
    def size(self) -> float:
        return max(g.size for g in self.glyphs)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class SideLabel:
    """Characters stacked vertically at one x, like 购买方信息, 密码区 or 备注 in the left margin of a block."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float


def _is_ideograph(text: str) -> bool:
    return len(text) == 1 and "\u4e00" <= text <= "\u9fff"


def group_lines(glyphs: Iterable[Glyph]) -> list[Line]:
    """Cluster glyphs whose bottoms lie within a quarter of their size, and whose sizes are alike.

    Size matters because the seal's small characters share the title's
    baseline and sit between its letters.
    """
    lines: list[Line] = []
    current: list[Glyph] = []
    anchor = 0.0
    for glyph in sorted(glyphs, key=lambda g: g.bottom):
        if current and glyph.bottom - anchor > max(1.0, 0.25 * glyph.size):
            lines.extend(_split_by_size(current))
            current = []
        if not current:
            anchor = glyph.bottom
        current.append(glyph)
    if current:
        lines.extend(_split_by_size(current))
    return lines


def _split_by_size(glyphs: list[Glyph]) -> list[Line]:
    groups: list[list[Glyph]] = []
    for glyph in sorted(glyphs, key=lambda g: g.size):
        if groups and glyph.size <= groups[-1][0].size * 1.3:
            groups[-1].append(glyph)
        else:
            groups.append([glyph])
    return [_make_line(group) for group in groups]


def _make_line(glyphs: list[Glyph]) -> Line:
    ordered = tuple(sorted(glyphs, key=lambda g: g.x0))
    parts: list[str] = []
    owner: list[int] = []
    for index, glyph in enumerate(ordered):
        parts.append(glyph.text)
        owner.extend([index] * len(glyph.text))
    return Line(ordered, "".join(parts), tuple(owner))


def find_side_labels(lines: list[Line]) -> list[SideLabel]:
    """Single ideographs standing apart on their line, stacked at the same x: a block's side label."""
    lonely: list[Glyph] = []
    for line in lines:
        glyphs = line.glyphs
        for i, glyph in enumerate(glyphs):
            if not _is_ideograph(glyph.text):
                continue
            room = 0.8 * glyph.size
            if i > 0 and glyph.x0 - glyphs[i - 1].x1 < room:
                continue
            if i + 1 < len(glyphs) and glyphs[i + 1].x0 - glyph.x1 < room:
                continue
            lonely.append(glyph)
    lonely.sort(key=lambda g: g.top)
    used: set[int] = set()
    stacks: list[SideLabel] = []
    for start, first in enumerate(lonely):
        if start in used:
            continue
        chain = [first]
        for index in range(start + 1, len(lonely)):
            glyph, last = lonely[index], chain[-1]
            if glyph.top - last.bottom > 2 * last.size:
                break
            if index not in used and abs(glyph.x0 - last.x0) <= 0.3 * last.size and glyph.top >= last.bottom - 1:
                chain.append(glyph)
                used.add(index)
        if len(chain) >= 2:
            stacks.append(
                SideLabel(
                    text="".join(g.text for g in chain),
                    x0=min(g.x0 for g in chain),
                    x1=max(g.x1 for g in chain),
                    top=chain[0].top,
                    bottom=chain[-1].bottom,
                )
            )
    return stacks


class PageLayout:
    """One page prepared for label and value look-ups."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.lines = group_lines(page.glyphs)
        self.side_labels = find_side_labels(self.lines)
        self._by_middle = sorted(page.glyphs, key=lambda g: g.middle)
        self._middles = [g.middle for g in self._by_middle]
        self._label_glyphs: set[int] = set()
        self._found: dict[re.Pattern[str], list[Label]] = {}

    @cached_property
    def text(self) -> str:
        """All text of the page without spaces, line by line (for titles and markers)."""
        return "\n".join(line.text for line in self.lines)

    def find(self, pattern: re.Pattern[str]) -> list[Label]:
        """Every match of `pattern` in the page's lines, top to bottom; matched glyphs become stops for values."""
        if pattern in self._found:
            return self._found[pattern]
        labels: list[Label] = []
        for line in self.lines:
            for match in pattern.finditer(line.text):
                if match.end() == match.start():
                    continue
                first, last = line.owner[match.start()], line.owner[match.end() - 1]
                glyphs = line.glyphs[first : last + 1]
                labels.append(Label(glyphs, match.group()))
                self._label_glyphs.update(id(g) for g in glyphs)
        self._found[pattern] = labels
        return labels

    def side_label_at(self, label: Label, *, right: bool) -> SideLabel | None:
        """The nearest side label beside `label` (left or right of it) whose height spans the label's line."""
        reach = label.size
        near = [s for s in self.side_labels if s.top <= label.bottom + reach and s.bottom >= label.top - reach]
        if right:
            return min((s for s in near if s.x0 >= label.x1 - 1), key=lambda s: s.x0, default=None)
        return max((s for s in near if s.x1 <= label.x0 + 1), key=lambda s: s.x1, default=None)

    def glyphs_right_of(
        self,
        label: Label,
        *,
        max_first_gap: float = 12.0,
        max_gap: float = 1.5,
        stop_x: float | None = None,
    ) -> list[Glyph]:
        """The glyphs that continue `label` on its baseline, left to right.

        Stops at the next label, at a side label (the 密码区, the seller block),
        at `stop_x`, or at a gap wider than `max_gap` times the glyph size;
        the first glyph may stand up to `max_first_gap` label sizes away.
        """
        if stop_x is None:
            side = self.side_label_at(label, right=True)
            stop_x = side.x0 if side is not None else self.page.width + 1
        low = bisect.bisect_left(self._middles, label.top - 1)
        high = bisect.bisect_right(self._middles, label.bottom + 1)
        own = {id(g) for g in label.glyphs}
        start_x = label.x1 - 0.5 * label.size
        candidates = sorted(
            (g for g in self._by_middle[low:high] if g.x0 >= start_x and id(g) not in own),
            key=lambda g: g.x0,
        )
        taken: list[Glyph] = []
        for glyph in candidates:
            if glyph.x0 >= stop_x or id(glyph) in self._label_glyphs:
                break
            if taken:
                previous = taken[-1]
                if glyph.text == previous.text and abs(glyph.x0 - previous.x0) < 0.3 * glyph.size:
                    continue  # the same character drawn twice (fake bold)
                if glyph.x0 - previous.x1 > max_gap * max(glyph.size, previous.size):
                    break
            elif glyph.x0 - label.x1 > max_first_gap * label.size:
                break
            taken.append(glyph)
        return taken


def spaced_text(glyphs: list[Glyph]) -> str:
    """Glyph texts joined, with one space where the gap is wider than a quarter of the size."""
    parts: list[str] = []
    previous: Glyph | None = None
    for glyph in glyphs:
        if previous is not None and glyph.x0 - previous.x1 > 0.25 * glyph.size:
            parts.append(" ")
        parts.append(glyph.text)
        previous = glyph
    return "".join(parts)


def words(glyphs: list[Glyph]) -> list[str]:
    """Split glyphs into words at gaps wider than a quarter of the size."""
    return [w for w in spaced_text(glyphs).split(" ") if w]
