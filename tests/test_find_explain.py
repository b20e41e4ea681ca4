"""`fapiao find` explains: invoices with a similar number (look-alikes, swapped or differing digits), and every
arrival of a period that did not become an invoice, with its reason; on a real archive of generated files, with
link-only mails and source failures recorded through the same state classes the daemon uses."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from cli_run import fapiao
from fixed_clock import Clock
from invoice_pdf import Party, invoice_pdf, not_invoice_pdf, sample_spec, uscc

from ingest.config import DEFAULT_LAYOUT
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, import_paths
from ingest.unpack import UnpackLimits
from storage import ledger
from storage.archive import STATE_FOLDER, Archive, ArrivalKey, Outcome
from storage.db import open_database
from storage.mail_state import Ack, MailState, MessageFacts, MessageRef
from storage.source_files import SourceFiles, Stamp

EXTRACT = ExtractWith(Limits(), None, date(2026, 1, 1))
SPECIAL = sample_spec("数电专票")  # 25327000000098765432
OLD = sample_spec("电子普票(旧)")  # code 011001900111, number 51234567
FOLDER = "folder:/home/me/发票"
MAILBOX = "imap:work"
LINKS_REASON = "'您的电子发票' from shop@example.com: no invoice file, only download links: https://example.com/f/1"


def inbox_files(inbox: Path) -> None:
    """The generated files a person dropped: two invoices and everything that is not one."""
    inbox.mkdir(parents=True)
    (inbox / "1 专票.pdf").write_bytes(invoice_pdf(SPECIAL))
    (inbox / "2 旧版.pdf").write_bytes(invoice_pdf(OLD))
    other_seller = Party("另一家示例公司", uscc("91110108MA01XY9W9"))
    (inbox / "3 同号.pdf").write_bytes(invoice_pdf(dataclasses.replace(SPECIAL, seller=other_seller)))
    (inbox / "4 通知.pdf").write_bytes(not_invoice_pdf())
    scan = sample_spec("数电普票", number="25117000000077778888", qr=False, unmapped_text=True)
    (inbox / "5 扫描.pdf").write_bytes(invoice_pdf(scan))
    (inbox / "6 readme.txt").write_text("not an invoice", encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("a.pdf", b"%PDF-1.7 " + b"x" * 200)
    (inbox / "7 broken.zip").write_bytes(buffer.getvalue()[:100])


def record_source_trouble(archive: Archive, now: Clock | None = None) -> None:
    """What the daemon's sources leave: a quarantined folder file, a link-only mail, a mail that failed to fetch."""
    key = ArrivalKey(FOLDER, "/home/me/发票/25327000000098765433.pdf", "")
    archive.record_failure(key, "cannot read: Permission denied")
    clock = now or (lambda: datetime.now().astimezone())
    SourceFiles(archive.engine, now=clock).failed(
        FOLDER, key.source_key, Stamp(10, 20), "", "cannot read: Permission denied", max_attempts=1
    )
    archive.record_failure(ArrivalKey(MAILBOX, "INBOX/7/42", ""), LINKS_REASON, Outcome.LINK_ONLY)
    mail = MailState(archive.engine, now=clock)
    mail.done(
        MAILBOX, MessageRef("INBOX", 7, 42), MessageFacts("<a@b>", "您的电子发票", "shop@example.com"), ack=Ack.NONE
    )
    mail.failed(MAILBOX, MessageRef("INBOX", 7, 43), MessageFacts(None, "发票 7月", "x@y"), "timed out", max_attempts=3)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def archive(tmp_path: Path, clock: Clock) -> Iterator[Archive]:
    root = tmp_path / "archive"
    engine = open_database(f"sqlite:///{root / STATE_FOLDER / 'fapiao.db'}")
    archive = Archive(root, engine, layout=DEFAULT_LAYOUT, now=clock)
    inbox_files(tmp_path / "inbox")
    import_paths([tmp_path / "inbox"], archive, extract=EXTRACT, unpack_limits=UnpackLimits())
    record_source_trouble(archive, clock)
    yield archive
    engine.dispose()


def around(clock: Clock) -> tuple[datetime, datetime]:
    return clock.now - timedelta(days=1), clock.now + timedelta(days=1)


def test_a_number_typed_with_letters_and_a_wrong_digit_names_the_invoice(archive: Archive, clock: Clock) -> None:
    found = ledger.find(archive.engine, "2532 7000 OO00 9876 5431", period=around(clock))
    assert found.invoices == []
    (similar,) = found.similar
    assert similar.view.invoice.invoice_number == SPECIAL.number
    assert (similar.distance, similar.differences) == (1, "digit 20 differs (1 typed, 2 archived), O read as 0")


def test_swapped_digits_name_the_invoice(archive: Archive, clock: Clock) -> None:
    found = ledger.find(archive.engine, "25327000000098765423", period=around(clock))
    assert [(s.view.invoice.invoice_number, s.differences) for s in found.similar] == [
        (SPECIAL.number, "digits 19 and 20 swapped")
    ]


def test_old_style_code_and_number_typed_together(archive: Archive, clock: Clock) -> None:
    exact = ledger.find(archive.engine, f"{OLD.code}{OLD.number}", period=around(clock))
    assert [v.invoice.invoice_number for v in exact.invoices] == [OLD.number]
    assert exact.unarchived == [] and exact.similar == []
    typo = ledger.find(archive.engine, f"{OLD.code} 51234576", period=around(clock))
    assert [(s.view.invoice.invoice_number, s.compared, s.differences) for s in typo.similar] == [
        (OLD.number, "number", "digits 7 and 8 swapped")
    ]


