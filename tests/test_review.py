"""Hand corrections and acceptance on a real archive (generated invoice PDFs, real SQLite file, real tree): the
row, the history, the renamed files, index.csv, refusals that change nothing, a crash after the commit finished
by recovery; what `review set` reads from typed values; the 0004 migration on a database written at 0003."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from backup_fill import Days, restored_check, source_of
from fixed_clock import Clock
from invoice_ofd import ofd_digital
from invoice_pdf import InvoiceSpec, Party, invoice_pdf, not_invoice_pdf, sample_spec, uscc
from sqlmodel import Session, select

from ingest.config import DEFAULT_LAYOUT
from ingest.extract.normalize import fold
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, import_paths
from ingest.review_fields import FieldError, correction, parse_assignments, problem_fields
from ingest.unpack import UnpackLimits
from storage import ledger
from storage.archive import INDEX_NAME, STATE_FOLDER, Archive, ArrivalKey, Renamed
from storage.backup import back_up
from storage.backup_restore import open_snapshot, verify
from storage.backup_retention import Keep
from storage.db import create_db_engine, head_revision, open_database
from storage.digest_query import period_report
from storage.models import Invoice, ReviewChange, StoredFile
from storage.review_edit import (
    Applied,
    KeyTakenError,
    NotReviewableError,
    accept,
    correct,
    set_aside_arrival,
    set_aside_file,
)

TODAY = date(2026, 1, 1)
EXTRACT = ExtractWith(Limits(), None, TODAY)
GOOD = sample_spec("数电专票")  # 25327000000098765432, seller 示例科技（杭州）股份有限公司
RIGHT_TAX_ID = GOOD.seller.tax_id
WRONG_TAX_ID = RIGHT_TAX_ID[:-1] + ("0" if RIGHT_TAX_ID[-1] != "0" else "1")  # the check character is off
WRONG_ID = sample_spec("数电专票", number="25327000000098765499", seller=Party(GOOD.seller.name, WRONG_TAX_ID))
# 价税合计 printed as 99.00 while 93.81 + 12.19 = 106.00 (and the words and the QR code say 106.00)
SUM_WRONG = sample_spec("数电普票", number="25117000000055554444", total_override=Decimal("99.00"))
SPECIAL_STEM = "2025/2025-09/2025-09-13_示例科技(杭州)股份有限公司_1060.00_"  # where GOOD and WRONG_ID are filed


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def archive(tmp_path: Path, clock: Clock) -> Iterator[Archive]:
    root = tmp_path / "archive"
    engine = open_database(f"sqlite:///{root / STATE_FOLDER / 'fapiao.db'}")
    yield Archive(root, engine, layout=DEFAULT_LAYOUT, now=clock)
    engine.dispose()


def file_in(archive: Archive, tmp_path: Path, *specs: InvoiceSpec) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    for i, spec in enumerate(specs):  # named in order: the import takes them in name order
        (inbox / f"{i}.pdf").write_bytes(invoice_pdf(spec))
    import_paths([inbox], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
    archive.write_index()


def invoice_of(archive: Archive, number: str) -> Invoice:
    with Session(archive.engine) as session:
        found = session.exec(select(Invoice).where(Invoice.invoice_number == number)).one()
        return found


def files_of(archive: Archive, invoice_id: int | None) -> list[StoredFile]:
    with Session(archive.engine) as session:
        return list(session.exec(select(StoredFile).where(StoredFile.invoice_id == invoice_id)).all())


def changes_of(archive: Archive, invoice_id: int | None) -> list[tuple[str, str | None, str | None, str | None]]:
    with Session(archive.engine) as session:
        rows = session.exec(select(ReviewChange).where(ReviewChange.invoice_id == invoice_id)).all()
        return [(row.action, row.field, row.old_value, row.new_value) for row in rows]


def tree(archive: Archive) -> dict[str, str]:
    """Every file a person sees, with the sha256 of its bytes."""
    return {
        p.relative_to(archive.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in archive.root.rglob("*")
        if p.is_file() and STATE_FOLDER not in p.relative_to(archive.root).parts and p.name != INDEX_NAME
    }


def index_rows(archive: Archive) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((archive.root / INDEX_NAME).read_text(encoding="utf-8-sig"))))


def set_fields(archive: Archive, invoice: Invoice, *texts: str) -> Applied:
    """What `fapiao review set ID FIELD=VALUE...` does: read the values, re-check, keep them."""
    assert invoice.id is not None
    return correct(archive, invoice.id, correction(invoice, list(texts), today=TODAY))


def database_dump(archive: Archive) -> list[str]:
    with closing(sqlite3.connect(archive.root / STATE_FOLDER / "fapiao.db")) as connection:
        return list(connection.iterdump())


# --- set -----------------------------------------------------------------------------------------------------


def test_a_corrected_tax_id_takes_the_invoice_out_of_review(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, WRONG_ID)
    invoice = invoice_of(archive, WRONG_ID.number)
    assert invoice.status == "review"
    assert json.loads(invoice.problems) == [
        f"seller_tax_id {WRONG_TAX_ID} fails the 统一社会信用代码 check (last character should be {RIGHT_TAX_ID[-1]})"
    ]
    ((old_path, sha),) = tree(archive).items()
    assert old_path.startswith("_review/2025/2025-09/")

    applied = set_fields(archive, invoice, f"seller_tax_id={RIGHT_TAX_ID}")

    new_path = old_path.removeprefix("_review/")
    assert applied.status == "ok" and applied.problems == ()
    assert applied.renamed == [Renamed(old_path, new_path)]
    assert tree(archive) == {new_path: sha}  # the same bytes, under the name the layout gives an ok invoice
    row = invoice_of(archive, WRONG_ID.number)
    assert (row.seller_tax_id, row.status, json.loads(row.problems)) == (RIGHT_TAX_ID, "ok", [])
    assert json.loads(row.sources)["seller_tax_id"] == "hand"
    assert changes_of(archive, row.id) == [
        ("set", "seller_tax_id", WRONG_TAX_ID, RIGHT_TAX_ID),
        ("status", "status", "review", "ok"),
        ("renamed", None, old_path, new_path),
    ]
    (indexed,) = index_rows(archive)
    assert (indexed["文件"], indexed["销售方税号"], indexed["状态"], indexed["问题"]) == (
        new_path,
        RIGHT_TAX_ID,
        "ok",
        "",
    )
    assert archive.check().clean
    assert [item.id for item in ledger.review(archive.engine)] == []


def test_companions_are_renamed_with_their_primary(archive: Archive, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.ofd").write_bytes(ofd_digital(WRONG_ID))
    file_in(archive, tmp_path, WRONG_ID)  # 0.pdf: the primary, 1.ofd: its companion
    before = tree(archive)
    stem = f"_review/{SPECIAL_STEM}{WRONG_ID.number}"
    assert sorted(before) == [f"{stem}.ofd", f"{stem}.pdf"]
    set_fields(archive, invoice_of(archive, WRONG_ID.number), f"seller_tax_id={RIGHT_TAX_ID}")
    new = stem.removeprefix("_review/")
    assert tree(archive) == {f"{new}.ofd": before[f"{stem}.ofd"], f"{new}.pdf": before[f"{stem}.pdf"]}
    (indexed,) = index_rows(archive)
    assert (indexed["文件"], indexed["其他格式"]) == (f"{new}.pdf", f"{new}.ofd")
    assert archive.check().clean
    assert not (archive.root / "_review").exists()  # emptied folders are removed


def test_a_corrected_total_renames_the_file_and_drops_the_notes_about_it(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, SUM_WRONG)
    invoice = invoice_of(archive, SUM_WRONG.number)
    problems = json.loads(invoice.problems)
    assert "total: text says 99.00, QR code says 106.00" in problems
    assert "合计金额 93.81 + 合计税额 12.19 = 106.00, but 价税合计 is 99.00" in problems
    ((_, sha),) = tree(archive).items()

    applied = set_fields(archive, invoice, "total=¥106.00")

    assert applied.status == "ok" and applied.problems == ()
    assert tree(archive) == {"2025/2025-07/2025-07-29_星河示例文具有限公司_106.00_25117000000055554444.pdf": sha}
    assert invoice_of(archive, SUM_WRONG.number).total_fen == 10600


def test_confirming_the_printed_total_keeps_the_failed_sum_in_review(archive: Archive, tmp_path: Path) -> None:
    """The person confirms 99.00: the text/QR disagreement is settled, the sum still does not add up."""
    file_in(archive, tmp_path, SUM_WRONG)
    invoice = invoice_of(archive, SUM_WRONG.number)
    ((old_path, _),) = tree(archive).items()
    applied = set_fields(archive, invoice, "total=99")
    assert applied.status == "review"
    assert applied.problems == ("合计金额 93.81 + 合计税额 12.19 = 106.00, but 价税合计 is 99.00",)
    assert applied.renamed == []  # nothing in the name changed
    assert list(tree(archive)) == [old_path]
    assert changes_of(archive, invoice.id) == [("set", "total_fen", "99.00", "99.00")]


def test_a_correction_that_leaves_problems_renames_within_review(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, WRONG_ID)
    invoice = invoice_of(archive, WRONG_ID.number)
    applied = set_fields(archive, invoice, "date=2025年9月14日")
    assert applied.status == "review"
    assert list(tree(archive)) == [
        "_review/2025/2025-09/2025-09-14_示例科技(杭州)股份有限公司_1060.00_25327000000098765499.pdf"
    ]
    assert invoice_of(archive, WRONG_ID.number).issue_date == date(2025, 9, 14)


def test_a_wrong_value_on_an_ok_invoice_sends_it_to_review(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, GOOD)
    invoice = invoice_of(archive, GOOD.number)
    applied = set_fields(archive, invoice, f"seller_tax_id={WRONG_TAX_ID}")
    assert applied.status == "review"
    assert applied.problems[0].startswith(f"seller_tax_id {WRONG_TAX_ID} fails")
    (path,) = tree(archive)
    assert path.startswith("_review/2025/2025-09/")


def test_a_number_that_is_another_invoices_is_refused_and_nothing_changes(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, GOOD, WRONG_ID)
    good, wrong = invoice_of(archive, GOOD.number), invoice_of(archive, WRONG_ID.number)
    before = (database_dump(archive), tree(archive), (archive.root / INDEX_NAME).read_bytes())
    with pytest.raises(KeyTakenError, match=f"invoice {good.id} already has the number {GOOD.number}"):
        set_fields(archive, wrong, f"number={GOOD.number}", f"seller_tax_id={RIGHT_TAX_ID}")
    assert (database_dump(archive), tree(archive), (archive.root / INDEX_NAME).read_bytes()) == before


def test_a_new_number_changes_the_key_and_the_name(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, WRONG_ID)
    invoice = invoice_of(archive, WRONG_ID.number)
    set_fields(archive, invoice, "number=2532 7000 0000 9876 5400", f"seller_tax_id={RIGHT_TAX_ID}")
    row = invoice_of(archive, "25327000000098765400")
    assert row.key == "num:25327000000098765400" and row.status == "ok"
    assert list(tree(archive)) == [f"{SPECIAL_STEM}25327000000098765400.pdf"]


# --- crash safety --------------------------------------------------------------------------------------------


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the point it is raised runs, no cleanup either."""


