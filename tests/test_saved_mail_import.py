"""Saved mail (.eml, mbox) through `fapiao import` and the watched folders: every message through the same
pipeline as mail from IMAP, every arrival keyed by its message, so the same message's same file never adds a
second row, whichever way it comes in again. Real SQLite files, real generated invoice PDFs, the real CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cli_run import fapiao
from daemon_run import invoice, running_daemon, settings_for, wait_until
from dovecot_server import Dovecot
from mail_daemon import (
    after,
    invoice_mail,
    mail_settings,
    mailbox_settings,
    message_id,
    run_once,
    server_messages,
    without_message_id,
)
from mbox_messages import generated_mailbox

from ingest.config import AfterAction
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith, ImportSummary, import_paths
from ingest.unpack import UnpackLimits
from storage.archive import Archive, Outcome
from storage.db import open_database

LAYOUT = "{year}/{year}-{month}/{date}_{seller}_{total}_{number}"
EXTRACT = ExtractWith(Limits(), None, date(2026, 6, 1))
CRLF = b"\r\n"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    made = Archive(
        tmp_path / "archive",
        open_database(f"sqlite:///{tmp_path / 'archive' / '.fapiao' / 'fapiao.db'}"),
        layout=LAYOUT,
    )
    yield made
    made.engine.dispose()


def run_import(archive: Archive, *paths: Path, problems: list[str] | None = None) -> ImportSummary:
    return import_paths(
        list(paths),
        archive,
        extract=EXTRACT,
        unpack_limits=UnpackLimits(),
        on_problem=(problems if problems is not None else []).append,
    )


def dump(archive: Archive) -> dict[str, list[tuple[object, ...]]]:
    """Every row that says what came in and what was kept."""
    with sqlite3.connect(archive.engine.url.database or "") as db:
        return {
            table: db.execute(f"select * from {table} order by id").fetchall()
            for table in ("arrivals", "invoices", "stored_files")
        }


def arrival_rows(archive: Archive) -> list[tuple[str, str, str, str | None, int]]:
    with sqlite3.connect(archive.engine.url.database or "") as db:
        return db.execute(
            "select source, source_key, outcome, message_id, attempts from arrivals order by id"
        ).fetchall()


def mbox_of(*messages: bytes) -> bytes:
    """Thunderbird's way: a 'From ' line before each message, 'From ' at a body line's start quoted."""
    out = []
    for message in messages:
        body = message.replace(CRLF, b"\n")
        body = b"\n".join(b">" + line if line.startswith(b"From ") else line for line in body.split(b"\n"))
        out.append(b"From - Fri Jan  2 03:04:05 2026\n" + body.rstrip(b"\n") + b"\n\n")
    return b"".join(out)


def links_mail(url: str) -> bytes:
    return (
        b"From: =?UTF-8?B?6K+66K+6572R?= <invoice@nuonuo.example>" + CRLF
        + b"To: finance@example.com" + CRLF
        + b"Subject: =?UTF-8?B?5oKo55qE55S15a2Q5Y+R56Wo?=" + CRLF  # 您的电子发票
        + b"Message-ID: <links-1@nuonuo.example>" + CRLF
        + b"Date: Fri, 02 Jan 2026 03:04:05 +0800" + CRLF
        + b"Content-Type: text/plain; charset=utf-8" + CRLF
        + CRLF
        + "发票下载地址：".encode() + url.encode() + CRLF
    )  # fmt: skip


# --- .eml -------------------------------------------------------------------------------------------------


def test_an_eml_is_filed_like_mail_from_imap_and_keyed_by_its_message(archive: Archive, tmp_path: Path) -> None:
    mail = invoice_mail(("发票.pdf", invoice(300)))
    saved = tmp_path / "in" / "发票邮件.eml"
    saved.parent.mkdir()
    saved.write_bytes(mail)
    summary = run_import(archive, saved)
    assert summary.counts == {Outcome.ARCHIVED: 1}
    [(source, key, outcome, identity, attempts)] = arrival_rows(archive)
    # Part 2: the text body is part 1 of the multipart; message 1 of the file.
    assert (source, key, outcome, identity, attempts) == ("import", f"{saved}#1/2", "archived", message_id(mail), 1)


def test_the_same_eml_again_adds_nothing_not_even_an_attempt(archive: Archive, tmp_path: Path) -> None:
    saved = tmp_path / "a.eml"
    saved.write_bytes(invoice_mail(("发票.pdf", invoice(301))))
    run_import(archive, saved)
    before = dump(archive)
    again = run_import(archive, saved)
    assert again.counts == {Outcome.SEEN: 1}
    assert dump(archive) == before
    # A copy elsewhere, under another name: the same message still.
    copy = tmp_path / "copy" / "renamed.eml"
    copy.parent.mkdir()
    copy.write_bytes(saved.read_bytes())
    assert run_import(archive, copy).counts == {Outcome.SEEN: 1}
    assert dump(archive) == before


def test_the_same_invoice_in_another_message_is_a_new_arrival_of_a_known_file(archive: Archive, tmp_path: Path) -> None:
    """A forward by a colleague is a second way the invoice came: recorded (a duplicate), not silently dropped."""
    first, forward = tmp_path / "a.eml", tmp_path / "b.eml"
    first.write_bytes(invoice_mail(("发票.pdf", invoice(302))))
    forward.write_bytes(invoice_mail(("发票.pdf", invoice(302)), subject="Fwd: 发票"))
    summary = run_import(archive, first, forward)
    assert summary.counts == {Outcome.ARCHIVED: 1, Outcome.DUPLICATE: 1}
    assert len(dump(archive)["arrivals"]) == 2


def test_an_eml_without_message_id_is_known_by_its_envelope(archive: Archive, tmp_path: Path) -> None:
    saved = tmp_path / "scanner.eml"
    saved.write_bytes(without_message_id(invoice_mail(("scan.pdf", invoice(303)))))
    run_import(archive, saved)
    [row] = arrival_rows(archive)
    assert row[3] is not None and row[3].startswith("envelope:")
    before = dump(archive)
    assert run_import(archive, saved).counts == {Outcome.SEEN: 1}
    assert dump(archive) == before


# --- mbox -------------------------------------------------------------------------------------------------


def test_an_mbox_is_read_by_content_whatever_its_name(archive: Archive, tmp_path: Path) -> None:
    """Thunderbird's folder files have no extension: 'Inbox', 'Sent'."""
    mails = [invoice_mail((f"发票{i}.pdf", invoice(i))) for i in (310, 311, 312)]
    folder = tmp_path / "Thunderbird" / "Mail" / "Local Folders"
    folder.mkdir(parents=True)
    (folder / "Inbox").write_bytes(mbox_of(mails[0], b"From: a@b.example\nSubject: hi\n\nno invoice\n", *mails[1:]))
    summary = run_import(archive, folder)
    assert summary.counts == {Outcome.ARCHIVED: 3}
    keys = [row[1] for row in arrival_rows(archive)]
    assert keys == [f"{folder / 'Inbox'}#{n}/2" for n in (1, 3, 4)]


