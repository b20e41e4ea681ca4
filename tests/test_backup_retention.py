"""Retention: which snapshots stay, as a pure rule and over a simulated year of real nightly snapshots."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from backup_fill import filled_archive, source_of
from hypothesis import given
from hypothesis import strategies as st

from storage.backup import back_up, leftovers, snapshots
from storage.backup_restore import open_snapshot, verify
from storage.backup_retention import Keep, to_keep

KEEP = Keep(daily=7, weekly=4, monthly=12)


def at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def test_the_newest_of_each_day_week_and_month_is_kept() -> None:
    moments = [at(date(2025, 3, 1) + timedelta(days=n), hour) for n in range(60) for hour in (3, 15)]
    kept = to_keep(moments, Keep(daily=3, weekly=2, monthly=2))
    assert sorted(kept) == [
        at(date(2025, 3, 31), 15),  # monthly: the newest of March (April's is Apr 29)
        at(date(2025, 4, 27), 15),  # daily, and weekly: the newest of ISO week 17 (Apr 21-27)
        at(date(2025, 4, 28), 15),  # daily
        at(date(2025, 4, 29), 15),  # daily, the newest of week 18 and of April
    ]


def test_a_machine_that_was_off_still_keeps_its_last_snapshots() -> None:
    moments = [at(date(2025, 1, 1)), at(date(2025, 1, 2)), at(date(2025, 9, 30))]
    assert to_keep(moments, Keep(daily=7, weekly=0, monthly=0)) == set(moments)


def test_keeping_nothing_still_keeps_the_newest() -> None:
    moments = [at(date(2025, 1, 1)), at(date(2025, 1, 2))]
    assert to_keep(moments, Keep(daily=0, weekly=0, monthly=0)) == {at(date(2025, 1, 2))}
    assert to_keep([], KEEP) == set()


moments_strategy = st.lists(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)), min_size=1, max_size=80
)
keep_strategy = st.builds(Keep, *(st.integers(min_value=0, max_value=10) for _ in range(3)))


@given(moments_strategy, keep_strategy)
def test_retention_rules_hold_for_any_history(moments: list[datetime], keep: Keep) -> None:
    kept = to_keep(moments, keep)
    assert max(moments) in kept
    assert kept <= set(moments)
    assert len(kept) <= max(1, keep.daily + keep.weekly + keep.monthly)
    assert to_keep(kept, keep) == kept  # pruning again removes nothing more
    days = {m.date() for m in moments}
    # the newest snapshot of each of the newest `daily` days is there
    for day in sorted(days, reverse=True)[: keep.daily]:
        assert max(m for m in moments if m.date() == day) in kept


def test_a_year_of_nightly_snapshots_keeps_exactly_the_expected_set(tmp_path: Path) -> None:
    """365 real snapshots at 03:00, retention after each one as the daemon does it; the clock is injected."""
    backups = tmp_path / "backups"
    with filled_archive(tmp_path / "archive", 2) as archive:
        day = date(2025, 1, 1)
        while day.year == 2025:
            moment = at(day).astimezone()
            back_up(source_of(archive), backups, keep=KEEP, now=lambda moment=moment: moment)  # type: ignore[misc]
            day += timedelta(days=1)
    expected = [
        # monthly: the newest of each of the 12 months
        "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30",
        "2025-07-31", "2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30",
        # weekly: Sundays ending ISO weeks 50, 51 and 52; week 1 of 2026 began on Monday Dec 29
        "2025-12-14", "2025-12-21",
        # daily: the last seven days (Dec 28 is also week 52's, Dec 31 also week 1's and December's)
        "2025-12-25", "2025-12-26", "2025-12-27", "2025-12-28", "2025-12-29", "2025-12-30", "2025-12-31",
    ]  # fmt: skip
    assert [s.name for s in snapshots(backups)] == [f"{name}_030000" for name in expected]
    assert leftovers(backups) == []
    for snapshot in snapshots(backups)[::6]:  # what is left is whole, hard links and all
        with open_snapshot(snapshot.path) as reader:
            assert verify(reader).ok