def killed(_file_ids: object) -> list[Renamed]:
    raise Killed


def crash_after_commit(archive: Archive, tmp_path: Path) -> tuple[str, str, str]:
    """File WRONG_ID, correct its tax id and die right after the commit, before any rename: (old, new, sha)."""
    file_in(archive, tmp_path, WRONG_ID)
    invoice = invoice_of(archive, WRONG_ID.number)
    ((old_path, sha),) = tree(archive).items()
    assert invoice.id is not None
    with pytest.raises(Killed):
        correct(archive, invoice.id, correction(invoice, [f"seller_tax_id={RIGHT_TAX_ID}"], today=TODAY), rename=killed)
    new_path = old_path.removeprefix("_review/")
    (stored,) = files_of(archive, invoice.id)
    assert (stored.path, stored.state) == (new_path, "moving")  # the commit happened
    assert list(tree(archive)) == [old_path]  # the rename did not
    assert archive.check().pending == [new_path]
    return old_path, new_path, sha


def test_recovery_finishes_a_rename_a_crash_cut_short(archive: Archive, tmp_path: Path) -> None:
    old_path, new_path, sha = crash_after_commit(archive, tmp_path)
    assert archive.recover() == [f"finished the interrupted rename of {old_path} to {new_path}"]
    assert tree(archive) == {new_path: sha}
    assert archive.check().clean
    assert invoice_of(archive, WRONG_ID.number).status == "ok"
    assert archive.recover() == []


