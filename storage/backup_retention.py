"""Which snapshots to keep: the newest of each of the last N days, weeks and months that have one.

Periods are counted where snapshots exist, not on the calendar (as borg and
restic do): a machine that was off for a month still keeps seven daily
snapshots, not none. Days and months are local; weeks are ISO weeks (Monday first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Keep:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


_PERIODS: tuple[tuple[str, Callable[[datetime], object]], ...] = (
    ("daily", lambda moment: moment.date()),
    ("weekly", lambda moment: moment.isocalendar()[:2]),
    ("monthly", lambda moment: (moment.year, moment.month)),
)


def to_keep(moments: Iterable[datetime], keep: Keep) -> set[datetime]:
    """The moments (snapshot times) to keep; the newest is always kept, whatever `keep` says."""
    newest_first = sorted(set(moments), reverse=True)
    kept = set(newest_first[:1])
    for name, period_of in _PERIODS:
        wanted = getattr(keep, name)
        periods: set[object] = set()
        for moment in newest_first:
            if len(periods) >= wanted:
                break
            period = period_of(moment)
            if period not in periods:
                periods.add(period)
                kept.add(moment)
    return kept
