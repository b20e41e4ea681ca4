"""What the watched folders have handed over, so a restart or a rescan reads no file twice.

A file is known by its path, size and modification time: while those are
unchanged it is not read again. A file that failed waits for its next try
(doubling each time) and, after too many failures, until it changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.models import SourceFile

FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=6)


class FileState(StrEnum):
    DONE = "done"
    RETRY = "retry"
    QUARANTINED = "quarantined"


def after_failure(attempts: int, max_attempts: int, now: datetime) -> tuple[FileState, datetime | None]:
    """The state after the `attempts`-th failure in a row: a retry after 1, 2, 4... minutes (at most
    LAST_RETRY), or quarantine once `max_attempts` is reached. Shared by files and mail."""
    if attempts >= max_attempts:
        return FileState.QUARANTINED, None
    return FileState.RETRY, now + min(FIRST_RETRY * 2 ** (attempts - 1), LAST_RETRY)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Stamp:
    """What tells a file has changed without reading it."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Remembered:
    stamp: Stamp
    sha256: str
    state: FileState
    attempts: int
    next_try: datetime | None

    def settled(self, stamp: Stamp, now: datetime) -> bool:
        """Nothing to do for a file with `stamp` now: it is done, quarantined, or not due for a retry."""
        if stamp != self.stamp:
            return False
        if self.state is FileState.RETRY:
            return self.next_try is not None and as_utc(self.next_try) > now
        return True


class SourceFiles:
    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.now = now

    def remembered(self, source: str) -> dict[str, Remembered]:
        """Every file of `source`, by path: one query for a whole rescan."""
        with Session(self.engine) as session:
            rows = session.exec(select(SourceFile).where(SourceFile.source == source)).all()
            return {row.path: _remembered(row) for row in rows}

    def get(self, source: str, path: str) -> Remembered | None:
        with Session(self.engine) as session:
            row = self._row(session, source, path)
            return None if row is None else _remembered(row)

    def done(self, source: str, path: str, stamp: Stamp, sha256: str, reason: str = "") -> None:
        self._save(source, path, stamp, sha256, FileState.DONE, attempts=0, reason=reason, next_try=None)

    def failed(
        self, source: str, path: str, stamp: Stamp, sha256: str, reason: str, *, max_attempts: int
    ) -> Remembered:
        """One more failure: tried again later (each wait twice the last), or quarantined after `max_attempts`.
        Failures are counted per version of the file: a changed file starts again from one."""
        previous = self.get(source, path)
        again = previous is not None and previous.state is not FileState.DONE and previous.stamp == stamp
        attempts = 1 + (previous.attempts if again and previous is not None else 0)
        state, next_try = after_failure(attempts, max_attempts, self.now())
        self._save(source, path, stamp, sha256, state, attempts=attempts, reason=reason, next_try=next_try)
        return Remembered(stamp, sha256, state, attempts, next_try)

    def due(self, source: str) -> list[str]:
        """Paths of files waiting for a retry whose time has come."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(SourceFile).where(SourceFile.source == source, SourceFile.state == FileState.RETRY)
            ).all()
            now = self.now()
            return [row.path for row in rows if row.next_try is None or as_utc(row.next_try) <= now]

    def problems(self, source: str) -> list[tuple[str, FileState, str]]:
        """Files waiting for a retry or quarantined: (path, state, reason)."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(SourceFile)
                .where(SourceFile.source == source, SourceFile.state != FileState.DONE)
                .order_by(col(SourceFile.path))
            ).all()
            return [(row.path, FileState(row.state), row.reason) for row in rows]

    def _save(
        self,
        source: str,
        path: str,
        stamp: Stamp,
        sha256: str,
        state: FileState,
        *,
        attempts: int,
        reason: str,
        next_try: datetime | None,
    ) -> None:
        with Session(self.engine) as session:
            row = self._row(session, source, path) or SourceFile(
                source=source, path=path, size=0, mtime_ns=0, sha256="", state="", updated=self.now()
            )
            row.size, row.mtime_ns, row.sha256 = stamp.size, stamp.mtime_ns, sha256
            row.state, row.attempts, row.reason, row.next_try = state, attempts, reason, next_try
            row.updated = self.now()
            session.add(row)
            session.commit()

    @staticmethod
    def _row(session: Session, source: str, path: str) -> SourceFile | None:
        return session.exec(select(SourceFile).where(SourceFile.source == source, SourceFile.path == path)).first()


def _remembered(row: SourceFile) -> Remembered:
    return Remembered(Stamp(row.size, row.mtime_ns), row.sha256, FileState(row.state), row.attempts, row.next_try)
