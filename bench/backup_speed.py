"""Backup speed: what snapshots of a 10,000-invoice archive cost in time and disk, and what verify and restore take.

Usage: python bench/backup_speed.py [--invoices 10000] [--new 100] [--jobs N] [--cache DIR] [--keep DIR] [--profile]
A quick run: --invoices 200 (a few seconds once the PDFs are cached).

An archive of --invoices distinct generated invoices (the tests' generator: tests/invoice_batch.batch_spec(i) drawn by
tests/invoice_pdf.invoice_pdf, 数电普票, 数电专票 and old style in turn) is filed through the storage API
(Archive.file_invoice with the spec's own fields, as the importer would store them; then write_index) in a work
folder. The backup folder is beside it, on the same filesystem. Then, each snapshot a day later than the one before
(retention: 7 daily, 4 weekly, 12 monthly, so every one is kept):
  a. the first snapshot: a full copy; bytes written (archive files, manifest.json, fapiao.db),
  b. a snapshot of the unchanged archive: time, and the bytes it adds on disk: st_blocks * 512 of every inode (files
     and folders) in it that the previous snapshot does not share, manifest.json and fapiao.db apart,
  b2. the same after only index.csv was rewritten (what `fapiao run --once` does before its backup),
  c. --new more invoices filed (and index.csv rewritten), then a snapshot: time and added bytes as in b,
  d. verify of the newest snapshot: MB/s with the files in the page cache, and with the caches dropped first when
     this runs as root and /proc/sys/vm/drop_caches can be written,
  e. restore of the newest snapshot into an empty folder: time, and a check that every file of the restored tree
     equals the archive's (the .fapiao state folder aside) and the restored database equals the snapshot's.
The targets of the backup issue (an unchanged snapshot adds < 1% of the archive's bytes, manifest and database
aside, and takes < 10 s; restore bit-identical) are reported as met or not met. --profile runs one more unchanged
snapshot under cProfile at the end and prints where its time goes. Generated PDFs are cached (--cache, default in
the work folder, which is removed at the end unless --keep is given; the file names match bench/imap_sync.py's).
Exit code 0 when every target was met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import cProfile
import filecmp
import hashlib
import io
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from invoice_batch import batch_spec
from invoice_pdf import InvoiceSpec, invoice_pdf

from ingest.config import DEFAULT_LAYOUT
from storage.archive import STATE_FOLDER, Archive, ArrivalKey, Arriving, InvoiceData, Outcome, sha256_hex
from storage.backup import DATABASE_NAME, BackupResult, BackupSource, back_up
from storage.backup_manifest import MANIFEST_NAME
from storage.backup_restore import RESTORED_DATABASE, VerifyReport, open_snapshot, restore, verify
from storage.backup_retention import Keep
from storage.db import open_database

KEEP = Keep(daily=7, weekly=4, monthly=12)
FIRST_SNAPSHOT = datetime(2026, 3, 2, 3, 0)  # local time; each later snapshot one day on
DIGITAL = frozenset({"数电普票", "数电专票"})
REAL_PDF_KB = (30, 150)  # what real invoice PDFs typically weigh
UNCHANGED_SHARE = 0.01  # target: an unchanged snapshot adds < 1% of the archive's bytes (manifest, database aside)
UNCHANGED_SECONDS = 10.0
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
CLEAR_REFS = Path("/proc/self/clear_refs")
MB = 1_000_000


# --- the archive -------------------------------------------------------------------------------------------------


def _render(index: int) -> tuple[int, bytes]:
    return index, invoice_pdf(batch_spec(index))


def cached_pdf(cache: Path, index: int) -> Path:
    return cache / f"invoice-{index:05d}.pdf"


def generate(cache: Path, indices: range, jobs: int) -> tuple[int, float]:
    """Every invoice of `indices` as a PDF in `cache` (those not there yet are drawn, in `jobs` processes).
    Returns how many were drawn and the seconds that took."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [i for i in indices if not cached_pdf(cache, i).is_file()]
    started = time.perf_counter()
    if missing:
        with Pool(max(1, jobs)) as pool:
            for index, data in pool.imap_unordered(_render, missing, chunksize=32):
                path = cached_pdf(cache, index)
                temp = path.with_name(f".{path.name}.tmp")
                temp.write_bytes(data)
                temp.replace(path)  # an interrupted run never leaves half a PDF in the cache
    return len(missing), time.perf_counter() - started


