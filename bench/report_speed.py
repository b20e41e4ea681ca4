"""Report speed: what the archive's outputs (export, print, stats, find, review) cost on a 10,000-invoice archive,
and whether their totals and page counts are right.

Usage: python bench/report_speed.py [--invoices 10000] [--review N] [--print-all] [--jobs N] [--cache DIR] [--keep DIR]
A quick run: --invoices 200 (a few seconds once the PDFs are cached).

An archive of --invoices distinct generated invoices is filed through the storage API with bench/backup_speed.py's
own functions (tests/invoice_batch.batch_spec(i) drawn by tests/invoice_pdf.invoice_pdf, PDFs cached under the same
names, so one --cache serves both benchmarks); the last --review of them (default 1%) are filed with status 'review',
so `fapiao review` has a list to show. A config.toml names the archive root (the database is the default one,
<root>/.fapiao/fapiao.db). Then each command runs as the real CLI (.venv/bin/fapiao beside this Python, else
`python -m ingest.cli`), one subprocess at a time, with `--config` that file:

  export -o x.csv, export -o x.xlsx, export -o m.xlsx --by month, stats --by month --json, stats --by seller --json,
  find NUMBER (archived), find NUMBER (20 digits, not archived, one digit off an archived one), review,
  print -o p.pdf --since/--until (a window of about 200 invoices whose checks passed),
  and with --print-all: print -o all.pdf --status all (every invoice: 5,000 A4 sheets for 10,000).

For each: the wall time (the child's whole life: interpreter start, imports, work) and its peak RSS. The peak RSS
is ru_maxrss of the rusage that os.wait4() returns for that one child (it covers the child and any descendants it
waited for), so every measurement is its own and not, as RUSAGE_CHILDREN would be, the largest of all children so far.

Checks, each PASS or FAIL, against SQL over the database (sqlite3, read-only):
  - the 合计 row of the CSV and of the xlsx (read back with openpyxl) equals COUNT(*), SUM(pretax_fen), SUM(tax_fen),
    SUM(total_fen) to the fen; the per-month xlsx's 汇总 sheet too, and each month's sheet equals that month's sums;
  - stats --json: the total and every group (month, seller) equal the SQL GROUP BY;
  - find: the archived number is found (exit 0); the number one digit off is not (exit 1) and the archived one is
    offered as similar; review lists as many items as the database has invoices not 'ok';
  - the print PDF (read with pypdfium2) has cover pages + ceil(invoice pages / 2) pages, where invoice pages are
    counted in the chosen invoices' archived PDFs and cover pages are read off the cover's own footer ('清单 1 / n');
    it says it holds as many invoices as the SQL count of the window.
Generated PDFs are cached (--cache, default in the work folder, a tempdir removed at the end unless --keep is given).
Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))  # backup_speed; it puts the repo and tests/ on the path

from backup_speed import cached_pdf, file_invoices, generate, invoice_data
from invoice_batch import batch_spec

from ingest.config import DEFAULT_LAYOUT
from storage import ledger
from storage.archive import STATE_FOLDER, Archive, ArrivalKey, Arriving, Outcome, sha256_hex
from storage.db import open_database

REPO = Path(__file__).resolve().parent.parent
PRINT_WINDOW = 200  # invoices the --since/--until print should choose, about
TOTALS_LABEL = "合计"
AMOUNT_TITLES = ("金额", "税额", "价税合计")  # pretax, tax, total: the ledger's column titles
REVIEW_PROBLEM = "bench: filed for review, so that `fapiao review` has a list to show"
MIB = 1024  # ru_maxrss is in KiB on Linux


# --- the archive -------------------------------------------------------------------------------------------------


def file_for_review(archive: Archive, cache: Path, indices: range) -> None:
    """As backup_speed.file_invoices, but each invoice with status 'review' (filed under _review/)."""
    for index in indices:
        data = cached_pdf(cache, index).read_bytes()
        name = f"invoice-{index:05d}.pdf"
        arriving = Arriving(ArrivalKey("bench", f"bench/{name}", sha256_hex(data)), name, data, "pdf")
        wanted = replace(invoice_data(batch_spec(index)), status="review", problems=(REVIEW_PROBLEM,))
        filed = archive.file_invoice(arriving, wanted)
        if filed.outcome is not Outcome.REVIEW:
            raise SystemExit(f"invoice {index} was not filed for review: {filed.outcome} {filed.reason}")


def write_config(path: Path, root: Path) -> None:
    # A JSON string is a valid TOML basic string (same escapes), whatever the path holds.
    path.write_text(f"[archive]\nroot = {json.dumps(str(root), ensure_ascii=False)}\n", encoding="utf-8")


# --- what the database says --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sums:
    """COUNT and SUMs as SQL gives them (NULL amounts left out of a sum, as the ledger does)."""

    invoices: int
    pretax_fen: int
    tax_fen: int
    total_fen: int

    def __str__(self) -> str:
        return f"{self.invoices} invoices, pretax {self.pretax_fen}, tax {self.tax_fen}, total {self.total_fen} fen"


_SUMS = "COUNT(*), COALESCE(SUM(pretax_fen), 0), COALESCE(SUM(tax_fen), 0), COALESCE(SUM(total_fen), 0)"


class Database:
    """Read-only SQL over the archive's database: the reference every output is checked against."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)

    def close(self) -> None:
        self.connection.close()

    def sums(self, where: str = "1", params: Sequence[object] = ()) -> Sums:
        row = self.connection.execute(f"SELECT {_SUMS} FROM invoices WHERE {where}", params).fetchone()
        return Sums(*row)

    def sums_by(self, key: str) -> dict[str | None, Sums]:
        rows = self.connection.execute(f"SELECT {key}, {_SUMS} FROM invoices GROUP BY 1").fetchall()
        return {row[0]: Sums(*row[1:]) for row in rows}

    def numbers(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT invoice_number FROM invoices")}

    def ok_per_day(self) -> list[tuple[str, int]]:
        query = (
            "SELECT issue_date, COUNT(*) FROM invoices WHERE status = 'ok' AND issue_date IS NOT NULL "
            "GROUP BY issue_date ORDER BY issue_date"
        )
        return [(row[0], row[1]) for row in self.connection.execute(query)]


MONTH = "substr(issue_date, 1, 7)"  # issue_date is stored as 'YYYY-MM-DD'


def print_window(per_day: list[tuple[str, int]], wanted: int) -> tuple[str, str]:
    """The first and last day of a run of days from the middle of the range on holding at least `wanted`
    invoices (all of them when there are fewer)."""
    start = len(per_day) // 2
    while start > 0 and sum(count for _, count in per_day[start:]) < wanted:
        start -= 1
    chosen = 0
    for end in range(start, len(per_day)):
        chosen += per_day[end][1]
        if chosen >= wanted:
            break
    return per_day[start][0], per_day[end][0]


def one_digit_off(number: str, archived: set[str]) -> str:
    """`number` with one digit changed, from the last digit backwards, into a number no invoice has."""
    for position in reversed(range(len(number))):
        for step in range(1, 10):
            digit = str((int(number[position]) + step) % 10)
            candidate = number[:position] + digit + number[position + 1 :]
            if candidate not in archived:
                return candidate
    raise SystemExit(f"no number one digit off {number} is free")


# --- running the CLI ---------------------------------------------------------------------------------------------


def fapiao_command() -> list[str]:
    """The installed console script beside this interpreter (what a person runs), else the module."""
    script = Path(sys.executable).parent / "fapiao"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ingest.cli"]


@dataclass
class Run:
    label: str
    argv: list[str]
    exit_code: int
    seconds: float
    peak_rss_kib: int
    stdout: str
    stderr: str
    output: Path | None = None
    notes: list[str] = field(default_factory=list)


def run_cli(label: str, args: list[str], config: Path | None, logs: Path, output: Path | None = None) -> Run:
    """One CLI command in its own subprocess: wall time and the peak RSS of that child alone."""
    argv = [*fapiao_command(), *args, *(["--config", str(config)] if config is not None else [])]
    stem = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")
    out_path, err_path = logs / f"{stem}.out", logs / f"{stem}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=REPO)
        # wait4, not child.wait(): it hands back this child's own rusage as it reaps it.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return Run(
        label,
        argv,
        child.returncode,
        seconds,
        usage.ru_maxrss,
        out_path.read_text(encoding="utf-8", errors="replace"),
        err_path.read_text(encoding="utf-8", errors="replace"),
        output,
    )


