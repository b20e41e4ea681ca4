"""Watch latency: seconds from a dropped invoice to its arrival under `fapiao run`, and what the idle daemon costs.

Usage: python bench/watch_latency.py [--drops 200] [--polling-drops N] [--settle 2.0] [--poll-seconds 5]
                                     [--idle 60] [--memory-drops 5000] [--burst 100] [--soak 0]
                                     [--keep DIR] [--cache DIR]

Every phase runs the real daemon (`fapiao run`) as a subprocess on a fresh folder made by `fapiao init`,
and drops distinct generated invoices (the tests' generator, tests/invoice_batch.py) into its inbox:
  1. latency: one invoice at a time, written beside the inbox and renamed into it; the time just after
     the rename is compared with the arrival's first_seen in the database. Median, p90 and worst, beside
     the settle time, for the native observer (inotify) and then the polling observer. A short random
     pause before each drop keeps drops out of step with the daemon's tick and the polling interval.
  2. idle CPU: utime+stime of the daemon (/proc/<pid>/stat) over --idle seconds without drops, as a share
     of one core, for each observer.
  3. memory: VmRSS after startup, then every --rss-every (1,000) of --memory-drops invoices dropped in bursts of --burst
     (each burst waited for until it is stored).
  4. soak (--soak N, off by default): N drops in bursts, about 15% byte-identical duplicates under other
     names and 5% junk (text files, broken zips, empty files, non-invoice PDFs, an unfinished .part),
     invoices delivered by rename, by writing in place in chunks, or as a .part renamed when done. Then
     checks: every distinct invoice archived exactly once, the expected outcome for every drop, only the
     expected failures, the daemon alive, `fapiao check` clean, and exit code 0 after SIGTERM.
Latency, CPU and memory are reported, never judged; a failed soak check makes the exit code 1.
The generated invoices are cached (--cache, default inside the work folder) and copied in.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from invoice_batch import batch_spec
from invoice_pdf import invoice_pdf

START_TIMEOUT = 60.0  # seconds for `fapiao run` to say it is running
STOP_TIMEOUT = 60.0  # seconds for the daemon to exit after SIGTERM
ARRIVAL_SLACK = 60.0  # seconds past settle (+ poll) before a single drop counts as lost
DB_POLL = 0.02  # seconds between looks at the database while waiting for one arrival
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
JUNK_KINDS = ("txt", "badzip", "empty", "notice", "part")


class BenchError(Exception):
    """The daemon died, hung or lost a file: the phase cannot go on."""


def say(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


# --- the invoices -------------------------------------------------------------------------------------


class InvoiceCache:
    """Distinct generated invoices, one file each (index i: tests/invoice_batch.batch_spec(i)), drawn once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        return self.folder / f"invoice-{index:05d}.pdf"

    def ensure(self, count: int) -> None:
        missing = [i for i in range(count) if not self.path(i).is_file()]
        if not missing:
            return
        say(f"drawing {len(missing)} invoices into {self.folder} (once; reused with --cache)")
        start = time.perf_counter()
        for done, index in enumerate(missing, start=1):
            temp = self.folder / f".{index:05d}.tmp"
            temp.write_bytes(invoice_pdf(batch_spec(index)))
            temp.replace(self.path(index))
            if done % 1000 == 0:
                say(f"  {done}/{len(missing)} drawn")
        say(f"drew {len(missing)} invoices in {time.perf_counter() - start:.0f} s")

    def data(self, index: int) -> bytes:
        return self.path(index).read_bytes()

    @staticmethod
    def number(index: int) -> str:
        return str(batch_spec(index).number)