def _fen(yuan: Decimal | None) -> int | None:
    return None if yuan is None else int((yuan * 100).to_integral_value())


def invoice_data(spec: InvoiceSpec) -> InvoiceData:
    """What the importer would store for this invoice (its key as ingest.pipeline.invoice_key makes it)."""
    key = f"num:{spec.number}" if spec.variant in DIGITAL else f"code:{spec.code}:{spec.number}"
    return InvoiceData(
        key=key,
        invoice_number=spec.number,
        variant=spec.variant,
        invoice_code=spec.code or None,
        issue_date=spec.issue_date,
        total_fen=_fen(spec.total),
        pretax_fen=_fen(spec.pretax),
        tax_fen=_fen(spec.tax),
        seller_name=spec.seller.name,
        seller_tax_id=spec.seller.tax_id or None,
        buyer_name=spec.buyer.name,
        buyer_tax_id=spec.buyer.tax_id or None,
        check_code=spec.check_code or None,
    )


def file_invoices(archive: Archive, cache: Path, indices: range) -> float:
    """File each invoice of `indices` (from the cache) as a new one, then rewrite index.csv; the seconds taken."""
    started = time.perf_counter()
    for index in indices:
        data = cached_pdf(cache, index).read_bytes()
        name = f"invoice-{index:05d}.pdf"
        arriving = Arriving(ArrivalKey("bench", f"bench/{name}", sha256_hex(data)), name, data, "pdf")
        filed = archive.file_invoice(arriving, invoice_data(batch_spec(index)))
        if filed.outcome is not Outcome.ARCHIVED:
            raise SystemExit(f"invoice {index} was not archived: {filed.outcome} {filed.reason}")
    archive.write_index()
    return time.perf_counter() - started


def tree_files(root: Path) -> Iterator[Path]:
    """Every file of an archive tree, its state folder (database) aside."""
    for folder, dirs, names in os.walk(root):
        if Path(folder) == root:
            dirs[:] = [d for d in dirs if d != STATE_FOLDER]
        for name in names:
            yield Path(folder) / name


# --- disk usage --------------------------------------------------------------------------------------------------


Inode = tuple[int, int]


def inodes(folder: Path) -> set[Inode]:
    """(st_dev, st_ino) of the folder and of everything in it."""
    found = set()
    for here, _dirs, names in os.walk(folder):
        for path in (Path(here), *(Path(here) / name for name in names)):
            status = path.lstat()
            found.add((status.st_dev, status.st_ino))
    return found


@dataclass
class Added:
    """What a snapshot added on disk: blocks of inodes the previous snapshot does not share."""

    manifest: int = 0
    database: int = 0
    folders: int = 0
    folder_count: int = 0
    files: int = 0
    file_count: int = 0

    @property
    def beside(self) -> int:
        """Manifest and database aside."""
        return self.folders + self.files

    @property
    def total(self) -> int:
        return self.manifest + self.database + self.beside


def added_on_disk(snapshot: Path, shared: set[Inode]) -> Added:
    added = Added()
    for here, _dirs, names in os.walk(snapshot):
        status = Path(here).lstat()
        if (status.st_dev, status.st_ino) not in shared:
            added.folders += status.st_blocks * 512
            added.folder_count += 1
        for name in names:
            path = Path(here) / name
            status = path.lstat()
            if (status.st_dev, status.st_ino) in shared:
                continue
            size = status.st_blocks * 512
            if path == snapshot / MANIFEST_NAME:
                added.manifest += size
            elif path == snapshot / DATABASE_NAME:
                added.database += size
            else:
                added.files += size
                added.file_count += 1
    return added


# --- snapshots ---------------------------------------------------------------------------------------------------


@dataclass
class Taken:
    label: str
    result: BackupResult
    wall: float
    added: Added