def test_recovery_after_the_new_name_was_linked_removes_the_old_one(archive: Archive, tmp_path: Path) -> None:
    old_path, new_path, sha = crash_after_commit(archive, tmp_path)
    (archive.root / new_path).parent.mkdir(parents=True, exist_ok=True)
    os.link(archive.root / old_path, archive.root / new_path)  # the kill came between link and unlink
    archive.recover()
    assert tree(archive) == {new_path: sha}
    assert archive.check().clean


def test_recovery_never_overwrites_a_file_that_took_the_new_name(archive: Archive, tmp_path: Path) -> None:
    _, new_path, sha = crash_after_commit(archive, tmp_path)
    squatter = archive.root / new_path
    squatter.parent.mkdir(parents=True, exist_ok=True)
    squatter.write_bytes(b"%PDF-1.7 someone else's file")
    archive.recover()
    taken = new_path.removesuffix(".pdf") + " (2).pdf"
    assert tree(archive)[taken] == sha
    assert squatter.read_bytes() == b"%PDF-1.7 someone else's file"
    (stored,) = files_of(archive, invoice_of(archive, WRONG_ID.number).id)
    assert (stored.path, stored.state) == (taken, "placed")


def test_a_change_while_a_rename_is_unfinished_is_refused(archive: Archive, tmp_path: Path) -> None:
    crash_after_commit(archive, tmp_path)
    invoice = invoice_of(archive, WRONG_ID.number)
    with pytest.raises(NotReviewableError, match="run `fapiao check --fix` first"):
        set_fields(archive, invoice, "date=2025-09-14")