def test_an_unknown_number_lists_every_arrival_that_did_not_become_an_invoice(archive: Archive, clock: Clock) -> None:
    found = ledger.find(archive.engine, "25327000000098765434", period=around(clock))
    assert found.invoices == []
    explained = {item.arrival.source_key.rsplit("/", 1)[-1]: item for item in found.unarchived}
    assert {name: item.kind for name, item in explained.items()} == {
        "3 同号.pdf": "conflict",
        "4 通知.pdf": "not an invoice",
        "5 扫描.pdf": "no text and no QR",
        "6 readme.txt": "not an invoice file",
        "7 broken.zip": "failed once",
        "25327000000098765433.pdf": "failed once",
        "42": "link only",
    }
    conflict = explained["3 同号.pdf"]
    assert conflict.conflict_with is not None and conflict.conflict_with.invoice_number == SPECIAL.number
    assert conflict.file is not None and conflict.file.startswith("_review/")
    assert conflict.conflict_path is not None and not conflict.conflict_path.startswith("_review/")
    assert explained["4 通知.pdf"].detail == "no invoice title, number, total or QR code found"
    assert explained["5 扫描.pdf"].detail.endswith("and no QR code found; a person must read it")
    assert explained["5 扫描.pdf"].file is not None and explained["5 扫描.pdf"].file.startswith("_unrecognized/")
    assert explained["6 readme.txt"].detail == "not a PDF, OFD or XML file (by its content)"
    assert "damaged zip archive" in explained["7 broken.zip"].detail
    assert explained["42"].detail == LINKS_REASON
    quarantined = explained["25327000000098765433.pdf"]
    assert quarantined.retry is not None and (quarantined.retry.state, quarantined.retry.attempts) == ("quarantined", 1)
    assert quarantined.similar == "25327000000098765433: digit 20 differs (4 typed, 3 archived)"
    # The mail that failed before anything was recorded is there too, with its retry state.
    ((source, key, subject, state),) = [(t.source, t.key, t.subject, t.retry.state) for t in found.troubles]
    assert (source, key, subject, state) == (MAILBOX, "INBOX/7/43", "发票 7月", "retry")


def test_the_period_bounds_the_explanations(archive: Archive, clock: Clock) -> None:
    later = (clock.now + timedelta(days=2), clock.now + timedelta(days=3))
    found = ledger.find(archive.engine, "25327000000098765434", period=later)
    assert found.unarchived == [] and found.troubles == []
    assert ledger.find(archive.engine, "25327000000098765434").unarchived == []  # no period: no explanations


def test_a_found_invoice_brings_no_explanations(archive: Archive, clock: Clock) -> None:
    found = ledger.find(archive.engine, SPECIAL.number, period=around(clock))
    assert [v.invoice.invoice_number for v in found.invoices] == [SPECIAL.number]
    assert found.similar == [] and found.unarchived == []


# --- the command ---------------------------------------------------------------------------------------------


@pytest.fixture
def cli_archive(tmp_path: Path) -> Path:
    """A config and an archive filled by `fapiao import`, plus the daemon's source failures (recorded now)."""
    (tmp_path / "config.toml").write_text('[archive]\nroot = "archive"\n[extract]\nocr = false\n', encoding="utf-8")
    inbox_files(tmp_path / "inbox")
    assert fapiao("import", "inbox", cwd=tmp_path).returncode == 1  # the broken zip
    engine = open_database(f"sqlite:///{tmp_path / 'archive' / STATE_FOLDER / 'fapiao.db'}")
    try:
        record_source_trouble(Archive(tmp_path / "archive", engine, layout=DEFAULT_LAYOUT))
    finally:
        engine.dispose()
    return tmp_path


def test_find_of_an_unknown_number_explains_and_exits_1(cli_archive: Path) -> None:
    completed = fapiao("find", "25327000000098765423", cwd=cli_archive)
    assert completed.returncode == 1, completed.stderr
    out = completed.stdout
    assert "no invoice has the number 25327000000098765423; similar numbers:" in out
    assert SPECIAL.number in out and "digits 19 and 20 swapped" in out
    assert "that did not become invoices:" in out
    for why in ("conflict", "not an invoice", "no text and no QR", "not an invoice file", "link only", "failed once"):
        assert f" {why} " in out
    assert "conflicts with invoice 1: 1060.00, 示例科技(杭州)股份有限公司" in out
    assert "quarantined after 1 attempts" in out
    assert "https://example.com/f/1" in out
    assert "INBOX/7/43 (发票 7月)" in out and "timed out (attempt 1, next try " in out


def test_find_of_a_known_number_exits_0_and_explains_nothing(cli_archive: Path) -> None:
    completed = fapiao("find", SPECIAL.number.replace("0", "O"), cwd=cli_archive)
    assert completed.returncode == 0, completed.stderr
    assert SPECIAL.number in completed.stdout and "did not become invoices" not in completed.stdout


def test_find_with_a_period_before_everything_says_so(cli_archive: Path) -> None:
    completed = fapiao("find", "99999999", "--since", "2020-01-01", "--until", "2020-12-31", cwd=cli_archive)
    assert completed.returncode == 1
    assert "nothing matches '99999999'" in completed.stdout
    assert "every arrival from 2020-01-01 to 2020-12-31 became an invoice" in completed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "July"], "is not a date like 2025-07-29"),
        (["--since", "2025-02-01", "--until", "2025-01-01"], "2025-02-01 is after --until 2025-01-01"),
    ],
)
def test_bad_periods_are_usage_errors(cli_archive: Path, args: list[str], message: str) -> None:
    completed = fapiao("find", "123456", *args, cwd=cli_archive)
    assert completed.returncode == 2
    assert message in completed.stderr
