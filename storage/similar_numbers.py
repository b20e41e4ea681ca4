"""Pure: how close a typed invoice number is to an archived one, and what differs, in words a person reads.

The distance is the optimal string alignment distance (Levenshtein with an adjacent transposition counted as
one edit, "restricted Damerau"), on numbers folded so that the look-alikes people and OCR confuse (O for 0,
I or l for 1) count as the digit they stand for. It is symmetric and 0 exactly when the folded numbers are
equal. `within` answers "at most k edits?" for k <= 2 without the full table for most pairs, which keeps
a scan of 100,000 archived numbers fast.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

MAX_DISTANCE = 2  # `within` prunes with a rule that holds for at most two edits

# What people and OCR confuse in a typed number: letter O for zero, I or l for one.
LOOKALIKES = {"O": "0", "o": "0", "I": "1", "l": "1", "L": "1"}
_LOOKALIKE_TABLE = str.maketrans(LOOKALIKES)

Key = TypeVar("Key")


@dataclass(frozen=True)
class Edit:
    """One step that turns the archived number into the typed one; positions count from 1 in the archived number."""

    kind: str  # 'differs', 'swapped', 'missing' (typed lacks it) or 'extra' (typed has one more)
    position: int
    typed: str = ""
    archived: str = ""


def fold_number(text: str) -> str:
    """Full-width digits to ASCII, look-alike letters to the digits they stand for (spaces are kept)."""
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKE_TABLE)


def lookalikes_in(text: str) -> list[str]:
    """The look-alike letters in `text`, said as 'O read as 0', once each, in order of appearance."""
    seen: list[str] = []
    for char in unicodedata.normalize("NFKC", text):
        note = f"{char} read as {LOOKALIKES[char]}" if char in LOOKALIKES else None
        if note and note not in seen:
            seen.append(note)
    return seen


def distance(a: str, b: str) -> int:
    """The optimal string alignment distance between `a` and `b` after look-alike folding."""
    a, b = fold_number(a), fold_number(b)
    return _table(a, b)[len(a)][len(b)]


def within(a: str, b: str, limit: int = MAX_DISTANCE) -> int | None:
    """`distance(a, b)` if it is at most `limit` (0..2), else None. `a` and `b` must be folded already."""
    if not 0 <= limit <= MAX_DISTANCE:
        raise ValueError(f"limit must be 0..{MAX_DISTANCE}, not {limit}")
    if abs(len(a) - len(b)) > limit:
        return None
    if a == b:
        return 0
    a, b = _without_common_ends(a, b)
    if not a or not b:
        return max(len(a), len(b)) if max(len(a), len(b)) <= limit else None
    # The residues now differ at both ends, so with at most two edits one edit sits at each end, and each
    # edit covers at most two characters: what lies between is the same text in both.
    if (len(a) > 2 * limit and a[limit : len(a) - limit] not in b) or (
        len(b) > 2 * limit and b[limit : len(b) - limit] not in a
    ):
        return None
    found = _banded(a, b, limit)
    return found if found <= limit else None


def edits(typed: str, archived: str) -> list[Edit]:
    """One shortest way from `archived` to `typed` (both folded inside), as edits in number order."""
    a, b = fold_number(archived), fold_number(typed)
    table = _table(a, b)
    found: list[Edit] = []
    i, j = len(a), len(b)
    while i > 0 or j > 0:
        here = table[i][j]
        if i > 0 and j > 0 and a[i - 1] == b[j - 1] and table[i - 1][j - 1] == here:
            i, j = i - 1, j - 1
        elif i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and table[i - 2][j - 2] + 1 == here:
            found.append(Edit("swapped", i - 1))
            i, j = i - 2, j - 2
        elif i > 0 and j > 0 and table[i - 1][j - 1] + 1 == here:
            found.append(Edit("differs", i, typed=b[j - 1], archived=a[i - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and table[i - 1][j] + 1 == here:
            found.append(Edit("missing", i, archived=a[i - 1]))
            i -= 1
        else:
            found.append(Edit("extra", i + 1, typed=b[j - 1]))
            j -= 1
    return found[::-1]


def describe(typed: str, archived: str) -> str:
    """What differs, e.g. 'digits 5 and 6 swapped', '2 digits differ (13 and 17)', 'O read as 0'."""
    steps = edits(typed, archived)
    differing = [step for step in steps if step.kind == "differs"]
    parts: list[str] = []
    if len(differing) == 1:
        step = differing[0]
        parts.append(f"digit {step.position} differs ({step.typed} typed, {step.archived} archived)")
    elif differing:
        positions = " and ".join(str(step.position) for step in differing)
        parts.append(f"{len(differing)} digits differ ({positions})")
    for step in steps:
        if step.kind == "swapped":
            parts.append(f"digits {step.position} and {step.position + 1} swapped")
        elif step.kind == "missing":
            parts.append(f"digit {step.position} ({step.archived}) missing")
        elif step.kind == "extra" and step.position > len(fold_number(archived)):
            parts.append(f"an extra {step.typed} at the end")
        elif step.kind == "extra":
            parts.append(f"an extra {step.typed} before digit {step.position}")
    parts += lookalikes_in(typed)
    return ", ".join(parts) or "the same number"


def closest(typed: str, numbers: Iterable[tuple[Key, str]], limit: int = MAX_DISTANCE) -> list[tuple[Key, str, int]]:
    """The (key, number, distance) of every number within `limit` edits of `typed`, nearest first (stable)."""
    wanted = fold_number(typed)
    hits = [(key, number, found) for key, number in numbers if (found := within(wanted, number, limit)) is not None]
    return sorted(hits, key=lambda hit: hit[2])


def _without_common_ends(a: str, b: str) -> tuple[str, str]:
    """`a` and `b` without the prefix and suffix they share (which never changes the distance)."""
    shortest = min(len(a), len(b))
    start = 0
    while start < shortest and a[start] == b[start]:
        start += 1
    end = 0
    while end < shortest - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return a[start : len(a) - end], b[start : len(b) - end]


def _table(a: str, b: str) -> list[list[int]]:
    """The full dynamic-programming table: table[i][j] is the distance between a[:i] and b[:j]."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        table[i][0] = i
    for j in range(len(b) + 1):
        table[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            best = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, table[i - 2][j - 2] + 1)
            table[i][j] = best
    return table


def _banded(a: str, b: str, limit: int) -> int:
    """The distance if it is at most `limit`, else some value above it: only cells within `limit` of the
    diagonal are computed, and a row whose every cell is over the limit ends the search."""
    over = limit + 1
    before: list[int] = []
    previous = [min(j, over) for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current = [min(i, over)] + [over] * len(b)
        low, high = max(1, i - limit), min(len(b), i + limit)
        row_best = current[0] if low == 1 else over
        char = a[i - 1]
        for j in range(low, high + 1):
            best = previous[j - 1] + (char != b[j - 1])
            best = min(best, previous[j] + 1, current[j - 1] + 1)
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, before[j - 2] + 1)
            current[j] = min(best, over)
            row_best = min(row_best, current[j])
        if row_best > limit:
            return over
        before, previous = previous, current
    return previous[len(b)]