@pytest.mark.parametrize("linked", [False, True], ids=["old-name-only", "both-names"])
def test_a_backup_of_an_unfinished_rename_holds_the_file_once_under_its_new_name(
    archive: Archive, tmp_path: Path, linked: bool
) -> None:
    """The database copy says 'moving': the snapshot takes the bytes under the new name only, so settling the
    copy renames nothing the manifest lists, the snapshot verifies, and its restore is clean."""
    old_path, new_path, sha = crash_after_commit(archive, tmp_path)
    if linked:  # the kill came between link and unlink
        (archive.root / new_path).parent.mkdir(parents=True, exist_ok=True)
        os.link(archive.root / old_path, archive.root / new_path)
    result = back_up(source_of(archive), tmp_path / "backups", keep=Keep(daily=7), now=Days())
    listed = {e.path: e.sha256 for e in result.manifest.files if e.path.endswith(".pdf")}
    assert listed == {f"archive/{new_path}": sha}
    with open_snapshot(result.snapshot.path) as reader:
        assert verify(reader).ok
    assert restored_check(result.snapshot.path, tmp_path / "restored").clean
    assert archive.check().pending == [new_path]  # the live archive is left for its own recovery


# --- accept and set aside ------------------------------------------------------------------------------------


def test_accept_vouches_for_the_invoice_as_it_is(archive: Archive, tmp_path: Path) -> None:
    file_in(archive, tmp_path, WRONG_ID)
    invoice = invoice_of(archive, WRONG_ID.number)
    had = json.loads(invoice.problems)
    ((old_path, sha),) = tree(archive).items()
    assert invoice.id is not None
    applied = accept(archive, invoice.id)
    assert applied.problems == tuple(had)
    assert tree(archive) == {old_path.removeprefix("_review/"): sha}
    row = invoice_of(archive, WRONG_ID.number)
    assert (row.status, row.problems, row.seller_tax_id) == ("ok", "[]", WRONG_TAX_ID)
    with Session(archive.engine) as session:
        accepted = session.exec(select(ReviewChange).where(ReviewChange.action == "accepted")).one()
    assert json.loads(accepted.note) == had
    assert index_rows(archive)[0]["状态"] == "ok"
    with pytest.raises(NotReviewableError, match="is not in review"):
        accept(archive, invoice.id)


