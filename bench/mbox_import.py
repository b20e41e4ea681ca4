"""Mbox import speed: messages per second, MB/s and peak memory of `fapiao import` on a ~1 GB mbox, and proof that
importing it again adds nothing.

Usage: python bench/mbox_import.py [--gigabytes 1.0] [--invoices N] [--jobs 0] [--out DIR] [--cache DIR] [--seed S]
A quick run: --gigabytes 0.02 (a few hundred messages).

1. An mbox of generated mail is written to --out (default: a temp dir, removed at the end; a given --out is kept
   and its mbox reused when made with the same options): mostly ordinary mail (short text and HTML mail; one in
   twelve with photos or office files of 100 KB to 2 MB, no invoices), and --invoices invoices' mails (default
   3,000 per GB) spread through it, carrying real generated invoice PDFs (tests/invoice_batch.batch_spec(i) drawn by
   tests/invoice_pdf, cached on disk like bench/backup_speed.py's) alone, with OFD and XML companions, or zipped;
   and the duplicates real mailboxes hold: the same message twice, forwards (message/rfc822) and re-attached
   copies of the same PDF, re-downloaded copies (other bytes, same invoice), messages without a Message-ID.
   The messages come from tests/mbox_messages.MailMaker.
2. The mbox is split by ingest.sources.mail_file.iter_messages alone, in a child process: the reader's own speed
   and memory.
3. `fapiao import MBOX` (the real CLI, a child process, --jobs) into an empty archive; then the same again.
   For each: wall time, messages/s, MB/s, and the peak RSS of the child (GNU time's %M: the largest of its
   processes, worker processes included), and the archive's arrivals, invoices and stored files (SQL counts).
Checks, PASS or FAIL: the first import archives as many invoices as the mailbox holds distinct invoice numbers;
the second import changes none of the three counts. Exit code 0 when both pass.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # backup_speed, report_speed; they add the repo and tests/

from backup_speed import cached_pdf, generate
from mbox_messages import MailMaker, MessageFact, mbox_entry
from report_speed import fapiao_command, print_table

from storage.archive import STATE_FOLDER

MB = 1_000_000
MIB_KIB = 1024  # ru_maxrss is in KiB on Linux
INVOICES_PER_GB = 3000
MAX_MESSAGE_BYTES = 50 * MB  # the split's limit: above every generated message
TABLES = ("arrivals", "invoices", "stored_files")
TIME = "/usr/bin/time"  # GNU time


@dataclass
class Mailbox:
    """What was written: the facts an import is checked against."""

    path: str
    options: dict[str, float | int]
    bytes: int = 0
    messages: int = 0
    shapes: Counter[str] = field(default_factory=Counter)
    numbers: set[str] = field(default_factory=set)
    without_message_id: int = 0
    seconds: float = 0.0

    def note(self, fact: MessageFact, size: int) -> None:
        self.messages += 1
        self.bytes += size
        self.shapes[fact.shape] += 1
        self.numbers.update(fact.numbers)
        self.without_message_id += fact.message_id is None


# --- the mailbox ---------------------------------------------------------------------------------------------------


def _ordinary(maker: MailMaker, rng: random.Random) -> tuple[bytes, MessageFact]:
    roll = rng.random()
    if roll < 0.50:
        return maker.text_mail()
    if roll < 0.90:
        return maker.html_mail()
    if roll < 0.955:
        return maker.image_mail(int(rng.uniform(100_000, 1_000_000)))
    if roll < 0.995:
        return maker.office_mail(int(rng.uniform(200_000, 2_000_000)))
    return maker.other_pdf_mail()


def _invoice(maker: MailMaker, rng: random.Random) -> tuple[bytes, MessageFact]:
    roll = rng.random()
    if roll < 0.80:
        return maker.invoice_mail(message_id=rng.random() >= 0.03)
    if roll < 0.92:
        return maker.companions_mail()
    return maker.zip_mail(2 + rng.randrange(2))


def _again(
    maker: MailMaker, rng: random.Random, recent: list[tuple[bytes, MessageFact]]
) -> list[tuple[bytes, MessageFact]]:
    """The duplicates that follow an invoice mail now and then, of one of the invoice mails shortly before."""
    roll = rng.random()
    original = rng.choice(recent)
    if roll < 0.08:
        return [maker.duplicate(original)]
    if roll < 0.13:
        return [maker.forward_mail(original, base64_body=rng.random() < 0.3)]
    if roll < 0.16:
        return [maker.reattached_mail(original)]
    if roll < 0.18:
        return [maker.resent_mail(original)]
    return []


def write_mailbox(path: Path, target_bytes: int, invoices: int, pdf: Callable[[int], bytes], seed: int) -> Mailbox:
    """Ordinary mail up to `target_bytes`, with `invoices` invoices' mails spread evenly by bytes."""
    started = time.perf_counter()
    mailbox = Mailbox(str(path), {})
    maker = MailMaker(seed=seed, pdf=pdf)
    rng = random.Random(seed)
    recent: list[tuple[bytes, MessageFact]] = []
    with path.open("wb") as out:
        while mailbox.bytes < target_bytes or maker.next_invoice < invoices:
            due = maker.next_invoice < invoices and maker.next_invoice <= invoices * mailbox.bytes / target_bytes
            made = [_invoice(maker, rng)] if due else [_ordinary(maker, rng)]
            if due:
                recent = [*recent[-199:], made[0]]
                made += _again(maker, rng, recent)
            for data, fact in made:
                entry = mbox_entry(data, mailbox.messages)
                out.write(entry)
                mailbox.note(fact, len(entry))
    mailbox.seconds = time.perf_counter() - started
    return mailbox


