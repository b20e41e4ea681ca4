"""The folder watcher's pure rules: which names are left alone, and when a file has held still long enough to take.

The tracker runs on a fake clock and fake `look`/`can_open` callables, so every timing rule is exact and no test sleeps.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.sources.settle import (
    GIVE_UP_OPENING_SECONDS,
    StabilityTracker,
    is_ignored_folder,
    is_ignored_name,
    is_ignored_path,
)
from storage.source_files import Stamp

SETTLE = 2.0
A = Path("/inbox/a.pdf")
B = Path("/inbox/b.pdf")


class FakeFiles:
    """What `look` and `can_open` would see on disk, and which paths were looked at."""

    def __init__(self) -> None:
        self.stamps: dict[Path, Stamp] = {}
        self.locked: set[Path] = set()
        self.looked: list[Path] = []

    def write(self, path: Path, size: int = 100, mtime_ns: int = 1_000) -> Stamp:
        self.stamps[path] = Stamp(size, mtime_ns)
        return self.stamps[path]

    def look(self, path: Path) -> Stamp | None:
        self.looked.append(path)
        return self.stamps.get(path)

    def can_open(self, path: Path) -> bool:
        return path not in self.locked


def settled(tracker: StabilityTracker, files: FakeFiles, now: float) -> list[tuple[Path, Stamp]]:
    return tracker.settled(now, look=files.look, can_open=files.can_open)


# --- names ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.pdf",
        ".fapiao-tmp-0123456789abcdef",
        "invoice.pdf.part",
        "A.PART",
        "invoice.pdf.partial",
        "invoice.pdf.crdownload",
        "Invoice.PDF.CrDownload",
        "invoice.pdf.download",
        "invoice.pdf.opdownload",
        "invoice.pdf.!qB",
        "scan.tmp",
        "SCAN.TMP",
        "scan.temp",
        ".scan.pdf.swp",
        "~$report.docx",
        ".DS_Store",
        "Thumbs.db",
        "thumbs.DB",
        "desktop.ini",
        "Desktop.ini",
        "Icon\r",
        "发票.pdf.part",
    ],
)
def test_unfinished_hidden_and_litter_names_are_ignored(name: str) -> None:
    assert is_ignored_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "invoice.pdf",
        "发票.pdf",
        "电子发票 (1).ofd",
        "a.part.pdf",
        "a.crdownload.xml",
        "download.pdf",
        "tmp.ofd",
        "part",
        "~report.pdf",
        "report~$.pdf",
        "Thumbs.db.pdf",
        "my desktop.ini.zip",
        "INVOICE.PDF",
    ],
)
def test_ordinary_names_are_not_ignored(name: str) -> None:
    assert not is_ignored_name(name)


ROOT = PurePosixPath("/home/me/inbox")


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        (ROOT / "a.pdf", False),
        (ROOT / "2025" / "七月" / "发票.pdf", False),
        (ROOT / "sub" / "a.part", True),
        (ROOT / ".git" / "a.pdf", True),
        (ROOT / "sub" / ".Trash-1000" / "files" / "a.pdf", True),
        (ROOT / ".sync" / "a.pdf", True),
        (ROOT / "sub" / ".hidden.pdf", True),
        (PurePosixPath("/home/me/elsewhere/a.pdf"), True),  # renamed out of the watched folder
        (ROOT, True),  # the folder itself is not a file to take
    ],
)
def test_ignored_paths(path: PurePosixPath, ignored: bool) -> None:
    assert is_ignored_path(path, ROOT) is ignored


def test_a_hidden_watched_folder_does_not_hide_its_own_files() -> None:
    root = PurePosixPath("/home/me/.inbox")
    assert not is_ignored_path(root / "a.pdf", root)
    assert not is_ignored_folder(root / "sub", root)


@pytest.mark.parametrize(
    ("folder", "ignored"),
    [
        (ROOT, False),
        (ROOT / "sub", False),
        (ROOT / "sub" / "发票", False),
        (ROOT / ".git", True),
        (ROOT / "sub" / ".sync" / "deeper", True),
        (PurePosixPath("/home/me/elsewhere"), True),
    ],
)
def test_ignored_folders(folder: PurePosixPath, ignored: bool) -> None:
    assert is_ignored_folder(folder, ROOT) is ignored


# --- the stability tracker -------------------------------------------------------------------------------------------


def test_a_file_is_ready_only_after_holding_still_for_the_settle_time() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 10.0)
    assert settled(tracker, files, 10.0) == []  # the first look only notes the stamp
    assert settled(tracker, files, 11.9) == []
    assert len(tracker) == 1
    assert settled(tracker, files, 12.0) == [(A, stamp)]
    assert len(tracker) == 0
    assert settled(tracker, files, 20.0) == []  # handed over once


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"size": 200, "mtime_ns": 1_000}, id="size"),
        pytest.param({"size": 100, "mtime_ns": 2_000}, id="mtime"),
    ],
)
def test_a_size_or_mtime_change_restarts_the_wait(change: dict[str, int]) -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    files.write(A, size=100, mtime_ns=1_000)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []
    changed = files.write(A, **change)  # written to without an event (a missed one)
    assert settled(tracker, files, 2.0) == []  # due, but the stamp moved: the wait starts at 2.0
    assert settled(tracker, files, 3.9) == []
    assert settled(tracker, files, 4.0) == [(A, changed)]


def test_an_event_during_the_wait_restarts_it() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []
    tracker.saw(A, 1.5)
    assert settled(tracker, files, 2.0) == []
    assert settled(tracker, files, 3.4) == []
    assert settled(tracker, files, 3.5) == [(A, stamp)]


def test_an_event_that_arrives_while_the_file_is_looked_at_restarts_the_wait() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []

    def look_while_an_event_comes(path: Path) -> Stamp | None:
        tracker.saw(path, 2.0)  # a watcher thread, between choosing A as due and deciding on it
        return files.look(path)

    assert tracker.settled(2.0, look=look_while_an_event_comes, can_open=files.can_open) == []
    assert len(tracker) == 1
    assert settled(tracker, files, 3.9) == []
    assert settled(tracker, files, 4.0) == [(A, stamp)]


def test_a_file_forgotten_while_it_is_looked_at_is_not_handed_over() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    files.write(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []

    def look_while_forgotten(path: Path) -> Stamp | None:
        tracker.forget(path)  # e.g. the watcher saw it deleted meanwhile
        return files.look(path)

    assert tracker.settled(5.0, look=look_while_forgotten, can_open=files.can_open) == []
    assert len(tracker) == 0


def test_a_file_seen_again_while_its_old_entry_is_looked_at_keeps_the_new_entry() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []

    def look_while_deleted_and_recreated(path: Path) -> Stamp | None:
        tracker.forget(path)
        tracker.saw(path, 5.0)  # a new file under the same name: its own settle time
        return files.look(path)

    assert tracker.settled(5.0, look=look_while_deleted_and_recreated, can_open=files.can_open) == []
    assert len(tracker) == 1
    assert settled(tracker, files, 5.0) == []  # the new entry's first look
    assert settled(tracker, files, 7.0) == [(A, stamp)]


def test_a_vanished_file_is_forgotten() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    files.write(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []
    del files.stamps[A]
    assert settled(tracker, files, 2.0) == []
    assert len(tracker) == 0
    files.write(A)
    assert settled(tracker, files, 10.0) == []  # back on disk, but without an event it is not tracked again


def test_a_file_gone_at_the_first_look_is_forgotten() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    tracker.saw(A, 0.0)  # e.g. a temp file created and renamed at once
    assert settled(tracker, files, 0.0) == []
    assert len(tracker) == 0


def test_a_file_that_cannot_be_opened_waits_until_it_can() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    files.locked.add(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []
    assert settled(tracker, files, 2.0) == []
    assert settled(tracker, files, 30.0) == []
    assert len(tracker) == 1
    files.locked.clear()
    assert settled(tracker, files, 31.0) == [(A, stamp)]


def test_a_file_that_never_opens_is_handed_over_after_giving_up() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    files.locked.add(A)
    tracker.saw(A, 100.0)
    assert settled(tracker, files, 100.0) == []
    assert settled(tracker, files, 100.0 + GIVE_UP_OPENING_SECONDS - 0.5) == []
    assert settled(tracker, files, 100.0 + GIVE_UP_OPENING_SECONDS) == [(A, stamp)]
    assert len(tracker) == 0


def test_giving_up_on_opening_counts_from_when_the_file_was_first_seen() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    files.locked.add(A)
    files.write(A, mtime_ns=0)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []
    last = GIVE_UP_OPENING_SECONDS - 1.0
    stamp = files.write(A, mtime_ns=1)
    tracker.saw(A, last, stamp)  # still being written until just before the give-up time
    assert settled(tracker, files, last + SETTLE - 0.1) == []  # not yet still
    assert settled(tracker, files, last + SETTLE) == [(A, stamp)]  # still, locked, but first seen long ago


def test_forget_drops_a_file() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    files.write(A)
    stamp_b = files.write(B)
    tracker.saw(A, 0.0)
    tracker.saw(B, 0.0)
    tracker.forget(A)
    tracker.forget(Path("/inbox/never-seen.pdf"))  # not an error
    assert len(tracker) == 1
    assert settled(tracker, files, 0.0) == []
    assert settled(tracker, files, 5.0) == [(B, stamp_b)]
    assert A not in files.looked


def test_len_counts_each_path_once() -> None:
    tracker = StabilityTracker(SETTLE)
    assert len(tracker) == 0
    tracker.saw(A, 0.0)
    tracker.saw(A, 0.5)
    tracker.saw(B, 1.0, Stamp(1, 1))
    assert len(tracker) == 2


def test_only_files_due_for_a_decision_are_looked_at() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    scanned = [Path(f"/inbox/scan-{n}.pdf") for n in range(200)]
    for path in scanned:
        tracker.saw(path, 0.0, files.write(path))  # a scan brings the stamp along
    evented = [Path(f"/inbox/event-{n}.pdf") for n in range(50)]
    for path in evented:
        files.write(path)
        tracker.saw(path, 0.5)  # an event does not

    assert settled(tracker, files, 1.0) == []
    assert sorted(files.looked) == sorted(evented)  # only the first looks; the known stamps are not yet due

    files.looked.clear()
    assert settled(tracker, files, 1.5) == []
    assert files.looked == []

    files.looked.clear()
    ready = settled(tracker, files, 2.0)
    assert sorted(path for path, _ in ready) == sorted(scanned)
    assert sorted(files.looked) == sorted(scanned)  # the evented ones are due at 2.5
    assert len(tracker) == len(evented)


def test_a_stamp_from_a_scan_counts_as_the_first_look() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0, stamp)
    assert settled(tracker, files, 2.0) == [(A, stamp)]
    assert files.looked == [A]


def test_without_a_stamp_the_first_look_does_not_hand_the_file_over() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 2.0) == []
    assert settled(tracker, files, 2.0) == [(A, stamp)]


def test_a_scan_stamp_that_no_longer_matches_restarts_the_wait() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    tracker.saw(A, 0.0, Stamp(100, 1_000))
    newer = files.write(A, size=150, mtime_ns=5_000)  # written to after the scan stat it
    assert settled(tracker, files, 2.0) == []
    assert settled(tracker, files, 4.0) == [(A, newer)]


def test_a_later_scan_stamp_replaces_the_one_looked_at() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    files.write(A, mtime_ns=1)
    tracker.saw(A, 0.0)
    assert settled(tracker, files, 0.0) == []
    newer = files.write(A, mtime_ns=2)
    tracker.saw(A, 1.0, newer)  # the rescan saw the new stamp: no second wait needed
    assert settled(tracker, files, 3.0) == [(A, newer)]


def test_a_rescan_that_finds_the_same_stamp_does_not_restart_the_wait() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0, stamp)
    for rescan in (0.5, 1.0, 1.5, 1.9):  # rescans more often than the settle time must not starve the file
        tracker.saw(A, rescan, stamp)
    assert settled(tracker, files, 2.0) == [(A, stamp)]


def test_a_rescan_that_finds_a_new_stamp_restarts_the_wait() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    tracker.saw(A, 0.0, files.write(A, mtime_ns=1))
    newer = files.write(A, mtime_ns=2)
    tracker.saw(A, 1.5, newer)
    assert settled(tracker, files, 2.0) == []
    assert settled(tracker, files, 3.5) == [(A, newer)]


def test_an_event_restarts_the_wait_even_after_a_scan_stamp() -> None:
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    stamp = files.write(A)
    tracker.saw(A, 0.0, stamp)
    tracker.saw(A, 1.5)  # an event brings no stamp, but still means "changed"
    assert settled(tracker, files, 2.0) == []
    assert settled(tracker, files, 3.5) == [(A, stamp)]


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=6), st.booleans(), st.booleans(), st.booleans()),
        max_size=40,
    )
)
def test_a_file_is_never_handed_over_within_the_settle_time_of_a_change(
    steps: list[tuple[int, bool, bool, bool]],
) -> None:
    """Each step moves the clock by 0-3 s in half seconds (exact in binary, so no rounding decides a case); a change
    writes the file (a new stamp) and the watcher reports it; a rescan may report the current stamp; the daemon may
    tick after it (a busy loop skips ticks).
    A file handed over must not have changed in the last settle time, and a file that stops changing is handed over
    within two settle times."""
    tracker, files = StabilityTracker(SETTLE), FakeFiles()
    now, mtime = 0.0, 0
    files.write(A, mtime_ns=mtime)
    tracker.saw(A, now)
    last_change = now
    for halves, change, rescan, tick in steps:
        now += halves / 2
        if change:
            mtime += 1
            files.write(A, mtime_ns=mtime)
            tracker.saw(A, now)
            last_change = now
        if rescan:
            tracker.saw(A, now, files.stamps[A])
        for path, stamp in settled(tracker, files, now) if tick else []:
            assert path == A
            assert now - last_change >= SETTLE
            assert stamp == files.stamps[A]
    if len(tracker):
        handed = settled(tracker, files, now + SETTLE) + settled(tracker, files, now + 2 * SETTLE)
        assert handed == [(A, files.stamps[A])]
