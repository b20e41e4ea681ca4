"""`fapiao import`: files, folders, zips and saved mail (.eml, mbox) on disk, through the same pipeline as
every source.

Extraction, the slow part, runs in worker processes a few files ahead of the
one writer that stores results in order; with one worker (or few files) it
runs inline.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ingest.extract.reader import Limits, extract_bytes, sniff
from ingest.extract.tesseract import Tesseract
from ingest.model import Candidate, Extraction
from ingest.pipeline import INVOICE_KINDS, Extractor, Result
from ingest.sources.mail_file import MailFileKind
from ingest.sources.mail_parts import DEFAULT_LIMITS, MailLimits
from ingest.sources.saved_mail import SavedMail, read_saved_mail, saved_mail_kind, store_saved_mail
from ingest.unpack import UnpackLimits, unpack
from ingest.worker import Intake
from storage.archive import Archive, ArrivalKey, Outcome, sha256_hex
from storage.atomic import TEMP_PREFIX

SOURCE = "import"
# Below this many files the worker processes cost more to start than they save.
_POOL_FROM_FILES = 8
# ...or below this many bytes: one big file can be an mbox of thousands of invoices, or a zip of hundreds.
_POOL_FROM_BYTES = 32 * 1024 * 1024


@dataclass
class ImportSummary:
    counts: Counter[Outcome] = field(default_factory=Counter)
    failures: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.counts[result.filed.outcome] += 1
        if result.filed.outcome is Outcome.FAILED:
            self.failures.append(result)


@dataclass(frozen=True)
class Found:
    """A file to import, or a path that cannot be (with the reason)."""

    path: Path
    problem: str | None = None


def files_to_import(paths: list[Path], *, archive_root: Path) -> Iterator[Found]:
    """Every file under `paths`, in a stable order. Symbolic links inside folders are not followed (a link
    loop or a link to / must not take the import elsewhere); hidden files and the archive itself are left out."""
    skip = archive_root.resolve()
    for given in paths:
        path = given.expanduser()
        if not path.exists():
            yield Found(path, "no such file or folder")
        elif path.is_file():
            yield Found(path.resolve())
        elif path.is_dir():
            yield from _walk(path.resolve(), skip)
        else:
            yield Found(path, "not a regular file or folder")


def _walk(folder: Path, skip: Path) -> Iterator[Found]:
    for current, dirs, names in os.walk(folder, onerror=None):
        here = Path(current)
        for linked in sorted(d for d in dirs if (here / d).is_symlink()):
            yield Found(here / linked, "symbolic link: not followed")
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (here / d) != skip and not (here / d).is_symlink()
        )
        for name in sorted(names):
            path = here / name
            if name.startswith((".", TEMP_PREFIX)) or name in ("Thumbs.db", "desktop.ini"):
                continue
            if path.is_symlink():
                yield Found(path, "symbolic link: not followed")
            elif not path.is_file():
                # A FIFO or device would block or never end when read.
                yield Found(path, "not a regular file (a pipe, socket or device)")
            else:
                yield Found(path)


def import_paths(
    paths: list[Path],
    archive: Archive,
    *,
    extract: Extractor,
    unpack_limits: UnpackLimits,
    mail_limits: MailLimits = DEFAULT_LIMITS,
    workers: int = 1,
    on_result: Callable[[Result], None] = lambda _result: None,
    on_total: Callable[[int], None] = lambda _total: None,
    on_progress: Callable[[int], None] = lambda _done: None,
    on_problem: Callable[[str], None] = lambda _problem: None,
) -> ImportSummary:
    """Import everything under `paths`; one writer (this process), extraction `workers` wide.

    Saved mail (.eml, mbox; told by content) is streamed message by message. `on_total` gets the bytes of all
    files, `on_progress` the bytes read so far (an mbox advances as its messages are read), `on_problem` what
    was malformed in a mail file though the rest of it was read.
    """
    archive.recover()
    found = list(files_to_import(paths, archive_root=archive.root))
    summary = ImportSummary()

    def finish(result: Result) -> None:
        summary.add(result)
        on_result(result)

    total = sum(_size(item.path) for item in found if item.problem is None)
    on_total(total)
    worth_a_pool = len(found) >= _POOL_FROM_FILES or total >= _POOL_FROM_BYTES
    pool = _Prefetcher(extract, archive, unpack_limits, workers) if workers > 1 and worth_a_pool else None
    intake = Intake(archive, pool or extract, unpack_limits, report=lambda _source, result: finish(result))
    units = _units(found, archive, finish, unpack_limits, mail_limits, on_problem)
    done = 0
    try:
        ahead: deque[_Unit] = deque()
        for unit in units:
            if pool is not None:
                pool.submit(unit.candidates)
            ahead.append(unit)
            while len(ahead) > (pool.window if pool else 0):
                done = _store(ahead.popleft(), intake, done, on_progress)
        while ahead:
            done = _store(ahead.popleft(), intake, done, on_progress)
    finally:
        if pool is not None:
            pool.close()
    archive.write_index()
    return summary


@dataclass(frozen=True)
class _Unit:
    """What is stored in one step: a file, or one message of a mail file; `progress` is the bytes of input it
    stands for."""

    candidates: tuple[Candidate, ...]
    progress: int
    mail: SavedMail | None = None


def _units(
    found: list[Found],
    archive: Archive,
    finish: Callable[[Result], None],
    limits: UnpackLimits,
    mail_limits: MailLimits,
    on_problem: Callable[[str], None],
) -> Iterator[_Unit]:
    """The files in order, a mail file's messages one by one; unreadable files recorded as they are met."""
    for item in found:
        kind = None
        if item.problem is None:
            try:
                kind = saved_mail_kind(item.path)
            except OSError:
                kind = None  # _read says why
        if kind is None:
            candidate = _read(item, archive, finish, limits)
            yield _Unit(() if candidate is None else (candidate,), _size(item.path))
            continue
        yield from _mail_units(item.path, kind, archive, finish, mail_limits, on_problem)


