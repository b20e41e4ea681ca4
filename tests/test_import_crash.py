"""Crash safety of `fapiao import`: SIGKILL at many points, then a rerun files every invoice exactly once.

Each kill is checked at once against what must hold even mid-crash (every 'placed' row's file is there
with its bytes, no file in the tree without a row, no second file for an invoice); each series of kills
ends with an import that is not killed, after which the archive must be exactly what one uninterrupted
import makes: every invoice once in the tree and the database, no temp file left, `fapiao check` clean.

The kills are spread over a few series, each on a fresh archive, so that every series has kills early in
the import (while invoices are being placed) and late (recovery, duplicates, index.csv). Kill timing is random
(seeded); what is asserted about the archive never depends on it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

import pytest
from invoice_batch import Batch, write_batch, write_zip_batch
from invoice_pdf import invoice_pdf, sample_spec

from storage.atomic import TEMP_PREFIX

KILL_RUNS = int(os.environ.get("FAPIAO_CRASH_RUNS", "50"))  # more for a longer soak
SERIES = 4  # fresh archives the kills are spread over
JOBS_2_SHARE = 0.2  # the share of runs with two extraction processes
ZIP_KILLS = 5
# A kill lands at most this share of a whole import's work into a run, so that a series' kills are spread over
# the whole import instead of halving what is left each time (and then only hitting finished imports).
REACH = 0.25
SEED = 20250729
ENV = {"COLUMNS": "160", "PATH": "/usr/bin:/bin"}
STATE_FOLDER = ".fapiao"
INDEX_NAME = "index.csv"


# --- running the command ---------------------------------------------------------------------------------


def write_config(folder: Path, root: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{root.name}.toml"
    # The generated invoices have a text layer: OCR is never needed, and its absence must not matter.
    config.write_text(f'[archive]\nroot = "{root.as_posix()}"\n\n[extract]\nocr = false\n', encoding="utf-8")
    return config


def import_command(config: Path, source: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "ingest.cli", "import", str(source), "--jobs", str(jobs), "--config", str(config)]


def fapiao(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=config.parent,
        timeout=600,
        check=False,
        env=ENV,
    )


@dataclass
class Run:
    """One import that a SIGKILL was aimed at, for the messages when something is wrong."""

    series: int
    number: int
    jobs: int
    delay: float
    files_before: int
    killed: bool = False
    returncode: int | None = None
    output: str = ""

    def __str__(self) -> str:
        how = "killed" if self.killed else f"finished by itself (exit {self.returncode})"
        return (
            f"series {self.series} run {self.number}: --jobs {self.jobs}, SIGKILL after {self.delay:.2f}s, "
            f"{self.files_before} files in the tree before, {how}"
        )


def kill_after(command: list[str], *, cwd: Path, delay: float, log: Path) -> tuple[bool, int]:
    """Start `command` in its own process group and SIGKILL the whole group (worker processes too) after
    `delay` seconds; (killed, exit code). A run that finished before the delay is not killed."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return False, proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
            _wait_until_gone(proc.pid)
            # It may have finished just before the signal came.
            return returncode == -signal.SIGKILL, returncode


