"""A complete snapshot as one tar or zip file, for copying to a cloud drive; the manifest comes first,
so a reader streaming the file knows what to expect before the first invoice."""

from __future__ import annotations

import os
import secrets
import tarfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from storage.backup import EXPORT_FORMATS, PARTIAL_PREFIX, BackupError
from storage.backup_manifest import MANIFEST_NAME, Manifest

# Already compressed: deflating them again costs time and saves nothing.
_STORED_SUFFIXES = frozenset({".pdf", ".ofd", ".zip", ".jpg", ".jpeg", ".png"})
_ZIP_EPOCH = datetime(1980, 1, 1).timestamp()  # zip cannot record an earlier time


def export_snapshot(snapshot: Path, manifest: Manifest, fmt: str, out: Path | None = None) -> Path:
    """Write `<name>.tar` or `<name>.zip` (beside the snapshot unless `out` says where); never over a file."""
    if fmt not in EXPORT_FORMATS:
        raise BackupError(f"unknown export format {fmt!r}; choose {' or '.join(EXPORT_FORMATS)}")
    target = out or snapshot.with_name(f"{manifest.name}.{fmt}")
    if target.exists():
        raise BackupError(f"{target} already exists; not overwritten")
    temp = target.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(4)}-{target.name}")
    try:
        with temp.open("xb") as handle:
            if fmt == "tar":
                _write_tar(handle, snapshot, manifest)
            else:
                _write_zip(handle, snapshot, manifest)
            handle.flush()
            os.fsync(handle.fileno())
        temp.rename(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise BackupError(f"the {fmt} export {target} failed: {exc.strerror or exc}") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _write_tar(handle: BinaryIO, snapshot: Path, manifest: Manifest) -> None:
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in [MANIFEST_NAME, *(entry.path for entry in manifest.files)]:
            path = snapshot / relative
            status = path.stat()
            info = tarfile.TarInfo(f"{manifest.name}/{relative}")
            info.size, info.mtime, info.mode = status.st_size, int(status.st_mtime), 0o444
            with path.open("rb") as data:
                tar.addfile(info, data)


def _write_zip(handle: BinaryIO, snapshot: Path, manifest: Manifest) -> None:
    with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
        for relative in [MANIFEST_NAME, *(entry.path for entry in manifest.files)]:
            path = snapshot / relative
            moment = datetime.fromtimestamp(max(path.stat().st_mtime, _ZIP_EPOCH))
            info = zipfile.ZipInfo(f"{manifest.name}/{relative}", date_time=moment.timetuple()[:6])
            stored = Path(relative).suffix.lower() in _STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o444 << 16
            with path.open("rb") as data, archive.open(info, "w", force_zip64=True) as member:
                while chunk := data.read(1 << 20):
                    member.write(chunk)
