"""Backups where things go wrong around them: the clock set back, a relayout during the backup, a
folder that cannot be read, a lock file that cannot be opened, a filesystem that answers EINVAL to
hard links, two archives aimed at one backup folder, a stop request, a failed export, and restores
from damaged or oddly shaped exports."""

from __future__ import annotations

import errno
import io
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from backup_fill import DAY_ONE, Days, add_invoices, filled_archive, restored_check, source_of, stored_paths

from storage.archive import STATE_FOLDER, Archive
from storage.backup import (
    DATABASE_NAME,
    BackupError,
    BackupSource,
    BackupStoppedError,
    back_up,
    copy_file,
    leftovers,
    snapshots,
)
from storage.backup_restore import open_snapshot, restore, verify
from storage.backup_retention import Keep

KEEP = Keep(daily=7, weekly=4, monthly=12)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with filled_archive(tmp_path / "archive", 4) as archive:
        yield archive


def test_a_snapshot_made_after_the_clock_went_back_is_kept(archive: Archive, tmp_path: Path) -> None:
    """Summer time ends, or NTP steps the clock back: the new snapshot gets an older name than the last."""
    backups = tmp_path / "backups"
    back_up(source_of(archive), backups, keep=KEEP, now=lambda: DAY_ONE + timedelta(minutes=45))
    add_invoices(archive, range(4, 5))
    later = back_up(source_of(archive), backups, keep=KEEP, now=lambda: DAY_ONE + timedelta(minutes=15))
    assert later.snapshot.name not in later.removed
    assert later.snapshot.path.is_dir()
    assert len(stored_paths(later.snapshot.path / DATABASE_NAME)) == 5


def test_files_renamed_by_a_relayout_during_the_backup_are_all_in_the_snapshot(
    archive: Archive, tmp_path: Path
) -> None:
    """The database is copied under the old names; by the time the tree is read, relayout has moved
    every file. The snapshot keeps them under the names its database has."""
    renamed: list[tuple[str, str]] = []

    def copy_during_a_relayout(source: Path, target: Path, mtime_ns: int) -> tuple[int, str]:
        if not renamed:
            renamed.extend(Archive(archive.root, archive.engine, layout="{seller}/{number}").relayout())
        return copy_file(source, target, mtime_ns)

    result = back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days(), copy=copy_during_a_relayout)
    assert len(renamed) == 4
    snapshot = result.snapshot.path
    names = stored_paths(snapshot / DATABASE_NAME)
    assert names == {old for old, _ in renamed}
    assert all((snapshot / "archive" / name).is_file() for name in names)
    assert not [note for note in result.manifest.notes if "not in the tree" in note]
    report = restored_check(snapshot, tmp_path / "restored")
    assert report.clean, report