def notice_pdf(index: int) -> bytes:
    """A small PDF with text but no invoice in it; distinct bytes per index."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    canvas.drawString(72, 760, f"Minutes of the weekly meeting no. {index}")
    canvas.drawString(72, 740, f"Attendees: {3 + index % 9}. Next meeting in {1 + index % 4} weeks.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- the daemon ---------------------------------------------------------------------------------------


def fapiao_command() -> list[str]:
    script = Path(sys.executable).parent / "fapiao"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ingest.cli"]


def prepare(folder: Path, *, settle: float, polling: bool, poll_seconds: float) -> Path:
    """`fapiao init folder`, then the watch settings of this run added to its [[watch]] table."""
    done = subprocess.run([*fapiao_command(), "init", str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"fapiao init {folder} failed: {done.stderr.strip()}")
    config = folder / "config.toml"
    extra = f"\n# added by bench/watch_latency.py\nsettle_seconds = {settle}\n"
    if polling:
        extra += f"polling = true\npoll_seconds = {poll_seconds}\n"
    with config.open("a", encoding="utf-8") as out:
        out.write(extra)
    (watch,) = tomllib.loads(config.read_text(encoding="utf-8"))["watch"]  # the starter's [[watch]] is last
    assert watch["settle_seconds"] == settle and watch.get("polling", False) == polling, watch
    return config


@dataclass
class Daemon:
    """`fapiao run` on one folder made by `prepare`."""

    folder: Path
    config: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    inbox: Path
    db: sqlite3.Connection | None = None

    @classmethod
    def start(cls, folder: Path, config: Path) -> Daemon:
        log_path = folder / "daemon.log"
        with log_path.open("ab") as log:
            # A session of its own: Ctrl-C on the bench reaches only the bench, which then stops the daemon cleanly.
            process = subprocess.Popen(
                [*fapiao_command(), "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        daemon = cls(folder, config, process, log_path, (folder / "inbox").resolve())
        deadline = time.monotonic() + START_TIMEOUT
        while "INFO running;" not in daemon.log_text():
            daemon.check_alive()
            if time.monotonic() > deadline:
                daemon.kill()
                raise BenchError(f"the daemon did not start within {START_TIMEOUT:.0f} s:\n{daemon.log_tail()}")
            time.sleep(0.05)
        database = folder / "archive" / ".fapiao" / "fapiao.db"
        daemon.db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30, isolation_level=None)
        return daemon

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def source(self) -> str:
        return f"folder:{self.inbox}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"the daemon exited with code {self.process.returncode}:\n{self.log_tail()}")

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        assert self.db is not None
        return self.db.execute(sql, params).fetchall()

    def arrivals(self) -> int:
        ((count,),) = self.query("select count(distinct source_key) from arrivals where source = ?", self.source)
        assert isinstance(count, int)
        return count

    def rss_kib(self) -> int:
        return _status_kib(self.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        return _status_kib(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        """utime + stime of the daemon (all its threads), in seconds."""
        text = Path(f"/proc/{self.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()  # after 'pid (comm) '; field 3 (state) is fields[0]
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took to exit."""
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.process.poll() is not None:
            return self.process.returncode, 0.0
        start = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError(
                f"the daemon did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM:\n{self.log_tail()}"
            ) from None
        return code, time.perf_counter() - start

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise BenchError(f"no {name} in /proc/{pid}/status")


def wait_for_arrivals(daemon: Daemon, count: int, seconds: float, what: str) -> None:
    """Until the folder's arrivals (distinct paths) reach `count`; looked at every 0.1 s."""
    deadline = time.monotonic() + seconds
    while daemon.arrivals() < count:
        daemon.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(
                f"timed out after {seconds:.0f} s waiting for {what} ({daemon.arrivals()} of {count} arrived):\n"
                f"{daemon.log_tail()}"
            )
        time.sleep(0.1)


def first_seen(daemon: Daemon, key: str) -> float | None:
    """The arrival's first_seen (naive UTC text in SQLite) as epoch seconds; None while there is none."""
    rows = daemon.query(
        "select first_seen from arrivals where source = ? and source_key = ? order by first_seen limit 1",
        daemon.source,
        key,
    )
    if not rows:
        return None
    return datetime.fromisoformat(str(rows[0][0])).replace(tzinfo=UTC).timestamp()


def wait_for_arrival(daemon: Daemon, key: str, seconds: float) -> float:
    """first_seen of the arrival of `key`, looked for every DB_POLL seconds (the look is not the measure)."""
    deadline = time.monotonic() + seconds
    while (seen := first_seen(daemon, key)) is None:
        daemon.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"no arrival of {key} within {seconds:.0f} s:\n{daemon.log_tail()}")
        time.sleep(DB_POLL)
    return seen


def rename_in(data: bytes, staging: Path, target: Path) -> float:
    """Written beside the inbox (same filesystem) and renamed into it; time.time() just after the rename."""
    temp = staging / target.name
    temp.write_bytes(data)
    temp.rename(target)
    return time.time()


