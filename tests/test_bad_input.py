"""Bad input through the real command: every file gets a clear status, no traceback, the right exit code."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas


def run_extract(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", "extract", "--json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def results_of(completed: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert "Traceback" not in completed.stderr, completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines()]


def simple_pdf(pages: int = 1, *, password: str | None = None, text: str = "hello") -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, encrypt=password)
    for number in range(pages):
        canvas.drawString(72, 720, f"{text} {number + 1}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.pdf", b"", "empty file (0 bytes)"),
        ("text.pdf", "这不是PDF，只是文字".encode(), "not a PDF"),
        ("zip.pdf", b"PK\x03\x04" + b"\0" * 100, "a zip archive, not an invoice file"),
        ("header-only.pdf", b"%PDF-1.7\n", "damaged PDF"),
        ("encrypted.pdf", simple_pdf(password="secret"), "encrypted PDF"),
        ("long.pdf", simple_pdf(pages=300), "300 pages"),
    ],
)
def test_unreadable_files_are_errors_with_reasons(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    completed = run_extract(name, cwd=tmp_path)
    [result] = results_of(completed)
    assert result["status"] == "error"
    assert any(reason in p for p in result["problems"]), result["problems"]  # type: ignore[attr-defined]
    assert completed.returncode == 1


def test_missing_path_and_directory(tmp_path: Path) -> None:
    (tmp_path / "folder.pdf").mkdir()
    completed = run_extract("missing.pdf", "folder.pdf", cwd=tmp_path)
    missing, folder = results_of(completed)
    assert missing["problems"] == ["no such file"]
    assert folder["problems"] == ["is a directory, not a file"]
    assert completed.returncode == 1


def test_truncated_pdf_never_crashes(tmp_path: Path) -> None:
    whole = simple_pdf(pages=3)
    for fraction in (0.2, 0.5, 0.8, 0.95):
        (tmp_path / f"cut-{fraction}.pdf").write_bytes(whole[: int(len(whole) * fraction)])
    completed = run_extract(*sorted(p.name for p in tmp_path.iterdir()), cwd=tmp_path)
    results = results_of(completed)
    assert len(results) == 4
    for result in results:
        # pdfminer rebuilds what it can; what it cannot is a damaged-PDF error, never a crash.
        assert result["status"] in ("error", "not_invoice", "review")
        assert result["problems"]


def test_a_pdf_that_is_not_an_invoice(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_bytes(simple_pdf(text="Dear customer, your order has shipped"))
    completed = run_extract("letter.pdf", cwd=tmp_path)
    [result] = results_of(completed)
    assert result["status"] == "not_invoice"
    assert completed.returncode == 0


def test_too_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[extract]\nmax_file_mb = 1\n", encoding="utf-8")
    (tmp_path / "big.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
    completed = run_extract("big.pdf", cwd=tmp_path)
    [result] = results_of(completed)
    assert result["status"] == "error"
    assert "over the 1048576-byte limit" in result["problems"][0]  # type: ignore[index]


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[extract]\nmax_pagez = 1\n", encoding="utf-8")
    (tmp_path / "x.pdf").write_bytes(simple_pdf())
    completed = run_extract("x.pdf", cwd=tmp_path)
    assert completed.returncode == 2
    assert "unknown key 'max_pagez' in [extract]" in completed.stderr
    assert "Traceback" not in completed.stderr
