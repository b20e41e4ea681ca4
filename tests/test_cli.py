"""The `fapiao extract` command on generated invoices: JSON lines in input order, and the readable table."""

from __future__ import annotations

import json
from pathlib import Path

from cli_run import fapiao
from invoice_pdf import image_only_invoice_pdf, invoice_pdf, not_invoice_pdf, sample_spec


def test_json_lines_come_in_input_order(tmp_path: Path) -> None:
    names = []
    for variant in ("电子普票(旧)", "数电专票", "区块链"):
        name = f"{variant}.pdf"
        (tmp_path / name).write_bytes(invoice_pdf(sample_spec(variant)))
        names.append(name)
    (tmp_path / "notice.pdf").write_bytes(not_invoice_pdf())
    names.insert(1, "notice.pdf")
    completed = fapiao("extract", "--json", *names, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [r["file"] for r in results] == names
    assert [r["status"] for r in results] == ["ok", "not_invoice", "ok", "ok"]
    assert [r["variant"] for r in results] == ["电子普票(旧)", None, "数电专票", "区块链"]


def test_table_shows_the_fields_and_the_problems(tmp_path: Path) -> None:
    spec = sample_spec("数电普票")
    (tmp_path / "good.pdf").write_bytes(invoice_pdf(spec))
    (tmp_path / "bad.pdf").write_bytes(invoice_pdf(sample_spec("数电普票", capital_total="壹圆整")))
    completed = fapiao("extract", "good.pdf", "bad.pdf", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert spec.number in out
    assert f"{spec.total:.2f}" in out
    assert spec.issue_date.isoformat() in out
    assert "review" in out
    assert "differs from the figure" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert fapiao("extract", cwd=tmp_path).returncode == 2
    assert fapiao("no-such-command", cwd=tmp_path).returncode == 2


def test_ocr_can_be_turned_off_in_the_config(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(image_only_invoice_pdf(sample_spec("数电普票")))
    (tmp_path / "config.toml").write_text("[extract]\nocr = false\n", encoding="utf-8")
    completed = fapiao("extract", "--json", "scan.pdf", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    (result,) = [json.loads(line) for line in completed.stdout.splitlines()]
    assert result["seller_name"] is None
    assert any(p.startswith("no OCR (off") for p in result["problems"])