# --- phases -------------------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    observer: str
    settle: float
    poll: float | None
    latencies: list[float]
    idle_cpu_percent: float | None = None
    idle_cpu_seconds: float = 0.0
    idle_seconds: float = 0.0
    rss_start_kib: int = 0
    rss_end_kib: int = 0
    exit_code: int | None = None
    wall: float = 0.0


def latency_phase(
    work: Path, cache: InvoiceCache, *, polling: bool, drops: int, settle: float, poll_seconds: float, idle: float
) -> LatencyResult:
    started = time.perf_counter()
    observer = "polling" if polling else "native"
    folder = work / f"latency-{observer}"
    config = prepare(folder, settle=settle, polling=polling, poll_seconds=poll_seconds)
    staging = work / f"staging-{observer}"
    staging.mkdir()
    rng = random.Random(11 if polling else 7)
    result = LatencyResult(observer, settle, poll_seconds if polling else None, [])
    daemon = Daemon.start(folder, config)
    try:
        result.rss_start_kib = daemon.rss_kib()
        say(f"{observer}: daemon pid {daemon.pid} running, RSS {result.rss_start_kib / 1024:.0f} MiB; {drops} drops")
        patience = settle + (poll_seconds if polling else 0) + ARRIVAL_SLACK
        for i in range(drops):
            # Out of step with the daemon's 0.1 s tick and, when polling, with its polling interval.
            time.sleep(rng.uniform(0, poll_seconds if polling else 0.2))
            target = daemon.inbox / f"invoice-{i:05d}.pdf"
            dropped = rename_in(cache.data(i), staging, target)
            result.latencies.append(wait_for_arrival(daemon, str(target), patience) - dropped)
            if (i + 1) % 25 == 0 or i + 1 == drops:
                done = result.latencies
                say(f"{observer}: {i + 1}/{drops} dropped, median so far {statistics.median(done):.2f} s")
        if idle > 0:
            time.sleep(2.0)  # let the last arrival's follow-up (index.csv, status file) finish first
            say(f"{observer}: idle for {idle:.0f} s")
            cpu_before, wall_before = daemon.cpu_seconds(), time.perf_counter()
            time.sleep(idle)
            cpu_after, wall_after = daemon.cpu_seconds(), time.perf_counter()
            result.idle_seconds = wall_after - wall_before
            result.idle_cpu_seconds = cpu_after - cpu_before
            result.idle_cpu_percent = 100 * (cpu_after - cpu_before) / result.idle_seconds
            say(f"{observer}: idle CPU {result.idle_cpu_percent:.2f}% of one core")
        result.rss_end_kib = daemon.rss_kib()
        result.exit_code, _ = daemon.stop()
    finally:
        daemon.kill()
    result.wall = time.perf_counter() - started
    return result


@dataclass
class MemoryResult:
    drops: int
    rss_start_kib: int
    samples: list[tuple[int, int, float]]  # (drops so far, VmRSS KiB, files per second since the last sample)
    peak_kib: int = 0
    invoices: int = 0
    exit_code: int | None = None
    wall: float = 0.0


def memory_phase(
    work: Path, cache: InvoiceCache, *, drops: int, burst: int, settle: float, rss_every: int
) -> MemoryResult:
    started = time.perf_counter()
    folder = work / "memory"
    config = prepare(folder, settle=settle, polling=False, poll_seconds=5.0)
    staging = work / "staging-memory"
    staging.mkdir()
    daemon = Daemon.start(folder, config)
    try:
        result = MemoryResult(drops, daemon.rss_kib(), [])
        say(f"memory: daemon pid {daemon.pid} running, RSS {result.rss_start_kib / 1024:.0f} MiB; {drops} drops")
        last_count, last_time = 0, time.perf_counter()
        for start in range(0, drops, burst):
            end = min(start + burst, drops)
            for i in range(start, end):
                rename_in(cache.data(i), staging, daemon.inbox / f"invoice-{i:05d}.pdf")
            wait_for_arrivals(
                daemon, end, settle + ARRIVAL_SLACK + 2.0 * (end - start), f"drops {start}..{end - 1} to be stored"
            )
            if end // rss_every > start // rss_every or end == drops:
                now = time.perf_counter()
                rate = (end - last_count) / (now - last_time)
                result.samples.append((end, daemon.rss_kib(), rate))
                say(f"memory: {end} stored, RSS {result.samples[-1][1] / 1024:.0f} MiB, {rate:.1f} files/s")
                last_count, last_time = end, now
        ((invoices,),) = daemon.query("select count(*) from invoices")
        result.invoices = int(str(invoices))
        result.peak_kib = daemon.peak_rss_kib()
        result.exit_code, _ = daemon.stop()
    finally:
        daemon.kill()
    result.wall = time.perf_counter() - started
    return result