# --- reading the outputs back ------------------------------------------------------------------------------------


def fen(value: object) -> int:
    """Yuan as written in a ledger cell -> int fen, exactly (or ValueError).

    openpyxl reads a number cell with float(); repr() gives back the shortest decimal that reads as the same
    float, which is the text in the file for any number of at most 15 significant digits."""
    if isinstance(value, float):
        text = repr(value)
        if len(text.replace("-", "").replace(".", "").lstrip("0")) > 15:
            raise ValueError(f"{text}: too many digits to read back exactly as a float")
        value = text
    amount = Decimal(str(value)) * 100
    if amount != amount.to_integral_value():
        raise ValueError(f"{value} is not a whole number of fen")
    return int(amount)


def totals_of(header: Sequence[object], row: Sequence[object], count_title: str) -> Sums:
    """The totals row as Sums: the count under `count_title`, the three amounts under their titles."""
    count = row[list(header).index(count_title)]
    pretax, tax, total = (fen(row[list(header).index(title)]) for title in AMOUNT_TITLES)
    return Sums(int(str(count)), pretax, tax, total)


def csv_totals(path: Path) -> tuple[int, Sums]:
    """(data rows, the 合计 row) of a CSV ledger."""
    with path.open(encoding="utf-8-sig", newline="") as text:
        rows = list(csv.reader(text))
    header, body = rows[0], rows[1:]
    last = [row for row in body if row and row[0] == TOTALS_LABEL]
    if len(last) != 1 or body[-1] is not last[0]:
        raise ValueError(f"{len(last)} 合计 rows, expected one, at the end")
    return len(body) - 1, totals_of(header, last[0], "发票号码")


