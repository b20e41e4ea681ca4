"""The watched folder with a real observer (native and polling), real files and a real SQLite archive."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from daemon_run import invoice, running_daemon, settings_for, wait_until, write_slowly
from sqlalchemy import text
from sqlmodel import Session

from ingest.config import AfterAction
from ingest.model import Extraction
from storage.source_files import FileState, SourceFiles

OBSERVERS = [pytest.param(False, id="native"), pytest.param(True, id="polling")]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("polling", OBSERVERS)
def test_a_file_written_slowly_in_chunks_is_taken_once_whole(tmp_path: Path, polling: bool) -> None:
    with running_daemon(settings_for(tmp_path, polling=polling, settle=0.6)) as run:
        data = invoice(1)
        target = run.inbox / "slow.pdf"
        write_slowly(target, data, chunks=8, pause=0.1)
        arrival = run.wait_for_arrival(target)
        assert arrival.outcome == "archived"
        assert arrival.sha256 == sha(data)
        # Taken whole and once: no arrival of a half-written version.
        wait_until(lambda: not run.daemon.worker.busy and run.daemon.worker.queue.empty(), what="an idle worker")
        assert [a.sha256 for a in run.arrivals()] == [sha(data)]


@pytest.mark.parametrize("polling", OBSERVERS)
def test_a_file_renamed_into_the_folder_is_taken(tmp_path: Path, polling: bool) -> None:
    outside = tmp_path / "downloads"
    outside.mkdir()
    (outside / "发票.pdf").write_bytes(invoice(2))
    with running_daemon(settings_for(tmp_path, polling=polling)) as run:
        (outside / "发票.pdf").rename(run.inbox / "发票.pdf")
        assert run.wait_for_arrival(run.inbox / "发票.pdf").outcome == "archived"
        assert len(run.stored()) == 1


@pytest.mark.parametrize("polling", OBSERVERS)
def test_a_part_file_is_taken_only_once_renamed(tmp_path: Path, polling: bool) -> None:
    with running_daemon(settings_for(tmp_path, polling=polling)) as run:
        partial = run.inbox / "invoice.pdf.part"
        partial.write_bytes(invoice(3))
        # A file dropped after it has settled and been taken: the .part had as long, and was left alone.
        marker = run.inbox / "marker.pdf"
        marker.write_bytes(invoice(4))
        run.wait_for_arrival(marker)
        assert run.arrivals_for(partial) == []
        partial.rename(run.inbox / "invoice.pdf")
        assert run.wait_for_arrival(run.inbox / "invoice.pdf").outcome == "archived"
        assert run.arrivals_for(partial) == []


@pytest.mark.parametrize("polling", OBSERVERS)
def test_a_folder_of_invoices_moved_in_at_once_is_taken_whole(tmp_path: Path, polling: bool) -> None:
    batch = tmp_path / "batch"
    (batch / "七月").mkdir(parents=True)
    names = [batch / f"{i}.pdf" for i in range(5)] + [batch / "七月" / f"{i}.pdf" for i in range(5, 10)]
    for i, path in enumerate(names):
        path.write_bytes(invoice(10 + i))
    with running_daemon(settings_for(tmp_path, polling=polling)) as run:
        batch.rename(run.inbox / "batch")
        wait_until(lambda: len(run.invoices()) == 10, what="ten invoices")
        moved = {str(run.inbox / p.relative_to(tmp_path)) for p in names}
        assert {a.source_key for a in run.arrivals()} == moved
        assert {a.outcome for a in run.arrivals()} == {"archived"}


@pytest.mark.parametrize("polling", OBSERVERS)
def test_files_in_new_subfolders_are_taken(tmp_path: Path, polling: bool) -> None:
    with running_daemon(settings_for(tmp_path, polling=polling)) as run:
        deep = run.inbox / "2025" / "07" / "报销"
        deep.mkdir(parents=True)
        (deep / "a.pdf").write_bytes(invoice(20))
        assert run.wait_for_arrival(deep / "a.pdf").outcome == "archived"


@pytest.mark.parametrize("polling", OBSERVERS)
def test_the_same_file_dropped_twice_is_archived_once(tmp_path: Path, polling: bool) -> None:
    data = invoice(21)
    with running_daemon(settings_for(tmp_path, polling=polling)) as run:
        first = run.inbox / "a.pdf"
        first.write_bytes(data)
        assert run.wait_for_arrival(first).outcome == "archived"
        (run.inbox / "a (1).pdf").write_bytes(data)
        assert run.wait_for_arrival(run.inbox / "a (1).pdf").outcome == "duplicate"
        # The same bytes written again under the first name: read, recognised, not recorded again.
        files = SourceFiles(run.engine)
        before = files.get(run.daemon.sources[0].name, str(first))
        assert before is not None
        first.write_bytes(data)
        os.utime(first, ns=(before.stamp.mtime_ns + 10**9, before.stamp.mtime_ns + 10**9))
        wait_until(
            lambda: (
                (now := files.get(run.daemon.sources[0].name, str(first))) is not None and now.stamp != before.stamp
            ),
            what="the rewritten file to be looked at",
        )
        assert len(run.stored()) == 1
        assert [a.attempts for a in run.arrivals_for(first)] == [1]


def test_a_file_dropped_while_stopped_is_taken_at_start_and_nothing_is_read_twice(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with running_daemon(settings) as run:
        (run.inbox / "a.pdf").write_bytes(invoice(30))
        run.wait_for_arrival(run.inbox / "a.pdf")
    (tmp_path / "inbox" / "b.pdf").write_bytes(invoice(31))
    (tmp_path / "inbox" / "notes.txt").write_text("not an invoice")
    with running_daemon(settings) as run:
        assert run.wait_for_arrival(run.inbox / "b.pdf").outcome == "archived"
        assert run.wait_for_arrival(run.inbox / "notes.txt").outcome == "skipped"
    with running_daemon(settings) as run:
        # A third start: everything is remembered, nothing is read or recorded again.
        wait_until(lambda: run.daemon.sources[0].settling == 0, what="the startup scan to settle")
        assert all(a.attempts == 1 for a in run.arrivals())
        assert len(run.arrivals()) == 3


@pytest.mark.parametrize("polling", OBSERVERS)
def test_unfinished_downloads_and_litter_are_never_taken(tmp_path: Path, polling: bool) -> None:
    with running_daemon(settings_for(tmp_path, polling=polling)) as run:
        litter = [".hidden.pdf", "a.crdownload", "b.tmp", "~$报销单.xlsx", ".DS_Store", "Thumbs.db", "c.download"]
        for name in litter:
            (run.inbox / name).write_bytes(invoice(40))
        (run.inbox / ".sync").mkdir()
        (run.inbox / ".sync" / "x.pdf").write_bytes(invoice(41))
        marker = run.inbox / "marker.pdf"
        marker.write_bytes(invoice(42))
        run.wait_for_arrival(marker)
        run.daemon.sources[0].scan()  # a rescan passes them over as well
        wait_until(lambda: run.daemon.sources[0].settling == 0, what="the rescan to settle")
        assert [a.source_key for a in run.arrivals()] == [str(marker)]


def test_after_delete_removes_only_what_is_safely_archived(tmp_path: Path) -> None:
    with running_daemon(settings_for(tmp_path, after=AfterAction("delete"))) as run:
        (run.inbox / "a.pdf").write_bytes(invoice(50))
        (run.inbox / "copy.pdf").write_bytes(invoice(50))
        (run.inbox / "notes.txt").write_text("keep me")
        for name in ("a.pdf", "copy.pdf", "notes.txt"):
            run.wait_for_arrival(run.inbox / name)
        wait_until(
            lambda: not (run.inbox / "copy.pdf").exists() and not (run.inbox / "a.pdf").exists(),
            what="both copies to be deleted",
        )
        assert (run.inbox / "notes.txt").read_text() == "keep me"  # not an invoice: not ours to delete
        stored = run.stored()
        assert len(stored) == 1
        assert (tmp_path / "archive" / stored[0].path).read_bytes() == invoice(50)


def test_after_move_keeps_the_folder_structure_and_never_overwrites(tmp_path: Path) -> None:
    done = tmp_path / "done"
    (done / "sub").mkdir(parents=True)
    (done / "sub" / "a.pdf").write_bytes(b"an older file of the same name")
    with running_daemon(settings_for(tmp_path, after=AfterAction("move", done))) as run:
        (run.inbox / "sub").mkdir()
        (run.inbox / "sub" / "a.pdf").write_bytes(invoice(51))
        run.wait_for_arrival(run.inbox / "sub" / "a.pdf")
        wait_until(
            lambda: (done / "sub" / "a (2).pdf").exists() and not (run.inbox / "sub" / "a.pdf").exists(),
            what="the file to be moved",
        )
        assert (done / "sub" / "a (2).pdf").read_bytes() == invoice(51)
        assert (done / "sub" / "a.pdf").read_bytes() == b"an older file of the same name"


def _broken_zip() -> bytes:
    member = zipfile.ZipInfo("发票.pdf")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, invoice(60))
    data = bytearray(buffer.getvalue())
    data[60:400] = b"\0" * 340  # the member's compressed bytes: a CRC or inflate error
    return bytes(data)


def test_a_broken_zip_is_quarantined_and_the_daemon_goes_on(tmp_path: Path) -> None:
    with running_daemon(settings_for(tmp_path, max_attempts=1)) as run:
        (run.inbox / "bad.zip").write_bytes(_broken_zip())
        (run.inbox / "empty.pdf").write_bytes(b"")
        arrival = run.wait_for_arrival(run.inbox / "bad.zip!发票.pdf")
        assert arrival.outcome == "failed"
        files = SourceFiles(run.engine)
        source = run.daemon.sources[0].name
        wait_until(lambda: len(files.problems(source)) == 2, what="both quarantines to be recorded")
        [(zip_path, zip_state, zip_reason), (empty_path, empty_state, empty_reason)] = files.problems(source)
        assert (zip_path, zip_state) == (str(run.inbox / "bad.zip"), FileState.QUARANTINED)
        assert "发票.pdf: damaged zip member" in zip_reason
        assert (empty_path, empty_state) == (str(run.inbox / "empty.pdf"), FileState.QUARANTINED)
        assert "empty file" in empty_reason
        (run.inbox / "good.pdf").write_bytes(invoice(61))
        assert run.wait_for_arrival(run.inbox / "good.pdf").outcome == "archived"
        assert (run.inbox / "bad.zip").exists()
        # Quarantined until it changes: a fixed copy is taken at once.
        (run.inbox / "empty.pdf").write_bytes(invoice(62))
        wait_until(
            lambda: [a.outcome for a in run.arrivals_for(run.inbox / "empty.pdf")] == ["failed", "archived"],
            what="the fixed file to be archived",
        )
        # The file is marked done just after its arrival is recorded.
        wait_until(lambda: len(files.problems(source)) == 1, what="the fixed file to leave the quarantine")


def test_an_error_inside_the_pipeline_is_logged_and_retried_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ingest.extract.reader import Limits
    from ingest.importer import ExtractWith

    real = ExtractWith(Limits(), None)

    broken = {"boom.pdf"}

    def extract(data: bytes, name: str) -> Extraction:
        if name in broken:
            raise RuntimeError("the extractor fell over")
        return real(data, name)

    with running_daemon(settings_for(tmp_path), extract=extract) as run:
        (run.inbox / "boom.pdf").write_bytes(invoice(70))
        files = SourceFiles(run.engine)
        source = run.daemon.sources[0].name
        wait_until(lambda: files.problems(source), what="the failure to be recorded")
        [(_, state, reason)] = files.problems(source)
        assert state is FileState.RETRY
        assert "the extractor fell over" in reason
        (run.inbox / "fine.pdf").write_bytes(invoice(71))
        assert run.wait_for_arrival(run.inbox / "fine.pdf").outcome == "archived"
        assert run.daemon.worker.counts[source].last_error.endswith("the extractor fell over")
        # Its retry time comes (moved forward here rather than waited for) and the extractor works again.
        broken.clear()
        with Session(run.engine) as session:
            session.execute(text("update source_files set next_try = '2000-01-01 00:00:00'"))
            session.commit()
        assert run.daemon.sources[0].retry_due() == 1
        assert run.wait_for_arrival(run.inbox / "boom.pdf").outcome == "archived"
        wait_until(lambda: not files.problems(source), what="the retry to be recorded as done")
    assert any("the extractor fell over" in r.getMessage() for r in caplog.records)


def test_log_lines_show_control_characters_in_names_harmlessly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fapiao")
    with running_daemon(settings_for(tmp_path)) as run:
        evil = run.inbox / "evil\x1b[2J\nFAKE archived.pdf"
        evil.write_bytes(invoice(80))
        run.wait_for_arrival(evil)
    lines = [r.getMessage() for r in caplog.records if "evil" in r.getMessage()]
    assert lines
    assert all("\x1b" not in line and "\n" not in line for line in lines)
    assert any("evil?[2J?FAKE archived.pdf -> 20" in line for line in lines)


def test_a_missing_folder_is_watched_once_it_appears(tmp_path: Path) -> None:
    inbox = tmp_path / "nas" / "发票"
    settings = settings_for(tmp_path, inbox=inbox, rescan_minutes=0.005)
    with running_daemon(settings) as run:
        assert run.daemon.sources[0].state == "missing"
        inbox.mkdir(parents=True)
        wait_until(lambda: run.daemon.sources[0].state == "watching", what="the folder to be watched")
        (inbox / "a.pdf").write_bytes(invoice(90))
        assert run.wait_for_arrival(inbox / "a.pdf").outcome == "archived"


def test_index_csv_lists_what_arrived(tmp_path: Path) -> None:
    with running_daemon(settings_for(tmp_path)) as run:
        (run.inbox / "a.pdf").write_bytes(invoice(91))
        run.wait_for_arrival(run.inbox / "a.pdf")
        index = tmp_path / "archive" / "index.csv"
        number = run.invoices()[0].invoice_number
        wait_until(lambda: index.exists() and number in index.read_text(encoding="utf-8-sig"), what="index.csv")


def _read_only_bind(folder: Path, mount_at: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    mount_at.mkdir()
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(mount_at)], capture_output=True, check=False)
    if done.returncode != 0:
        mount_at.rmdir()
        return False
    return True


@pytest.mark.parametrize("polling", OBSERVERS)
def test_a_read_only_folder_with_after_keep_is_read_and_left_untouched(tmp_path: Path, polling: bool) -> None:
    source = tmp_path / "share"
    source.mkdir()
    for i in range(3):
        (source / f"{i}.pdf").write_bytes(invoice(100 + i))
    inbox = tmp_path / "readonly"
    mounted = _read_only_bind(source, inbox)
    if not mounted:
        # Without root a plain permission change makes it read-only (root would ignore the mode bits).
        shutil.copytree(source, inbox)
        for path in [*inbox.iterdir(), inbox]:
            path.chmod(0o555 if path.is_dir() else 0o444)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in inbox.iterdir())
    try:
        with running_daemon(settings_for(tmp_path, inbox=inbox, polling=polling)) as run:
            wait_until(lambda: len(run.invoices()) == 3, what="three invoices")
            assert {a.outcome for a in run.arrivals()} == {"archived"}
        assert sorted((p.name, p.stat().st_mtime_ns) for p in inbox.iterdir()) == before
        with pytest.raises(OSError):
            (inbox / "probe").write_bytes(b"")  # it really was read-only
    finally:
        if mounted:
            subprocess.run(["umount", str(inbox)], check=False)
        else:
            inbox.chmod(0o755)


def test_when_native_watching_fails_the_folder_is_polled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from watchdog.observers.inotify import InotifyObserver

    import ingest.sources.folder as folder

    class OutOfWatches(InotifyObserver):
        def start(self) -> None:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(folder, "Observer", OutOfWatches)
    with running_daemon(settings_for(tmp_path)) as run:
        assert run.daemon.sources[0].state == "polling"
        (run.inbox / "a.pdf").write_bytes(invoice(92))
        assert run.wait_for_arrival(run.inbox / "a.pdf").outcome == "archived"


def test_a_folder_that_goes_away_and_comes_back_is_watched_again(tmp_path: Path) -> None:
    with running_daemon(settings_for(tmp_path, rescan_minutes=0.005)) as run:
        source = run.daemon.sources[0]
        parked = tmp_path / "unplugged"
        run.inbox.rename(parked)
        wait_until(lambda: source.state == "missing", what="the folder to be missed")
        parked.rename(run.inbox)
        wait_until(lambda: source.state == "watching", what="the folder to be watched again")
        (run.inbox / "a.pdf").write_bytes(invoice(93))
        assert run.wait_for_arrival(run.inbox / "a.pdf").outcome == "archived"
