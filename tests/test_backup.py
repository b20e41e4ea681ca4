"""Snapshots on real SQLite files and real trees: what a snapshot holds, hard links to the previous one,
the copy fallback, restore round trips from a folder, a tar and a zip, verify, interrupted and failed
backups, consistency while files are being filed, and the backup lock."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
from backup_fill import (
    Days,
    add_invoices,
    dump,
    filled_archive,
    restored_check,
    source_of,
    stored_paths,
    tree_hashes,
)
from daemon_run import invoice

from ingest.config import load_settings
from storage.archive import INDEX_NAME, STATE_FOLDER, Archive
from storage.backup import (
    DATABASE_NAME,
    PARTIAL_PREFIX,
    BackupBusyError,
    BackupError,
    BackupResult,
    BackupSource,
    back_up,
    backup_lock,
    copy_file,
    leftovers,
    snapshots,
)
from storage.backup_manifest import MANIFEST_NAME
from storage.backup_restore import RESTORED_DATABASE, RestoreError, open_snapshot, restore, verify
from storage.backup_retention import Keep
from storage.db import create_db_engine, head_revision

KEEP_ALL = Keep(daily=100, weekly=0, monthly=0)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with filled_archive(tmp_path / "archive", 6) as archive:
        yield archive


def inode(path: Path) -> int:
    return path.stat().st_ino


def test_a_snapshot_holds_the_tree_the_database_the_config_and_a_manifest_of_them(
    archive: Archive, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[archive]\nroot = "archive"\n', encoding="utf-8")
    result = back_up(source_of(archive, config), tmp_path / "backups", keep=KEEP_ALL, now=Days())

    snapshot = result.snapshot.path
    assert snapshot == tmp_path / "backups" / "2025-01-01_030000"
    manifest = result.manifest
    archived = {f"archive/{path}": digest for path, digest in tree_hashes(archive.root).items()}
    assert len(archived) == 7  # six invoices and index.csv
    listed = {entry.path: entry for entry in manifest.files}
    assert set(listed) == {*archived, DATABASE_NAME, "config.toml"}
    for path, entry in listed.items():
        data = (snapshot / path).read_bytes()
        assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert path not in archived or entry.sha256 == archived[path]
        assert not os.access(snapshot / path, os.W_OK) or os.geteuid() == 0  # read-only (root may write anyway)
        assert (snapshot / path).stat().st_mode & 0o222 == 0
    assert manifest.schema_revision == head_revision()
    assert manifest.program_version not in ("", "unknown")
    assert manifest.layout == archive.layout
    assert manifest.linked and manifest.previous is None and not manifest.notes
    assert manifest.copied_bytes == sum(e.size for p, e in listed.items() if p != DATABASE_NAME)
    assert dump(snapshot / DATABASE_NAME) == dump(archive.root / STATE_FOLDER / "fapiao.db")
    assert not (snapshot / f"{DATABASE_NAME}-wal").exists()
    assert sorted(p.name for p in snapshot.iterdir()) == ["archive", "config.toml", DATABASE_NAME, MANIFEST_NAME]
    assert (result.linked, result.copied) == (0, 8)


def test_an_unchanged_snapshot_is_hard_links_and_new_files_alone_are_copied(archive: Archive, tmp_path: Path) -> None:
    backups, days = tmp_path / "backups", Days()
    first = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    second = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)

    assert (second.linked, second.copied, second.manifest.copied_bytes) == (8, 0, 0)  # the database too
    assert second.manifest.previous == first.snapshot.name
    for entry in second.manifest.files:
        assert inode(second.snapshot.path / entry.path) == inode(first.snapshot.path / entry.path)

    # index.csv written again with the same rows (as every pass of the daemon does): a new time, same bytes
    index = archive.root / INDEX_NAME
    before = index.stat().st_mtime_ns
    archive.write_index()
    os.utime(index, ns=(before + 10**9, before + 10**9))
    rewritten = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    assert (rewritten.linked, rewritten.copied) == (8, 0)
    entry = {e.path: e for e in rewritten.manifest.files}[f"archive/{INDEX_NAME}"]
    assert entry.mtime_ns == before + 10**9  # so the next snapshot links it without hashing it again
    second = rewritten

    add_invoices(archive, range(6, 8))
    third = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    new = {e.path for e in third.manifest.files} - {e.path for e in second.manifest.files}
    assert len(new) == 2
    copied = {e.path for e in third.manifest.files if inode(third.snapshot.path / e.path) != _inode_in(second, e.path)}
    assert copied == {*new, f"archive/{INDEX_NAME}", DATABASE_NAME}  # index.csv was rewritten
    assert third.manifest.copied_bytes == sum(
        e.size for e in third.manifest.files if e.path in copied and e.path != DATABASE_NAME
    )


def _inode_in(result: BackupResult, relative: str) -> int | None:
    path = result.snapshot.path / relative
    return inode(path) if path.exists() else None


@pytest.mark.parametrize("form", ["folder", "tar", "zip"])
def test_restore_gives_back_every_file_bit_for_bit_and_a_config_that_opens_it(
    archive: Archive, tmp_path: Path, form: str
) -> None:
    backups, days = tmp_path / "backups", Days()
    back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    add_invoices(archive, range(6, 9))  # the restored snapshot mixes linked and copied files
    result = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days, export=None if form == "folder" else form)
    given = result.snapshot.path if form == "folder" else result.export
    assert given is not None

    target = tmp_path / "restored"
    with open_snapshot(given) as reader:
        report = restore(reader, target)

    assert report.problems == []
    assert tree_hashes(target / "archive") == tree_hashes(archive.root)
    assert (target / RESTORED_DATABASE).read_bytes() == (result.snapshot.path / DATABASE_NAME).read_bytes()
    assert dump(target / RESTORED_DATABASE) == dump(archive.root / STATE_FOLDER / "fapiao.db")
    for entry in result.manifest.files:  # modification times come back too
        if entry.path.startswith("archive/"):
            assert (target / entry.path).stat().st_mtime_ns == entry.mtime_ns
    settings = load_settings(target / "config.toml")
    assert settings.archive.root == target / "archive"
    assert settings.archive.layout == archive.layout
    engine = create_db_engine(settings.database_url)
    try:
        assert Archive(settings.archive.root, engine, layout=settings.archive.layout).check().clean
    finally:
        engine.dispose()


def test_restore_refuses_a_folder_that_has_anything_in_it(archive: Archive, tmp_path: Path) -> None:
    result = back_up(source_of(archive), tmp_path / "backups", keep=KEEP_ALL, now=Days())
    target = tmp_path / "busy"
    target.mkdir()
    (target / ".keep").write_text("mine")
    with open_snapshot(result.snapshot.path) as reader, pytest.raises(RestoreError, match="not empty"):
        restore(reader, target)
    assert [p.name for p in target.iterdir()] == [".keep"]
    (tmp_path / "a-file").write_text("x")
    with open_snapshot(result.snapshot.path) as reader, pytest.raises(RestoreError, match="not a folder"):
        restore(reader, tmp_path / "a-file")


def test_verify_names_every_changed_missing_and_unlisted_file(archive: Archive, tmp_path: Path) -> None:
    result = back_up(source_of(archive), tmp_path / "backups", keep=KEEP_ALL, now=Days())
    snapshot = result.snapshot.path
    with open_snapshot(snapshot) as reader:
        clean = verify(reader)
    assert clean.ok and clean.files == 8
    assert clean.bytes == sum(e.size for e in result.manifest.files)

    pdfs = sorted(e.path for e in result.manifest.files if e.path.endswith(".pdf"))
    flipped, shortened, deleted = (snapshot / p for p in pdfs[:3])
    for path in (flipped, shortened, deleted):
        path.chmod(0o644)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the hash can tell
    flipped.write_bytes(bytes(data))
    shortened.write_bytes(shortened.read_bytes()[:-10])
    deleted.unlink()
    (snapshot / "archive" / "extra.pdf").write_bytes(b"%PDF-1.4 not from the backup")

    size = {e.path: e.size for e in result.manifest.files}[pdfs[1]]
    with open_snapshot(snapshot) as reader:
        report = verify(reader)
    assert sorted(report.differences) == sorted(
        [
            f"{pdfs[0]}: content changed (sha256 differs from the manifest)",
            f"{pdfs[1]}: size {size - 10} bytes, the manifest says {size}",
            f"{pdfs[2]}: missing",
            "archive/extra.pdf: not in the manifest",
        ]
    )


@pytest.mark.parametrize("form", ["tar", "zip"])
def test_verify_finds_a_damaged_byte_inside_an_export(archive: Archive, tmp_path: Path, form: str) -> None:
    result = back_up(source_of(archive), tmp_path / "backups", keep=KEEP_ALL, now=Days(), export=form)
    assert result.export is not None
    with open_snapshot(result.export) as reader:
        assert verify(reader).ok
    # Damage a byte inside the stored (uncompressed) bytes of one invoice.
    data = bytearray(result.export.read_bytes())
    pdf = sorted((result.snapshot.path / e.path).read_bytes() for e in result.manifest.files if e.path.endswith(".pdf"))
    at = data.find(pdf[0][200:264]) + 10
    assert at > 10
    data[at] ^= 0x01
    result.export.chmod(0o644)
    result.export.write_bytes(bytes(data))
    with open_snapshot(result.export) as reader:
        report = verify(reader)
    assert not report.ok
    assert any(".pdf" in difference for difference in report.differences), report.differences
    # A restore from it gives back what it can and names the rest.
    with open_snapshot(result.export) as reader:
        restored = restore(reader, tmp_path / "restored")
    assert len(restored.problems) == 1 and ".pdf" in restored.problems[0], restored.problems
    assert (tmp_path / "restored" / RESTORED_DATABASE).is_file()
    assert len(list((tmp_path / "restored" / "archive").rglob("*.pdf"))) >= 5


def test_where_hard_links_are_impossible_every_file_is_copied_and_the_snapshot_says_so(
    archive: Archive, tmp_path: Path
) -> None:
    backups, days = tmp_path / "backups", Days()
    first = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    tries: list[Path] = []

    def no_links(existing: Path, new: Path) -> None:  # what FAT, exFAT and many SMB shares answer
        tries.append(new)
        raise OSError(errno.EPERM, "Operation not permitted")

    second = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days, link=no_links)

    assert len(tries) == 1  # found out once, not tried for every file
    assert not second.manifest.linked
    assert any("hard links are not possible" in note for note in second.manifest.notes)
    assert (second.linked, second.copied) == (0, 7)  # and the database is a copy of its own
    for entry in second.manifest.files:
        assert inode(second.snapshot.path / entry.path) != inode(first.snapshot.path / entry.path)
    with open_snapshot(second.snapshot.path) as reader:
        assert verify(reader).ok
    # The next snapshot, where links work again, links to the copies.
    third = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    assert third.manifest.linked and third.linked == 8


def test_a_failed_backup_leaves_no_partial_snapshot_and_removes_no_older_one(archive: Archive, tmp_path: Path) -> None:
    backups, days = tmp_path / "backups", Days()
    first = back_up(source_of(archive), backups, keep=Keep(daily=1, weekly=0, monthly=0), now=days)
    add_invoices(archive, range(6, 7))  # something new to copy
    copies = 0

    def disk_full_at_second_copy(source: Path, target: Path, mtime_ns: int) -> tuple[int, str]:
        nonlocal copies
        copies += 1
        if copies == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return copy_file(source, target, mtime_ns)

    with pytest.raises(BackupError, match="the backup disk is full"):
        back_up(
            source_of(archive),
            backups,
            keep=Keep(daily=1, weekly=0, monthly=0),
            now=days,
            copy=disk_full_at_second_copy,
        )
    assert [s.name for s in snapshots(backups)] == [first.snapshot.name]  # retention did not run
    assert leftovers(backups) == []
    with open_snapshot(first.snapshot.path) as reader:
        assert verify(reader).ok


def test_a_killed_backup_never_looks_complete_and_the_next_one_cleans_it_up(archive: Archive, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    back_up(source_of(archive), backups, keep=KEEP_ALL, now=Days())
    add_invoices(archive, range(6, 10))
    script = textwrap.dedent(
        f"""
        import os, signal
        from datetime import datetime
        from pathlib import Path
        from storage.backup import BackupSource, back_up, copy_file
        from storage.backup_retention import Keep

        copied = 0
        def copy_then_die(source, target, mtime_ns):
            global copied
            copied += 1
            if copied == 3:
                os.kill(os.getpid(), signal.SIGKILL)  # as if the power went, mid-snapshot
            return copy_file(source, target, mtime_ns)

        root = Path({str(archive.root)!r})
        source = BackupSource(root, root / ".fapiao" / "fapiao.db", {archive.layout!r})
        back_up(source, Path({str(backups)!r}), keep=Keep(), now=lambda: datetime(2025, 6, 1, 3).astimezone(),
                copy=copy_then_die)
        """
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == -signal.SIGKILL, process.stderr

    assert [s.name for s in snapshots(backups)] == ["2025-01-01_030000"]
    assert [p.name for p in leftovers(backups)] == [f"{PARTIAL_PREFIX}2025-06-01_030000"]
    assert (leftovers(backups)[0] / DATABASE_NAME).exists()  # it got as far as the database

    again = back_up(source_of(archive), backups, keep=KEEP_ALL, now=Days(datetime(2025, 7, 1, 3).astimezone()))
    assert again.cleaned == [f"{PARTIAL_PREFIX}2025-06-01_030000"]
    assert leftovers(backups) == []
    assert [s.name for s in snapshots(backups)] == ["2025-01-01_030000", "2025-07-01_030000"]
    with open_snapshot(again.snapshot.path) as reader:
        assert verify(reader).ok


def test_two_backups_never_run_at_once(archive: Archive, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    with backup_lock(backups), pytest.raises(BackupBusyError, match="another backup"):
        back_up(source_of(archive), backups, keep=KEEP_ALL, now=Days())
    assert snapshots(backups) == [] and leftovers(backups) == []


def test_a_backup_folder_whose_parent_is_missing_is_not_created(archive: Archive, tmp_path: Path) -> None:
    unplugged = tmp_path / "mnt" / "usb" / "fapiao-backups"
    with pytest.raises(BackupError, match=r"does not exist \(is the drive mounted\?\)"):
        back_up(source_of(archive), unplugged, keep=KEEP_ALL, now=Days())
    assert not (tmp_path / "mnt").exists()


def test_an_invoice_filed_after_the_database_copy_waits_for_the_next_snapshot(archive: Archive, tmp_path: Path) -> None:
    """A snapshot's database and tree agree even when an import files an invoice while it is written.
    The copy step files one more invoice (as the daemon would, in between) the first time it runs."""
    (archive.root / "notes.txt").write_text("a file the person put here", encoding="utf-8")
    filed: list[int] = []

    def copy_while_an_import_runs(source: Path, target: Path, mtime_ns: int) -> tuple[int, str]:
        if not filed:
            filed.append(1)
            add_invoices(archive, range(6, 7))
        return copy_file(source, target, mtime_ns)

    backups, days = tmp_path / "backups", Days()
    result = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days, copy=copy_while_an_import_runs)
    snapshot = result.snapshot.path
    in_tree = {p.relative_to(snapshot / "archive").as_posix() for p in (snapshot / "archive").rglob("*") if p.is_file()}
    assert len(stored_paths(snapshot / DATABASE_NAME)) == 6
    assert in_tree == stored_paths(snapshot / DATABASE_NAME) | {INDEX_NAME, "notes.txt"}  # the stray is kept

    restored = restored_check(snapshot, tmp_path / "restored")
    assert restored.strays == ["notes.txt"] and not (restored.missing or restored.changed or restored.pending)

    later = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    assert len(stored_paths(later.snapshot.path / DATABASE_NAME)) == 7


def test_a_placement_the_copy_caught_halfway_is_finished_or_undone_in_the_snapshot(
    archive: Archive, tmp_path: Path
) -> None:
    """The online copy can fall between a placement's claim (committed) and its file getting its name."""
    database = archive.root / STATE_FOLDER / "fapiao.db"
    with closing(sqlite3.connect(database)) as connection, connection:
        placed, unplaced = [row[0] for row in connection.execute("SELECT path FROM stored_files ORDER BY path")][:2]
        connection.execute(
            "UPDATE stored_files SET state = 'placing', temp_name = '.fapiao-tmp-1' WHERE path = ?", (placed,)
        )
        connection.execute(
            "UPDATE stored_files SET state = 'placing', temp_name = '.fapiao-tmp-2' WHERE path = ?", (unplaced,)
        )
    hidden = archive.root / unplaced
    kept_aside = tmp_path / "aside.pdf"
    hidden.rename(kept_aside)  # its file has not got its name yet

    result = back_up(source_of(archive), tmp_path / "backups", keep=KEEP_ALL, now=Days())

    snapshot = result.snapshot.path
    assert stored_paths(snapshot / DATABASE_NAME) == stored_paths(database) | {placed}
    assert unplaced not in {row for row in _all_paths(snapshot / DATABASE_NAME)}
    assert any(f"finished the interrupted placement of {placed}" in note for note in result.manifest.notes)
    assert any(f"placement of {unplaced} was interrupted" in note for note in result.manifest.notes)
    assert restored_check(snapshot, tmp_path / "restored").clean
    # The live archive is not touched: its own recovery is the daemon's business.
    assert _all_paths(database) >= {placed, unplaced}