def test_an_mbox_imported_twice_adds_nothing_the_second_time(archive: Archive, tmp_path: Path) -> None:
    mails = [invoice_mail((f"发票{i}.pdf", invoice(i))) for i in range(320, 326)]
    mails.append(mails[2])  # the same message twice in one mbox (a copy kept in two folders, merged)
    mails.append(links_mail("https://inv.nuonuo.example/d/abc"))
    mbox = tmp_path / "export.mbox"
    mbox.write_bytes(mbox_of(*mails))
    first = run_import(archive, mbox)
    assert first.counts == {Outcome.ARCHIVED: 6, Outcome.SEEN: 1, Outcome.LINK_ONLY: 1}
    before = dump(archive)
    second = run_import(archive, mbox)
    assert second.counts == {Outcome.SEEN: 8}
    assert dump(archive) == before
    # Compacted by the mail client: messages renumbered, one gone. Still nothing new.
    mbox.write_bytes(mbox_of(*mails[3:], *mails[:2]))
    assert run_import(archive, mbox).counts == {Outcome.SEEN: 7}
    assert dump(archive) == before


def test_a_part_refused_for_its_size_is_retried_on_its_own_row(archive: Archive, tmp_path: Path) -> None:
    """A failure never blocks a retry: the second import tries again and counts an attempt on the same row."""
    from ingest.sources.mail_parts import MailLimits

    mbox = tmp_path / "big.mbox"
    mbox.write_bytes(mbox_of(invoice_mail(("发票.pdf", invoice(330)))))
    small = MailLimits(max_attachment_bytes=1000)
    for attempt in (1, 2):
        summary = import_paths([mbox], archive, extract=EXTRACT, unpack_limits=UnpackLimits(), mail_limits=small)
        assert summary.counts == {Outcome.FAILED: 1}
        [(_source, key, outcome, _identity, attempts)] = arrival_rows(archive)
        assert (key, outcome, attempts) == (f"{mbox}#1/2", "failed", attempt)
        assert "over the 1000-byte limit" in summary.failures[0].filed.reason
    assert run_import(archive, mbox).counts == {Outcome.ARCHIVED: 1}
    # The refusal had no bytes to key it (sha256 ''); the file read at last has a row of its own, as for files.
    assert [(row[2], row[4]) for row in arrival_rows(archive)] == [("failed", 2), ("archived", 1)]