def test_a_folder_of_the_archive_that_cannot_be_read_fails_the_backup(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left out, it would make a snapshot that looks complete and is not. (Permissions do not stop root,
    who runs these tests in CI, so the walk is told that one folder is unreadable.)"""
    real_walk = os.walk

    def walk_with_an_unreadable_folder(top: Path, onerror: Callable[[OSError], None]) -> Iterator[Any]:
        onerror(PermissionError(errno.EACCES, "Permission denied", str(Path(top) / "2019")))
        yield from real_walk(top, onerror=onerror)

    monkeypatch.setattr("storage.backup.os.walk", walk_with_an_unreadable_folder)
    with pytest.raises(BackupError, match=r"cannot read .*2019 in the archive: Permission denied"):
        back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days())
    assert snapshots(tmp_path / "backups") == [] and leftovers(tmp_path / "backups") == []


def test_a_lock_file_that_cannot_be_opened_is_a_backup_error(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "backups" / ".backup.lock").mkdir(parents=True)
    with pytest.raises(BackupError, match="the backup failed: Is a directory"):
        back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days())


def test_a_backup_folder_that_is_a_file_is_named_as_such(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "backups").write_text("not a folder")
    with pytest.raises(BackupError, match="is a file, not a folder"):
        back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days())


@pytest.mark.parametrize("code", [errno.EPERM, errno.EINVAL, errno.EXDEV, errno.ENOTSUP])
def test_every_way_a_filesystem_refuses_hard_links_falls_back_to_copies(
    archive: Archive, tmp_path: Path, code: int
) -> None:
    backups, days = tmp_path / "backups", Days()
    back_up(source_of(archive), backups, keep=KEEP, now=days)

    def refuse(_existing: Path, _new: Path) -> None:
        raise OSError(code, os.strerror(code))

    second = back_up(source_of(archive), backups, keep=KEEP, now=days, link=refuse)
    assert not second.manifest.linked and second.linked == 0
    with open_snapshot(second.snapshot.path) as reader:
        assert verify(reader).ok


def test_two_archives_cannot_share_a_backup_folder(archive: Archive, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    back_up(source_of(archive), backups, keep=KEEP, now=Days())
    refused = r"holds the snapshots of the archive .*archive; give each archive"
    with filled_archive(tmp_path / "other-archive", 1) as other, pytest.raises(BackupError, match=refused):
        back_up(source_of(other), backups, keep=KEEP, now=Days(DAY_ONE + timedelta(minutes=5)))
    assert len(snapshots(backups)) == 1


def test_a_stop_request_gives_up_the_snapshot_in_progress(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(BackupStoppedError, match="the daemon is stopping"):
        back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days(), stopping=lambda: True)
    assert snapshots(tmp_path / "backups") == [] and leftovers(tmp_path / "backups") == []


def test_a_failed_export_says_the_snapshot_is_complete_and_retention_still_runs(
    archive: Archive, tmp_path: Path
) -> None:
    backups, days = tmp_path / "backups", Days()
    first = back_up(source_of(archive), backups, keep=Keep(daily=1, weekly=0, monthly=0), now=days)
    taken = tmp_path / "cloud.tar"
    taken.write_bytes(b"someone else's file")
    with pytest.raises(BackupError, match=r"the snapshot 2025-01-02_030000 is complete, but .*already exists"):
        back_up(source_of(archive), backups, keep=Keep(daily=1, weekly=0, monthly=0), now=days, export="tar", out=taken)
    assert [s.name for s in snapshots(backups)] == ["2025-01-02_030000"]  # the first was removed by retention
    assert not first.snapshot.path.exists()
    assert taken.read_bytes() == b"someone else's file"


def test_a_tar_that_ends_like_a_zip_still_reads_as_a_tar(archive: Archive, tmp_path: Path) -> None:
    """A zip file last in the tree puts a zip's end record near the end of the tar."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("a.xml", "<a/>")
    (archive.root / "zzz-last.zip").write_bytes(buffer.getvalue())
    source = BackupSource(archive.root, None, archive.layout)
    result = back_up(source, tmp_path / "backups", keep=KEEP, now=Days(), export="tar")
    assert result.export is not None and zipfile.is_zipfile(result.export)  # the trap is real
    with open_snapshot(result.export) as reader:
        assert verify(reader).ok


def test_a_name_given_twice_in_an_export_is_restored_once_and_reported(archive: Archive, tmp_path: Path) -> None:
    """What a case-insensitive file system does to two names that differ in case, made plain."""
    result = back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days(), export="tar")
    assert result.export is not None
    pdf = next(e for e in result.manifest.files if e.path.endswith(".pdf"))
    data = (result.snapshot.path / pdf.path).read_bytes()
    doubled = tmp_path / "doubled.tar"
    with tarfile.open(result.export) as source, tarfile.open(doubled, "w", format=tarfile.PAX_FORMAT) as out:
        for member in source:
            out.addfile(member, source.extractfile(member))
        extra = tarfile.TarInfo(f"{result.manifest.name}/{pdf.path}")
        extra.size = len(data)
        out.addfile(extra, io.BytesIO(data))
    with open_snapshot(doubled) as reader:
        report = restore(reader, tmp_path / "restored")
    assert len(report.problems) == 1 and "another file of the snapshot already has this name" in report.problems[0]
    assert (tmp_path / "restored" / pdf.path).read_bytes() == data  # the first one is kept


def test_the_live_archive_is_untouched_by_a_backup(archive: Archive, tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in archive.root.rglob("*") if p.is_file() and STATE_FOLDER not in p.parts}
    back_up(source_of(archive), tmp_path / "backups", keep=KEEP, now=Days())
    after = {p: p.stat().st_mtime_ns for p in archive.root.rglob("*") if p.is_file() and STATE_FOLDER not in p.parts}
    assert before == after
    assert all(os.access(path, os.W_OK) for path in after)