class Snapshots:
    """Snapshots of one archive into one backup folder, a day apart, each measured against the one before."""

    def __init__(self, source: BackupSource, backup_dir: Path) -> None:
        self.source = source
        self.backup_dir = backup_dir
        self.taken: list[Taken] = []

    def moment(self) -> datetime:
        return (FIRST_SNAPSHOT + timedelta(days=len(self.taken))).astimezone()

    def take(self, label: str, profile: cProfile.Profile | None = None) -> Taken:
        previous = self.taken[-1].result.snapshot.path if self.taken else None
        moment = self.moment()
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        result = back_up(self.source, self.backup_dir, keep=KEEP, now=lambda: moment)
        if profile is not None:
            profile.disable()
        wall = time.perf_counter() - started
        if result.removed:
            raise SystemExit(f"retention removed {result.removed}: the snapshots were meant to be kept")
        if result.manifest.notes:
            print(f"  notes in {result.snapshot.name}: {'; '.join(result.manifest.notes)}")
        shared = inodes(previous) if previous is not None else set()
        taken = Taken(label, result, wall, added_on_disk(result.snapshot.path, shared))
        self.taken.append(taken)
        return taken


# --- verify and restore ------------------------------------------------------------------------------------------


def drop_caches() -> str:
    """Drop the page cache when allowed; what the next read is: 'cold cache' or why it is not."""
    if os.geteuid() != 0:
        return "not root: caches not dropped"
    os.sync()
    try:
        DROP_CACHES.write_text("3\n")
    except OSError as exc:
        return f"{DROP_CACHES}: {exc.strerror or exc}"
    return "cold cache"


def verify_snapshot(path: Path) -> VerifyReport:
    with open_snapshot(path) as reader:
        return verify(reader)


def file_hashes(root: Path) -> dict[str, tuple[str, int]]:
    hashes = {}
    for path in tree_files(root):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        hashes[path.relative_to(root).as_posix()] = (digest, path.stat().st_mtime_ns)
    return hashes


@dataclass
class Restored:
    seconds: float
    files: int
    bytes: int
    problems: list[str]
    tree_same: bool
    tree_note: str
    mtimes_same: bool
    database_same: bool

    @property
    def passed(self) -> bool:
        return not self.problems and self.tree_same and self.database_same


def restore_and_compare(snapshot: Path, archive_root: Path, target: Path) -> Restored:
    started = time.perf_counter()
    with open_snapshot(snapshot) as reader:
        report = restore(reader, target)
    seconds = time.perf_counter() - started
    source = file_hashes(archive_root)
    restored = file_hashes(target / "archive")
    missing = sorted(set(source) - set(restored))
    extra = sorted(set(restored) - set(source))
    changed = sorted(p for p in set(source) & set(restored) if source[p][0] != restored[p][0])
    notes = [f"{len(missing)} missing", f"{len(extra)} extra", f"{len(changed)} differ"]
    examples = (missing + extra + changed)[:3]
    return Restored(
        seconds=seconds,
        files=report.files,
        bytes=report.bytes,
        problems=report.problems,
        tree_same=not (missing or extra or changed),
        tree_note=", ".join(notes) + (f" (e.g. {', '.join(examples)})" if examples else ""),
        mtimes_same=all(source[p][1] == restored[p][1] for p in set(source) & set(restored)),
        database_same=filecmp.cmp(target / RESTORED_DATABASE, snapshot / DATABASE_NAME, shallow=False),
    )


# --- memory ------------------------------------------------------------------------------------------------------


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux >= 4.0: also what ru_maxrss reports); False where not possible."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


# --- report ------------------------------------------------------------------------------------------------------


def size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def table(rows: list[tuple[str, str]], title: str) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"\n{title}\n{'-' * len(title)}")
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")