def sheet_totals(rows: Iterator[tuple[object, ...]], count_title: str) -> tuple[int, Sums]:
    """(data rows, the 合计 row) of one sheet: a header, data rows, the totals row last."""
    header = next(rows)
    body = [row for row in rows if any(cell is not None for cell in row)]
    if not body or body[-1][0] != TOTALS_LABEL:
        raise ValueError(f"the last row is not the {TOTALS_LABEL} row")
    return len(body) - 1, totals_of(header, body[-1], count_title)


def xlsx_totals(path: Path) -> dict[str, tuple[int, Sums]]:
    """Each sheet's (data rows, 合计 row), by sheet name; the summary sheet's count is under 张数."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        found = {}
        for sheet in workbook.worksheets:
            count_title = "张数" if sheet.title == "汇总" else "发票号码"
            found[sheet.title] = sheet_totals(sheet.iter_rows(values_only=True), count_title)
        return found
    finally:
        workbook.close()


def pdf_pages(path: Path) -> int:
    with closing(pdfium.PdfDocument(path)) as document:
        return len(document)


def cover_pages_in(path: Path) -> int:
    """What the cover's first page says in its footer, '清单 1 / n': the number of cover pages."""
    with closing(pdfium.PdfDocument(path)) as document:
        page = document[0]
        text = page.get_textpage().get_text_range()
    found = re.search(r"清单\s*1\s*/\s*(\d+)", text)
    if found is None:
        raise ValueError("no '清单 1 / n' footer on the first page")
    return int(found.group(1))


# --- checks ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def compare(name: str, got: object, want: object, shown: str | None = None) -> Check:
    """`shown`: what to say when they are equal, instead of `want` itself (a long dict)."""
    if got == want:
        return Check(name, True, shown or str(want))
    if isinstance(got, dict) and isinstance(want, dict):
        keys = sorted({*got, *want} - {k for k in got if got.get(k) == want.get(k)}, key=str)
        differ = "; ".join(f"{k}: got {got.get(k)}, want {want.get(k)}" for k in keys[:3])
        return Check(name, False, f"{len(keys)} of {len(want)} differ, e.g. {differ}")
    return Check(name, False, f"got {got}, want {want}")


def unreadable(name: str, error: Exception) -> list[Check]:
    """The output could not be read back: one failed check saying why."""
    return [Check(name, False, f"cannot read it back: {type(error).__name__}: {error}")]