def _mail_units(
    path: Path,
    kind: MailFileKind,
    archive: Archive,
    finish: Callable[[Result], None],
    limits: MailLimits,
    on_problem: Callable[[str], None],
) -> Iterator[_Unit]:
    read_to = 0
    try:
        for mail in read_saved_mail(path, kind, source=SOURCE, file_key=str(path), limits=limits):
            for problem in mail.problems:
                on_problem(f"{path}: {problem}")
            yield _Unit(mail.candidates, mail.end - read_to, mail)
            read_to = mail.end
    except OSError as exc:
        # The messages before stay stored; the file is tried again whole next time (they add nothing then).
        reason = f"cannot read the rest of this {kind} file after byte {read_to}: {exc.strerror or exc}"
        finish(Result(str(path), archive.record_failure(ArrivalKey(SOURCE, str(path), ""), reason)))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read(item: Found, archive: Archive, finish: Callable[[Result], None], limits: UnpackLimits) -> Candidate | None:
    """The file's bytes as a candidate; an unreadable file is recorded as a failed arrival instead."""
    key = ArrivalKey(SOURCE, str(item.path), "")
    problem = item.problem
    data = b""
    if problem is None:
        try:
            size = item.path.stat().st_size
            if size > limits.max_total_bytes:
                problem = f"file is {size} bytes, over the {limits.max_total_bytes}-byte import limit"
            else:
                data = item.path.read_bytes()
        except OSError as exc:
            problem = f"cannot read: {exc.strerror or exc}"
    if problem is not None:
        outcome = Outcome.SKIPPED if problem.startswith("symbolic link") else Outcome.FAILED
        finish(Result(str(item.path), archive.record_failure(key, problem, outcome)))
        return None
    return Candidate(SOURCE, str(item.path), item.path.name, data)


def _store(unit: _Unit, intake: Intake, done: int, on_progress: Callable[[int], None]) -> int:
    if unit.mail is not None:
        store_saved_mail(intake, SOURCE, unit.mail)
    else:
        for candidate in unit.candidates:
            intake.process(candidate)
    done += unit.progress
    on_progress(done)
    return done


class _Prefetcher:
    """Extraction in worker processes, started a few candidates before the writer needs the result."""

    def __init__(self, extract: Extractor, archive: Archive, limits: UnpackLimits, workers: int) -> None:
        self.extract = extract
        self.archive = archive
        self.limits = limits
        self.window = workers * 2
        # 'spawn' everywhere: forking a process that holds database connections is not safe.
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self.futures: dict[str, Future[Extraction]] = {}

    def submit(self, candidates: tuple[Candidate, ...]) -> None:
        for candidate in candidates:
            self._submit(candidate)

    def _submit(self, candidate: Candidate) -> None:
        for part in unpack(candidate.data, candidate.name, limits=self.limits):
            if part.problem is not None or sniff(part.data) not in INVOICE_KINDS:
                continue
            digest = sha256_hex(part.data)
            if digest not in self.futures and self.archive.known_file(digest) is None:
                self.futures[digest] = self.executor.submit(self.extract, part.data, part.name)

    def __call__(self, data: bytes, name: str) -> Extraction:
        future = self.futures.pop(sha256_hex(data), None)
        return future.result() if future is not None else self.extract(data, name)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class ExtractWith:
    """The extractor bound to its limits and OCR; picklable, for import's worker processes. `today` bounds
    plausible issue dates: read at each call unless fixed, so a daemon that runs for months does not keep
    the day it started."""

    limits: Limits
    ocr: Tesseract | None
    today: date | None = None

    def __call__(self, data: bytes, name: str) -> Extraction:
        return extract_bytes(data, name, today=self.today or date.today(), limits=self.limits, ocr=self.ocr)
