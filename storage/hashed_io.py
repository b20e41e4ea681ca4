"""Reading and writing files while hashing them (sha256), for snapshots and restores: every byte is
read once, and a new file is fsynced before anyone relies on it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO

CHUNK = 1 << 20


def hash_stream(stream: IO[bytes]) -> tuple[int, str]:
    """The size and sha256 of what is left to read in `stream`."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def hash_file(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        return hash_stream(handle)


def file_sha256(path: Path) -> str:
    return hash_file(path)[1]


def copy_new(stream: IO[bytes], target: Path, mtime_ns: int) -> tuple[int, str]:
    """`stream` into a new file (never over one), fsynced, with the given modification time; the size and
    sha256 of what was written."""
    digest = hashlib.sha256()
    size = 0
    with target.open("xb") as out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.utime(target, ns=(mtime_ns, mtime_ns))
    return size, digest.hexdigest()


def write_new(path: Path, data: bytes) -> None:
    """`data` as a new, fsynced file; FileExistsError if the name is taken."""
    with path.open("xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
