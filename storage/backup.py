"""Snapshots of the archive and its database in a backup folder; retention; the backup lock.

A snapshot is a folder named by its local time (`2026-11-24_030000`) holding
`archive/` (the tree), `fapiao.db` (SQLite's online backup of the database),
the config in use, and `manifest.json` (every file's size and sha256). Files
unchanged since the previous snapshot are hard links to it, so a nightly
snapshot of an unchanged archive costs directory entries, not copies.

Consistency while the daemon writes: the database is copied first, and the
tree then contributes the files that copy knows (plus files nobody filed, which
`check` reports as strays in the archive too). An invoice filed after the copy
is left for the next snapshot; one whose placement the copy caught halfway is
finished or undone in the copy, as a restart would. So a snapshot's database
and tree always agree.

A snapshot is written under `.partial-<name>` and renamed when complete, so an
interrupted one never looks complete; the next backup removes it. One lock
file in the backup folder keeps two backups from running at once.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from storage.archive import STATE_FOLDER, Archive
from storage.atomic import TEMP_PREFIX, fsync_folder
from storage.backup_manifest import MANIFEST_NAME, Entry, Manifest, ManifestError, read_manifest, safe_relative
from storage.backup_retention import Keep, to_keep
from storage.db import create_db_engine, sqlite_copy
from storage.hashed_io import copy_new, hash_file, write_new
from storage.lock import ArchiveBusyError, held

NAME_FORMAT = "%Y-%m-%d_%H%M%S"
_NAME = re.compile(r"(\d{4}-\d{2}-\d{2}_\d{6})(?:-(\d+))?")
PARTIAL_PREFIX = ".partial-"
DELETING_PREFIX = ".deleting-"
LOCK_NAME = ".backup.lock"
ARCHIVE_FOLDER = "archive"
DATABASE_NAME = "fapiao.db"
CONFIG_NAME = "config.toml"
EXPORT_FORMATS = ("tar", "zip")
# Hard links cannot be made here at all: FAT, exFAT, many SMB and some FUSE mounts (EINVAL is Windows'
# "incorrect function" on FAT and exFAT drives), or Linux's protected_hardlinks when the earlier snapshot's
# files belong to another user (EPERM).
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOSYS})
OWNER_NAME = ".fapiao-backup-of"  # the archive whose snapshots a backup folder holds
SETTLED_NOTE = "in this snapshot's database: "  # a placement the database copy caught halfway, settled

Link = Callable[[Path, Path], None]
Copy = Callable[[Path, Path, int], tuple[int, str]]


class BackupError(Exception):
    """A backup could not be made, listed or read; the message says what and where."""


class BackupBusyError(BackupError):
    """Another backup holds the backup folder's lock."""


class BackupStoppedError(BackupError):
    """The daemon is stopping: the snapshot in progress was given up (and removed)."""


@dataclass(frozen=True)
class BackupSource:
    """What is backed up: the archive tree, its SQLite database (None: not copied, e.g. PostgreSQL)."""

    archive_root: Path
    database: Path | None
    layout: str
    config: Path | None = None  # copied into the snapshot, so a restore can show the settings in use
    database_note: str = ""  # why the database is not in the snapshot, when it is not


@dataclass(frozen=True)
class Snapshot:
    """A complete snapshot in a backup folder."""

    name: str
    path: Path
    taken: datetime  # local time, from the name

    def manifest(self) -> Manifest:
        return load_manifest(self.path)

    def exports(self) -> list[Path]:
        return [p for fmt in EXPORT_FORMATS if (p := self.path.with_name(f"{self.name}.{fmt}")).is_file()]


@dataclass
class BackupResult:
    snapshot: Snapshot
    manifest: Manifest
    linked: int = 0  # files that are hard links to the previous snapshot
    copied: int = 0
    seconds: float = 0.0
    cleaned: list[str] = field(default_factory=list)  # leftovers of interrupted backups, removed
    removed: list[str] = field(default_factory=list)  # snapshots retention removed
    export: Path | None = None
    notes: list[str] = field(default_factory=list)  # about the backup folder, beside the manifest's notes


