"""Field accuracy of `fapiao extract` on a folder of invoices with a truth.jsonl.

Usage: python bench/accuracy.py DIR [--truth FILE] [--errors]

truth.jsonl has one JSON object per line: "file" (name inside DIR) and the
expected values of variant, invoice_code, invoice_number, issue_date
(YYYY-MM-DD), total, pretax, tax (decimal strings), seller_name,
seller_tax_id, buyer_name, buyer_tax_id, check_code, pages; "" where the
invoice has no such value. Names compare after NFKC. Prints per field how
many values were right, wrong or missing, and how many wrong values went out
with status "ok" (the number that must stay zero). Scans are read by OCR when
Tesseract with chi_sim is installed (--no-ocr to measure without it).
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections import Counter
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.extract.reader import extract_path
from ingest.extract.tesseract import find_tesseract

FIELDS = (
    "variant",
    "invoice_code",
    "invoice_number",
    "issue_date",
    "total",
    "pretax",
    "tax",
    "seller_name",
    "seller_tax_id",
    "buyer_name",
    "buyer_tax_id",
    "check_code",
    "pages",
)
# The ten fields the acceptance figure is about (variant, check_code and pages are reported beside them).
CORE_FIELDS = FIELDS[1:11]
MONEY = {"total", "pretax", "tax"}


def canonical(name: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    text = str(value)
    if name in MONEY:
        try:
            return str(Decimal(text).quantize(Decimal("0.01")))
        except InvalidOperation:
            return text
    if name in ("seller_name", "buyer_name"):
        return "".join(unicodedata.normalize("NFKC", text).split())
    if name in ("seller_tax_id", "buyer_tax_id"):
        return text.upper()
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--truth", type=Path, help="truth file (default: FOLDER/truth.jsonl)")
    parser.add_argument("--errors", action="store_true", help="list every wrong or missing value")
    parser.add_argument("--no-ocr", action="store_true", help="do not OCR scans even when Tesseract is installed")
    args = parser.parse_args()
    ocr = None if args.no_ocr else find_tesseract()
    print(f"OCR of scans: {'Tesseract ' + ocr.program if ocr else 'off'}")
    truth_path = args.truth or args.folder / "truth.jsonl"
    rows = [json.loads(line) for line in truth_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tally: dict[str, Counter[str]] = {name: Counter() for name in FIELDS}
    statuses: Counter[str] = Counter()
    wrong_as_ok = 0
    details: list[str] = []
    # Core-field tallies per kind of file, so text-layer PDFs can be told from scans and OFDs.
    by_kind: dict[str, Counter[str]] = {}
    for row in rows:
        result = extract_path(args.folder / row["file"], today=date.today(), ocr=ocr).to_json_dict()
        statuses[result["status"]] += 1
        kind = Path(row["file"]).suffix.lower().lstrip(".")
        if any("text layer" in p for p in result["problems"]):
            kind += " without usable text"
        elif kind == "pdf":
            kind += " with text layer"
        for name in FIELDS:
            expected, got = canonical(name, row.get(name)), canonical(name, result.get(name))
            if got == expected:
                verdict = "right"
            elif got == "":
                verdict = "missing"
            else:
                verdict = "wrong"
                wrong_as_ok += result["status"] == "ok"
            tally[name][verdict] += 1
            if name in CORE_FIELDS:
                by_kind.setdefault(kind, Counter())[verdict] += 1
            if verdict != "right":
                details.append(f"{row['file']} [{result['status']}] {name}: expected {expected!r}, got {got!r}")
    if args.errors:
        print("\n".join(details))
        print()
    print(f"{'field':<16}{'right':>7}{'wrong':>7}{'missing':>9}")
    for name in FIELDS:
        c = tally[name]
        print(f"{name:<16}{c['right']:>7}{c['wrong']:>7}{c['missing']:>9}")
    core_right = sum(tally[n]["right"] for n in CORE_FIELDS)
    core_all = sum(sum(tally[n].values()) for n in CORE_FIELDS)
    print(f"files: {len(rows)}  statuses: {dict(sorted(statuses.items()))}")
    print(f"ten core fields right: {core_right}/{core_all} = {100 * core_right / max(core_all, 1):.1f}%")
    for kind, counts in sorted(by_kind.items()):
        total = sum(counts.values())
        print(f"  {kind}: {counts['right']}/{total} = {100 * counts['right'] / max(total, 1):.1f}%")
    print(f"wrong values with status ok: {wrong_as_ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