def test_a_set_aside_file_leaves_the_list_and_stays_in_the_tree(archive: Archive, tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "通知.pdf").write_bytes(not_invoice_pdf())
    file_in(
        archive, tmp_path, GOOD, dataclasses.replace(GOOD, seller=Party("另一家示例公司", uscc("91110108MA01XY9W9")))
    )
    before = tree(archive)
    items = ledger.review(archive.engine)
    assert sorted(item.what for item in items) == ["conflict", "unrecognized"]
    always = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert period_report(archive.engine, *always).open_review == 2
    for item in items:
        assert item.id is not None
        set_aside_file(archive, item.id.number)
    assert ledger.review(archive.engine) == []
    assert period_report(archive.engine, *always).open_review == 0  # the digest no longer counts them
    assert tree(archive) == before
    with pytest.raises(NotReviewableError, match="already set aside"):
        set_aside_file(archive, items[0].id.number if items[0].id else 0)
    primary = files_of(archive, invoice_of(archive, GOOD.number).id)[0]
    with pytest.raises(NotReviewableError, match="is the primary file of an invoice"):
        set_aside_file(archive, primary.id or 0)


def test_a_set_aside_failure_comes_back_when_it_fails_again(archive: Archive, clock: Clock) -> None:
    key = ArrivalKey("folder:/home/me/inbox", "/home/me/inbox/a.pdf", "")
    archive.record_failure(key, "cannot read: Permission denied")
    (item,) = ledger.review(archive.engine)
    assert (item.what, item.path, item.reasons) == ("failed", key.source_key, ("cannot read: Permission denied",))
    assert item.id is not None and str(item.id).startswith("a")
    clock.now += timedelta(minutes=1)
    set_aside_arrival(archive, item.id.number)
    assert ledger.review(archive.engine) == []
    clock.now += timedelta(minutes=1)
    archive.record_failure(key, "cannot read: Permission denied")
    assert [i.id for i in ledger.review(archive.engine)] == [item.id]


# --- what `review set` reads ---------------------------------------------------------------------------------


def test_typed_values_are_read_like_the_invoice() -> None:
    values, exempt = parse_assignments(
        [
            "total=¥1,234.50",
            "date=2025年7月29日",
            "seller-tax-id=9133 0106 ma2c d4e5 f3",
            "seller=  示例  公司 ",
            "tax=***",
        ]
    )
    assert values == {
        "total_fen": 123450,
        "issue_date": date(2025, 7, 29),
        "seller_tax_id": "91330106MA2CD4E5F3",
        "seller_name": "示例 公司",
        "tax_fen": None,
    }
    assert exempt


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["colour=red"], "'colour' is not a field; fields: number, code, date"),
        (["total"], "write FIELD=VALUE"),
        (["total=abc"], "total 'abc' is not an amount"),
        (["total=1.234"], "total '1.234' is not an amount"),
        (["date=2025-13-01"], "date '2025-13-01' is not a date"),
        (["number=2511O"], "number '2511O' is not a number"),
        (["number="], "number cannot be empty"),
        (["seller_tax_id=9133/0106"], "is not a tax id"),
        (["variant=普票"], "variant '普票' is not one of 数电普票"),
        (["total=1", "total=2"], "total is given twice"),
        ([], "give at least one FIELD=VALUE"),
    ],
)
def test_malformed_assignments_say_what_is_wrong(texts: list[str], message: str) -> None:
    with pytest.raises(FieldError, match=message.replace("(", r"\(")):
        parse_assignments(texts)


