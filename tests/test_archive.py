"""The archive and the shared pipeline, on real SQLite files and real trees: dedup, companions,
conflicts, unrecognized files, index.csv, check, recovery after a crash, relayout."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from invoice_ofd import ofd_digital, ofd_old_style
from invoice_pdf import invoice_pdf, not_invoice_pdf, sample_spec, uscc
from invoice_xml import digital_xml

from ingest.extract.normalize import fold
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, ImportSummary, import_paths
from ingest.unpack import UnpackLimits
from storage.archive import INDEX_NAME, Archive, ArrivalKey, Outcome, sha256_hex
from storage.atomic import TEMP_PREFIX
from storage.db import create_db_engine, open_database
from storage.models import StoredFile

LAYOUT = "{year}/{year}-{month}/{date}_{seller}_{total}_{number}"
EXTRACT = ExtractWith(Limits(), None, date(2026, 1, 1))


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    root = tmp_path / "archive"
    engine = open_database(f"sqlite:///{root / '.fapiao' / 'fapiao.db'}")
    yield Archive(root, engine, layout=LAYOUT)
    engine.dispose()


def run_import(archive: Archive, *paths: Path, limits: UnpackLimits | None = None) -> ImportSummary:
    return import_paths(list(paths), archive, extract=EXTRACT, unpack_limits=limits or UnpackLimits())


def tree(archive: Archive) -> list[str]:
    """Every file a person sees in the archive (not the database folder, not index.csv)."""
    return sorted(
        p.relative_to(archive.root).as_posix()
        for p in archive.root.rglob("*")
        if p.is_file() and ".fapiao" not in p.parts and p.name != INDEX_NAME
    )


def rows(archive: Archive, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(archive.root / ".fapiao" / "fapiao.db") as db:
        return db.execute(sql).fetchall()


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_an_invoice_is_filed_under_the_layout(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电普票")
    summary = run_import(archive, write(tmp_path / "in", "a.pdf", invoice_pdf(spec)))
    assert summary.counts == {Outcome.ARCHIVED: 1}
    expected = f"2025/2025-07/2025-07-29_{spec.seller.name}_{spec.total:.2f}_{spec.number}.pdf"
    assert tree(archive) == [expected]
    assert rows(archive, "select key, status, total_fen from invoices") == [(f"num:{spec.number}", "ok", 10600)]


def test_the_same_file_again_is_a_duplicate_and_stored_once(archive: Archive, tmp_path: Path) -> None:
    data = invoice_pdf(sample_spec("数电普票"))
    write(tmp_path / "in", "a.pdf", data)
    write(tmp_path / "in", "copy of a.pdf", data)
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.ARCHIVED: 1, Outcome.DUPLICATE: 1}
    assert len(tree(archive)) == 1
    # Importing the folder again changes nothing and adds no arrival rows.
    again = run_import(archive, tmp_path / "in")
    assert again.counts == {Outcome.DUPLICATE: 2}
    assert rows(archive, "select count(*) from arrivals") == [(2,)]


def test_the_same_invoice_as_other_bytes_keeps_the_first_copy(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("电子普票(旧)")
    first = write(tmp_path / "in", "1.pdf", invoice_pdf(spec))
    write(tmp_path / "in", "2.pdf", invoice_pdf(dataclasses.replace(spec, seal=False)))
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.ARCHIVED: 1, Outcome.DUPLICATE: 1}
    (only,) = tree(archive)
    assert (archive.root / only).read_bytes() == first.read_bytes()
    (reason,) = rows(archive, "select reason from arrivals where outcome = 'duplicate'")[0]
    assert (
        isinstance(reason, str)
        and reason.startswith(f"same invoice as {only} (other bytes)")
        and "first copy kept" in reason
    )


def test_other_formats_of_one_invoice_are_companions_with_the_same_stem(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电专票")
    write(tmp_path / "in", "1.pdf", invoice_pdf(spec))
    write(tmp_path / "in", "2.ofd", ofd_digital(spec))
    write(tmp_path / "in", "3.xml", digital_xml(spec))
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.ARCHIVED: 1, Outcome.COMPANION: 2}
    stems = {name.rsplit(".", 1)[0] for name in tree(archive)}
    assert len(stems) == 1
    assert sorted(name.rsplit(".", 1)[1] for name in tree(archive)) == ["ofd", "pdf", "xml"]
    assert rows(archive, "select role, kind from stored_files order by id") == [
        ("primary", "pdf"),
        ("companion", "ofd"),
        ("companion", "xml"),
    ]


def test_an_old_style_ofd_beside_its_pdf_is_a_companion(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("电子普票(旧)")
    write(tmp_path / "in", "a.ofd", ofd_old_style(spec))
    write(tmp_path / "in", "b.pdf", invoice_pdf(spec))
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.ARCHIVED: 1, Outcome.COMPANION: 1}


def test_same_key_with_another_seller_is_a_conflict_kept_for_review(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电普票")
    first = write(tmp_path / "in", "1.pdf", invoice_pdf(spec))
    run_import(archive, first)
    (original,) = tree(archive)
    before = (archive.root / original).read_bytes()
    other_seller = dataclasses.replace(spec.seller, name="另一家示例有限公司", tax_id=uscc("91310115MA1H7Q2X0"))
    second = write(tmp_path / "in2", "2.pdf", invoice_pdf(dataclasses.replace(spec, seller=other_seller)))
    summary = run_import(archive, second)
    assert summary.counts == {Outcome.CONFLICT: 1}
    assert (archive.root / original).read_bytes() == before
    conflict = [p for p in tree(archive) if p.startswith("_review/")]
    assert len(conflict) == 1 and "另一家示例有限公司" in conflict[0]
    (reason,) = rows(archive, "select reason from arrivals where outcome = 'conflict'")[0]
    assert isinstance(reason, str) and "seller" in reason and original in reason
    assert rows(archive, "select count(*) from invoices") == [(1,)]


def test_a_pdf_that_is_not_an_invoice_is_kept_once_under_unrecognized(archive: Archive, tmp_path: Path) -> None:
    data = not_invoice_pdf()
    write(tmp_path / "in", "会议通知.pdf", data)
    write(tmp_path / "in", "again.pdf", data)
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.UNRECOGNIZED: 1, Outcome.DUPLICATE: 1}
    assert tree(archive) == [f"_unrecognized/{sha256_hex(data)[:12]}_{'again.pdf'}"] or tree(archive) == [
        f"_unrecognized/{sha256_hex(data)[:12]}_会议通知.pdf"
    ]


def test_files_that_are_not_invoice_formats_are_skipped_and_recorded(archive: Archive, tmp_path: Path) -> None:
    write(tmp_path / "in", "notes.txt", "备忘".encode())
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.SKIPPED: 1}
    assert tree(archive) == []
    assert rows(archive, "select outcome, reason from arrivals") == [
        ("skipped", "not a PDF, OFD or XML file (by its content)")
    ]


def test_an_invoice_that_needs_review_is_filed_under_review(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电普票", capital_total="壹圆整")  # words disagree with the figure
    summary = run_import(archive, write(tmp_path / "in", "a.pdf", invoice_pdf(spec)))
    assert summary.counts == {Outcome.REVIEW: 1}
    (path,) = tree(archive)
    assert path.startswith("_review/2025/2025-07/")


def gbk_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A zip as Windows tools write it: member names in GBK, without the UTF-8 flag. zipfile flags any
    non-ASCII name as UTF-8, so each member is written under an ASCII name of the same length whose bytes
    are swapped afterwards (the CRC does not cover names)."""
    buffer = io.BytesIO()
    raw_names = [name.encode("gbk") for name, _ in members]
    placeholders = [(chr(ord("J") + i) * len(raw)).encode() for i, raw in enumerate(raw_names)]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_file:
        for placeholder, (_, data) in zip(placeholders, members, strict=True):
            archive_file.writestr(placeholder.decode(), data)
    out = buffer.getvalue()
    for placeholder, raw in zip(placeholders, raw_names, strict=True):
        assert out.count(placeholder) == 2  # local header and central directory
        out = out.replace(placeholder, raw)
    return out


