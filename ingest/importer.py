"""`fapiao import`: files, folders and zips on disk, through the same pipeline as every source.

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
from ingest.pipeline import INVOICE_KINDS, Extractor, Result, process
from ingest.unpack import UnpackLimits, unpack
from storage.archive import Archive, ArrivalKey, Outcome, sha256_hex
from storage.atomic import TEMP_PREFIX

SOURCE = "import"
# Below this many files the worker processes cost more to start than they save.
_POOL_FROM_FILES = 8


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
    workers: int = 1,
    on_result: Callable[[Result], None] = lambda _result: None,
    on_total: Callable[[int], None] = lambda _total: None,
) -> ImportSummary:
    """Import everything under `paths`; one writer (this process), extraction `workers` wide."""
    archive.recover()
    found = list(files_to_import(paths, archive_root=archive.root))
    on_total(len(found))
    summary = ImportSummary()

    def finish(result: Result) -> None:
        summary.add(result)
        on_result(result)

    pool = (
        _Prefetcher(extract, archive, unpack_limits, workers)
        if workers > 1 and len(found) >= _POOL_FROM_FILES
        else None
    )
    try:
        ahead: deque[tuple[Found, Candidate | None]] = deque()
        for item in found:
            candidate = _read(item, archive, finish, unpack_limits)
            if candidate is not None and pool is not None:
                pool.submit(candidate)
            ahead.append((item, candidate))
            while len(ahead) > (pool.window if pool else 0):
                _store(ahead.popleft()[1], archive, pool or extract, unpack_limits, finish)
        while ahead:
            _store(ahead.popleft()[1], archive, pool or extract, unpack_limits, finish)
    finally:
        if pool is not None:
            pool.close()
    archive.write_index()
    return summary


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


def _store(
    candidate: Candidate | None,
    archive: Archive,
    extract: Extractor,
    limits: UnpackLimits,
    finish: Callable[[Result], None],
) -> None:
    if candidate is None:
        return
    for result in process(candidate, archive, extract=extract, limits=limits):
        finish(result)


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

    def submit(self, candidate: Candidate) -> None:
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