def exit_check(run: Run, expected: int) -> Check:
    detail = f"exit {run.exit_code}"
    if run.exit_code != expected:
        tail = (run.stderr.strip() or run.stdout.strip()).splitlines()[-3:]
        detail += f", want {expected}: {' | '.join(tail)}"
    return Check(f"{run.label}: exit code", run.exit_code == expected, detail)


def check_csv(run: Run, want: Sums) -> list[Check]:
    assert run.output is not None
    try:
        rows, got = csv_totals(run.output)
    except (OSError, ValueError, IndexError) as exc:
        return unreadable(f"{run.label}: 合计 row", exc)
    return [
        compare(f"{run.label}: 合计 row = SQL sums", got, want),
        compare(f"{run.label}: data rows", rows, want.invoices),
    ]


def check_xlsx(run: Run, want: Sums, by_month: dict[str | None, Sums] | None) -> list[Check]:
    assert run.output is not None
    try:
        sheets = xlsx_totals(run.output)
    except (OSError, ValueError, IndexError, KeyError) as exc:
        return unreadable(f"{run.label}: 合计 rows", exc)
    if by_month is None:
        rows, got = sheets.get("发票", (0, None))
        return [
            compare(f"{run.label}: 合计 row = SQL sums", got, want),
            compare(f"{run.label}: data rows", rows, want.invoices),
        ]
    months, summary = sheets.get("汇总", (0, None))
    per_sheet = {name: sums for name, (_, sums) in sheets.items() if name != "汇总"}
    wanted = {month or "无日期": sums for month, sums in by_month.items()}
    return [
        compare(f"{run.label}: 汇总 合计 row = SQL sums", summary, want),
        compare(f"{run.label}: 汇总 month rows", months, len(by_month)),
        compare(f"{run.label}: each month's 合计 row = SQL GROUP BY month", per_sheet, wanted, f"{len(wanted)} sheets"),
    ]


def stats_sums(group: dict[str, object]) -> Sums:
    return Sums(int(str(group["invoices"])), fen(group["pretax"]), fen(group["tax"]), fen(group["total"]))


def check_stats(run: Run, by: str, want: Sums, groups: dict[str | None, Sums]) -> list[Check]:
    try:
        document = json.loads(run.stdout)
        total = stats_sums(document["total"])
        got = {group[by]: stats_sums(group) for group in document["groups"]}
    except (ValueError, KeyError, TypeError) as exc:
        return unreadable(f"{run.label}: JSON", exc)
    return [
        compare(f"{run.label}: total = SQL sums", total, want),
        compare(f"{run.label}: each group = SQL GROUP BY {by}", got, groups, f"{len(groups)} groups"),
    ]


PRINTED = re.compile(r"(\d+) invoices? on (\d+) pages? \(cover (\d+)\)")


@dataclass(frozen=True)
class Printed:
    """What a print run chose, for the page count it must come to."""

    invoices: int  # the SQL count of the chosen invoices
    invoice_pages: int  # pages of their archived PDFs, counted one by one
    label: str


def chosen_pages(engine_url: str, root: Path, since: str | None, until: str | None, status: str | None) -> int:
    """The pages of the archived PDFs of the invoices a print with these filters chooses."""
    engine = open_database(engine_url)
    try:
        views = ledger.list_invoices(
            engine,
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None,
            status=status,
        )
    finally:
        engine.dispose()
    return sum(pdf_pages(root / view.path) for view in views if view.path)


def check_print(run: Run, printed: Printed) -> list[Check]:
    assert run.output is not None
    said = PRINTED.search(run.stdout)
    try:
        pages = pdf_pages(run.output)
        cover = cover_pages_in(run.output)
    except (OSError, ValueError, pdfium.PdfiumError) as exc:
        return unreadable(f"{run.label}: PDF", exc)
    sheets = math.ceil(printed.invoice_pages / 2)
    run.notes.append(f"{pages} pages (cover {cover}), {size(run.output.stat().st_size)}")
    checks = [
        Check(
            f"{run.label}: pages = cover + ceil(invoice pages / 2)",
            pages == cover + sheets,
            f"{pages} pages; {cover} + ceil({printed.invoice_pages} / 2) = {cover + sheets}",
        )
    ]
    if said is None:
        checks.append(Check(f"{run.label}: summary line", False, f"not found in: {run.stdout.strip()[-200:]}"))
    else:
        checks.append(compare(f"{run.label}: invoices it says = SQL count", int(said.group(1)), printed.invoices))
        checks.append(compare(f"{run.label}: cover pages it says = cover footer", int(said.group(3)), cover))
    return checks