def _wait_until_gone(group: int) -> None:
    """Until no process of the killed group is left (SIGKILL is delivered, but reaping takes a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"processes of the killed group {group} are still running")


# --- reading the archive -----------------------------------------------------------------------------------


@dataclass
class Tree:
    files: set[str] = field(default_factory=set)  # relative, '/'-separated; not .fapiao/, index.csv or temp files
    temps: list[str] = field(default_factory=list)  # temp files anywhere under the root, .fapiao/ included


def read_tree(root: Path) -> Tree:
    tree = Tree()
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        here = Path(folder)
        for name in sorted(names):
            relative = (here / name).relative_to(root).as_posix()
            if name.startswith(TEMP_PREFIX):
                tree.temps.append(relative)
            elif relative != INDEX_NAME and not relative.startswith(f"{STATE_FOLDER}/"):
                tree.files.add(relative)
    return tree


@dataclass(frozen=True)
class StoredRow:
    invoice_id: int | None
    role: str
    path: str
    state: str
    sha256: str
    size: int
    temp_name: str | None


@dataclass
class Database:
    exists: bool = False  # False: no database yet, or its tables were never created
    invoices: dict[int, str] = field(default_factory=dict)  # id -> invoice number
    invoice_numbers: list[str] = field(default_factory=list)
    stored: list[StoredRow] = field(default_factory=list)
    arrivals: list[tuple[str, str, str, str]] = field(default_factory=list)  # source, source key, sha256, outcome


def read_database(root: Path) -> Database:
    path = root / STATE_FOLDER / "fapiao.db"
    if not path.is_file():
        return Database()
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"invoices", "stored_files", "arrivals"} <= tables:
            return Database()
        db = Database(exists=True)
        for invoice_id, number in connection.execute("SELECT id, invoice_number FROM invoices"):
            db.invoices[invoice_id] = number
            db.invoice_numbers.append(number)
        db.stored = [
            StoredRow(*row)
            for row in connection.execute(
                "SELECT invoice_id, role, path, state, sha256, size, temp_name FROM stored_files ORDER BY id"
            )
        ]
        db.arrivals = list(connection.execute("SELECT source, source_key, sha256, outcome FROM arrivals"))
        return db
    finally:
        connection.close()


def read_index(root: Path) -> list[list[str]]:
    """index.csv's rows, header first (the file is UTF-8 with a BOM, for Excel)."""
    data = (root / INDEX_NAME).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "index.csv must start with a UTF-8 BOM"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows, "index.csv has no header row"
    return rows


def file_sha256(path: Path) -> str:
    return sha256(path.read_bytes()).hexdigest()


# --- what must hold ----------------------------------------------------------------------------------------


def assert_consistent_mid_crash(root: Path, batch: Batch, context: str) -> int:
    """What must hold right after a kill, before any recovery: every 'placed' file is in the tree with its
    bytes; every file in the tree has a row (placing or placed); at most one file per invoice, each of that
    invoice's bytes. Pending placements and temp files are allowed here. Returns the files in the tree."""
    tree, db = read_tree(root), read_database(root)
    if not db.exists:
        assert not tree.files, f"{context}: files in the tree but no database tables: {sorted(tree.files)[:5]}"
        return 0
    by_path = {row.path: row for row in db.stored}
    assert len(by_path) == len(db.stored), f"{context}: two stored_files rows with one path"
    strays = sorted(tree.files - by_path.keys())
    assert not strays, f"{context}: files in the tree without a database row: {strays[:10]}"
    for row in db.stored:
        assert row.state in ("placing", "placed"), f"{context}: {row.path} has state {row.state!r}"
        if row.state == "placed":
            assert row.path in tree.files, f"{context}: {row.path} is 'placed' but not in the tree"
            assert file_sha256(root / row.path) == row.sha256, f"{context}: {row.path} holds other bytes"
    twice = [number for number, count in Counter(db.invoice_numbers).items() if count > 1]
    assert not twice, f"{context}: invoice numbers with two rows: {twice}"
    _assert_one_primary_each(db, batch, context)
    return len(tree.files)


def _assert_one_primary_each(db: Database, batch: Batch, context: str) -> None:
    roles = Counter(row.role for row in db.stored)
    assert set(roles) <= {"primary"}, f"{context}: only primary files expected, found {dict(roles)}"
    owners = Counter(row.invoice_id for row in db.stored)
    twice = [db.invoices.get(i or 0) for i, count in owners.items() if count > 1]
    assert not twice, f"{context}: invoices with more than one stored file: {twice}"
    for row in db.stored:
        number = db.invoices.get(row.invoice_id or 0)
        assert number in batch.renderings, f"{context}: {row.path} belongs to no generated invoice ({number})"
        assert row.sha256 in batch.renderings[number], f"{context}: {row.path} holds bytes of another invoice"


