"""A clock a test moves by hand: what the state tables (source_files, mail_messages) read as now."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now
