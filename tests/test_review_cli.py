"""`fapiao review`, `review show|set|accept` end to end: a fresh process on an archive filled by `fapiao import`
with generated invoices (one with a wrong seller tax id, one whose total is not pretax + tax), a conflict,
a file that is not an invoice and a broken zip."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import sqlite3
import zipfile
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from cli_run import fapiao
from invoice_pdf import Party, invoice_pdf, not_invoice_pdf, sample_spec, uscc

SPECIAL = sample_spec("数电专票")
RIGHT_TAX_ID = SPECIAL.seller.tax_id
WRONG_TAX_ID = RIGHT_TAX_ID[:-1] + ("0" if RIGHT_TAX_ID[-1] != "0" else "1")
WRONG_ID = sample_spec("数电专票", number="25327000000098765499", seller=Party(SPECIAL.seller.name, WRONG_TAX_ID))
SUM_WRONG = sample_spec("数电普票", number="25117000000055554444", total_override=Decimal("99.00"))


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive every test copies: imported once (generating and reading PDFs is the slow part)."""
    folder = tmp_path_factory.mktemp("review")
    (folder / "config.toml").write_text('[archive]\nroot = "archive"\n[extract]\nocr = false\n', encoding="utf-8")
    inbox = folder / "inbox"
    inbox.mkdir()
    (inbox / "1.pdf").write_bytes(invoice_pdf(SPECIAL))
    (inbox / "2.pdf").write_bytes(invoice_pdf(WRONG_ID))
    (inbox / "3.pdf").write_bytes(invoice_pdf(SUM_WRONG))
    other_seller = Party("另一家示例公司", uscc("91110108MA01XY9W9"))
    (inbox / "4.pdf").write_bytes(invoice_pdf(dataclasses.replace(SPECIAL, seller=other_seller)))
    (inbox / "5.pdf").write_bytes(not_invoice_pdf())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("a.pdf", b"%PDF-1.7 " + b"x" * 200)
    (inbox / "6.zip").write_bytes(buffer.getvalue()[:100])
    assert fapiao("import", "inbox", cwd=folder).returncode == 1  # the broken zip failed
    return folder


@pytest.fixture
def here(filled: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(filled, tmp_path / "copy")
    return tmp_path / "copy"


def review_ids(cwd: Path) -> dict[str, str]:
    """ID -> the block of `fapiao review` it starts (its line, then the indented file and why lines)."""
    out = fapiao("review", cwd=cwd).stdout
    return {m[1]: m[0] for m in re.finditer(r"^(\w+)  +\S.*(?:\n +\S.*)*", out, re.MULTILINE)}


def ids(cwd: Path) -> dict[str, str]:
    """The IDs a person would read off `fapiao review`, by what they are (from the database, so the tests do
    not depend on the order the import took the files in)."""
    with closing(sqlite3.connect(cwd / "archive" / ".fapiao" / "fapiao.db")) as db:
        found = {number: str(i) for i, number in db.execute("select id, invoice_number from invoices")}
        files = db.execute("select id, role from stored_files where role != 'primary'")
        found |= {f"file:{role}": f"f{i}" for i, role in files}
        found |= {f"arrival:{outcome}": f"a{i}" for i, outcome in db.execute("select id, outcome from arrivals")}
    return found


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and ".fapiao" not in p.parts and p.name != "index.csv"
    }


def test_review_lists_every_item_with_an_id(here: Path) -> None:
    completed = fapiao("review", cwd=here)
    assert completed.returncode == 0
    listed, known = review_ids(here), ids(here)
    tax, total = known[WRONG_ID.number], known[SUM_WRONG.number]
    assert set(listed) == {tax, total, known["file:conflict"], known["file:unrecognized"], known["arrival:failed"]}
    assert "invoice" in listed[tax] and WRONG_ID.number in listed[tax] and "1060.00" in listed[tax]
    assert "invoice" in listed[total] and "99.00" in listed[total]
    assert listed[known["file:conflict"]].split()[1] == "conflict" and SPECIAL.number in listed[known["file:conflict"]]
    assert listed[known["file:unrecognized"]].split()[1] == "unrecognized"
    assert listed[known["arrival:failed"]].split()[1] == "failed" and "6.zip" in listed[known["arrival:failed"]]
    assert "fails the 统一社会信用代码" in completed.stdout


def test_show_puts_each_problem_beside_its_field(here: Path) -> None:
    completed = fapiao("review", "show", ids(here)[SUM_WRONG.number], cwd=here)
    assert completed.returncode == 0, completed.stderr
    rows = {line.split("│")[1].strip(): line for line in completed.stdout.splitlines() if line.startswith("│ ")}
    assert "99.00" in rows["total"] and "text" in rows["total"] and "QR code says 106.00" in rows["total"]
    assert "93.81" in rows["pretax"] and "价税合计 is 99.00" in rows["pretax"]
    assert "价税合计 is" not in rows["seller"]
    assert "files:\n  primary: _review/2025/2025-07/" in completed.stdout
    assert "arrivals:" in completed.stdout and "3.pdf: review" in completed.stdout