def assert_archive_complete(
    root: Path, batch: Batch, context: str, *, reference: tuple[set[str], list[list[str]]] | None = None
) -> None:
    """The end state: every generated invoice exactly once in the database, the tree and index.csv; every file
    that came in accounted for once; nothing pending, no temp file; the same as an uninterrupted import."""
    tree, db = read_tree(root), read_database(root)
    distinct = len(batch.numbers)
    assert db.exists, f"{context}: no database"
    # The database: one invoice row per invoice number, one primary file each, all placed, bytes as on disk.
    assert Counter(db.invoice_numbers) == Counter(batch.numbers), (
        f"{context}: invoice rows differ from the generated invoices: "
        f"missing {sorted(batch.numbers - set(db.invoice_numbers))[:5]}, "
        f"twice {[n for n, c in Counter(db.invoice_numbers).items() if c > 1][:5]}, "
        f"unexpected {sorted(set(db.invoice_numbers) - batch.numbers)[:5]}"
    )
    assert len(db.stored) == distinct, f"{context}: {len(db.stored)} stored files for {distinct} invoices"
    _assert_one_primary_each(db, batch, context)
    assert {row.invoice_id for row in db.stored} == set(db.invoices), f"{context}: an invoice without its file"
    pending = [row.path for row in db.stored if row.state != "placed" or row.temp_name is not None]
    assert not pending, f"{context}: placements not finished: {pending[:10]}"
    for row in db.stored:
        path = root / row.path
        assert path.is_file(), f"{context}: {row.path} is in the database but not in the tree"
        assert path.stat().st_size == row.size, f"{context}: {row.path} has another size than its row says"
        assert file_sha256(path) == row.sha256, f"{context}: {row.path} holds other bytes than its row says"
    # The tree: exactly those files, no ' (2)' twin, no temp file anywhere.
    assert not tree.temps, f"{context}: temp files left: {tree.temps}"
    twins = sorted(p for p in tree.files if " (" in p.rsplit("/", 1)[-1])
    assert not twins, f"{context}: clash-suffixed second copies in the tree: {twins[:10]}"
    assert tree.files == {row.path for row in db.stored}, (
        f"{context}: tree and database differ: only in the tree {sorted(tree.files - {r.path for r in db.stored})[:5]}"
        f", only in the database {sorted({r.path for r in db.stored} - tree.files)[:5]}"
    )
    # Every file that came in (loose or in a zip) has one arrival: archived once per invoice, else duplicate.
    keys = Counter(key for _source, key, _sha, _outcome in db.arrivals)
    assert set(keys) == batch.source_keys, (
        f"{context}: arrivals differ from the files imported: missing {sorted(batch.source_keys - set(keys))[:5]}, "
        f"unexpected {sorted(set(keys) - batch.source_keys)[:5]}"
    )
    assert max(keys.values()) == 1, f"{context}: files with two arrivals: {[k for k, c in keys.items() if c > 1][:5]}"
    outcomes = Counter(outcome for _source, _key, _sha, outcome in db.arrivals)
    assert outcomes == Counter({"archived": distinct, "duplicate": batch.duplicates}), f"{context}: {dict(outcomes)}"
    # index.csv: one row per invoice, each pointing at its file.
    header, *rows = read_index(root)
    number_column, file_column = header.index("发票号码"), header.index("文件")
    assert Counter(row[number_column] for row in rows) == Counter(batch.numbers), f"{context}: index.csv rows"
    assert {row[file_column] for row in rows} == tree.files, f"{context}: index.csv points at other files"
    if reference is not None:
        reference_files, reference_index = reference
        assert tree.files == reference_files, (
            f"{context}: other names than an uninterrupted import gives: {sorted(tree.files ^ reference_files)[:10]}"
        )
        assert [header, *rows] == reference_index, f"{context}: index.csv differs from an uninterrupted import's"


