"""Similar invoice numbers (pure): the distance, its fast bounded form, and what differs in words."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.similar_numbers import Edit, closest, describe, distance, edits, fold_number, lookalikes_in, within

NUMBER = "25117000000012345678"
# Digits, and the look-alike letters people type for 0 and 1.
typed_numbers = st.text(alphabet="0123456789OoIlL", min_size=0, max_size=24)
digit_numbers = st.text(alphabet="0123456789", min_size=0, max_size=24)


def full_osa(a: str, b: str) -> int:
    """The textbook optimal string alignment distance, written independently of the module, as the oracle."""
    rows = [[max(i, j) if min(i, j) == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def replay(steps: list[Edit], archived: str) -> str:
    """The typed number the edits describe, rebuilt from the archived one."""
    out, at = [], 0
    for step in steps:
        here = step.position - 1
        out.append(archived[at:here])
        if step.kind == "differs":
            out.append(step.typed)
            at = here + 1
        elif step.kind == "swapped":
            out.append(archived[here + 1] + archived[here])
            at = here + 2
        elif step.kind == "missing":
            at = here + 1
        else:
            out.append(step.typed)
            at = here
    return "".join(out) + archived[at:]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (NUMBER, 0),
        ("2511700000OO12345678", 0),  # letters O for zeros
        ("25117000000012345687", 1),  # the last two swapped
        ("25117000000012345679", 1),  # one digit differs
        ("2511700000001234567", 1),  # one missing
        ("251170000000123456789", 1),  # one too many
        ("25117000000021345687", 2),  # two swaps
        ("25117000000012345699", 2),  # two digits differ
        ("25117000000098765432", 7),  # 2345678 -> 9876543 2: seven edits, the 2 kept
    ],
)
def test_distance_counts_edits_with_a_swap_as_one(typed: str, expected: int) -> None:
    assert distance(typed, NUMBER) == expected


def test_descriptions_name_the_digits() -> None:
    assert describe("25117000000012345687", NUMBER) == "digits 19 and 20 swapped"
    assert describe("25117000000012345679", NUMBER) == "digit 20 differs (9 typed, 8 archived)"
    assert describe("25117000000012345699", NUMBER) == "2 digits differ (19 and 20)"
    assert describe("2511700000001234567", NUMBER) == "digit 20 (8) missing"
    assert describe("251170000000123456789", NUMBER) == "an extra 9 at the end"
    assert describe("251170000000123A45678", NUMBER) == "an extra A before digit 16"
    assert describe("2511700000OO12345687", NUMBER) == "digits 19 and 20 swapped, O read as 0"
    assert describe("2511700000OO12345678", NUMBER) == "O read as 0"
    assert describe(NUMBER, NUMBER) == "the same number"


def test_lookalikes_are_reported_once_each_in_order() -> None:
    assert lookalikes_in("l2O3Ol") == ["l read as 1", "O read as 0"]
    assert fold_number("２５１O l") == "2510 1"


def test_closest_finds_the_typo_among_many_similar_numbers() -> None:
    rng = random.Random(7)
    numbers = [(i, f"2511700000{rng.randrange(10**10):010d}") for i in range(20_000)]
    target = numbers[1234][1]
    at = next(i for i in range(12, 19) if target[i] != target[i + 1])
    typed = target[:at] + target[at + 1] + target[at] + target[at + 2 :]  # two neighbouring digits swapped
    hits = closest(typed, numbers)
    assert (1234, target, 1) in hits
    assert describe(typed, target) == f"digits {at + 1} and {at + 2} swapped"
    # The fast scan agrees with the textbook distance on every number it keeps and every one it drops.
    kept = {key for key, _, _ in hits}
    for key, number in [*numbers[:3000], numbers[1234]]:
        assert (key in kept) == (full_osa(typed, number) <= 2)


@given(typed_numbers, typed_numbers)
def test_distance_is_symmetric(a: str, b: str) -> None:
    assert distance(a, b) == distance(b, a)


@given(typed_numbers, typed_numbers)
def test_distance_is_zero_exactly_when_equal_after_folding(a: str, b: str) -> None:
    assert (distance(a, b) == 0) == (fold_number(a) == fold_number(b))


@settings(max_examples=400)
@given(digit_numbers, digit_numbers, st.integers(min_value=0, max_value=2))
def test_the_bounded_distance_agrees_with_the_full_one(a: str, b: str, limit: int) -> None:
    expected = full_osa(a, b)
    assert distance(a, b) == expected
    assert within(a, b, limit) == (expected if expected <= limit else None)


@settings(max_examples=300)
@given(st.text(alphabet="0123", min_size=1, max_size=12), st.data())
def test_near_numbers_are_found_and_their_edits_replay(number: str, data: st.DataObject) -> None:
    """Numbers made by one or two random edits (small alphabet: many repeats, the hard cases for pruning)."""
    typed = number
    for _ in range(data.draw(st.integers(min_value=1, max_value=2))):
        kind = data.draw(st.sampled_from(["differs", "swapped", "missing", "extra"]))
        at = data.draw(st.integers(min_value=0, max_value=max(len(typed) - 1, 0)))
        if kind == "differs" and typed:
            typed = typed[:at] + data.draw(st.sampled_from("0123")) + typed[at + 1 :]
        elif kind == "swapped" and at + 1 < len(typed):
            typed = typed[:at] + typed[at + 1] + typed[at] + typed[at + 2 :]
        elif kind == "missing" and typed:
            typed = typed[:at] + typed[at + 1 :]
        else:
            typed = typed[:at] + data.draw(st.sampled_from("0123")) + typed[at:]
    expected = full_osa(typed, number)
    # (Two edits on the same spot can need three here: a swap is not edited again in this distance.)
    assert within(typed, number) == (expected if expected <= 2 else None)
    steps = edits(typed, number)
    assert len(steps) == expected
    assert replay(steps, number) == typed


def test_a_limit_past_two_is_refused() -> None:
    with pytest.raises(ValueError, match=r"limit must be 0\.\.2"):
        within("1", "2", 3)
