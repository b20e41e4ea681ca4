"""A snapshot's manifest: every file in it with its size and sha256, plus what a restore needs to know
(the database's schema revision, the program version, the archive layout).

It is written last, just before the snapshot folder gets its final name, and
`verify` and `restore` trust nothing in a snapshot that it does not list.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

MANIFEST_NAME = "manifest.json"
_DRIVE = re.compile(r"[A-Za-z]:")  # a Windows drive, which would make a joined path absolute there
FORMAT = 1  # bumped when a reader of an older manifest would misread a newer one


class ManifestError(Exception):
    """The manifest is missing, unreadable, or not one this program wrote."""


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the snapshot folder, '/'-separated: 'archive/2024/…pdf', 'fapiao.db'
    size: int
    sha256: str
    mtime_ns: int  # of the archive file when it was backed up; restored as is


@dataclass(frozen=True)
class Manifest:
    name: str
    created: datetime  # local time, with its UTC offset
    program_version: str
    layout: str  # [archive] layout when backed up: a restore's config keeps it
    schema_revision: str | None  # None when the database was not copied
    database: str | None  # the database file in the snapshot; None for PostgreSQL (use pg_dump)
    linked: bool  # unchanged files are hard links to the previous snapshot; False: every file a copy
    previous: str | None = None  # the snapshot unchanged files were linked to
    notes: tuple[str, ...] = ()  # what a person should know: no hard links here, files that differ from the database
    files: tuple[Entry, ...] = field(default_factory=tuple)
    copied_bytes: int = 0  # bytes of the archive and config files written anew (not linked); the database aside

    @property
    def archive_bytes(self) -> int:
        return sum(entry.size for entry in self.files if entry.path.startswith("archive/"))

    def to_json(self) -> bytes:
        """Readable JSON with one line per file (a row, not an object: there may be 10,000 of them)."""
        document: dict[str, Any] = {"format": FORMAT, **asdict(self)}
        document["created"] = self.created.isoformat(timespec="seconds")
        del document["files"]
        head = json.dumps(document, ensure_ascii=False, indent=1)
        rows = ",\n  ".join(json.dumps([e.path, e.size, e.sha256, e.mtime_ns], ensure_ascii=False) for e in self.files)
        return f'{head.removesuffix("}").rstrip()},\n "files": [\n  {rows}\n ]\n}}\n'.encode()


def read_manifest(data: bytes, *, where: str) -> Manifest:
    """The manifest in `data`; ManifestError naming `where` when it is not a valid one."""
    try:
        document = json.loads(data)
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        if document.get("format") != FORMAT:
            raise ManifestError(f"{where}: manifest format {document.get('format')!r}; this program reads {FORMAT}")
        files = tuple(Entry(str(p), int(s), str(h), int(m)) for p, s, h, m in document["files"])
        for entry in files:
            safe_relative(entry.path)
        manifest = Manifest(
            name=str(document["name"]),
            created=datetime.fromisoformat(document["created"]),
            program_version=str(document["program_version"]),
            layout=str(document["layout"]),
            schema_revision=document["schema_revision"],
            database=document["database"],
            linked=bool(document["linked"]),
            previous=document.get("previous"),
            notes=tuple(document.get("notes", ())),
            files=files,
            copied_bytes=int(document.get("copied_bytes", 0)),
        )
    except ManifestError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ManifestError(f"{where}: the manifest is damaged or not a fapiao manifest ({exc})") from exc
    return manifest


def safe_relative(path: str) -> PurePosixPath:
    """`path` as a relative path that stays inside the folder it is joined to; ValueError otherwise.
    A restore writes only such names, whatever a (tampered) manifest or tar file says."""
    relative = PurePosixPath(path)
    if (
        not path
        or relative.is_absolute()
        or "\\" in path
        or "\0" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
        or _DRIVE.match(path)
    ):
        raise ValueError(f"unsafe path in a snapshot: {path!r}")
    return relative
