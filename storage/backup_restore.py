"""Reading snapshots back: `verify` re-hashes every file against the manifest; `restore` writes the
archive, its database and a config that points at them into an empty folder.

A snapshot is read the same way whether it is a folder in the backup folder or
a single tar or zip export, so a backup copied to a cloud drive restores with
the same command.
"""

from __future__ import annotations

import errno
import json
import os
import tarfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from storage.archive import STATE_FOLDER
from storage.backup import ARCHIVE_FOLDER, CONFIG_NAME, DATABASE_NAME, load_manifest
from storage.backup_manifest import MANIFEST_NAME, Entry, Manifest, ManifestError, read_manifest, safe_relative
from storage.hashed_io import copy_new, hash_stream, write_new

RESTORED_DATABASE = f"{ARCHIVE_FOLDER}/{STATE_FOLDER}/fapiao.db"  # where the default config looks for it
ORIGINAL_CONFIG = "config.original.toml"

# (device, inode, size, mtime) of a snapshot file: hard-linked files are hashed once per verify run.
Identity = tuple[int, int, int, int]


class RestoreError(Exception):
    """The restore cannot start (the target is not empty, the snapshot unreadable) or cannot go on (the
    target's disk is full); the message says which."""


@dataclass(frozen=True)
class Member:
    path: str  # relative to the snapshot, '/'-separated
    stream: IO[bytes]
    identity: Identity | None = None


class SnapshotReader:
    """The manifest, then every file present (besides the manifest), each with a stream to read it."""

    def __init__(self, where: str, manifest: Manifest) -> None:
        self.where = where
        self.manifest = manifest

    def members(self) -> Iterator[Member]:
        raise NotImplementedError


class _FolderReader(SnapshotReader):
    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder), load_manifest(folder))
        self.folder = folder

    def members(self) -> Iterator[Member]:
        for here, dirs, names in os.walk(self.folder):
            dirs.sort()
            for name in sorted(names):
                path = Path(here) / name
                relative = path.relative_to(self.folder).as_posix()
                if relative == MANIFEST_NAME:
                    continue
                status = path.stat()
                with path.open("rb") as stream:
                    identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
                    yield Member(relative, stream, identity)


class _TarReader(SnapshotReader):
    def __init__(self, where: str, tar: tarfile.TarFile) -> None:
        self.tar = tar
        first = tar.next()
        if first is None or not first.isfile() or first.name.partition("/")[2] != MANIFEST_NAME:
            raise ManifestError(f"{where}: not a fapiao snapshot export (its first member is not the manifest)")
        self.top = first.name.partition("/")[0]
        data = tar.extractfile(first)
        assert data is not None
        super().__init__(where, read_manifest(data.read(), where=f"{where}:{first.name}"))

    def members(self) -> Iterator[Member]:
        for info in self.tar:
            top, _, relative = info.name.partition("/")
            if info.isdir() or (top == self.top and relative == MANIFEST_NAME):  # the manifest was read first
                continue
            stream = self.tar.extractfile(info) if info.isfile() else None
            if top != self.top or stream is None:
                raise ManifestError(f"{self.where}: unexpected member {info.name!r} (not a file of {self.top})")
            yield Member(relative, stream)


class _ZipReader(SnapshotReader):
    def __init__(self, where: str, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        names = archive.namelist()
        if not names or names[0].partition("/")[2] != MANIFEST_NAME:
            raise ManifestError(f"{where}: not a fapiao snapshot export (its first member is not the manifest)")
        self.top = names[0].partition("/")[0]
        super().__init__(where, read_manifest(archive.read(names[0]), where=f"{where}:{names[0]}"))

    def members(self) -> Iterator[Member]:
        for info in self.archive.infolist()[1:]:
            top, _, relative = info.filename.partition("/")
            if info.is_dir():
                continue
            if top != self.top:
                raise ManifestError(f"{self.where}: unexpected member {info.filename!r} (not a file of {self.top})")
            with self.archive.open(info) as stream:
                yield Member(relative, stream)


@contextmanager
def open_snapshot(path: Path) -> Iterator[SnapshotReader]:
    """A snapshot folder, or a .tar or .zip export of one. ManifestError when it is none of them."""
    try:
        # By name first: a tar can end in bytes that look like a zip's directory (an OFD or zip invoice
        # near its end), while a zip never starts like a tar.
        if path.is_dir():
            yield _FolderReader(path)
        elif path.is_file() and (path.suffix.lower() == ".tar" or tarfile.is_tarfile(path)):
            with tarfile.open(path, "r:*") as tar:
                yield _TarReader(str(path), tar)
        elif path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                yield _ZipReader(str(path), archive)
        elif path.exists():
            raise ManifestError(f"{path}: not a snapshot folder, nor a .tar or .zip export of one")
        else:
            raise ManifestError(f"{path}: no such snapshot")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise ManifestError(f"{path}: the export is damaged: {exc}") from exc


# --- verify ----------------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    name: str
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def verify(reader: SnapshotReader, *, hashed: dict[Identity, tuple[int, str]] | None = None) -> VerifyReport:
    """Every file re-hashed and compared with the manifest: each missing, changed or unlisted file is a
    difference. `hashed` carries hashes between snapshots that share files through hard links."""
    started = time.monotonic()
    report = VerifyReport(reader.manifest.name)
    cache = hashed if hashed is not None else {}
    for member, entry in _each_listed(reader, report.differences, "not in the manifest", "missing"):
        try:
            if member.identity is not None and member.identity in cache:
                size, digest = cache[member.identity]
            else:
                size, digest = hash_stream(member.stream)
                if member.identity is not None:
                    cache[member.identity] = size, digest
        except _MEMBER_ERRORS as exc:  # a bad sector, a zip member whose CRC does not match
            report.differences.append(f"{member.path}: unreadable: {_why(exc)}")
            continue
        report.files += 1
        report.bytes += size
        if problem := _mismatch(entry, size, digest):
            report.differences.append(f"{member.path}: {problem}")
    report.seconds = time.monotonic() - started
    return report


def _each_listed(
    reader: SnapshotReader, problems: list[str], unlisted: str, missing: str
) -> Iterator[tuple[Member, Entry]]:
    """Each file of the snapshot that the manifest lists, with its entry. Files it does not list, files it
    lists that are not there, and a snapshot that breaks off are added to `problems`, worded as given."""
    expected = {entry.path: entry for entry in reader.manifest.files}
    seen: set[str] = set()
    try:
        for member in reader.members():
            entry = expected.get(member.path)
            if entry is None:
                problems.append(f"{member.path}: {unlisted}")
                continue
            seen.add(member.path)
            yield member, entry
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, ManifestError) as exc:
        problems.append(f"the snapshot could not be read to its end: {exc}")
    problems.extend(f"{path}: {missing}" for path in sorted(set(expected) - seen))