def snapshot_rows(taken: Taken) -> list[tuple[str, str]]:
    result, added = taken.result, taken.added
    archive_bytes = result.manifest.archive_bytes  # the tree as this snapshot holds it
    return [
        (f"{taken.label}: wall time", f"{taken.wall:.2f} s (back_up's own: {result.seconds:.2f} s)"),
        (f"{taken.label}: files linked / copied", f"{result.linked} / {result.copied}"),
        (f"{taken.label}: manifest.copied_bytes", size(result.manifest.copied_bytes)),
        (
            f"{taken.label}: added on disk",
            f"{size(added.total)}: manifest.json {size(added.manifest)}, fapiao.db {size(added.database)}, "
            f"{added.folder_count} folders {size(added.folders)}, {added.file_count} files {size(added.files)}",
        ),
        (
            f"{taken.label}: added, manifest and db aside",
            f"{size(added.beside)} = {added.beside / archive_bytes:.3%} of the archive's {size(archive_bytes)}",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000, help="invoices in the archive")
    parser.add_argument("--new", type=int, default=100, help="invoices filed before the third snapshot")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes drawing the PDFs")
    parser.add_argument("--cache", type=Path, help="folder of generated PDFs to reuse (default: in the work folder)")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    parser.add_argument("--profile", action="store_true", help="one more unchanged snapshot under cProfile")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True)
    work = (args.keep or Path(tempfile.mkdtemp(prefix="fapiao-backup-bench-"))).resolve()
    print(f"bench/backup_speed.py {' '.join(sys.argv[1:])}; work folder {work}")
    try:
        return run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    cache = (args.cache or work / "cache").resolve()
    total = args.invoices + args.new
    drawn, draw_s = generate(cache, range(total), args.jobs)
    print(f"PDFs: {drawn} of {total} drawn in {draw_s:.1f} s ({args.jobs} processes), {total - drawn} from {cache}")

    root = work / "archive"
    database = root / STATE_FOLDER / "fapiao.db"
    engine = open_database(f"sqlite:///{database}")
    archive = Archive(root, engine, layout=DEFAULT_LAYOUT)
    file_s = file_invoices(archive, cache, range(args.invoices))
    print(f"filed {args.invoices} invoices in {file_s:.1f} s ({args.invoices / file_s:.0f}/s), index.csv written")
    config = work / "config.toml"
    config.write_text(f'[archive]\nroot = "{root}"\n', encoding="utf-8")  # copied into each snapshot
    source = BackupSource(archive_root=root, database=database, layout=DEFAULT_LAYOUT, config=config)

    paths = list(tree_files(root))
    archive_bytes = sum(p.stat().st_size for p in paths)
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    pdf_mean = sum(p.stat().st_size for p in pdfs) / len(pdfs)
    folders = sum(1 for _ in os.walk(root)) - 1  # the state folder counts; the root does not
    index_bytes = (root / "index.csv").stat().st_size
    one_percent = archive_bytes * UNCHANGED_SHARE
    archive_rows = [
        ("archive tree (.fapiao aside)", f"{len(paths)} files, {size(archive_bytes)} ({archive_bytes} bytes)"),
        ("folders", str(folders)),
        ("mean invoice PDF", f"{size(pdf_mean)}"),
        ("index.csv", size(index_bytes)),
        ("database (.fapiao/fapiao.db)", size(database.stat().st_size)),
        ("1% of the archive's bytes", f"{size(one_percent)} ({one_percent:.0f} bytes): the unchanged-snapshot budget"),
    ]
    if pdf_mean < REAL_PDF_KB[0] * 1000:
        archive_rows.append(
            (
                "note",
                f"the generated PDFs ({size(pdf_mean)}) are smaller than real ones ({REAL_PDF_KB[0]}-{REAL_PDF_KB[1]} "
                "KB): per-file costs weigh more against 1% here than in a real archive",
            )
        )
    table(archive_rows, f"Archive of {args.invoices} invoices (generated, filed through storage.archive)")

    rss_before = peak_rss_kib()
    rss_reset = reset_peak_rss()
    snaps = Snapshots(source, work / "backups")
    print("\nsnapshots:")
    first = snaps.take("a. first (full)")
    print(f"  a. {first.result.snapshot.name}: {first.wall:.1f} s")
    unchanged = snaps.take("b. unchanged")
    print(f"  b. {unchanged.result.snapshot.name}: {unchanged.wall:.2f} s")
    archive.write_index()
    reindexed = snaps.take("b2. index.csv rewritten")
    print(f"  b2. {reindexed.result.snapshot.name}: {reindexed.wall:.2f} s")
    new_s = file_invoices(archive, cache, range(args.invoices, args.invoices + args.new))
    grown = snaps.take(f"c. +{args.new} invoices")
    print(f"  c. {grown.result.snapshot.name} ({args.new} invoices filed in {new_s:.1f} s first): {grown.wall:.2f} s")
    rss_after = peak_rss_kib()
    newest = grown.result.snapshot.path
    engine.dispose()

    warm = verify_snapshot(newest)
    cache_state = drop_caches()
    cold = verify_snapshot(newest) if cache_state == "cold cache" else None
    restored = restore_and_compare(newest, root, work / "restored")

    if args.profile:
        profile = cProfile.Profile()
        profiled = snaps.take("p. unchanged, profiled", profile)
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(25)
        print(f"\nprofile of one more unchanged snapshot ({profiled.wall:.2f} s under cProfile):\n{text.getvalue()}")

    first_manifest = first.result.manifest
    rows = [
        ("a. first (full): wall time", f"{first.wall:.2f} s (back_up's own: {first.result.seconds:.2f} s)"),
        ("a. first: files copied", str(first.result.copied)),
        (
            "a. first: manifest.copied_bytes",
            f"{size(first_manifest.copied_bytes)} (archive files {size(first_manifest.archive_bytes)}, "
            f"+ config.toml; fapiao.db not counted there)",
        ),
        ("a. first: manifest.json", size((first.result.snapshot.path / MANIFEST_NAME).stat().st_size)),
        ("a. first: fapiao.db", size((first.result.snapshot.path / DATABASE_NAME).stat().st_size)),
        ("a. first: on disk (all blocks)", size(first.added.total)),
    ]
    for taken in (unchanged, reindexed, grown):
        rows += snapshot_rows(taken)
    rows += [
        (
            "peak RSS (ru_maxrss)",
            f"{rss_after / 1024:.0f} MiB during the snapshots"
            + (" (reset before them)" if rss_reset else " (whole process: could not reset)")
            + f"; {rss_before / 1024:.0f} MiB generating and filing before them",
        ),
        (
            "d. verify, warm cache",
            f"{warm.files} files, {size(warm.bytes)} in {warm.seconds:.2f} s = "
            f"{warm.bytes / warm.seconds / MB:.0f} MB/s; {'ok' if warm.ok else f'{len(warm.differences)} differences'}",
        ),
        (
            "d. verify, cold cache",
            f"{cold.bytes / cold.seconds / MB:.0f} MB/s in {cold.seconds:.2f} s; "
            f"{'ok' if cold.ok else f'{len(cold.differences)} differences'}"
            if cold is not None
            else f"not measured ({cache_state}); warm cache only",
        ),
        ("e. restore: time", f"{restored.seconds:.2f} s ({restored.files} files, {size(restored.bytes)})"),
        (
            "e. restore: problems reported",
            f"{len(restored.problems)}" + (f": {restored.problems[:3]}" if restored.problems else ""),
        ),
        (
            "e. restore: tree vs archive (sha256)",
            f"{'same' if restored.tree_same else 'DIFFERENT'}: {restored.tree_note}",
        ),
        ("e. restore: mtimes kept", "yes" if restored.mtimes_same else "NO"),
        ("e. restore: fapiao.db vs snapshot's", "byte for byte the same" if restored.database_same else "DIFFERENT"),
    ]
    table(rows, "Results")

    share = unchanged.added.beside / archive_bytes
    targets = [
        ("unchanged snapshot adds < 1% (manifest, db aside)", f"{share:.3%}", share < UNCHANGED_SHARE),
        ("unchanged snapshot takes < 10 s", f"{unchanged.wall:.2f} s", unchanged.wall < UNCHANGED_SECONDS),
        ("verify finds the newest snapshot intact", "ok" if warm.ok else "differences", warm.ok),
        ("restore bit-identical (tree and database)", "PASS" if restored.passed else "FAIL", restored.passed),
    ]
    width = max(len(name) for name, *_ in targets)
    print("\nTargets\n-------")
    for name, measured, met in targets:
        print(f"  {name.ljust(width)}  {measured:>10}  {'met' if met else 'NOT MET'}")
    return 0 if all(met for *_, met in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
