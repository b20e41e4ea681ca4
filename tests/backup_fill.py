"""Archives to back up in tests: real generated invoices imported through the real pipeline into a real
SQLite file, and what a snapshot or a restore must then hold."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from daemon_run import invoice

from ingest.config import DEFAULT_LAYOUT
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, import_paths
from ingest.unpack import UnpackLimits
from storage.archive import STATE_FOLDER, Archive, CheckReport
from storage.backup import BackupSource
from storage.backup_restore import RESTORED_DATABASE, open_snapshot, restore
from storage.db import create_db_engine, open_database

EXTRACT = ExtractWith(Limits(), None, date(2026, 1, 1))
DAY_ONE = datetime(2025, 1, 1, 3, 0).astimezone()


@contextmanager
def filled_archive(root: Path, count: int) -> Iterator[Archive]:
    """An archive under `root` with `count` distinct invoices (0 .. count-1)."""
    engine = open_database(f"sqlite:///{root / STATE_FOLDER / 'fapiao.db'}")
    archive = Archive(root, engine, layout=DEFAULT_LAYOUT)
    add_invoices(archive, range(count))
    try:
        yield archive
    finally:
        engine.dispose()


def add_invoices(archive: Archive, indexes: range) -> None:
    inbox = archive.root.parent / f"inbox-{indexes.start}-{indexes.stop}"
    inbox.mkdir(parents=True)
    for i in indexes:
        (inbox / f"invoice-{i}.pdf").write_bytes(invoice(i))
    summary = import_paths([inbox], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
    assert not summary.failures
    archive.write_index()


def source_of(archive: Archive, config: Path | None = None) -> BackupSource:
    return BackupSource(archive.root, archive.root / STATE_FOLDER / "fapiao.db", DEFAULT_LAYOUT, config)


class Days:
    """A clock for snapshots, a day further at each call (snapshot names come from it)."""

    def __init__(self, start: datetime = DAY_ONE) -> None:
        self.next = start

    def __call__(self) -> datetime:
        now, self.next = self.next, self.next + timedelta(days=1)
        return now


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (without the state folder), by '/'-separated relative path."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and STATE_FOLDER not in path.relative_to(root).parts
    }


def dump(database: Path) -> list[str]:
    """The database's content as SQL: equal dumps mean equal tables, rows and schema."""
    with closing(sqlite3.connect(database)) as connection:
        return list(connection.iterdump())


def stored_paths(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT path FROM stored_files WHERE state = 'placed'")}


def restored_check(snapshot: Path, target: Path) -> CheckReport:
    """`fapiao check` on a restore of `snapshot` into `target` (the restore itself must have no problems)."""
    with open_snapshot(snapshot) as reader:
        assert restore(reader, target).problems == []
    engine = create_db_engine(f"sqlite:///{target / RESTORED_DATABASE}")
    try:
        return Archive(target / "archive", engine, layout="{number}").check()
    finally:
        engine.dispose()