def test_set_fixes_the_tax_id_moves_the_file_and_shows_the_history(here: Path) -> None:
    item = ids(here)[WRONG_ID.number]
    before = tree(here / "archive")
    (old,) = [path for path in before if WRONG_ID.number in path]
    completed = fapiao("review", "set", item, f"seller_tax_id={RIGHT_TAX_ID}", cwd=here)
    assert completed.returncode == 0, completed.stderr
    new = old.removeprefix("_review/")
    assert completed.stdout.splitlines() == [
        f"invoice {item}: seller_tax_id {WRONG_TAX_ID} -> {RIGHT_TAX_ID}",
        f"invoice {item}: status review -> ok",
        f"renamed: {old} -> {new}",
    ]
    after = tree(here / "archive")
    assert after[new] == before[old] and old not in after
    index = list(csv.DictReader(io.StringIO((here / "archive" / "index.csv").read_text(encoding="utf-8-sig"))))
    assert [(row["文件"], row["状态"]) for row in index if row["发票号码"] == WRONG_ID.number] == [(new, "ok")]
    assert item not in review_ids(here)
    shown = fapiao("review", "show", item, cwd=here).stdout
    assert f"seller_tax_id {WRONG_TAX_ID} -> {RIGHT_TAX_ID}" in shown and f"renamed {old} -> {new}" in shown
    assert re.search(r"│ seller tax id\s+│ " + RIGHT_TAX_ID + r"\s+│ hand", shown)
    assert fapiao("check", cwd=here).returncode == 0


def test_set_that_leaves_problems_says_so(here: Path) -> None:
    item = ids(here)[SUM_WRONG.number]
    completed = fapiao("review", "set", item, "total=99.00", cwd=here)
    assert completed.returncode == 0, completed.stderr
    assert f"invoice {item}: total 99.00 (confirmed)" in completed.stdout
    assert "still in review: 合计金额 93.81 + 合计税额 12.19 = 106.00, but 价税合计 is 99.00" in completed.stdout


def test_accept_moves_the_invoice_and_sets_aside_the_rest(here: Path) -> None:
    known = ids(here)
    accepted = fapiao("review", "accept", known[SUM_WRONG.number], cwd=here)
    assert accepted.returncode == 0, accepted.stderr
    assert "status review -> ok" in accepted.stdout and "accepted with: total: text says" in accepted.stdout
    assert any(path.startswith("2025/2025-07/") and SUM_WRONG.number in path for path in tree(here / "archive"))
    for item in (known["file:conflict"], known["file:unrecognized"], known["arrival:failed"]):
        completed = fapiao("review", "accept", item, cwd=here)
        assert completed.returncode == 0 and f"{item} set aside" in completed.stdout
    assert set(review_ids(here)) == {known[WRONG_ID.number]}
    again = fapiao("review", "accept", known["file:conflict"], cwd=here)
    assert again.returncode == 1 and f"{known['file:conflict']} is already set aside" in again.stderr
    assert "set aside (conflict; same invoice key" in fapiao("review", "show", known["file:conflict"], cwd=here).stdout


def test_a_number_of_another_invoice_is_refused_with_nothing_changed(here: Path) -> None:
    known = ids(here)
    before = (tree(here / "archive"), (here / "archive" / "index.csv").read_bytes())
    completed = fapiao("review", "set", known[WRONG_ID.number], f"number={SPECIAL.number}", cwd=here)
    assert completed.returncode == 1
    assert f"invoice {known[SPECIAL.number]} already has the number {SPECIAL.number}" in completed.stderr
    assert "nothing was changed" in completed.stderr
    assert (tree(here / "archive"), (here / "archive" / "index.csv").read_bytes()) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["set", "{tax}", "colour=red"], 2, "'colour' is not a field; fields: number, code, date"),
        (["set", "{tax}", "total=12,34"], 2, "total '12,34' is not an amount"),
        (["set", "{tax}", "date=yesterday"], 2, "date 'yesterday' is not a date"),
        (
            ["set", "{conflict}", "total=1"],
            2,
            "{conflict} is a stored file, not an invoice: only invoices have fields to set",
        ),
        (["set", "x9", "total=1"], 2, "'x9' is not a review ID"),
        (["set", "99", "total=1"], 1, "there is no invoice 99"),
        (["show", "a99"], 1, "there is no arrival a99"),
        (["accept", "{ok}"], 1, "invoice {ok} is not in review"),
        (["accept", "{archived}"], 1, "{archived} did not fail (it was archived)"),
    ],
)
def test_bad_input_is_refused_with_a_reason(here: Path, args: list[str], code: int, message: str) -> None:
    known = ids(here)
    names = {
        "tax": known[WRONG_ID.number],
        "ok": known[SPECIAL.number],
        "conflict": known["file:conflict"],
        "archived": known["arrival:archived"],
    }
    before = tree(here / "archive")
    completed = fapiao("review", *(arg.format(**names) for arg in args), cwd=here)
    assert completed.returncode == code, completed.stderr
    assert message.format(**names) in completed.stderr
    assert tree(here / "archive") == before


def test_an_empty_archive_has_nothing_to_review(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[archive]\nroot = "archive"\n', encoding="utf-8")
    completed = fapiao("review", cwd=tmp_path)
    assert (completed.returncode, completed.stdout) == (0, "nothing to review\n")