@dataclass(frozen=True)
class Drop:
    name: str  # the file's name in the inbox
    kind: str  # 'invoice' (first of its bytes), 'duplicate' (same bytes again), or one of JUNK_KINDS
    index: int = -1  # the cached invoice (invoice, duplicate)
    how: str = "rename"  # 'rename' (from beside the inbox), 'write' (in place, in chunks), 'part' (.part, renamed)


def plan_soak(total: int, rng: random.Random, *, duplicates: float, junk: float) -> list[Drop]:
    plan: list[Drop] = []
    distinct = 0
    for k in range(total):
        roll = rng.random()
        if roll < junk:
            kind = JUNK_KINDS[k % len(JUNK_KINDS)]
            suffix = {"txt": ".txt", "badzip": ".zip", "part": ".pdf.part"}.get(kind, ".pdf")
            plan.append(Drop(f"junk-{k:05d}{suffix}", kind, how="write"))
        elif roll < junk + duplicates and distinct:
            # Mostly an invoice from a while ago; a fifth from the same burst (taken in the same tick as its twin).
            low = max(0, distinct - 50) if rng.random() < 0.2 else 0
            plan.append(Drop(f"copy-{k:05d}.pdf", "duplicate", rng.randrange(low, distinct)))
        else:
            how = rng.choices(("rename", "write", "part"), weights=(8, 1, 1))[0]
            plan.append(Drop(f"invoice-{distinct:05d}.pdf", "invoice", distinct, how))
            distinct += 1
    return plan


