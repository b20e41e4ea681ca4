"""Bad input at import: each ends as a recorded arrival with a clear reason, nothing archived is touched,
and nothing is written outside the archive. The full disk is a real, small tmpfs where we may mount one."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cli_run import fapiao
from invoice_pdf import invoice_pdf, not_invoice_pdf, sample_spec

from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, ImportSummary, import_paths
from ingest.unpack import UnpackLimits
from storage.archive import INDEX_NAME, Archive, Outcome
from storage.atomic import PlacementError
from storage.db import open_database

LAYOUT = "{year}/{year}-{month}/{date}_{seller}_{total}_{number}"
EXTRACT = ExtractWith(Limits(), None, date(2026, 1, 1))


def make_archive(root: Path, database: Path) -> Archive:
    return Archive(root, open_database(f"sqlite:///{database}"), layout=LAYOUT)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    made = make_archive(tmp_path / "archive", tmp_path / "archive" / ".fapiao" / "fapiao.db")
    yield made
    made.engine.dispose()


def run_import(archive: Archive, *paths: Path) -> ImportSummary:
    return import_paths(list(paths), archive, extract=EXTRACT, unpack_limits=UnpackLimits())


def arrivals(archive: Archive) -> list[tuple[str, str, str]]:
    with sqlite3.connect(archive.engine.url.database or "") as db:
        return db.execute("select source_key, outcome, reason from arrivals order by id").fetchall()


def files_in(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".fapiao" not in p.parts and p.name != INDEX_NAME
    )


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members:
            bundle.writestr(name, data)
    return buffer.getvalue()


def test_traversal_and_absolute_member_names_stay_inside_the_archive(archive: Archive, tmp_path: Path) -> None:
    notice = not_invoice_pdf()
    source = tmp_path / "in"
    source.mkdir()
    (source / "evil.zip").write_bytes(zip_of([("../../escaped.pdf", notice), ("/etc/abs.pdf", notice + b"\n")]))
    summary = run_import(archive, source)
    assert summary.counts == {Outcome.UNRECOGNIZED: 2}
    assert not (tmp_path / "escaped.pdf").exists() and not list(tmp_path.glob("**/abs.pdf"))
    names = files_in(archive.root)
    assert [n.split("_", 2)[-1] for n in names] in (["escaped.pdf", "abs.pdf"], ["abs.pdf", "escaped.pdf"])
    assert all(n.startswith("_unrecognized/") for n in names)


def test_a_symlink_inside_a_zip_is_recorded_not_followed(archive: Archive, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        link = zipfile.ZipInfo("link.pdf")
        link.external_attr = 0o120777 << 16  # S_IFLNK
        bundle.writestr(link, "/etc/passwd")
    (tmp_path / "links.zip").write_bytes(buffer.getvalue())
    summary = run_import(archive, tmp_path / "links.zip")
    assert [f.filed.reason for f in summary.failures] == ["symbolic link in zip: not read"]
    assert files_in(archive.root) == []


def test_a_symlink_in_a_folder_is_skipped_with_its_reason(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "to-root.pdf").symlink_to("/")
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.SKIPPED: 1}
    assert arrivals(archive)[0][1:] == ("skipped", "symbolic link: not followed")


def test_a_pipe_is_not_read_and_does_not_block_the_import(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    os.mkfifo(tmp_path / "in" / "pipe.pdf")
    (tmp_path / "in" / "real.pdf").write_bytes(invoice_pdf(sample_spec("数电普票")))
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.FAILED: 1, Outcome.ARCHIVED: 1}
    assert [f.filed.reason for f in summary.failures] == ["not a regular file (a pipe, socket or device)"]


def test_control_characters_and_long_names_are_cleaned_in_the_archive(archive: Archive, tmp_path: Path) -> None:
    hostile = "\x1b]0;pwned\x07通知\u202e" + "长" * 100 + ".pdf"  # 300+ bytes in UTF-8
    assert len(hostile.encode()) > 255
    (tmp_path / "names.zip").write_bytes(zip_of([(hostile, not_invoice_pdf())]))
    summary = run_import(archive, tmp_path / "names.zip")
    assert summary.counts == {Outcome.UNRECOGNIZED: 1}
    (name,) = files_in(archive.root)
    component = name.split("/")[-1]
    assert len(component.encode()) <= 255 and component.endswith(".pdf")
    assert not any(ord(c) < 32 or c == "\u202e" for c in component)


def test_a_control_character_file_name_is_printed_clean_by_the_cli(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(f'[archive]\nroot = "{tmp_path / "archive"}"\n', encoding="utf-8")
    (tmp_path / "in").mkdir()
    os.mkfifo(tmp_path / "in" / "\x1b[2Jclear.pdf")
    completed = fapiao("import", "in", cwd=tmp_path)
    assert completed.returncode == 1
    assert "\x1b" not in completed.stderr and "?[2Jclear.pdf" in completed.stderr


def _small_filesystem(folder: Path, size_kb: int) -> bool:
    folder.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], capture_output=True, check=False
        )
    except OSError:
        return False
    return done.returncode == 0


def test_a_full_disk_fails_the_invoices_that_do_not_fit_and_keeps_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "small"
    mounted = _small_filesystem(root, 160)
    try:
        archive = make_archive(root, tmp_path / "db" / "fapiao.db")  # the database lives elsewhere
        source = tmp_path / "in"
        source.mkdir()
        specs = [sample_spec("数电普票", number=f"2511700000001234{i:04d}") for i in range(12)]
        for i, spec in enumerate(specs):
            (source / f"{i:02d}.pdf").write_bytes(invoice_pdf(spec))
        if not mounted:
            # No permission to mount: the same failure, injected at our own write boundary.
            calls = {"n": 0}
            real_write = __import__("storage.archive", fromlist=["write_temp"]).write_temp

            def filling_write(folder: Path, data: bytes) -> Path:
                calls["n"] += 1
                if calls["n"] > 4:
                    raise PlacementError(f"cannot write into {folder}: the disk is full")
                return real_write(folder, data)

            monkeypatch.setattr("storage.archive.write_temp", filling_write)
        summary = import_paths([source], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
        archived, failed = summary.counts[Outcome.ARCHIVED], summary.counts[Outcome.FAILED]
        assert archived >= 1 and failed >= 1 and archived + failed == len(specs)
        assert all("the disk is full" in f.filed.reason for f in summary.failures)
        kept = {name: (root / name).read_bytes() for name in files_in(root)}
        assert len(kept) == archived
        report = archive.check()
        assert (report.missing, report.changed, report.pending, report.temp_files) == ([], [], [], [])
        # Nothing already archived is touched by a later failing import.
        again = import_paths([source], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
        assert again.counts[Outcome.DUPLICATE] == archived
        assert {name: (root / name).read_bytes() for name in files_in(root)} == kept
        archive.engine.dispose()
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], check=False)


def test_a_file_that_fails_to_read_is_a_failure_with_its_reason_and_the_rest_is_filed(
    archive: Archive, tmp_path: Path
) -> None:
    # /proc/self/mem is a regular file whose read at offset 0 fails (EIO) for every user, root included,
    # so the read error is real without needing an unprivileged account.
    good = tmp_path / "good.pdf"
    good.write_bytes(invoice_pdf(sample_spec("数电普票")))
    summary = run_import(archive, Path("/proc/self/mem"), good)
    assert summary.counts == {Outcome.FAILED: 1, Outcome.ARCHIVED: 1}
    assert [f.filed.reason for f in summary.failures] == ["cannot read: Input/output error"]