def check_find(found: Run, missed: Run, number: str, off: str) -> list[Check]:
    return [
        Check(f"{found.label}: shows the number", number in found.stdout, number),
        Check(
            f"{missed.label}: offers the archived one as similar",
            "similar numbers" in missed.stdout and number in missed.stdout,
            f"{off} -> {number}",
        ),
    ]


def check_review(run: Run, want: int) -> list[Check]:
    if want == 0:
        return [Check(f"{run.label}: says nothing to review", "nothing to review" in run.stdout, "0 items")]
    said = re.search(r"^(\d+) to review", run.stdout, re.MULTILINE)
    got = int(said.group(1)) if said else None
    return [compare(f"{run.label}: items = SQL invoices not ok", got, want)]


# --- report ------------------------------------------------------------------------------------------------------


def size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: a wide (CJK) character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]], right: set[int]) -> None:
    widths = [max(display_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = []
        for index, (cell, width) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (width - display_width(cell))
            cells.append(pad + cell if index in right else cell + pad)
        return "  " + "  ".join(cells).rstrip()

    print(f"\n{title}\n{'-' * len(title)}")
    print(line(header))
    for row in rows:
        print(line(row))


def run_rows(runs: list[Run]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for run in runs:
        made = [size(run.output.stat().st_size)] if run.output is not None and run.output.is_file() else []
        notes = run.notes or made
        rows.append(
            (run.label, str(run.exit_code), f"{run.seconds:.2f}", f"{run.peak_rss_kib / MIB:.0f}", "; ".join(notes))
        )
    return rows


# --- main --------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000, help="invoices in the archive")
    parser.add_argument("--review", type=int, help="of them, filed with status 'review' (default: 1%%)")
    parser.add_argument("--print-all", action="store_true", help="also print every invoice into one PDF")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes drawing the PDFs")
    parser.add_argument("--cache", type=Path, help="folder of generated PDFs to reuse (default: in the work folder)")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    args = parser.parse_args()
    if args.invoices < 1:
        parser.error("--invoices must be at least 1")
    if args.review is None:
        args.review = args.invoices // 100
    if not 0 <= args.review < args.invoices:
        parser.error(f"--review must be from 0 to --invoices - 1 ({args.invoices - 1}): print needs an ok invoice")
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    work = (args.keep or Path(tempfile.mkdtemp(prefix="fapiao-report-bench-"))).resolve()
    print(f"bench/report_speed.py {' '.join(sys.argv[1:])}; work folder {work}")
    try:
        return run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    cache = (args.cache or work / "cache").resolve()
    drawn, draw_s = generate(cache, range(args.invoices), args.jobs)
    print(f"PDFs: {drawn} of {args.invoices} drawn in {draw_s:.1f} s ({args.jobs} processes), from/into {cache}")

    root = work / "archive"
    database = root / STATE_FOLDER / "fapiao.db"
    url = f"sqlite:///{database}"
    engine = open_database(url)
    archive = Archive(root, engine, layout=DEFAULT_LAYOUT)
    ok_count = args.invoices - args.review
    started = time.perf_counter()
    file_invoices(archive, cache, range(ok_count))
    file_for_review(archive, cache, range(ok_count, args.invoices))
    archive.write_index()
    file_s = time.perf_counter() - started
    engine.dispose()
    print(f"filed {args.invoices} invoices ({args.review} for review) in {file_s:.1f} s, index.csv written")
    config = work / "config.toml"
    write_config(config, root)
    out, logs = work / "out", work / "logs"
    out.mkdir()
    logs.mkdir()

    db = Database(database)
    try:
        return measure(args, db, url, root, config, out, logs)
    finally:
        db.close()


def measure(args: argparse.Namespace, db: Database, url: str, root: Path, config: Path, out: Path, logs: Path) -> int:
    everything = db.sums()
    by_month, by_seller = db.sums_by(MONTH), db.sums_by("seller_name")
    not_ok = db.sums("status != 'ok'").invoices
    numbers = db.numbers()
    archived = batch_spec(args.invoices // 2 - (args.invoices // 2) % 3).number  # a 20-digit 数电普票 number
    off = one_digit_off(archived, numbers)
    since, until = print_window(db.ok_per_day(), PRINT_WINDOW)
    window = db.sums("status = 'ok' AND issue_date BETWEEN ? AND ?", (since, until)).invoices
    print(
        f"database: {everything}; {len(by_month)} months, {len(by_seller)} sellers, {not_ok} not ok; "
        f"{size(Path(url.removeprefix('sqlite:///')).stat().st_size)}"
    )
    print(f"CLI: {' '.join(fapiao_command())} ... --config {config}")

    def cli(label: str, *cli_args: str, output: Path | None = None, with_config: bool = True) -> Run:
        done = run_cli(label, list(cli_args), config if with_config else None, logs, output)
        print(f"  {label}: {done.seconds:.2f} s, exit {done.exit_code}")
        return done

    print("\nrunning:")
    baseline = cli("--help (start-up only)", "--help", with_config=False)
    csv_run = cli("export -o x.csv", "export", "-o", str(out / "x.csv"), output=out / "x.csv")
    xlsx_run = cli("export -o x.xlsx", "export", "-o", str(out / "x.xlsx"), output=out / "x.xlsx")
    month_run = cli("export -o m.xlsx --by month", "export", "-o", str(out / "m.xlsx"), "--by", "month")
    month_run.output = out / "m.xlsx"
    stats_month = cli("stats --by month --json", "stats", "--by", "month", "--json")
    stats_seller = cli("stats --by seller --json", "stats", "--by", "seller", "--json")
    find_missed = cli(f"find {off} (not archived)", "find", off)
    find_found = cli(f"find {archived}", "find", archived)
    review = cli("review", "review")
    window_label = f"print -o p.pdf --since {since} --until {until}"
    print_window_run = cli(window_label, "print", "-o", str(out / "p.pdf"), "--since", since, "--until", until)
    print_window_run.output = out / "p.pdf"
    runs = [baseline, csv_run, xlsx_run, month_run, stats_month, stats_seller, find_missed, find_found, review]
    runs.append(print_window_run)
    print_all_run = None
    if args.print_all:
        print_all_run = cli("print -o all.pdf --status all", "print", "-o", str(out / "all.pdf"), "--status", "all")
        print_all_run.output = out / "all.pdf"
        runs.append(print_all_run)

    checks = [exit_check(r, 1 if r is find_missed else 0) for r in runs]
    checks += check_csv(csv_run, everything)
    checks += check_xlsx(xlsx_run, everything, None)
    checks += check_xlsx(month_run, everything, by_month)
    checks += check_stats(stats_month, "month", everything, by_month)
    checks += check_stats(stats_seller, "seller", everything, by_seller)
    checks += check_find(find_found, find_missed, archived, off)
    checks += check_review(review, not_ok)
    window_pages = chosen_pages(url, root, since, until, "ok")
    checks += check_print(print_window_run, Printed(window, window_pages, window_label))
    if print_all_run is not None:
        all_pages = chosen_pages(url, root, None, None, None)
        checks += check_print(print_all_run, Printed(everything.invoices, all_pages, print_all_run.label))

    print_table(
        f"Commands on an archive of {args.invoices} invoices (each in its own subprocess; RSS: wait4 ru_maxrss)",
        ("command", "exit", "wall s", "peak RSS MiB", "output"),
        run_rows(runs),
        {1, 2, 3},
    )
    if not args.print_all:
        print("  (print -o all.pdf of every invoice not run: --print-all)")
    print_table(
        "Checks (against SQL over the database)",
        ("check", "result", "detail"),
        [(c.name, "PASS" if c.passed else "FAIL", c.detail) for c in checks],
        set(),
    )
    failed = [c for c in checks if not c.passed]
    print(
        f"\n{len(checks) - len(failed)} of {len(checks)} checks passed" + (f"; {len(failed)} FAILED" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