def program_version() -> str:
    try:
        return metadata.version("fapiao-inbox")
    except metadata.PackageNotFoundError:
        return "unknown"


def local_now() -> datetime:
    return datetime.now().astimezone()


# --- the backup folder -----------------------------------------------------------------------------


def snapshots(backup_dir: Path) -> list[Snapshot]:
    """The complete snapshots in `backup_dir`, oldest first (none when the folder is not there)."""
    found = []
    try:
        children = list(backup_dir.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BackupError(f"cannot read the backup folder {backup_dir}: {exc.strerror or exc}") from exc
    for child in children:
        match = _NAME.fullmatch(child.name)
        if match and (child / MANIFEST_NAME).is_file():
            taken = datetime.strptime(match[1], NAME_FORMAT)
            found.append((taken, int(match[2] or 1), Snapshot(child.name, child, taken)))
    return [snapshot for *_, snapshot in sorted(found, key=lambda item: item[:2])]


def leftovers(backup_dir: Path) -> list[Path]:
    """What interrupted backups and removals left behind: never complete, removed by the next backup."""
    try:
        return sorted(p for p in backup_dir.iterdir() if p.name.startswith((PARTIAL_PREFIX, DELETING_PREFIX)))
    except OSError:
        return []


def load_manifest(snapshot: Path) -> Manifest:
    where = str(snapshot / MANIFEST_NAME)
    try:
        data = (snapshot / MANIFEST_NAME).read_bytes()
    except OSError as exc:
        raise ManifestError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    return read_manifest(data, where=where)


@contextmanager
def backup_lock(backup_dir: Path) -> Iterator[None]:
    try:
        with held(backup_dir / LOCK_NAME, what="backup", using="this backup folder"):
            yield
    except ArchiveBusyError as exc:
        raise BackupBusyError(str(exc)) from exc


def prepare_folder(backup_dir: Path) -> None:
    """Create the backup folder, but not its parents: a missing parent is usually a drive not mounted,
    and a backup written onto the system disk instead would look fine until that disk dies."""
    if backup_dir.is_dir():
        return
    if backup_dir.exists():
        raise BackupError(f"the backup folder {backup_dir} is a file, not a folder")
    if not backup_dir.parent.is_dir():
        raise BackupError(f"the backup folder's parent {backup_dir.parent} does not exist (is the drive mounted?)")
    try:
        backup_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {backup_dir}: {exc.strerror or exc}") from exc


# --- one backup ------------------------------------------------------------------------------------


def back_up(
    source: BackupSource,
    backup_dir: Path,
    *,
    keep: Keep,
    export: str | None = None,
    out: Path | None = None,
    now: Callable[[], datetime] = local_now,
    link: Link = os.link,
    copy: Copy | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> BackupResult:
    """A new snapshot, optionally exported as one tar or zip file beside it; then retention.
    Raises BackupBusyError when another backup is running, BackupError when this one failed
    (nothing of it is left that looks complete, and no older snapshot was removed)."""
    prepare_folder(backup_dir)
    try:
        with backup_lock(backup_dir):
            return _back_up_locked(source, backup_dir, keep, export, out, now(), link, copy or copy_file, stopping)
    except (OSError, sqlite3.Error, SQLAlchemyError) as exc:
        # Whatever else went wrong (the lock file, a leftover, the database copy's pragmas): one error type,
        # so the daemon can report it.
        raise BackupError(_problem(exc, backup_dir)) from exc


def _back_up_locked(
    source: BackupSource,
    backup_dir: Path,
    keep: Keep,
    export: str | None,
    out: Path | None,
    taken: datetime,
    link: Link,
    copy: Copy,
    stopping: Callable[[], bool],
) -> BackupResult:
    _claim_folder(backup_dir, source.archive_root)
    cleaned, notes = [], []
    for leftover in leftovers(backup_dir):
        try:
            cleaned.append(_remove_tree(leftover))
        except OSError as exc:  # reported, but it must not stop every later backup
            notes.append(
                f"could not remove {leftover.name}, left by an interrupted backup: {_problem(exc, backup_dir)}"
            )
    started = time.monotonic()
    if taken.tzinfo is None:
        taken = taken.astimezone()  # a naive time is local time
    writer = _SnapshotWriter(source, backup_dir, _newest_readable(backup_dir), link=link, copy=copy, stopping=stopping)
    result = writer.write(taken)
    result.cleaned, result.notes = cleaned, notes
    made = result.snapshot
    failed_export = None
    if export is not None:
        from storage.backup_export import export_snapshot  # only the rare single-file backup needs it

        try:
            result.export = export_snapshot(made.path, result.manifest, export, out)
        except BackupError as exc:
            failed_export = exc
    result.seconds = time.monotonic() - started
    try:
        result.removed = prune(backup_dir, keep, made=made.name)
    except OSError as exc:
        raise BackupError(
            f"the snapshot {made.name} is complete, but an old one could not be removed: "
            f"{_problem(exc, backup_dir)}; it is tried again after the next backup"
        ) from exc
    if failed_export is not None:
        raise BackupError(f"the snapshot {made.name} is complete, but {failed_export}") from failed_export
    return result


def _claim_folder(backup_dir: Path, archive_root: Path) -> None:
    """One backup folder, one archive: retention in a folder shared by two archives would remove the
    other one's snapshots."""
    owner = backup_dir / OWNER_NAME
    mine = str(archive_root.resolve())
    try:
        recorded = owner.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        write_new(owner, f"{mine}\n".encode())
        return
    if recorded != mine:
        raise BackupError(
            f"the backup folder {backup_dir} holds the snapshots of the archive {recorded}; give each archive "
            f"its own [backup] dir (if the archive was moved from there, delete {owner})"
        )


def prune(backup_dir: Path, keep: Keep, *, made: str) -> list[str]:
    """Remove the snapshots (and their exports) retention does not keep; the newest, and the one just
    `made`, always stay (a clock set back, or the hour repeated when summer time ends, can give the
    snapshot just made an older name than the last one). Called only after a snapshot was completed."""
    every = snapshots(backup_dir)
    kept = to_keep((s.taken for s in every), keep)
    # Two snapshots in one second share a time: keep only the later of them when that second is kept.
    latest_of_time = {s.taken: s for s in every}
    removed = []
    for snapshot in every:
        if snapshot.name == made or (snapshot.taken in kept and latest_of_time[snapshot.taken] is snapshot):
            continue
        for export in snapshot.exports():
            export.unlink()
        doomed = snapshot.path.with_name(DELETING_PREFIX + snapshot.name)
        snapshot.path.rename(doomed)  # from here on it no longer looks complete
        _remove_tree(doomed)
        removed.append(snapshot.name)
    return removed


def _newest_readable(backup_dir: Path) -> tuple[Snapshot, Manifest] | None:
    """The newest snapshot whose manifest can be read: the one unchanged files are linked to."""
    for snapshot in reversed(snapshots(backup_dir)):
        try:
            return snapshot, snapshot.manifest()
        except ManifestError:
            continue
    return None


class _SnapshotWriter:
    def __init__(
        self,
        source: BackupSource,
        backup_dir: Path,
        previous: tuple[Snapshot, Manifest] | None,
        *,
        link: Link,
        copy: Copy,
        stopping: Callable[[], bool],
    ) -> None:
        self.stopping = stopping
        self.source = source
        self.backup_dir = backup_dir
        self.previous = previous
        self.before = {e.path: e for e in previous[1].files} if previous else {}
        self.link = link
        self.copy = copy
        self.links_possible = True
        self.notes: list[str] = []
        self.entries: list[Entry] = []
        self.folders: set[Path] = set()
        self.linked = self.copied = self.copied_bytes = 0

    def write(self, taken: datetime) -> BackupResult:
        name = self._free_name(taken)
        partial = self.backup_dir / (PARTIAL_PREFIX + name)
        try:
            partial.mkdir()
            self.folders.add(partial)
            known, revision = self._copy_database(partial)
            self._copy_tree(partial, known, self._moving_in_copy(partial))
            if self.source.config is not None and self.source.config.is_file():
                self._take(self.source.config, partial, CONFIG_NAME, self.source.config.stat(), None)
            if self.source.database is not None:
                self._settle_database(partial)
            manifest = Manifest(
                name=name,
                created=taken,
                program_version=program_version(),
                layout=self.source.layout,
                schema_revision=revision,
                database=DATABASE_NAME if self.source.database is not None else None,
                linked=self.links_possible,
                previous=self.previous[0].name if self.previous else None,
                notes=tuple(self.notes),
                files=tuple(sorted(self.entries, key=lambda e: e.path)),
                copied_bytes=self.copied_bytes,
            )
            write_new(partial / MANIFEST_NAME, manifest.to_json())
            read_only(partial / MANIFEST_NAME)
            for folder in self.folders:
                fsync_folder(folder)
            final = self.backup_dir / name
            partial.rename(final)
            fsync_folder(self.backup_dir)
        except BaseException as exc:
            _remove_tree(partial)
            if isinstance(exc, OSError | sqlite3.Error | SQLAlchemyError):
                raise BackupError(
                    f"{_problem(exc, self.backup_dir)}; no snapshot was made and none was removed"
                ) from exc
            raise
        snapshot = Snapshot(name, final, taken.replace(tzinfo=None, microsecond=0))
        return BackupResult(snapshot, manifest, linked=self.linked, copied=self.copied)

    def _free_name(self, taken: datetime) -> str:
        stem = taken.strftime(NAME_FORMAT)
        name, n = stem, 1
        while (self.backup_dir / name).exists() or (self.backup_dir / (PARTIAL_PREFIX + name)).exists():
            n += 1
            name = f"{stem}-{n}"
        return name

    # --- database --------------------------------------------------------------------------------

    def _copy_database(self, partial: Path) -> tuple[dict[str, tuple[str, str]] | None, str | None]:
        """The database copied (online backup); the paths it knows with their sha256 and state, and its revision.
        (None, None) when the database is not copied: then every file in the tree is taken."""
        database = self.source.database
        if database is None:
            self.notes.append(self.source.database_note or "the database is not in this snapshot")
            return None, None
        if not database.is_file():
            raise BackupError(f"the database {database} does not exist; nothing to back up")
        copy = partial / DATABASE_NAME
        try:
            sqlite_copy(database, copy)
            with closing(sqlite3.connect(copy)) as connection:
                rows = connection.execute("SELECT path, sha256, state FROM stored_files").fetchall()
                known = {path: (sha, state) for path, sha, state in rows}
                revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error as exc:
            raise BackupError(f"cannot copy the database {database}: {exc}") from exc
        return known, revision[0] if revision else None

    def _moving_in_copy(self, partial: Path) -> dict[str, str]:
        """New name -> old name of every file the copy has on its way to a new name (a hand correction,
        `fapiao review set`, cut short or still running): the snapshot takes such a file under its new name
        only, so that settling the copy renames nothing the manifest already lists."""
        if self.source.database is None:
            return {}
        with closing(sqlite3.connect(partial / DATABASE_NAME)) as connection:
            if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'file_moves'").fetchone():
                return {}  # (a schema from before hand corrections)
            rows = connection.execute(
                "SELECT f.path, m.from_path FROM file_moves m JOIN stored_files f ON f.id = m.file_id"
            ).fetchall()
        return {new: old for new, old in rows}

    def _settle_database(self, partial: Path) -> None:
        """Finish or undo, in the copy, placements the copy caught halfway (as a restart would), and make
        the copy one self-contained file (no WAL beside it)."""
        copy = partial / DATABASE_NAME
        with closing(sqlite3.connect(copy)) as connection:
            pending = connection.execute("SELECT count(*) FROM stored_files WHERE state != 'placed'").fetchone()[0]
        if pending:
            engine = create_db_engine(f"sqlite:///{copy}")
            try:
                notes = Archive(partial / ARCHIVE_FOLDER, engine, layout=self.source.layout).recover()
            finally:
                engine.dispose()
            self.notes.extend(f"{SETTLED_NOTE}{note}" for note in notes)
        with closing(sqlite3.connect(copy)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        size, digest = hash_file(copy)
        before = self.before.get(DATABASE_NAME)
        if before is not None and (before.size, before.sha256) == (size, digest) and self.previous is not None:
            # Nothing was written since the last snapshot: share its copy instead of keeping a second one.
            # (Replaced while still writable: Windows refuses to replace a read-only file.)
            link = partial / f"{TEMP_PREFIX}{DATABASE_NAME}"
            if self._linked(self.previous[0].path / DATABASE_NAME, link):
                link.replace(copy)
                self.linked += 1
        read_only(copy)
        self.entries.append(Entry(DATABASE_NAME, size, digest, copy.stat().st_mtime_ns))

    # --- tree ------------------------------------------------------------------------------------

    def _copy_tree(self, partial: Path, known: dict[str, tuple[str, str]] | None, moving: dict[str, str]) -> None:
        root = self.source.archive_root
        found = dict(_tree_files(root))
        moving_from = set(moving.values())
        # Read after the walk: a file an import placed after the database copy has its row here by now
        # (the row is committed before the file gets its name), so it is told apart from a real stray.
        known_now = _paths_in(self.source.database) if known is not None else {}
        taken: set[str] = set()
        for relative, status in found.items():
            if known is not None and relative not in known and relative in known_now:
                continue  # filed (or renamed) after the database copy: the next snapshot has it under this name
            if relative in moving_from and (known is None or relative not in known):
                continue  # the old name of a file the copy has under its new one (taken below, by that name)
            try:
                safe_relative(relative)
            except ValueError:
                self.notes.append(f"not backed up: a file name no restore could write safely: {relative!r}")
                continue
            sha = known[relative][0] if known is not None and relative in known else None
            if self._take(root / relative, partial, f"{ARCHIVE_FOLDER}/{relative}", status, sha):
                taken.add(relative)
        missing = sorted(set(known or ()) - taken)
        if missing:
            known_now = _paths_in(self.source.database)  # as it is now, after the copying
        for relative in missing:
            sha, state = (known or {})[relative]
            # A rename the copy caught before it was done: the bytes may still be under the old name.
            old_name = moving.get(relative)
            old_file = root / old_name if old_name is not None else None
            if (
                old_file is not None
                and old_file.is_file()
                and self._take(old_file, partial, f"{ARCHIVE_FOLDER}/{relative}", old_file.stat(), sha)
            ):
                continue
            # Renamed since the copy (`fapiao archive relayout`): the same bytes are in the tree under their
            # new name; the snapshot keeps them under the name its database has.
            renamed = next((p for p, now_sha in known_now.items() if now_sha == sha and (root / p).is_file()), None)
            if renamed is not None and self._take(
                root / renamed, partial, f"{ARCHIVE_FOLDER}/{relative}", (root / renamed).stat(), sha
            ):
                continue
            if state == "placed":  # (a placement the copy caught halfway is settled in the snapshot's database)
                self.notes.append(f"in the database but not in the tree when backed up: {relative}")

    def _take(self, source: Path, partial: Path, relative: str, status: os.stat_result, sha: str | None) -> bool:
        """`source` into the snapshot as `relative`, linked or copied; False if it vanished meanwhile."""
        try:
            self._take_file(source, partial, relative, status, sha)
        except FileNotFoundError as exc:
            if exc.filename != str(source):
                raise
            (partial / relative).unlink(missing_ok=True)
            return False
        return True

    def _take_file(self, source: Path, partial: Path, relative: str, status: os.stat_result, sha: str | None) -> None:
        if self.stopping():
            raise BackupStoppedError("the daemon is stopping: this snapshot was given up; the next backup makes one")
        target = partial / relative
        self._make_folders(target.parent)
        if self._same_as_before(source, relative, status, sha) and self.previous is not None:
            before = self.before[relative]
            if self._linked(self.previous[0].path / relative, target):
                self.entries.append(Entry(relative, before.size, before.sha256, status.st_mtime_ns))
                self.linked += 1
                return
        size, digest = self.copy(source, target, status.st_mtime_ns)
        if sha is not None and digest != sha:
            self.notes.append(f"differs from the database (see `fapiao check`): {relative}")
        self.entries.append(Entry(relative, size, digest, status.st_mtime_ns))
        self.copied += 1
        self.copied_bytes += size

    def _same_as_before(self, source: Path, relative: str, status: os.stat_result, sha: str | None) -> bool:
        """The file is the one the previous snapshot holds: same size and modification time (archived files
        are never rewritten), or, when only the time differs (index.csv rewritten as it was), same sha256."""
        before = self.before.get(relative)
        if before is None or before.size != status.st_size or (sha is not None and sha != before.sha256):
            return False
        return before.mtime_ns == status.st_mtime_ns or hash_file(source) == (before.size, before.sha256)

    def _linked(self, existing: Path, target: Path) -> bool:
        if not self.links_possible:
            return False
        try:
            self.link(existing, target)
        except OSError as exc:
            if exc.errno in _NO_LINKS:
                self.links_possible = False
                self.notes.append(
                    f"hard links are not possible in {self.backup_dir} ({exc.strerror or exc}): "
                    "every file is a full copy"
                )
                return False
            if exc.errno in (errno.ENOENT, errno.EMLINK):  # the old copy is gone, or has all the links it may
                return False
            raise
        return True

    def _make_folders(self, folder: Path) -> None:
        if folder in self.folders:
            return
        self._make_folders(folder.parent)
        folder.mkdir(exist_ok=True)
        self.folders.add(folder)


def _tree_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file of the archive tree (relative, '/'-separated), without the state folder and
    temp files; in a stable order."""
    if not root.is_dir():
        raise BackupError(f"the archive {root} does not exist")

    def unreadable(exc: OSError) -> None:
        # A folder left out would make a snapshot that looks complete and is not.
        raise BackupError(f"cannot read {exc.filename} in the archive: {exc.strerror or exc}") from exc

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d != STATE_FOLDER]
        dirs.sort()
        for name in sorted(names):
            if name.startswith(TEMP_PREFIX):
                continue
            path = here / name
            status = path.lstat()
            if stat.S_ISREG(status.st_mode):
                yield path.relative_to(root).as_posix(), status


def _paths_in(database: Path | None) -> dict[str, str]:
    if database is None:
        return {}
    try:
        with closing(sqlite3.connect(database)) as connection:
            return dict(connection.execute("SELECT path, sha256 FROM stored_files").fetchall())
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read the database {database}: {exc}") from exc


# --- files -----------------------------------------------------------------------------------------


def copy_file(source: Path, target: Path, mtime_ns: int) -> tuple[int, str]:
    """Copy into a new file (never over one), hashing on the way; fsynced, read-only, the source's
    modification time kept. Returns the size and sha256 of what was copied."""
    with source.open("rb") as src:
        copied = copy_new(src, target, mtime_ns)
    read_only(target)
    return copied


def read_only(path: Path) -> None:
    """A snapshot file may be shared by hard links with every other snapshot: an editor that saved into
    one would change them all. Where the filesystem keeps no such mode (some SMB mounts), it stays as is."""
    with suppress(OSError):
        path.chmod(0o444)


def _remove_tree(path: Path) -> str:
    """Remove a snapshot folder (or file) whose files are read-only; returns its name."""

    def writable_then_retry(function: Callable[[str], object], name: str, _exc: BaseException) -> None:
        # Windows refuses to delete read-only files; elsewhere only the folder's permissions matter.
        Path(name).chmod(stat.S_IWRITE | stat.S_IREAD)
        function(name)

    if not path.is_dir() or path.is_symlink():
        path.unlink(missing_ok=True)
    elif sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=writable_then_retry)
    else:
        shutil.rmtree(path, onerror=lambda function, name, info: writable_then_retry(function, name, info[1]))
    return path.name


def _problem(exc: BaseException, backup_dir: Path) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the backup disk is full ({backup_dir})"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"the backup failed: {exc.strerror or exc}{where}"
    return f"the backup failed: {exc}"