_MEMBER_ERRORS = (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError)


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _mismatch(entry: Entry, size: int, digest: str) -> str:
    if size != entry.size:
        return f"size {size} bytes, the manifest says {entry.size}"
    if digest != entry.sha256:
        return "content changed (sha256 differs from the manifest)"
    return ""


# --- restore ---------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    name: str
    target: Path
    config: Path
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


def restore(reader: SnapshotReader, target: Path) -> RestoreReport:
    """The snapshot's archive and database written into `target` (missing or empty), with a config.toml
    that points at them. Every file is checked against the manifest on the way; a file that does not
    match is still written (it may be all there is) and listed as a problem."""
    _claim_empty(target)
    manifest = reader.manifest
    report = RestoreReport(manifest.name, target, target / CONFIG_NAME)
    listed = _each_listed(
        reader, report.problems, "not in the manifest; not restored", "missing from the snapshot; not restored"
    )
    for member, entry in listed:
        destination = target / _restored_path(entry.path)
        try:
            size, digest = _write_member(member.stream, destination, entry.mtime_ns)
        except FileExistsError:  # not ours to remove: written a moment ago under a name that folds to this one
            report.problems.append(
                f"{entry.path}: not restored: another file of the snapshot already has this name here "
                "(a file system that ignores case?)"
            )
            continue
        except _MEMBER_ERRORS as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
                raise RestoreError(f"cannot write {destination}: {_why(exc)}; the restore is incomplete") from exc
            destination.unlink(missing_ok=True)  # what one bad file could not give, the others still can
            report.problems.append(f"{entry.path}: could not be restored: {_why(exc)}")
            continue
        report.files += 1
        report.bytes += size
        if problem := _mismatch(entry, size, digest):
            report.problems.append(f"{entry.path}: {problem}; restored as found")
    (target / ARCHIVE_FOLDER).mkdir(exist_ok=True)  # an empty archive still has its folder
    write_new(report.config, restored_config(manifest).encode())
    return report


def _claim_empty(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise RestoreError(f"{target} exists and is not a folder; restore into a new or empty folder")
    try:
        if target.is_dir() and any(target.iterdir()):
            raise RestoreError(f"{target} is not empty; restore only writes into a new or empty folder")
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestoreError(f"cannot create {target}: {exc.strerror or exc}") from exc


def _restored_path(path: str) -> str:
    relative = safe_relative(path).as_posix()
    if relative == DATABASE_NAME:
        return RESTORED_DATABASE
    if relative == CONFIG_NAME:
        return ORIGINAL_CONFIG
    return relative  # archive/… stays archive/…


def _write_member(stream: IO[bytes], destination: Path, mtime_ns: int) -> tuple[int, str]:
    destination.parent.mkdir(parents=True, exist_ok=True)
    return copy_new(stream, destination, mtime_ns)


def restored_config(manifest: Manifest) -> str:
    """A config for the restored archive: the same layout, no sources until a person adds them (the old
    installation may still be reading the same mailboxes and folders)."""
    lines = [
        f"# Written by `fapiao backup restore` from the snapshot {manifest.name}",
        f"# (taken {manifest.created.isoformat(timespec='seconds')} by fapiao-inbox {manifest.program_version}).",
        "# Check it with `fapiao check --config <this file>`.",
        f"# The config in use when the snapshot was taken is beside this file as {ORIGINAL_CONFIG}",
        "# (when the snapshot had one): copy its [[watch]], [[mailbox]] and [backup] tables here to",
        "# take over from the old installation.",
        "",
        "[archive]",
        f'root = "{ARCHIVE_FOLDER}"',
        f"layout = {json.dumps(manifest.layout, ensure_ascii=False)}",
    ]
    if manifest.database is None:
        lines[7:7] = [
            "# The database was not in the snapshot (PostgreSQL): restore it from its pg_dump and set",
            "# [database] url here before running fapiao on this archive.",
            "",
        ]
    return "\n".join(lines) + "\n"