def test_zips_are_opened_also_nested_with_gbk_names(archive: Archive, tmp_path: Path) -> None:
    a, b = sample_spec("数电普票"), sample_spec("电子普票(旧)")
    inner = gbk_zip([("发票二.pdf", invoice_pdf(b))])
    outer = gbk_zip([("七月/发票一.pdf", invoice_pdf(a)), ("inner.zip", inner)])
    summary = run_import(archive, write(tmp_path / "in", "发票.zip", outer))
    assert summary.counts == {Outcome.ARCHIVED: 2}
    keys = sorted(str(k) for (k,) in rows(archive, "select source_key from arrivals"))
    assert keys[0].endswith("发票.zip!inner.zip!发票二.pdf")
    assert keys[1].endswith("发票.zip!七月/发票一.pdf")


def test_a_zip_bomb_is_a_recorded_failure_and_nothing_is_stored(archive: Archive, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("zeros.pdf", b"\0" * 3_000_000)
    path = write(tmp_path / "in", "bomb.zip", buffer.getvalue())
    summary = run_import(archive, path, limits=UnpackLimits(max_member_bytes=1_000_000))
    assert summary.counts == {Outcome.FAILED: 1}
    (reason,) = rows(archive, "select reason from arrivals")[0]
    assert isinstance(reason, str) and "over the 1000000-byte limit" in reason
    assert tree(archive) == []


def test_a_failure_is_retried_and_then_counts_as_filed(archive: Archive, tmp_path: Path) -> None:
    path = write(tmp_path / "in", "a.pdf", invoice_pdf(sample_spec("数电普票")))
    failed = run_import(archive, path, limits=UnpackLimits(max_total_bytes=100))
    assert failed.counts == {Outcome.FAILED: 1}
    retried = run_import(archive, path)
    assert retried.counts == {Outcome.ARCHIVED: 1}
    # The failure was recorded without a sha256 (the bytes were never read); the retry has its own row.
    assert sorted(rows(archive, "select outcome from arrivals")) == [("archived",), ("failed",)]


def test_a_missing_path_is_a_clear_failure(archive: Archive, tmp_path: Path) -> None:
    summary = run_import(archive, tmp_path / "nope.pdf")
    assert [f.filed.reason for f in summary.failures] == ["no such file or folder"]


def test_index_csv_has_a_bom_one_row_per_invoice_and_companions(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电专票")
    write(tmp_path / "in", "1.pdf", invoice_pdf(spec))
    write(tmp_path / "in", "2.ofd", ofd_digital(spec))
    write(tmp_path / "in", "3.pdf", invoice_pdf(sample_spec("电子普票(旧)")))
    run_import(archive, tmp_path / "in")
    raw = (archive.root / INDEX_NAME).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    assert table[0][:3] == ["开票日期", "发票号码", "发票代码"]
    assert len(table) == 3
    by_number = {row[1]: row for row in table[1:]}
    row = by_number[spec.number]
    assert row[7] == f"{spec.total:.2f}" and row[11] == "ok"
    assert row[12].endswith(".pdf") and row[13] == row[12][:-4] + ".ofd"


def test_index_csv_rows_are_sorted_by_date_then_number_with_undated_first(archive: Archive) -> None:
    from storage.archive import Arriving, InvoiceData

    def file(number: str, day: date | None) -> None:
        data = f"%PDF-1.7 {number}".encode()
        key = ArrivalKey("test", number, sha256_hex(data))
        archive.file_invoice(
            Arriving(key, f"{number}.pdf", data, "pdf"), InvoiceData(f"num:{number}", number, issue_date=day)
        )

    file("25000000000000000003", date(2025, 7, 2))
    file("25000000000000000002", date(2025, 7, 1))
    file("25000000000000000001", date(2025, 7, 2))
    file("25000000000000000004", None)
    archive.write_index()
    table = list(csv.reader(io.StringIO((archive.root / INDEX_NAME).read_text(encoding="utf-8-sig"))))
    assert [(row[0], row[1][-1]) for row in table[1:]] == [
        ("", "4"),
        ("2025-07-01", "2"),
        ("2025-07-02", "1"),
        ("2025-07-02", "3"),
    ]
    assert all(row[12].endswith(".pdf") for row in table[1:])


def test_index_csv_defuses_formulas_in_names(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电普票")
    seller = dataclasses.replace(spec.seller, name="=HYPERLINK(示例)有限公司")
    run_import(archive, write(tmp_path / "in", "a.pdf", invoice_pdf(dataclasses.replace(spec, seller=seller))))
    text = (archive.root / INDEX_NAME).read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text


def test_check_reports_missing_changed_stray_and_temp_files(archive: Archive, tmp_path: Path) -> None:
    write(tmp_path / "in", "1.pdf", invoice_pdf(sample_spec("数电普票")))
    write(tmp_path / "in", "2.pdf", invoice_pdf(sample_spec("电子普票(旧)")))
    run_import(archive, tmp_path / "in")
    assert archive.check().clean
    first, second = tree(archive)
    (archive.root / first).unlink()
    (archive.root / second).write_bytes(b"%PDF-1.7 edited")
    (archive.root / "stray.pdf").write_bytes(b"%PDF")
    (archive.root / "2025" / f"{TEMP_PREFIX}abc").write_bytes(b"half")
    report = archive.check()
    assert (report.missing, report.changed, report.strays) == ([first], [second], ["stray.pdf"])
    assert report.temp_files == [f"2025/{TEMP_PREFIX}abc"]
    archive.fix()
    assert archive.check().temp_files == []
    assert (archive.root / "stray.pdf").exists()  # a person's file is never removed


def _pending_row(archive: Archive, tmp_path: Path, *, keep_temp: bool) -> str:
    """Import one invoice, then put the database and tree back to the moment after the commit that claimed
    the path and before the rename (what SIGKILL at that point leaves)."""
    run_import(archive, write(tmp_path / "in", "a.pdf", invoice_pdf(sample_spec("数电普票"))))
    (path,) = tree(archive)
    final = archive.root / path
    temp = final.with_name(f"{TEMP_PREFIX}pending")
    if keep_temp:
        final.rename(temp)
    else:
        final.unlink()
    with sqlite3.connect(archive.root / ".fapiao" / "fapiao.db") as db:
        db.execute("update stored_files set state = 'placing', temp_name = ?", (temp.name,))
    return path


def test_recovery_finishes_a_placement_whose_temp_file_was_written(archive: Archive, tmp_path: Path) -> None:
    path = _pending_row(archive, tmp_path, keep_temp=True)
    notes = archive.recover()
    assert notes == [f"finished the interrupted placement of {path}"]
    assert tree(archive) == [path]
    assert archive.check().clean


def test_recovery_undoes_a_placement_without_its_file_so_a_rerun_files_it(archive: Archive, tmp_path: Path) -> None:
    path = _pending_row(archive, tmp_path, keep_temp=False)
    archive.recover()
    assert rows(archive, "select count(*) from invoices") == [(0,)]
    summary = run_import(archive, tmp_path / "in")
    assert summary.counts == {Outcome.ARCHIVED: 1}
    assert tree(archive) == [path]


def test_relayout_moves_primary_and_companions_together(archive: Archive, tmp_path: Path) -> None:
    spec = sample_spec("数电专票")
    write(tmp_path / "in", "1.pdf", invoice_pdf(spec))
    write(tmp_path / "in", "2.ofd", ofd_digital(spec))
    run_import(archive, tmp_path / "in")
    before = tree(archive)
    renamed = Archive(archive.root, archive.engine, layout="{seller}/{number}")
    planned = renamed.relayout(dry_run=True)
    assert tree(archive) == before
    moves = renamed.relayout()
    assert moves == planned and len(moves) == 2
    seller = fold(spec.seller.name)
    assert tree(archive) == [f"{seller}/{spec.number}.ofd", f"{seller}/{spec.number}.pdf"]
    assert renamed.check().clean
    assert renamed.relayout() == []
    assert not (archive.root / "2025").exists()  # emptied folders are removed


def test_unrecognized_files_have_no_invoice_and_show_in_review(archive: Archive, tmp_path: Path) -> None:
    from storage import ledger

    run_import(archive, write(tmp_path / "in", "x.pdf", not_invoice_pdf()))
    items = ledger.review(archive.engine)
    assert [(i.what, i.path.startswith("_unrecognized/")) for i in items] == [("unrecognized", True)]


def test_find_tolerates_lookalike_characters_and_shows_arrivals(archive: Archive, tmp_path: Path) -> None:
    from storage import ledger

    spec = sample_spec("电子普票(旧)")
    run_import(archive, write(tmp_path / "in", "发票.pdf", invoice_pdf(spec)))
    typed = (
        " ".join(spec.number[i : i + 4] for i in range(0, 8, 4))
        .replace("0", "O")
        .translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    )
    found = ledger.find(archive.engine, typed)
    assert [v.invoice.invoice_number for v in found.invoices] == [spec.number]
    assert [a.outcome for a in found.arrivals] == ["archived"]
    assert ledger.find(archive.engine, "发票.pdf").arrivals[0].source_key.endswith("发票.pdf")
    assert [v.invoice.invoice_number for v in ledger.find(archive.engine, f"{spec.total}").invoices] == [spec.number]


def test_the_schema_matches_the_models_after_migration(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_an_unwritable_database_folder_is_a_clear_error(tmp_path: Path) -> None:
    from storage.db import DatabaseError

    (tmp_path / "file").write_text("x")
    with pytest.raises(DatabaseError, match="cannot create the database folder"):
        create_db_engine(f"sqlite:///{tmp_path / 'file' / 'sub' / 'db.sqlite'}")


def test_arrival_rows_are_unique_per_source_key_and_bytes(archive: Archive) -> None:
    key = ArrivalKey("import", "/x.pdf", "")
    archive.record_failure(key, "first")
    archive.record_failure(key, "second")
    assert rows(archive, "select attempts, reason from arrivals") == [(2, "second")]


def test_stored_file_rows_hold_the_sha256_of_the_bytes(archive: Archive, tmp_path: Path) -> None:
    data = invoice_pdf(sample_spec("数电普票"))
    run_import(archive, write(tmp_path / "in", "a.pdf", data))
    from sqlmodel import Session, select

    with Session(archive.engine) as session:
        (stored,) = session.exec(select(StoredFile)).all()
    assert stored.sha256 == sha256_hex(data) and stored.size == len(data) and stored.state == "placed"
    assert json.loads(rows(archive, "select sources from invoices")[0][0])["total"] == "text+qr"


def test_a_database_is_copied_before_its_schema_is_changed(tmp_path: Path) -> None:
    from storage.db import DatabaseError, upgrade

    path = tmp_path / "fapiao.db"
    engine = open_database(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO arrivals (source, source_key, sha256, outcome, reason, attempts, "
            "first_seen, last_seen) VALUES ('import', 'x', '', 'failed', 'r', 1, '', '')"
        )
        # A revision this program does not know (a database from a newer version, say).
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000old'")
    with pytest.raises(DatabaseError, match="schema upgrade from 0000old failed") as raised:
        upgrade(engine, now=lambda: datetime(2026, 1, 2, 3, 4, 5))
    copy = tmp_path / "fapiao.before-0000old-20260102-030405.db"
    assert str(copy) in str(raised.value)
    with sqlite3.connect(copy) as db:
        assert db.execute("select source_key from arrivals").fetchall() == [("x",)]
    engine.dispose()