def assert_import_and_check_clean(config: Path, source: Path, context: str) -> None:
    """The rerun after the kills: it must succeed (exit 0: no file failed), and `fapiao check` must then be clean."""
    completed = fapiao(config, "import", str(source), "--jobs", "1")
    output, returncode = completed.stdout + completed.stderr, completed.returncode
    assert returncode == 0, f"{context}: the rerun failed:\n{_head(output)}"
    check = fapiao(config, "check")
    assert check.returncode == 0, f"{context}: fapiao check is not clean:\n{check.stdout}{check.stderr}"
    assert "check: database and tree agree" in check.stdout, check.stdout


def _head(text: str, lines: int = 6) -> str:
    """The first lines of a command's output (a database error quotes a whole CREATE TABLE after them)."""
    return "\n".join(text.splitlines()[:lines])


# --- fixtures ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    full: float  # seconds for an uninterrupted import of the batch into an empty archive
    rerun: float  # seconds for the same import again, when everything is already there
    per_invoice: float  # what filing one new invoice adds to the rerun's time
    files: set[str]  # the tree that import made
    index: list[list[str]]  # its index.csv


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return write_batch(tmp_path_factory.mktemp("inbox"), distinct=200)


@pytest.fixture(scope="module")
def calibration(batch: Batch, tmp_path_factory: pytest.TempPathFactory) -> Calibration:
    """One uninterrupted import on its own archive: how long it takes (for the kill delays) and what it makes."""
    work = tmp_path_factory.mktemp("reference")
    root = work / "archive"
    config = write_config(work, root)
    started = time.monotonic()
    completed = fapiao(config, "import", str(batch.root), "--jobs", "1")
    full = time.monotonic() - started
    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = f"import: {len(batch.numbers)} archived, {batch.duplicates} duplicates"
    assert summary in completed.stdout, completed.stdout
    started = time.monotonic()
    completed = fapiao(config, "import", str(batch.root), "--jobs", "1")
    rerun = time.monotonic() - started
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"import: {len(batch.source_keys)} duplicates" in completed.stdout, completed.stdout
    assert fapiao(config, "check").returncode == 0
    assert_archive_complete(root, batch, "uninterrupted import")
    per_invoice = max(full - rerun, 0.1) / len(batch.numbers)
    return Calibration(full, rerun, per_invoice, files=read_tree(root).files, index=read_index(root))


# --- the tests ------------------------------------------------------------------------------------------------


def _kill_series(
    *,
    rng: random.Random,
    series: int,
    kills: int,
    root: Path,
    config: Path,
    source: Path,
    batch: Batch,
    timing: Calibration,
    jobs_2_share: float,
) -> list[Run]:
    """`kills` imports into one archive, each SIGKILLed at a random moment: from 50 ms (starting up) to a
    while into the invoices still to file (the files already there only cost a hash each run)."""
    distinct = len(batch.numbers)
    history: list[Run] = []
    files = 0
    for number in range(1, kills + 1):
        to_file = min(distinct - files, distinct * REACH)
        longest = timing.rerun + timing.per_invoice * to_file
        run = Run(
            series=series,
            number=number,
            jobs=2 if rng.random() < jobs_2_share else 1,
            delay=rng.uniform(0.05, max(longest, 0.1)),
            files_before=files,
        )
        log = config.parent / f"series-{series}-run-{number}.log"
        run.killed, run.returncode = kill_after(
            import_command(config, source, run.jobs), cwd=config.parent, delay=run.delay, log=log
        )
        run.output = log.read_text(encoding="utf-8", errors="replace")
        history.append(run)
        if not run.killed:
            assert run.returncode == 0, f"{run}: an import that was not killed failed:\n{run.output}"
        files = assert_consistent_mid_crash(root, batch, str(run))
    return history