def mailbox_for(out: Path, options: dict[str, float | int], cache: Path, jobs: int) -> Mailbox:
    """The mbox for these options: the one written before in `out`, else a new one."""
    path, facts = out / "Inbox.mbox", out / "Inbox.json"
    if path.is_file() and facts.is_file():
        saved = json.loads(facts.read_text(encoding="utf-8"))
        if saved["options"] == options and saved["bytes"] == path.stat().st_size:
            return Mailbox(
                saved["path"],
                saved["options"],
                saved["bytes"],
                saved["messages"],
                Counter(saved["shapes"]),
                set(saved["numbers"]),
                saved["without_message_id"],
                saved["seconds"],
            )
    invoices = int(options["invoices"])
    # Companion mails skip old-style indices and zips take two or three: a tenth more than the count is drawn.
    drawn, seconds = generate(cache, range(invoices + invoices // 10 + 16), max(1, jobs))
    print(f"drew {drawn} invoice PDFs in {seconds:.1f} s (cache: {cache})")

    def pdf(index: int) -> bytes:
        cached = cached_pdf(cache, index)
        if not cached.is_file():
            generate(cache, range(index, index + 1), 1)
        return cached.read_bytes()

    target = int(float(options["gigabytes"]) * 1000 * MB)
    mailbox = write_mailbox(path, target, invoices, pdf, int(options["seed"]))
    mailbox.options = options
    saved = {**asdict(mailbox), "numbers": sorted(mailbox.numbers), "shapes": dict(mailbox.shapes)}
    facts.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    return mailbox


# --- measuring -----------------------------------------------------------------------------------------------------


# Step 2's child: only the reader imported, so its RSS is the reader's and not this benchmark's.
SPLIT_SCRIPT = f"""
import json, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from ingest.sources.mail_file import iter_messages
started = time.perf_counter()
messages = problems = 0
with open(sys.argv[1], "rb") as stream:
    for message in iter_messages(stream, "mbox", max_message_bytes={MAX_MESSAGE_BYTES}):
        messages += 1
        problems += message.problem is not None
print(json.dumps({{"messages": messages, "problems": problems, "seconds": time.perf_counter() - started}}))
"""


@dataclass
class Run:
    label: str
    exit_code: int
    seconds: float
    peak_rss_kib: int
    stdout: str
    stderr: str


def run_measured(label: str, argv: list[str], logs: Path) -> Run:
    """`argv` in a child process: wall time and its peak RSS.

    The RSS is GNU time's %M: ru_maxrss of the command as `time` (a small C program) reaps it. ru_maxrss of a
    child reaped here directly would not do: Linux carries the high-water mark of the process that forked over
    exec, so it would never be less than this benchmark's own RSS at the fork.
    """
    stem = label.replace(" ", "_")
    out_path, err_path, rss_path = (logs / f"{stem}.{suffix}" for suffix in ("out", "err", "rss"))
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%M", "-o", str(rss_path), *argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        seconds = time.perf_counter() - started
    return Run(
        label,
        done.returncode,
        seconds,
        int(rss_path.read_text(encoding="ascii").split()[-1]),
        out_path.read_text(encoding="utf-8", errors="replace"),
        err_path.read_text(encoding="utf-8", errors="replace"),
    )


def counts(root: Path) -> dict[str, int]:
    """Rows of arrivals, invoices and stored files in the archive's database (read-only)."""
    database = root / STATE_FOLDER / "fapiao.db"
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return {table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}


def _rate(amount: float, seconds: float) -> str:
    return f"{amount / seconds:,.1f}" if seconds > 0 else "-"


def _import_row(run: Run, mailbox: Mailbox, found: dict[str, int]) -> tuple[str, ...]:
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr.strip()[-200:]
    return (
        run.label,
        str(run.exit_code),
        f"{run.seconds:,.1f}",
        _rate(mailbox.messages, run.seconds),
        _rate(mailbox.bytes / MB, run.seconds),
        f"{run.peak_rss_kib / MIB_KIB:,.0f}",
        " / ".join(f"{found[table]:,}" for table in TABLES),
        summary,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the mbox (10^9 bytes)")
    parser.add_argument("--invoices", type=int, help=f"distinct invoices (default {INVOICES_PER_GB} per GB)")
    parser.add_argument("--jobs", type=int, default=0, help="import --jobs (0: the CPU count, at most 4)")
    parser.add_argument("--out", type=Path, help="work here and keep it (the mbox is reused by the next run)")
    parser.add_argument("--cache", type=Path, help="generated invoice PDFs (default: <out>/pdf-cache)")
    parser.add_argument("--seed", type=int, default=20250801)
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="fapiao-mbox-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    invoices = args.invoices if args.invoices is not None else max(20, round(INVOICES_PER_GB * args.gigabytes))
    options: dict[str, float | int] = {"gigabytes": args.gigabytes, "invoices": invoices, "seed": args.seed}
    try:
        mailbox = mailbox_for(work, options, args.cache or work / "pdf-cache", os.cpu_count() or 1)
        return measure(work, mailbox, args.jobs)
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, mailbox: Mailbox, jobs: int) -> int:
    path = Path(mailbox.path)
    shapes = ", ".join(f"{shape} {count:,}" for shape, count in mailbox.shapes.most_common())
    print(
        f"mbox: {path} {mailbox.bytes / MB:,.1f} MB, {mailbox.messages:,} messages ({shapes}); "
        f"{len(mailbox.numbers):,} distinct invoices; {mailbox.without_message_id:,} messages without a Message-ID; "
        f"written in {mailbox.seconds:,.1f} s"
    )
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    split_run = run_measured("split", [sys.executable, "-c", SPLIT_SCRIPT, str(path)], logs)
    if split_run.exit_code:
        raise SystemExit(f"splitting {path} failed (exit {split_run.exit_code}): {split_run.stderr[-2000:]}")
    split, split_kib = json.loads(split_run.stdout), split_run.peak_rss_kib
    print_table(
        "Splitting alone (ingest.sources.mail_file.iter_messages, one child process)",
        ("messages", "problems", "s", "messages/s", "MB/s", "peak RSS MiB"),
        [
            (
                f"{split['messages']:,.0f}",
                f"{split['problems']:,.0f}",
                f"{split['seconds']:,.1f}",
                _rate(split["messages"], split["seconds"]),
                _rate(mailbox.bytes / MB, split["seconds"]),
                f"{split_kib / MIB_KIB:,.0f}",
            )
        ],
        {0, 1, 2, 3, 4, 5},
    )
    root = work / "archive"
    shutil.rmtree(root, ignore_errors=True)
    config = work / "config.toml"
    config.write_text(f'[archive]\nroot = "{root.as_posix()}"\n[extract]\nocr = false\n', encoding="utf-8")
    rows, found = [], []
    for label in ("import", "import again"):
        argv = [*fapiao_command(), "import", str(path), "--jobs", str(jobs), "--config", str(config)]
        run = run_measured(label, argv, logs)
        if run.exit_code not in (0, 1):  # 1: some files failed, which the counts show
            print(run.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"`fapiao {label}` failed with exit code {run.exit_code}")
        found.append(counts(root))
        rows.append(_import_row(run, mailbox, found[-1]))
    print_table(
        f"fapiao import of the mbox (--jobs {jobs or 'auto'}; RSS: GNU time's %M, the child's largest process)",
        ("run", "exit", "s", "messages/s", "MB/s", "peak RSS MiB", "arrivals / invoices / stored files", "summary"),
        rows,
        {1, 2, 3, 4, 5, 6},
    )
    checks = [
        (
            "the first import archives every distinct invoice",
            found[0]["invoices"] == len(mailbox.numbers),
            f"{found[0]['invoices']:,} invoices, {len(mailbox.numbers):,} distinct numbers in the mailbox",
        ),
        (
            "the second import adds nothing",
            found[1] == found[0],
            " / ".join(f"{table} {found[0][table]:,} -> {found[1][table]:,}" for table in TABLES),
        ),
    ]
    print_table(
        "Checks",
        ("check", "result", "detail"),
        [(name, "PASS" if passed else "FAIL", detail) for name, passed, detail in checks],
        set(),
    )
    return 0 if all(passed for _name, passed, _detail in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