def test_problems_are_placed_by_the_fields_they_name() -> None:
    assert problem_fields("合计金额 93.81 + 合计税额 12.19 = 106.00, but 价税合计 is 99.00") == {
        "pretax",
        "tax",
        "total",
    }
    assert problem_fields("seller_tax_id 9133 fails the 统一社会信用代码 check") == {"seller_tax_id"}
    assert problem_fields("read by OCR, to be checked: seller_name, buyer_tax_id") == {"seller_name", "buyer_tax_id"}
    assert problem_fields("tax not found") == {"tax"}
    assert problem_fields("invoice title not recognised (no 电子发票 heading found)") == {"variant"}
    assert problem_fields("no text layer (an image-only PDF, e.g. a scan); number, date and amount come from") == set()


def test_an_old_style_number_without_its_code_is_refused(archive: Archive, tmp_path: Path) -> None:
    old = sample_spec("电子普票(旧)")
    file_in(archive, tmp_path, old)
    with pytest.raises(FieldError, match="set code too"):
        correction(invoice_of(archive, old.number), ["code="], today=TODAY)


# --- the migration -------------------------------------------------------------------------------------------


def test_a_database_at_0003_is_upgraded_and_its_invoices_can_be_corrected(tmp_path: Path) -> None:
    """A database written by the previous version (schema 0003), with an invoice in review filed by that
    version's code path, is upgraded on open: a copy first, the new tables, every row kept."""
    root = tmp_path / "archive"
    url = f"sqlite:///{root / STATE_FOLDER / 'fapiao.db'}"
    engine = create_db_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parents[1] / "storage" / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    engine.dispose()
    (root / "_review").mkdir(parents=True)
    data = invoice_pdf(WRONG_ID)
    (root / "_review" / "a.pdf").write_bytes(data)
    with closing(sqlite3.connect(root / STATE_FOLDER / "fapiao.db")) as db, db:
        problems = json.dumps([f"seller_tax_id {WRONG_TAX_ID} fails the 统一社会信用代码 check"], ensure_ascii=False)
        db.execute(
            "INSERT INTO invoices (key, variant, invoice_number, issue_date, total_fen, pretax_fen, tax_fen, "
            "seller_name, seller_tax_id, buyer_name, status, problems, sources, created_at) VALUES "
            "(?, '数电专票', ?, '2025-09-13', 106000, 100000, 6000, ?, ?, ?, 'review', ?, '{}', '2025-09-14 08:00:00')",
            (
                f"num:{WRONG_ID.number}",
                WRONG_ID.number,
                fold(GOOD.seller.name),
                WRONG_TAX_ID,
                GOOD.buyer.name,
                problems,
            ),
        )
        db.execute(
            "INSERT INTO stored_files (sha256, invoice_id, role, path, state, size, kind, original_name, created_at) "
            "VALUES (?, 1, 'primary', '_review/a.pdf', 'placed', ?, 'pdf', 'a.pdf', '2025-09-14 08:00:00')",
            (hashlib.sha256(data).hexdigest(), len(data)),
        )

    engine = open_database(url)
    try:
        copies = list((root / STATE_FOLDER).glob("fapiao.before-0003-*.db"))
        assert len(copies) == 1
        with closing(sqlite3.connect(root / STATE_FOLDER / "fapiao.db")) as db:
            assert db.execute("select version_num from alembic_version").fetchall() == [(head_revision(),)]
            assert db.execute("select count(*) from review_changes").fetchall() == [(0,)]
            assert db.execute("select count(*) from file_moves").fetchall() == [(0,)]
        archive = Archive(root, engine, layout=DEFAULT_LAYOUT)
        applied = set_fields(archive, invoice_of(archive, WRONG_ID.number), f"seller_tax_id={RIGHT_TAX_ID}")
        assert applied.status == "ok"
        assert list(tree(archive)) == [f"{SPECIAL_STEM}{WRONG_ID.number}.pdf"]
    finally:
        engine.dispose()
