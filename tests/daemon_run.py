"""A real daemon for tests: real watchdog observer, real SQLite file, real generated invoices.

The daemon runs on a thread of the test process (signals are tested with a
subprocess elsewhere). Tests wait on conditions with a deadline, never for a
fixed time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from invoice_batch import batch_spec
from invoice_pdf import invoice_pdf
from sqlalchemy import Engine
from sqlmodel import Session, select

from ingest.config import AfterAction, ArchiveSettings, DaemonSettings, Settings, WatchSettings
from ingest.daemon import Daemon
from ingest.extract.reader import Limits
from ingest.importer import ExtractWith
from ingest.model import Extraction
from ingest.unpack import UnpackLimits
from storage.archive import Archive
from storage.db import open_database
from storage.models import Arrival, Invoice, StoredFile


@cache
def invoice(index: int) -> bytes:
    """The index-th distinct invoice PDF (drawn once per test run)."""
    return invoice_pdf(batch_spec(index))


def settings_for(
    tmp_path: Path,
    *,
    polling: bool = False,
    after: AfterAction | None = None,
    settle: float = 0.3,
    max_attempts: int = 5,
    rescan_minutes: float = 10.0,
    inbox: Path | None = None,
) -> Settings:
    inbox = inbox or tmp_path / "inbox"
    if inbox == tmp_path / "inbox":
        inbox.mkdir(exist_ok=True)
    watch = WatchSettings(
        path=inbox, after=after or AfterAction(), polling=polling, poll_seconds=0.1, settle_seconds=settle
    )
    return Settings(
        archive=ArchiveSettings(root=tmp_path / "archive"),
        daemon=DaemonSettings(rescan_minutes=rescan_minutes, max_attempts=max_attempts),
        watches=(watch,),
    )


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Running:
    daemon: Daemon
    engine: Engine
    stop: threading.Event
    thread: threading.Thread
    exit_codes: list[int] = field(default_factory=list)

    @property
    def inbox(self) -> Path:
        return self.daemon.settings.watches[0].path

    def arrivals(self) -> list[Arrival]:
        with Session(self.engine) as session:
            return list(session.exec(select(Arrival).order_by(Arrival.id)).all())  # type: ignore[arg-type]

    def arrivals_for(self, path: Path) -> list[Arrival]:
        return [a for a in self.arrivals() if a.source_key == str(path)]

    def stored(self) -> list[StoredFile]:
        with Session(self.engine) as session:
            return list(session.exec(select(StoredFile)).all())

    def invoices(self) -> list[Invoice]:
        with Session(self.engine) as session:
            return list(session.exec(select(Invoice)).all())

    def wait_for_arrival(self, path: Path, *, timeout: float = 30.0) -> Arrival:
        wait_until(lambda: self.arrivals_for(path), what=f"an arrival for {path.name}", timeout=timeout)
        return self.arrivals_for(path)[0]


@contextmanager
def running_daemon(
    settings: Settings, *, extract: Callable[[bytes, str], Extraction] | None = None
) -> Iterator[Running]:
    """The daemon on a thread, its sources started; stopped (and checked to exit 0) on leaving."""
    engine = open_database(settings.database_url)
    archive = Archive(settings.archive.root, engine, layout=settings.archive.layout)
    daemon = Daemon(settings, archive, extract=extract or ExtractWith(Limits(), None), unpack_limits=UnpackLimits())
    stop = threading.Event()
    running = Running(daemon, engine, stop, threading.Thread(target=lambda: None))
    running.thread = threading.Thread(target=lambda: running.exit_codes.append(daemon.run(stop)), daemon=True)
    running.thread.start()
    try:
        wait_until(
            lambda: all(s.last_scan is not None or s.state == "missing" for s in daemon.sources),
            what="the daemon to start",
        )
        yield running
    finally:
        stop.set()
        running.thread.join(timeout=30)
        engine.dispose()
    assert not running.thread.is_alive(), "the daemon did not stop"
    assert running.exit_codes == [0]


def write_slowly(path: Path, data: bytes, *, chunks: int, pause: float) -> None:
    """A download in progress: the file grows in pieces, each flushed to disk."""
    step = -(-len(data) // chunks)
    with path.open("wb") as out:
        for start in range(0, len(data), step):
            out.write(data[start : start + step])
            out.flush()
            time.sleep(pause)