def test_a_broken_mbox_is_read_around_its_damage(archive: Archive, tmp_path: Path) -> None:
    good = [invoice_mail((f"发票{i}.pdf", invoice(i))) for i in (340, 341)]
    garbage = bytes(range(256)) * 40
    mbox = tmp_path / "damaged"
    mbox.write_bytes(
        mbox_of(good[0])
        + b"From \nSubject: a broken separator above\nFrom: x@y.example\n\nbody\n\n"
        + b"From - Fri Jan  2 03:04:05 2026\n"
        + garbage
        + b"\n\n"
        + mbox_of(good[1])
    )
    problems: list[str] = []
    summary = run_import(archive, mbox, problems=problems)
    assert summary.counts == {Outcome.ARCHIVED: 2}
    assert problems and all(problem.startswith(f"{mbox}: message ") for problem in problems)


def test_binary_garbage_named_eml_is_a_problem_not_a_crash(archive: Archive, tmp_path: Path) -> None:
    bad = tmp_path / "bad.eml"
    bad.write_bytes(bytes(range(256)) * 100)
    good = tmp_path / "good.eml"
    good.write_bytes(invoice_mail(("发票.pdf", invoice(342))))
    problems: list[str] = []
    summary = run_import(archive, bad, good, problems=problems)
    assert summary.counts == {Outcome.ARCHIVED: 1}
    assert any(problem.startswith(f"{bad}: message 1: ") for problem in problems)


# --- the real command --------------------------------------------------------------------------------------


