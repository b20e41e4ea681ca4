"""What the watched folders handed over, in a real SQLite file: which files are settled, how failures back off and
end in quarantine, and that each source keeps its own rows."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest
from fixed_clock import START, Clock
from sqlalchemy import Engine

from storage.db import open_database
from storage.source_files import FIRST_RETRY, LAST_RETRY, FileState, Remembered, SourceFiles, Stamp

SOURCE = "folder:/home/me/inbox"
OTHER = "folder:/home/me/scans"
PATH = "/home/me/inbox/发票.pdf"
STAMP = Stamp(size=48_213, mtime_ns=1_754_000_000_123_456_789)
SHA = "ab" * 32


@pytest.fixture
def files(engine: Engine, clock: Clock) -> SourceFiles:
    return SourceFiles(engine, now=clock)


def test_done_round_trips(files: SourceFiles) -> None:
    assert files.get(SOURCE, PATH) is None
    files.done(SOURCE, PATH, STAMP, SHA, reason="archived")
    assert files.get(SOURCE, PATH) == Remembered(STAMP, SHA, FileState.DONE, 0, None)
    assert files.remembered(SOURCE) == {PATH: Remembered(STAMP, SHA, FileState.DONE, 0, None)}
    assert files.remembered(OTHER) == {}


def test_remembered_lists_every_file_of_a_source(files: SourceFiles) -> None:
    files.done(SOURCE, PATH, STAMP, SHA)
    files.failed(SOURCE, "/home/me/inbox/b.pdf", Stamp(1, 2), "cd" * 32, "not an invoice", max_attempts=5)
    files.done(OTHER, "/home/me/scans/c.pdf", Stamp(3, 4), "ef" * 32)
    remembered = files.remembered(SOURCE)
    assert set(remembered) == {PATH, "/home/me/inbox/b.pdf"}
    assert remembered[PATH].state is FileState.DONE
    assert remembered["/home/me/inbox/b.pdf"].state is FileState.RETRY
    assert remembered["/home/me/inbox/b.pdf"].stamp == Stamp(1, 2)


def test_done_again_with_a_new_stamp_replaces_the_row(files: SourceFiles) -> None:
    files.done(SOURCE, PATH, STAMP, SHA)
    newer = Stamp(STAMP.size + 1, STAMP.mtime_ns + 1)
    files.done(SOURCE, PATH, newer, "cd" * 32)
    assert files.remembered(SOURCE) == {PATH: Remembered(newer, "cd" * 32, FileState.DONE, 0, None)}


def test_rows_survive_a_restart(tmp_path: Path, files: SourceFiles) -> None:
    files.done(SOURCE, PATH, STAMP, SHA)
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert SourceFiles(engine).get(SOURCE, PATH) == Remembered(STAMP, SHA, FileState.DONE, 0, None)
    finally:
        engine.dispose()


def test_mtime_and_size_beyond_32_bits_round_trip_exactly(files: SourceFiles) -> None:
    stamp = Stamp(size=5 * 2**32 + 7, mtime_ns=2**62 + 12_345)
    files.done(SOURCE, PATH, stamp, SHA)
    remembered = files.get(SOURCE, PATH)
    assert remembered is not None
    assert remembered.stamp == stamp
    assert files.remembered(SOURCE)[PATH].stamp == stamp


# --- settled ----------------------------------------------------------------------------------------------------------


def test_a_done_file_with_the_same_stamp_is_settled(files: SourceFiles) -> None:
    files.done(SOURCE, PATH, STAMP, SHA)
    remembered = files.get(SOURCE, PATH)
    assert remembered is not None
    assert remembered.settled(STAMP, START + timedelta(days=365))


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(Stamp(STAMP.size + 1, STAMP.mtime_ns), id="size"),
        pytest.param(Stamp(STAMP.size, STAMP.mtime_ns + 1), id="mtime"),
    ],
)
def test_a_changed_file_is_never_settled(files: SourceFiles, changed: Stamp) -> None:
    files.done(SOURCE, PATH, STAMP, SHA)
    files.failed(SOURCE, "/retry.pdf", STAMP, SHA, "locked", max_attempts=5)
    files.failed(SOURCE, "/quarantined.pdf", STAMP, SHA, "broken", max_attempts=1)
    for path in (PATH, "/retry.pdf", "/quarantined.pdf"):
        remembered = files.get(SOURCE, path)
        assert remembered is not None
        assert not remembered.settled(changed, START), path


def test_a_file_waiting_for_a_retry_is_settled_until_its_next_try(files: SourceFiles) -> None:
    files.failed(SOURCE, PATH, STAMP, SHA, "cannot read", max_attempts=5)
    remembered = files.get(SOURCE, PATH)  # read back from SQLite, as a rescan does
    assert remembered is not None
    assert remembered.state is FileState.RETRY
    assert remembered.next_try is not None
    assert remembered.next_try.astimezone(UTC) == START + FIRST_RETRY
    assert remembered.settled(STAMP, START)
    assert remembered.settled(STAMP, START + FIRST_RETRY - timedelta(seconds=1))
    assert not remembered.settled(STAMP, START + FIRST_RETRY)
    assert not remembered.settled(STAMP, START + timedelta(hours=1))


def test_a_retry_stored_without_a_zone_is_read_as_utc() -> None:
    # SQLite may hand datetimes back without a zone; they were written in UTC.
    next_try = (START + FIRST_RETRY).replace(tzinfo=None)
    remembered = Remembered(STAMP, SHA, FileState.RETRY, 1, next_try)
    assert remembered.settled(STAMP, START + FIRST_RETRY - timedelta(seconds=1))
    assert not remembered.settled(STAMP, START + FIRST_RETRY)


def test_a_retry_without_a_next_try_is_due() -> None:
    assert not Remembered(STAMP, SHA, FileState.RETRY, 1, None).settled(STAMP, START)


def test_a_quarantined_file_stays_settled_until_it_changes(files: SourceFiles) -> None:
    result = files.failed(SOURCE, PATH, STAMP, SHA, "not a PDF", max_attempts=1)
    assert result.state is FileState.QUARANTINED
    remembered = files.get(SOURCE, PATH)
    assert remembered is not None
    assert remembered.state is FileState.QUARANTINED
    assert remembered.next_try is None
    assert remembered.settled(STAMP, START + timedelta(days=3650))


# --- failures ---------------------------------------------------------------------------------------------------------


def test_each_failure_doubles_the_wait_up_to_the_last_retry(files: SourceFiles, clock: Clock) -> None:
    waits: list[timedelta] = []
    for attempt in range(1, 13):
        clock.now = START + timedelta(days=attempt)  # each failure at its own time: the wait counts from it
        result = files.failed(SOURCE, PATH, STAMP, SHA, f"failure {attempt}", max_attempts=20)
        assert result.attempts == attempt
        assert result.state is FileState.RETRY
        assert result.next_try is not None
        waits.append(result.next_try - clock.now)
        stored = files.get(SOURCE, PATH)
        assert stored is not None
        assert (stored.attempts, stored.state, stored.next_try) == (attempt, FileState.RETRY, result.next_try)
    minutes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]
    assert waits == [timedelta(minutes=m) for m in minutes]
    assert waits[-1] == LAST_RETRY


def test_the_last_allowed_failure_quarantines(files: SourceFiles) -> None:
    states = [files.failed(SOURCE, PATH, STAMP, SHA, "bad", max_attempts=3).state for _ in range(3)]
    assert states == [FileState.RETRY, FileState.RETRY, FileState.QUARANTINED]
    stored = files.get(SOURCE, PATH)
    assert stored is not None
    assert (stored.state, stored.attempts, stored.next_try) == (FileState.QUARANTINED, 3, None)


def test_a_success_resets_the_failures(files: SourceFiles, clock: Clock) -> None:
    files.failed(SOURCE, PATH, STAMP, SHA, "locked", max_attempts=3)
    files.failed(SOURCE, PATH, STAMP, SHA, "locked", max_attempts=3)
    files.done(SOURCE, PATH, STAMP, SHA)
    stored = files.get(SOURCE, PATH)
    assert stored is not None
    assert (stored.state, stored.attempts, stored.next_try) == (FileState.DONE, 0, None)

    clock.now = START + timedelta(days=1)
    changed = Stamp(STAMP.size + 10, STAMP.mtime_ns + 10)
    again = files.failed(SOURCE, PATH, changed, SHA, "locked", max_attempts=3)
    assert again.attempts == 1  # not 3: that would quarantine on the first failure after a success
    assert again.state is FileState.RETRY
    assert again.next_try == clock.now + FIRST_RETRY


def test_problems_lists_retries_and_quarantined_files_with_reasons(files: SourceFiles) -> None:
    files.done(SOURCE, "/in/a-done.pdf", STAMP, SHA, reason="archived")
    files.failed(SOURCE, "/in/c-quarantined.pdf", STAMP, SHA, "not an invoice", max_attempts=1)
    files.failed(SOURCE, "/in/b-retry.pdf", STAMP, SHA, "permission denied", max_attempts=5)
    files.failed(OTHER, "/scans/x.pdf", STAMP, SHA, "elsewhere", max_attempts=5)
    assert files.problems(SOURCE) == [
        ("/in/b-retry.pdf", FileState.RETRY, "permission denied"),
        ("/in/c-quarantined.pdf", FileState.QUARANTINED, "not an invoice"),
    ]
    files.done(SOURCE, "/in/b-retry.pdf", STAMP, SHA)
    assert files.problems(SOURCE) == [("/in/c-quarantined.pdf", FileState.QUARANTINED, "not an invoice")]
    assert files.problems("folder:/nowhere") == []


def test_a_failure_replaces_the_reason(files: SourceFiles) -> None:
    files.failed(SOURCE, PATH, STAMP, SHA, "locked", max_attempts=5)
    files.failed(SOURCE, PATH, STAMP, SHA, "disk full", max_attempts=5)
    assert files.problems(SOURCE) == [(PATH, FileState.RETRY, "disk full")]


def test_each_source_keeps_its_own_rows_for_the_same_path(files: SourceFiles) -> None:
    files.done(SOURCE, PATH, STAMP, SHA)
    for _ in range(2):
        files.failed(OTHER, PATH, STAMP, "cd" * 32, "locked", max_attempts=5)
    mine, theirs = files.get(SOURCE, PATH), files.get(OTHER, PATH)
    assert mine == Remembered(STAMP, SHA, FileState.DONE, 0, None)
    assert theirs is not None
    assert (theirs.state, theirs.attempts, theirs.sha256) == (FileState.RETRY, 2, "cd" * 32)

    first = files.failed(SOURCE, PATH, STAMP, SHA, "locked", max_attempts=5)
    assert first.attempts == 1  # the other source's two failures do not count here
    assert files.problems(SOURCE) == [(PATH, FileState.RETRY, "locked")]
    assert files.problems(OTHER) == [(PATH, FileState.RETRY, "locked")]


def test_failures_are_counted_per_version_of_the_file(files: SourceFiles) -> None:
    files.failed(SOURCE, PATH, STAMP, SHA, "cut off", max_attempts=3)
    files.failed(SOURCE, PATH, STAMP, SHA, "cut off", max_attempts=3)
    changed = Stamp(STAMP.size + 1, STAMP.mtime_ns + 1)  # the user saved a new copy
    result = files.failed(SOURCE, PATH, changed, SHA, "cut off", max_attempts=3)
    assert (result.attempts, result.state, result.next_try) == (1, FileState.RETRY, START + FIRST_RETRY)


def test_a_quarantined_file_that_changed_gets_its_tries_again(files: SourceFiles) -> None:
    files.failed(SOURCE, PATH, STAMP, SHA, "broken", max_attempts=2)
    assert files.failed(SOURCE, PATH, STAMP, SHA, "broken", max_attempts=2).state is FileState.QUARANTINED
    changed = Stamp(STAMP.size, STAMP.mtime_ns + 1)
    result = files.failed(SOURCE, PATH, changed, SHA, "still broken", max_attempts=2)
    assert (result.attempts, result.state) == (1, FileState.RETRY)


def test_due_lists_the_retries_whose_time_has_come(files: SourceFiles, clock: Clock) -> None:
    files.done(SOURCE, "/in/done.pdf", STAMP, SHA)
    files.failed(SOURCE, "/in/quarantined.pdf", STAMP, SHA, "bad", max_attempts=1)
    files.failed(SOURCE, "/in/early.pdf", STAMP, SHA, "locked", max_attempts=5)  # due at START + 1 min
    clock.now = START + timedelta(seconds=30)
    files.failed(SOURCE, "/in/late.pdf", STAMP, SHA, "locked", max_attempts=5)  # due at START + 1 min 30 s
    files.failed(OTHER, "/scans/other.pdf", STAMP, SHA, "locked", max_attempts=5)

    clock.now = START + FIRST_RETRY - timedelta(seconds=1)
    assert files.due(SOURCE) == []
    clock.now = START + FIRST_RETRY
    assert files.due(SOURCE) == ["/in/early.pdf"]
    clock.now = START + timedelta(hours=1)
    assert sorted(files.due(SOURCE)) == ["/in/early.pdf", "/in/late.pdf"]
    assert files.due(OTHER) == ["/scans/other.pdf"]
