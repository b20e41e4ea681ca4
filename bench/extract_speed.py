"""Extraction speed: median ms per invoice for `fapiao extract` beside pdfplumber's bare parse.

Usage: python bench/extract_speed.py DIR [--repeat N]

For every PDF in DIR, in one run and interleaved so both see the same
machine state: the bare parse (pdfplumber opens the file and counts
`len(page.chars)` on every page, the least any text-layer reader must do)
and our whole extraction of the same bytes (parse, layout, fields, QR
code, merge, validation, and OCR of scans when Tesseract is installed); the
QR step is also timed on its own. Prints the median of each over all files
and their ratio, and the time per scan with and without OCR.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import pdfplumber

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.extract.qr import read_pdf_qr
from ingest.extract.reader import extract_bytes
from ingest.extract.tesseract import find_tesseract


def bare_parse(data: bytes) -> int:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return sum(len(page.chars) for page in pdf.pages)


def timed_ms(action: object, data: bytes) -> float:
    start = time.perf_counter()
    action(data)  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=5, help="runs per file; the per-file median is kept")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() == ".pdf")
    today = date.today()

    ocr = find_tesseract()

    def ours(data: bytes) -> None:
        extract_bytes(data, "bench", today=today, ocr=ocr)

    def ours_without_ocr(data: bytes) -> None:
        extract_bytes(data, "bench", today=today)

    bare_ms: list[float] = []
    ours_ms: list[float] = []
    qr_ms: list[float] = []
    scan_ms: list[tuple[float, float]] = []  # (with OCR, without) per scan
    for path in files:
        data = path.read_bytes()
        bare_parse(data)  # warm the caches (fonts, cmaps) once per file for both sides
        ours(data)
        bare_runs, our_runs, qr_runs = [], [], []
        for _ in range(args.repeat):
            bare_runs.append(timed_ms(bare_parse, data))
            our_runs.append(timed_ms(ours, data))
            qr_runs.append(timed_ms(read_pdf_qr, data))
        bare_ms.append(statistics.median(bare_runs))
        ours_ms.append(statistics.median(our_runs))
        qr_ms.append(statistics.median(qr_runs))
        if any(p.startswith("read by OCR") for p in extract_bytes(data, "bench", today=today, ocr=ocr).problems):
            scan_ms.append((statistics.median(our_runs), timed_ms(ours_without_ocr, data)))
    bare, mine = statistics.median(bare_ms), statistics.median(ours_ms)
    print(f"files: {len(files)}, runs per file: {args.repeat}")
    print(f"pdfplumber bare parse: median {bare:.1f} ms per invoice")
    print(f"fapiao extract:        median {mine:.1f} ms per invoice")
    print(f"  of which the QR step:  median {statistics.median(qr_ms):.1f} ms per invoice")
    print(f"ratio: {mine / bare:.2f}x")
    if scan_ms:
        with_ocr = statistics.median(t for t, _ in scan_ms)
        without = statistics.median(t for _, t in scan_ms)
        print(f"scans read by OCR: {len(scan_ms)}, median {with_ocr:.0f} ms each ({without:.0f} ms without OCR)")
    else:
        print(f"scans read by OCR: none ({'no scans in the folder' if ocr else 'Tesseract not installed'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
