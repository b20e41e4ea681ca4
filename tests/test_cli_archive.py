"""The archive commands end to end: import, list, find, review, check, status, archive relayout."""

from __future__ import annotations

import json
from pathlib import Path

from cli_run import fapiao
from invoice_pdf import invoice_pdf, not_invoice_pdf, sample_spec


def setup(tmp_path: Path, layout: str = "{year}/{date}_{seller}_{number}") -> None:
    (tmp_path / "config.toml").write_text(
        f'[archive]\nroot = "archive"\nlayout = "{layout}"\n[extract]\nocr = false\n', encoding="utf-8"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i, variant in enumerate(("数电普票", "电子普票(旧)", "区块链")):
        (inbox / f"{i}.pdf").write_bytes(invoice_pdf(sample_spec(variant)))
    (inbox / "copy.pdf").write_bytes((inbox / "0.pdf").read_bytes())
    (inbox / "notice.pdf").write_bytes(not_invoice_pdf())


def test_import_prints_a_summary_and_a_second_import_finds_only_duplicates(tmp_path: Path) -> None:
    setup(tmp_path)
    first = fapiao("import", "inbox", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("import: 3 archived, 1 duplicates, 1 unrecognized (archive: ")
    second = fapiao("import", "inbox", cwd=tmp_path)
    assert second.stdout.startswith("import: 5 duplicates")
    assert (tmp_path / "archive" / "index.csv").exists()


def test_list_find_review_check_and_status(tmp_path: Path) -> None:
    setup(tmp_path)
    fapiao("import", "inbox", cwd=tmp_path)
    listed = [json.loads(line) for line in fapiao("list", "--json", cwd=tmp_path).stdout.splitlines()]
    assert len(listed) == 3 and all(item["status"] == "ok" for item in listed)
    spec = sample_spec("电子普票(旧)")
    found = fapiao("find", spec.number.replace("0", "O"), cwd=tmp_path)
    assert found.returncode == 0 and spec.number in found.stdout and "archived" in found.stdout
    assert fapiao("find", "no-such-thing", cwd=tmp_path).returncode == 1
    review = fapiao("review", cwd=tmp_path)
    assert "unrecognized" in review.stdout and "_unrecognized/" in review.stdout
    check = fapiao("check", cwd=tmp_path)
    assert check.returncode == 0 and check.stdout.startswith("check: database and tree agree")
    status = fapiao("status", cwd=tmp_path).stdout
    assert "invoices: 3 (3 ok)" in status and "files: 4 (3 primary, 1 unrecognized)" in status


def test_check_fails_on_a_changed_file(tmp_path: Path) -> None:
    setup(tmp_path)
    fapiao("import", "inbox", cwd=tmp_path)
    victim = next((tmp_path / "archive").glob("*/*.pdf"))
    victim.write_bytes(b"%PDF-1.7 changed")
    check = fapiao("check", cwd=tmp_path)
    assert check.returncode == 1
    assert "changed (bytes differ from when filed): " in check.stdout


def test_relayout_dry_run_then_for_real(tmp_path: Path) -> None:
    setup(tmp_path)
    fapiao("import", "inbox", cwd=tmp_path)
    (tmp_path / "config.toml").write_text(
        '[archive]\nroot = "archive"\nlayout = "{seller}/{number}"\n[extract]\nocr = false\n', encoding="utf-8"
    )
    dry = fapiao("archive", "relayout", "--dry-run", cwd=tmp_path)
    assert dry.stdout.count("would move: ") == 3 and "relayout: 3 to move" in dry.stdout
    real = fapiao("archive", "relayout", cwd=tmp_path)
    assert real.stdout.count("moved: ") == 3
    assert fapiao("check", cwd=tmp_path).returncode == 0


def test_a_bad_date_option_is_a_usage_error(tmp_path: Path) -> None:
    setup(tmp_path)
    completed = fapiao("list", "--since", "July", cwd=tmp_path)
    assert completed.returncode == 2 and "is not a date like 2025-07-29" in completed.stderr
