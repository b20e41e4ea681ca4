"""Import a folder of real invoices twice into a fresh archive and check the result against its truth file.

Usage: python bench/archive_corpus.py DIR [--truth FILE] [--keep ARCHIVE_DIR]

DIR holds invoices and a truth.jsonl (see bench/accuracy.py). Checks, after
two imports of DIR: one primary file per distinct invoice (code + number in
the truth file), every other file of the folder accounted for as a duplicate
or companion, the second import adding nothing, index.csv listing exactly the
distinct invoices with their truth dates and totals, and `fapiao check` clean.
Exit code 1 when any check fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path


def fapiao(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest.cli", *args], cwd=cwd, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--keep", type=Path, help="build the archive here and keep it")
    args = parser.parse_args()
    folder = args.folder.resolve()
    truth = [
        json.loads(line) for line in (args.truth or folder / "truth.jsonl").read_text("utf-8").splitlines() if line
    ]
    distinct = {(row.get("invoice_code") or "", row["invoice_number"]): row for row in truth}
    work = args.keep or Path(tempfile.mkdtemp(prefix="fapiao-corpus-"))
    work.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    try:
        (work / "config.toml").write_text('[archive]\nroot = "archive"\n', encoding="utf-8")
        first = fapiao("import", str(folder), cwd=work)
        second = fapiao("import", str(folder), cwd=work)
        print("first import: ", first.stdout.strip(), first.stderr.strip())
        print("second import:", second.stdout.strip(), second.stderr.strip())
        with sqlite3.connect(work / "archive" / ".fapiao" / "fapiao.db") as db:
            primaries = db.execute("select count(*) from stored_files where role = 'primary'").fetchone()[0]
            roles = dict(db.execute("select role, count(*) from stored_files group by role").fetchall())
            outcomes = dict(db.execute("select outcome, count(*) from arrivals group by outcome").fetchall())
        print(f"distinct invoices in the truth file: {len(distinct)}; stored files by role: {roles}")
        print(f"arrivals by outcome: {outcomes}")
        if primaries != len(distinct):
            failures.append(f"{primaries} primary files for {len(distinct)} distinct invoices")
        raw = (work / "archive" / "index.csv").read_bytes()
        if not raw.startswith(b"\xef\xbb\xbf"):
            failures.append("index.csv has no BOM")
        rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))[1:]
        listed = {(row[2].lstrip("'"), row[1]): row for row in rows}
        if set(listed) != set(distinct) or len(rows) != len(distinct):
            failures.append(f"index.csv lists {len(rows)} invoices, not the {len(distinct)} distinct ones")
        for key, row in listed.items():
            expected = distinct.get(key)
            if expected and (row[0], row[7]) != (expected["issue_date"], expected["total"]):
                failures.append(
                    f"index.csv row {key}: {row[0]} {row[7]}, truth {expected['issue_date']} {expected['total']}"
                )
        check = fapiao("check", cwd=work)
        print(check.stdout.strip())
        if check.returncode != 0:
            failures.append("fapiao check is not clean")
        summary = second.stdout.split("(archive:")[0]
        if any(word in summary for word in ("archived", "companions", "conflicts", "unrecognized", "failed")):
            failures.append("the second import stored something")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAIL:", failure)
    print("all checks passed" if not failures else f"{len(failures)} checks failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