def test_sigkill_at_random_points_then_rerun_files_every_invoice_once(
    batch: Batch, calibration: Calibration, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rng = random.Random(SEED)
    work = tmp_path_factory.mktemp("crashes")
    per_series = math.ceil(KILL_RUNS / SERIES)
    history: list[Run] = []
    for series in range(1, SERIES + 1):
        kills = min(per_series, KILL_RUNS - len(history))
        if kills <= 0:
            break
        root = work / f"archive-{series}"
        config = write_config(work, root)
        history += _kill_series(
            rng=rng,
            series=series,
            kills=kills,
            root=root,
            config=config,
            source=batch.root,
            batch=batch,
            timing=calibration,
            jobs_2_share=JOBS_2_SHARE,
        )
        context = f"series {series}, after its kills:\n" + "\n".join(map(str, history[-kills:]))
        assert_import_and_check_clean(config, batch.root, context)
        assert_archive_complete(root, batch, context, reference=(calibration.files, calibration.index))
    assert len(history) == KILL_RUNS
    at_work = [run for run in history if run.killed and run.files_before < len(batch.numbers)]
    print(  # shown with pytest -s: where the kills landed
        f"{KILL_RUNS} runs: {sum(run.killed for run in history)} killed, {len(at_work)} of them before the last "
        f"invoice was filed, {sum(run.jobs == 2 for run in history)} with --jobs 2; "
        f"uninterrupted import {calibration.full:.1f}s, rerun {calibration.rerun:.1f}s"
    )
    # The kills must have hit imports at work, not only finished ones (else this tested nothing).
    assert len(at_work) >= min(SERIES, KILL_RUNS)


def test_sigkill_during_one_large_zip_then_rerun_files_every_invoice_once(
    calibration: Calibration, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("zip-crashes")
    zipped = write_zip_batch(work / "inbox" / "全部发票.zip", distinct=100)
    root = work / "archive"
    config = write_config(work, root)
    # The timing of the big batch: a zip member costs about what a loose file does.
    history = _kill_series(
        rng=random.Random(SEED + 1),
        series=1,
        kills=ZIP_KILLS,
        root=root,
        config=config,
        source=zipped.root / "全部发票.zip",
        batch=zipped,
        timing=calibration,
        jobs_2_share=0.0,  # one file: the import extracts inline whatever --jobs says
    )
    context = "zip, after its kills:\n" + "\n".join(map(str, history))
    assert_import_and_check_clean(config, zipped.root / "全部发票.zip", context)
    assert_archive_complete(root, zipped, context)


@pytest.mark.parametrize(
    "offset", [0.0, 0.002, 0.004, 0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06]
)
def test_sigkill_while_the_first_import_creates_the_database(tmp_path: Path, offset: float) -> None:
    """A kill while the very first run sets the database up (a moment random delays rarely hit): the next run
    must still open the database and import."""
    source = tmp_path / "inbox"
    source.mkdir()
    spec = sample_spec("数电普票")
    (source / "发票.pdf").write_bytes(invoice_pdf(spec))
    root = tmp_path / "archive"
    config = write_config(tmp_path, root)
    database = root / STATE_FOLDER / "fapiao.db"
    with (tmp_path / "first.log").open("wb") as log:
        proc = subprocess.Popen(
            import_command(config, source, 1),
            cwd=tmp_path,
            env=ENV,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not database.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(offset)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_until_gone(proc.pid)
    context = f"killed {offset * 1000:.0f} ms after the database file appeared"
    assert_import_and_check_clean(config, source, context)
    db = read_database(root)
    assert db.invoice_numbers == [spec.number], f"{context}: {db.invoice_numbers}"
    assert [row.state for row in db.stored] == ["placed"], f"{context}: {db.stored}"
    assert read_tree(root).files == {row.path for row in db.stored}
