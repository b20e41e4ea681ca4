"""Files that appear whole or not at all: temp file in the target folder, fsync, then link or rename.

Nothing here overwrites an existing file except `replace_file`, which is only
for files the program owns (index.csv).
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".fapiao-tmp-"


class PlacementError(Exception):
    """A file could not be written into the archive (disk full, permissions, ...); nothing was overwritten."""


def write_temp(folder: Path, data: bytes) -> Path:
    """`data` in a new, fsynced temp file inside `folder` (created if needed)."""
    try:
        _make_folders(folder)
        temp = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise PlacementError(f"cannot write into {folder}: {_why(exc)}") from exc
    return temp


def link_into_place(temp: Path, final: Path) -> bool:
    """Give `temp` the name `final` unless that name exists; False (and nothing changed) if it does.
    The temp name is removed on success. The folder is fsynced so the new name survives a power cut."""
    try:
        try:
            os.link(temp, final)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            # No hard links here (FAT, some SMB shares): check, then rename. Only we write in the archive.
            if final.exists():
                return False
            temp.rename(final)
        else:
            temp.unlink()
        fsync_folder(final.parent)
    except OSError as exc:
        raise PlacementError(f"cannot place {final.name}: {_why(exc)}") from exc
    return True


def replace_file(path: Path, data: bytes) -> None:
    """Atomically replace a file the program owns (index.csv): readers see the old or the new, never half."""
    replace_file_streamed(path, lambda out: out.write(data))


def replace_file_streamed(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`replace_file` for content too large to hold in memory: `write` fills the temp file."""
    try:
        _make_folders(path.parent)
        temp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise PlacementError(f"cannot write into {path.parent}: {_why(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PlacementError(f"cannot replace {path}: {_why(exc)}") from exc
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a folder's new or removed names durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (e.g. certain FUSE mounts) refuse fsync on folders
    finally:
        os.close(fd)


def _make_folders(folder: Path) -> None:
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        fsync_folder(new.parent)


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc)