def junk_data(drop: Drop, cache: InvoiceCache, k: int) -> bytes:
    if drop.kind == "txt":
        return f"备忘 {k}: 发票请放到收件箱\n".encode() * (1 + k % 5)
    if drop.kind == "badzip":  # alternately garbage after a zip signature, and a real zip cut short
        if k % 2:
            return b"PK\x03\x04" + random.Random(k).randbytes(300)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("发票.pdf", cache.data(k % 100))
        return buffer.getvalue()[: buffer.tell() // 2]
    if drop.kind == "empty":
        return b""
    if drop.kind == "notice":
        return notice_pdf(k)
    if drop.kind == "part":  # a download that never finished: half an invoice
        data = cache.data(k % 100)
        return data[: len(data) // 2]
    raise ValueError(drop.kind)


def deliver(drop: Drop, data: bytes, inbox: Path, staging: Path) -> None:
    target = inbox / drop.name
    if drop.how == "rename":
        rename_in(data, staging, target)
    elif drop.how == "write":
        with target.open("wb") as out:
            for offset in range(0, max(len(data), 1), 8192):
                out.write(data[offset : offset + 8192])
                out.flush()
    else:  # like a browser: the download is written under .part, and renamed when done
        part = target.with_name(target.name + ".part")
        part.write_bytes(data)
        part.rename(target)


@dataclass
class SoakResult:
    drops: int
    composition: Counter[str]
    distinct: int
    rss_start_kib: int = 0
    samples: list[tuple[int, int, float]] = field(default_factory=list)
    peak_kib: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, passed, detail)
    exit_code: int | None = None
    wall: float = 0.0

    def check(self, what: str, passed: bool, detail: str = "") -> None:
        self.checks.append((what, passed, detail))
        say(f"soak check: {'ok  ' if passed else 'FAIL'} {what}{f' ({detail})' if detail else ''}")

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(passed for _, passed, _ in self.checks)


def soak_phase(
    work: Path, cache: InvoiceCache, plan: list[Drop], *, burst: int, settle: float, rss_every: int
) -> SoakResult:
    started = time.perf_counter()
    folder = work / "soak"
    config = prepare(folder, settle=settle, polling=False, poll_seconds=5.0)
    staging = work / "staging-soak"
    staging.mkdir()
    distinct = sum(1 for d in plan if d.kind == "invoice")
    result = SoakResult(len(plan), Counter(d.kind for d in plan), distinct)
    daemon = Daemon.start(folder, config)
    try:
        result.rss_start_kib = daemon.rss_kib()
        say(
            f"soak: daemon pid {daemon.pid}, RSS {result.rss_start_kib / 1024:.0f} MiB; {len(plan)} drops "
            f"({', '.join(f'{n} {k}' for k, n in sorted(result.composition.items()))})"
        )
        expected, last_count, last_time = 0, 0, time.perf_counter()
        try:
            for start in range(0, len(plan), burst):
                end = min(start + burst, len(plan))
                for k in range(start, end):
                    drop = plan[k]
                    data = cache.data(drop.index) if drop.index >= 0 else junk_data(drop, cache, k)
                    deliver(drop, data, daemon.inbox, staging)
                    expected += drop.kind != "part"  # an unfinished download is never taken
                wait_for_arrivals(
                    daemon, expected, settle + ARRIVAL_SLACK + 2.0 * (end - start), f"soak drops {start}..{end - 1}"
                )
                if end // rss_every > start // rss_every or end == len(plan):
                    now = time.perf_counter()
                    rate = (end - last_count) / (now - last_time)
                    result.samples.append((end, daemon.rss_kib(), rate))
                    say(f"soak: {end} dropped, RSS {result.samples[-1][1] / 1024:.0f} MiB, {rate:.1f} files/s")
                    last_count, last_time = end, now
        except BenchError as exc:
            result.check("every drop arrived", False, str(exc).splitlines()[0])
            say(str(exc))
        verify_soak(daemon, plan, cache, result)
        result.peak_kib = daemon.peak_rss_kib() if daemon.process.poll() is None else 0
        code, seconds = daemon.stop()
        result.exit_code = code
        result.check("exit code 0 after SIGTERM", code == 0, f"code {code}, stopped in {seconds:.1f} s")
        done = subprocess.run(
            [*fapiao_command(), "check", "--config", str(config)], capture_output=True, text=True, check=False
        )
        result.check("`fapiao check` exits 0 after the stop", done.returncode == 0, _last_line(done))
    finally:
        daemon.kill()
    result.wall = time.perf_counter() - started
    return result


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stdout + done.stderr).strip().splitlines()
    return f"exit {done.returncode}: {lines[-1] if lines else ''}"


