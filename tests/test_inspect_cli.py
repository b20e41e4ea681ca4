"""`fapiao inspect` through the real command: every attachment of every message, as the one MIME reader sees it,
names as the mail writes them, and a clear problem for each file it cannot read as mail."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import messy_mail
from cli_run import fapiao
from mbox_messages import generated_mailbox, mbox_bytes
from messy_mail import Messy

from ingest.mail_inspect import inspect_file


def inspect_json(*paths: Path, cwd: Path) -> tuple[int, list[dict[str, Any]]]:
    done = fapiao("inspect", "--json", *(str(path) for path in paths), cwd=cwd)
    assert done.stderr == ""
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def found(report: dict[str, Any]) -> list[tuple[str, str | None, bool, bool, str | None]]:
    return [
        (item["part"], item["filename"], item["candidate"], item["forwarded"], item["sha256"])
        for item in report["attachments"]
    ]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_json_lists_every_attachment_with_where_it_sits_and_why(tmp_path: Path) -> None:
    tnef, forward = messy_mail.tnef_files(), messy_mail.forwarded_base64()
    (tmp_path / "tnef.eml").write_bytes(tnef.data)
    (tmp_path / "forward.eml").write_bytes(forward.data)
    code, reports = inspect_json(tmp_path / "tnef.eml", tmp_path / "forward.eml", cwd=tmp_path)
    assert code == 0
    assert [report["file"] for report in reports] == [str(tmp_path / "tnef.eml"), str(tmp_path / "forward.eml")]
    for report, sample in zip(reports, (tnef, forward), strict=True):
        assert (report["kind"], report["messages"], report["problems"]) == ("eml", 1, [])
        expected = [(w.part, w.name or None, w.candidate, w.forwarded, sha(w.data)) for w in sample.wants]
        assert found(report) == expected
        for item, want in zip(report["attachments"], sample.wants, strict=True):
            assert item["size"] == len(want.data)
            assert item["why"], "every verdict says why"
            assert set(item) >= {"filename", "content_type", "size", "sha256", "part", "candidate"}
    assert reports[1]["attachments"][0]["content_type"] == "application/pdf"


def test_names_are_reported_as_written_not_cleaned(tmp_path: Path) -> None:
    pdf = messy_mail.fake_pdf("traversal")
    part = (
        b'Content-Type: application/pdf; name="..\\\\..\\\\evil.pdf"\r\n'
        b'Content-Disposition: attachment; filename="../../tmp/\xe5\x8f\x91\xe7\xa5\xa8.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + messy_mail.b64(pdf)
    )
    (tmp_path / "evil.eml").write_bytes(messy_mail.mixed(b"evil", b"b1", [messy_mail.TEXT, part]))
    code, [report] = inspect_json(tmp_path / "evil.eml", cwd=tmp_path)
    assert code == 0
    assert found(report) == [("2", "../../tmp/发票.pdf", True, False, sha(pdf))]


def test_an_mbox_lists_each_message_and_counts_the_quiet_ones(tmp_path: Path) -> None:
    plain = b"From: a@example.com\r\nSubject: lunch\r\nMessage-ID: <lunch@example.com>\r\n\r\nnoon?\r\n"
    samples = [messy_mail.zip_bundle(), messy_mail.tnef_files()]
    mbox = tmp_path / "Inbox"
    mbox.write_bytes(mbox_bytes([samples[0].data, plain, plain.replace(b"lunch", b"tea"), samples[1].data]))
    code, [report] = inspect_json(mbox, cwd=tmp_path)
    assert code == 0
    assert (report["kind"], report["messages"]) == ("mbox", 4)
    assert sorted({item["message"] for item in report["attachments"]}) == [1, 4]
    assert [item["part"] for item in report["attachments"] if item["message"] == 4] == [
        w.part for w in samples[1].wants
    ]
    human = fapiao("inspect", str(mbox), cwd=tmp_path)
    assert human.returncode == 0
    assert f"{mbox} (mbox, 4 messages)" in human.stdout
    assert "message 1" in human.stdout and "message 4" in human.stdout and "message 2" not in human.stdout
    assert "2 other messages without attachments or problems" in human.stdout
    assert "part 2!发票_2025-07.pdf; application/pdf" in human.stdout


def test_what_cannot_be_read_as_mail_is_a_problem_and_the_rest_is_still_read(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(bytes(range(256)) * 64)
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(messy_mail.fake_pdf("not mail"))
    good = tmp_path / "good.eml"
    good.write_bytes(messy_mail.forwarded_base64().data)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    paths = (tmp_path / "missing.eml", pdf, folder, garbage, good)
    code, reports = inspect_json(*paths, cwd=tmp_path)
    assert code == 1
    assert [report["file"] for report in reports] == [str(path) for path in paths]
    problems = [report["problems"] for report in reports]
    assert problems[0] == ["cannot read: No such file or directory"]
    assert problems[1] == ["not saved mail: neither an mbox nor a message (.eml) by its content"]
    assert problems[2] == ["a folder, not a file"]
    assert [p.startswith("message 1: not a mail message") for p in problems[3]] == [True]
    assert problems[4] == [] and len(reports[4]["attachments"]) == 1
    human = fapiao("inspect", *(str(path) for path in paths), cwd=tmp_path)
    assert human.returncode == 1
    assert "problem: cannot read: No such file or directory" in human.stdout


def test_inspect_and_import_see_the_same_candidates(tmp_path: Path) -> None:
    """One reader: what inspect calls a candidate is what import hands to the pipeline, part for part."""
    mailbox = generated_mailbox(120, seed=7)
    mbox = tmp_path / "Inbox"
    mbox.write_bytes(mailbox.data)
    report = inspect_file(mbox)
    inspected = {
        (f"{mbox}#{message.number}/{attachment.part}", attachment.sha256)
        for message in report.messages
        for attachment in message.envelope.attachments
        if attachment.candidate
    }
    assert {sha256 for _key, sha256 in inspected} == mailbox.candidate_files
    (tmp_path / "config.toml").write_text(f'[archive]\nroot = "{tmp_path / "archive"}"\n', encoding="utf-8")
    done = fapiao("import", str(mbox), "--config", str(tmp_path / "config.toml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "archive" / ".fapiao" / "fapiao.db") as db:
        keys = {row[0] for row in db.execute("select source_key from arrivals")}
    db.close()
    # Each arrival is a candidate inspect listed, or a member of a zip it listed ('<part>!<member>').
    candidates = {key for key, _sha in inspected}
    assert keys and all(key in candidates or key.rsplit("!", 1)[0] in candidates for key in keys)


def test_read_every_messy_sample_as_a_file(tmp_path: Path) -> None:
    """Each sample of the messy-mail set saved as an .eml: inspect reports exactly the attachments it holds."""
    samples: list[Messy] = [build() for build in messy_mail.MESSY]
    for sample in samples:
        path = tmp_path / f"{sample.key}.eml"
        path.write_bytes(sample.data)
        [message] = inspect_file(path).messages
        got = [(a.part, a.name, a.candidate, a.forwarded) for a in message.envelope.attachments]
        assert got == [(w.part, w.name, w.candidate, w.forwarded) for w in sample.wants], sample.key