def _all_paths(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT path FROM stored_files")}


def test_without_a_database_file_the_snapshot_holds_the_tree_and_says_why(archive: Archive, tmp_path: Path) -> None:
    source = BackupSource(archive.root, None, archive.layout, database_note="PostgreSQL: use pg_dump")
    result = back_up(source, tmp_path / "backups", keep=KEEP_ALL, now=Days())
    assert result.manifest.database is None and result.manifest.schema_revision is None
    assert result.manifest.notes == ("PostgreSQL: use pg_dump",)
    assert {e.path for e in result.manifest.files} == {f"archive/{p}" for p in tree_hashes(archive.root)}
    with open_snapshot(result.snapshot.path) as reader:
        report = restore(reader, tmp_path / "restored")
    assert report.problems == []
    assert "pg_dump" in report.config.read_text(encoding="utf-8")
    assert not (tmp_path / "restored" / RESTORED_DATABASE).exists()


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    source = BackupSource(tmp_path / "archive", tmp_path / "archive" / ".fapiao" / "fapiao.db", "{number}")
    with pytest.raises(BackupError, match=r"fapiao\.db does not exist"):
        back_up(source, tmp_path / "backups", keep=KEEP_ALL, now=Days())
    assert leftovers(tmp_path / "backups") == []


def test_two_snapshots_in_one_second_get_distinct_names(archive: Archive, tmp_path: Path) -> None:
    same = Days()
    moment = same.next
    first = back_up(source_of(archive), tmp_path / "backups", keep=KEEP_ALL, now=lambda: moment)
    second = back_up(source_of(archive), tmp_path / "backups", keep=KEEP_ALL, now=lambda: moment)
    assert (first.snapshot.name, second.snapshot.name) == ("2025-01-01_030000", "2025-01-01_030000-2")
    assert second.removed == ["2025-01-01_030000"]  # retention keeps the newest of the day: the second
    assert second.linked == 8


def test_a_snapshot_with_a_damaged_manifest_is_listed_but_not_linked_to(archive: Archive, tmp_path: Path) -> None:
    backups, days = tmp_path / "backups", Days()
    first = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    manifest = first.snapshot.path / MANIFEST_NAME
    manifest.chmod(0o644)
    manifest.write_text("{not json", encoding="utf-8")
    second = back_up(source_of(archive), backups, keep=KEEP_ALL, now=days)
    assert second.manifest.previous is None and second.copied == 7
    with pytest.raises(Exception, match="damaged or not a fapiao manifest"), open_snapshot(first.snapshot.path):
        pass


def test_the_daemons_invoices_keep_coming_while_snapshots_are_taken(tmp_path: Path) -> None:
    """Backups beside a running import (the daemon's worker filing dropped invoices): every snapshot's
    database and tree agree, and a restore of it is clean."""
    from daemon_run import running_daemon, settings_for, wait_until

    settings = settings_for(tmp_path, settle=0.05)
    backups, days = tmp_path / "backups", Days()
    taken = []
    with running_daemon(settings) as running:
        source = BackupSource(
            settings.archive.root, settings.archive.root / STATE_FOLDER / "fapiao.db", settings.archive.layout
        )
        for i in range(30):
            (running.inbox / f"{i}.pdf").write_bytes(invoice(100 + i))
            taken.append(back_up(source, backups, keep=KEEP_ALL, now=days))
        wait_until(lambda: len(running.stored()) == 30, what="every invoice filed")
        taken.append(back_up(source, backups, keep=KEEP_ALL, now=days))
    counts = [len(stored_paths(t.snapshot.path / DATABASE_NAME)) for t in taken]
    assert counts[-1] == 30
    assert any(0 < count < 30 for count in counts), counts  # some snapshots were taken mid-import
    for number, result in enumerate(taken):
        snapshot = result.snapshot.path
        files = {e.path.removeprefix("archive/") for e in result.manifest.files if e.path.startswith("archive/")}
        assert files - {INDEX_NAME} == stored_paths(snapshot / DATABASE_NAME), result.snapshot.name
        if number % 6 == 0 or number == len(taken) - 1:
            report = restored_check(snapshot, tmp_path / f"restored-{number}")
            assert report.clean, (result.snapshot.name, report)