def verify_soak(daemon: Daemon, plan: list[Drop], cache: InvoiceCache, result: SoakResult) -> None:
    alive = daemon.process.poll() is None
    result.check("daemon alive after the drops", alive, f"pid {daemon.pid}" if alive else daemon.log_tail(5))
    if not alive:
        return
    # Failed junk is retried in the background; the rows (one per path) are there from the first try.
    rows = daemon.query("select source_key, sha256, outcome from arrivals where source = ?", daemon.source)
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, _sha, outcome in rows:
        by_key[str(key)].append(str(outcome))
    result.outcomes = Counter(str(outcome) for _, _, outcome in rows)
    planned = {str(daemon.inbox / d.name): d for d in plan}
    stray = sorted(set(by_key) - set(planned))
    result.check("no arrival for a path that was not dropped", not stray, ", ".join(stray[:3]))
    doubled = sorted(k for k, outcomes in by_key.items() if len(outcomes) > 1)
    result.check("one arrival row per dropped path", not doubled, ", ".join(doubled[:3]))

    want = {"txt": "skipped", "badzip": "failed", "empty": "failed", "notice": "unrecognized"}
    wrong: list[str] = []
    copies: dict[int, list[str]] = defaultdict(list)
    for key, drop in planned.items():
        got = by_key.get(key, [])
        if drop.kind == "part":
            if got:
                wrong.append(f"{drop.name}: {got} (an unfinished .part must not be taken)")
        elif drop.kind in want:
            if got != [want[drop.kind]]:
                wrong.append(f"{drop.name}: {got or 'no arrival'}, expected {want[drop.kind]}")
        else:
            copies[drop.index].extend(got or ["missing"])
    for index, outcomes in copies.items():
        seen = Counter(outcomes)
        stored = seen["archived"] + seen["review"]
        if stored != 1 or seen["duplicate"] != len(outcomes) - 1:
            wrong.append(f"invoice {index}: {dict(seen)} (expected one archived, the rest duplicate)")
    result.check(
        "every drop has its expected outcome", not wrong, "; ".join(wrong[:3]) + (" …" if len(wrong) > 3 else "")
    )
    reviewed = sum(Counter(o)["review"] for o in copies.values())
    result.check("no invoice filed for review", reviewed == 0, f"{reviewed} under _review/" if reviewed else "")

    expected_failed = {k for k, d in planned.items() if d.kind in ("badzip", "empty")}
    failed = {k for k, outcomes in by_key.items() if "failed" in outcomes}
    result.check(
        "failed only for broken zips and empty files",
        failed == expected_failed,
        f"{len(failed)} failed, {len(expected_failed)} expected; unexpected: {sorted(failed - expected_failed)[:3]}",
    )
    ((invoices,),) = daemon.query("select count(*) from invoices")
    result.check(
        "invoices table count == distinct invoices dropped",
        invoices == result.distinct,
        f"{invoices} rows, {result.distinct} dropped",
    )
    numbers = {str(n) for (n,) in daemon.query("select invoice_number from invoices")}
    expected_numbers = {cache.number(d.index) for d in plan if d.kind == "invoice"}
    result.check(
        "invoice numbers == the numbers dropped",
        numbers == expected_numbers,
        f"missing {len(expected_numbers - numbers)}, extra {len(numbers - expected_numbers)}",
    )
    roles = Counter(
        {str(role): int(str(n)) for role, n in daemon.query("select role, count(*) from stored_files group by role")}
    )
    notices = result.composition["notice"]
    result.check(
        "stored_files: primary == distinct invoices, unrecognized == notices, nothing else",
        roles == Counter({"primary": result.distinct, "unrecognized": notices}),
        f"{dict(roles)}; expected primary {result.distinct}, unrecognized {notices}",
    )
    done = subprocess.run(
        [*fapiao_command(), "check", "--config", str(daemon.config)], capture_output=True, text=True, check=False
    )
    result.check("`fapiao check` exits 0 (daemon running)", done.returncode == 0, _last_line(done))