def test_import_command_reports_mail_problems_and_seen_mail(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(f'[archive]\nroot = "{tmp_path / "archive"}"\n', encoding="utf-8")
    mbox = tmp_path / "Inbox"
    mbox.write_bytes(mbox_of(invoice_mail(("发票.pdf", invoice(350)))) + b"From \nX: y\n\nz\n")
    config = str(tmp_path / "config.toml")
    first = fapiao("import", str(mbox), "--config", config, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 archived" in first.stdout
    assert f"problem: {mbox}: message 2 (offset " in first.stderr and "malformed mbox From line" in first.stderr
    second = fapiao("import", str(mbox), "--config", config, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "import: 1 seen before (same mail, same file)" in second.stdout


# --- a watched folder -------------------------------------------------------------------------------------


def test_a_watched_folder_takes_an_mbox_keeps_it_and_reads_only_what_is_new(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, after=AfterAction("delete"))
    with running_daemon(settings) as running:
        mbox = running.inbox / "Archive.mbox"
        mbox.write_bytes(mbox_of(*(invoice_mail((f"发票{i}.pdf", invoice(i))) for i in (360, 361))))
        wait_until(lambda: len(running.invoices()) == 2, what="two invoices from the mbox")
        rows = len(running.arrivals())
        # The mail client appends a message: read again, only the new one is added.
        with mbox.open("ab") as handle:
            handle.write(mbox_of(invoice_mail(("发票362.pdf", invoice(362)))))
        wait_until(lambda: len(running.invoices()) == 3, what="the appended message's invoice")
        wait_until(lambda: len(running.arrivals()) == rows + 1, what="one arrival more")
        assert mbox.exists(), "an mbox is a mailbox, never deleted"


def test_a_watched_folder_deletes_an_eml_once_its_invoice_is_stored(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, after=AfterAction("delete"))
    with running_daemon(settings) as running:
        saved = running.inbox / "发票.eml"
        saved.write_bytes(invoice_mail(("发票.pdf", invoice(363))))
        wait_until(lambda: not saved.exists(), what="the .eml deleted after filing")
        [arrival] = running.arrivals()
        assert (arrival.outcome, arrival.source_key) == ("archived", f"{saved}#1/2")
        # Garbage dropped in next: a problem in the log, the daemon goes on with the next file.
        (running.inbox / "garbage.eml").write_bytes(b"\x00\xff" * 5000)
        after = running.inbox / "next.eml"
        after.write_bytes(invoice_mail(("发票.pdf", invoice(364))))
        wait_until(lambda: len(running.invoices()) == 2, what="the next .eml filed")


# --- the same message over IMAP and saved -------------------------------------------------------------------


def test_a_message_seen_over_imap_then_imported_saved_adds_nothing(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    mails = [invoice_mail((f"发票{i}.pdf", invoice(i))) for i in (370, 371)]
    for mail in mails:
        dovecot.append(user, "INBOX", mail)
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path))
    assert run_once(settings) == 0
    archive = Archive(settings.archive.root, open_database(settings.database_url), layout=settings.archive.layout)
    try:
        before = dump(archive)
        assert [row[0] for row in arrival_rows(archive)] == ["imap:test", "imap:test"]
        saved = tmp_path / "exported.mbox"
        saved.write_bytes(mbox_of(*mails))
        assert run_import(archive, saved).counts == {Outcome.SEEN: 2}
        assert dump(archive) == before
    finally:
        archive.engine.dispose()


def test_a_message_imported_saved_then_seen_over_imap_adds_nothing_and_is_acted_on(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    """The after-action is owed once the message's invoice is in the archive, however it got there."""
    mails = [invoice_mail((f"发票{i}.pdf", invoice(i))) for i in (372, 373)]
    settings = mail_settings(tmp_path, mailbox_settings(dovecot, user, tmp_path, after=after("flag")))
    archive = Archive(settings.archive.root, open_database(settings.database_url), layout=settings.archive.layout)
    try:
        saved = tmp_path / "a.eml"
        saved.write_bytes(mails[0])
        assert run_import(archive, saved).counts == {Outcome.ARCHIVED: 1}
        before = dump(archive)
        dovecot.append(user, "INBOX", mails[0])
        assert run_once(settings) == 0
        assert dump(archive) == before
        dovecot.append(user, "INBOX", mails[1])
        assert run_once(settings) == 0
        assert [row[:3] for row in arrival_rows(archive)] == [
            ("import", f"{saved}#1/2", "archived"),
            ("imap:test", arrival_rows(archive)[1][1], "archived"),
        ]
    finally:
        archive.engine.dispose()
    flags = server_messages(dovecot, user)
    assert [b"\\Flagged" in flags[message_id(mail)] for mail in mails] == [True, True]


# --- the migration ----------------------------------------------------------------------------------------


def test_a_database_at_0004_gains_the_message_column_and_keeps_its_arrivals(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from storage.db import create_db_engine, head_revision

    database = tmp_path / "archive" / ".fapiao" / "fapiao.db"
    url = f"sqlite:///{database}"
    engine = create_db_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parents[1] / "storage" / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    engine.dispose()
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO arrivals (source, source_key, sha256, outcome, reason, attempts, first_seen, last_seen) "
            "VALUES ('imap:qq', 'INBOX/1/7/2', 'ab', 'failed', 'x', 1, '2026-01-02 00:00:00', '2026-01-02 00:00:00')"
        )
    db.close()
    engine = open_database(url)
    try:
        with sqlite3.connect(database) as db:
            assert db.execute("select version_num from alembic_version").fetchall() == [(head_revision(),)]
            rows = db.execute("select source_key, sha256, outcome, message_id from arrivals").fetchall()
            assert rows == [("INBOX/1/7/2", "ab", "failed", None)]
            indexes = {row[1] for row in db.execute("PRAGMA index_list('arrivals')")}
            assert "ix_arrivals_message_id_sha256" in indexes
        db.close()
    finally:
        engine.dispose()


# --- a generated mailbox of a few hundred messages -----------------------------------------------------------


def test_a_generated_mailbox_files_each_invoice_once_and_a_second_import_adds_nothing(
    archive: Archive, tmp_path: Path
) -> None:
    mailbox = generated_mailbox(300)
    mbox = tmp_path / "Inbox"
    mbox.write_bytes(mailbox.data)
    problems: list[str] = []
    first = run_import(archive, mbox, problems=problems)
    assert problems == []
    assert not first.failures
    with sqlite3.connect(archive.engine.url.database or "") as db:
        numbers = {row[0] for row in db.execute("select invoice_number from invoices")}
        identities = {row[0] for row in db.execute("select distinct message_id from arrivals")}
    db.close()
    assert numbers == mailbox.numbers
    # Every arrival is keyed by a message the mailbox holds (its Message-ID, or its envelope when it has none).
    with_id = {identity for identity in identities if not identity.startswith("envelope:")}
    assert with_id <= mailbox.message_ids
    duplicates = len(mailbox.indices("duplicate"))
    assert first.counts[Outcome.SEEN] >= duplicates > 0
    before = dump(archive)
    second = run_import(archive, mbox)
    assert set(second.counts) == {Outcome.SEEN}
    assert dump(archive) == before