# --- report -------------------------------------------------------------------------------------------


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def report(
    console: Console,
    latencies: Iterable[LatencyResult],
    memory: MemoryResult | None,
    soak: SoakResult | None,
) -> None:
    latencies = list(latencies)
    if latencies:
        table = Table(title="Latency: drop (rename into the inbox) -> arrival row (first_seen)")
        for column in ("observer", "drops", "settle", "poll", "median", "p90", "worst", "best", "median - settle"):
            table.add_column(column, justify="right")
        for r in latencies:
            values = r.latencies
            table.add_row(
                r.observer,
                str(len(values)),
                f"{r.settle:.1f} s",
                f"{r.poll:.1f} s" if r.poll is not None else "-",
                f"{statistics.median(values):.2f} s",
                f"{_p90(values):.2f} s",
                f"{max(values):.2f} s",
                f"{min(values):.2f} s",
                f"{statistics.median(values) - r.settle:+.2f} s",
            )
        console.print(table)
        table = Table(title="Daemon cost")
        for column in (
            "observer",
            "idle CPU (% of one core)",
            "CPU time / idle window",
            "RSS at start",
            "RSS at end",
            "exit",
        ):
            table.add_column(column, justify="right")
        for r in latencies:
            table.add_row(
                r.observer,
                f"{r.idle_cpu_percent:.2f}%" if r.idle_cpu_percent is not None else "-",
                f"{r.idle_cpu_seconds:.2f} s / {r.idle_seconds:.0f} s",
                _mib(r.rss_start_kib),
                f"{_mib(r.rss_end_kib)} (after {len(r.latencies)} drops)",
                str(r.exit_code),
            )
        console.print(table)
    for title, result in (("Memory", memory), ("Soak", soak)):
        if result is None:
            continue
        table = Table(title=f"{title}: VmRSS of the daemon (native observer)")
        for column in ("drops", "VmRSS", "files/s since the line before (bursts, settle included)"):
            table.add_column(column, justify="right")
        table.add_row("0 (after startup)", _mib(result.rss_start_kib), "")
        for drops, rss, rate in result.samples:
            table.add_row(str(drops), _mib(rss), f"{rate:.1f}")
        console.print(table)
        if result.samples:
            first, last = result.samples[0][1], result.samples[-1][1]
            console.print(
                f"{title}: RSS at {result.samples[0][0]} drops {_mib(first)}, at {result.samples[-1][0]} "
                f"{_mib(last)} ({(last - first) / 1024:+.1f} MiB); peak (VmHWM) {_mib(result.peak_kib)}; "
                f"exit code {result.exit_code}; {result.wall:.0f} s"
            )
    if memory is not None:
        console.print(f"Memory: invoices stored {memory.invoices} of {memory.drops} dropped")
    if soak is not None:
        console.print(
            f"Soak: {soak.drops} drops ({', '.join(f'{n} {k}' for k, n in sorted(soak.composition.items()))}), "
            f"{soak.distinct} distinct invoices; arrivals by outcome: {dict(sorted(soak.outcomes.items()))}"
        )
        table = Table(title="Soak checks")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for what, passed, detail in soak.checks:
            table.add_row(what, "[green]ok[/]" if passed else "[red]FAIL[/]", detail)
        console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=200, help="latency drops with the native observer")
    parser.add_argument(
        "--polling-drops", type=int, help="latency drops with the polling observer (default: a quarter of --drops)"
    )
    parser.add_argument("--settle", type=float, default=2.0, help="settle_seconds of the watched folder")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="poll_seconds of the polling observer")
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds for the CPU measure (0: skip)")
    parser.add_argument("--memory-drops", type=int, default=5000, help="drops of the memory phase (0: skip)")
    parser.add_argument("--burst", type=int, default=100, help="drops per burst in the memory and soak phases")
    parser.add_argument("--rss-every", type=int, default=1000, help="drops between RSS samples (memory, soak)")
    parser.add_argument("--soak", type=int, default=0, help="drops of the soak (0: no soak)")
    parser.add_argument("--duplicates", type=float, default=0.15, help="share of soak drops that are duplicates")
    parser.add_argument("--junk", type=float, default=0.05, help="share of soak drops that are junk")
    parser.add_argument("--seed", type=int, default=20250729)
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    parser.add_argument(
        "--cache", type=Path, help="folder of generated invoices to reuse (default: in the work folder)"
    )
    args = parser.parse_args()
    polling_drops = args.drops // 4 if args.polling_drops is None else args.polling_drops
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    work = (args.keep or Path(tempfile.mkdtemp(prefix="fapiao-watch-"))).resolve()
    console = Console(width=max(140, shutil.get_terminal_size().columns))
    started = time.perf_counter()
    say(f"bench/watch_latency.py {' '.join(sys.argv[1:])}; work folder {work}; daemon: {' '.join(fapiao_command())}")
    plan = plan_soak(args.soak, random.Random(args.seed), duplicates=args.duplicates, junk=args.junk)
    needed = max(args.drops, polling_drops, args.memory_drops, sum(d.kind == "invoice" for d in plan), 100)
    latencies: list[LatencyResult] = []
    memory: MemoryResult | None = None
    soak: SoakResult | None = None
    try:
        cache = InvoiceCache((args.cache or work / "cache").resolve())
        cache.ensure(needed)
        for polling, drops in ((False, args.drops), (True, polling_drops)):
            if drops > 0:
                latencies.append(
                    latency_phase(
                        work,
                        cache,
                        polling=polling,
                        drops=drops,
                        settle=args.settle,
                        poll_seconds=args.poll_seconds,
                        idle=args.idle,
                    )
                )
        if args.memory_drops > 0:
            memory = memory_phase(
                work, cache, drops=args.memory_drops, burst=args.burst, settle=args.settle, rss_every=args.rss_every
            )
        if plan:
            soak = soak_phase(work, cache, plan, burst=args.burst, settle=args.settle, rss_every=args.rss_every)
    except BenchError as exc:
        console.print(f"[red]bench stopped:[/] {exc}")
        report(console, latencies, memory, soak)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report(console, latencies, memory, soak)
    console.print(f"wall time: {time.perf_counter() - started:.0f} s")
    if soak is not None and not soak.passed:
        console.print("[red]soak: some checks failed[/]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
