"""The one ingest worker: every source puts its work on one queue, and one writer stores it.

One writer keeps the database free of write contention (SQLite has one writer
at a time anyway) and makes the log read in the order things were filed. A
piece of work that raises is logged and handed back to its source, which
decides when to try again; the worker goes on with the next.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ingest.logs import printable
from ingest.model import Candidate
from ingest.pipeline import Extractor, Result, process, record_refusal
from ingest.unpack import UnpackLimits
from storage.archive import Archive, ArrivalKey, Filed, Outcome

log = logging.getLogger("fapiao")

# index.csv is rewritten when the queue runs empty, and during a long burst at least this often.
INDEX_EVERY_SECONDS = 30.0
# It is rebuilt from the whole database (0.4 s at 8,000 invoices), so between two rewrites at least ten times
# the last one's duration passes: one file at a time into a large archive must not mean one rebuild per file.
INDEX_COST_FACTOR = 10.0


Report = Callable[[str, Result], None]


@dataclass(frozen=True)
class Intake:
    """The pipeline, bound to one archive: what a piece of work hands its candidates to. Each result is
    reported as soon as it is committed, before the source acts on it (moves or deletes the file)."""

    archive: Archive
    extract: Extractor
    limits: UnpackLimits
    report: Report = lambda _source, _result: None

    def process(self, candidate: Candidate) -> list[Result]:
        results = process(candidate, self.archive, extract=self.extract, limits=self.limits)
        for result in results:
            self.report(candidate.source, result)
        return results

    def refuse(
        self,
        source: str,
        source_key: str,
        reason: str,
        outcome: Outcome = Outcome.FAILED,
        *,
        message_id: str | None = None,
    ) -> Result:
        """Something that could not even be read: recorded as an arrival with its reason (`record_refusal`)."""
        key = ArrivalKey(source, source_key, "", message_id)
        result = Result(source_key, record_refusal(self.archive, key, reason, outcome))
        self.report(source, result)
        return result


class Work(Protocol):
    """One thing a source wants stored (a settled file, a mail)."""

    @property
    def source(self) -> str: ...

    @property
    def label(self) -> str: ...

    def ingest(self, intake: Intake) -> list[Result]: ...

    def crashed(self, reason: str) -> None:
        """`ingest` raised: the source records the failure and decides when to try again."""


@dataclass
class SourceCounts:
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    last_error: str = ""
    last_error_at: float | None = None  # wall-clock seconds
    last_arrival_at: float | None = None


class Worker:
    def __init__(
        self,
        intake: Intake,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        on_result: Report | None = None,
    ) -> None:
        self.intake = dataclasses.replace(intake, report=self._report)
        self.on_result = on_result  # told of every arrival after it is logged and counted (notifications)
        self.queue: queue.Queue[Work] = queue.Queue()
        self.counts: dict[str, SourceCounts] = {}
        self.wall_clock = wall_clock
        self.clock = clock
        self.busy = False
        self._index_dirty = False
        self._index_written = clock()
        self._index_cost = 0.0

    def put(self, work: Work) -> None:
        self.queue.put(work)

    def run_one(self, timeout: float) -> bool:
        """Store the next piece of work, waiting up to `timeout` seconds for one; False if none came."""
        try:
            work = self.queue.get(timeout=timeout)
        except queue.Empty:
            self._write_index_if_due(idle=True)
            return False
        self.busy = True
        try:
            self.handle(work)
        finally:
            self.busy = False
        self._write_index_if_due(idle=self.queue.empty())
        return True

    def handle(self, work: Work) -> list[Result]:
        try:
            results = work.ingest(self.intake)
        except Exception as exc:  # one bad item must not stop the daemon
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("error %s %s: %s", work.source, printable(work.label), printable(reason))
            counts = self.counts.setdefault(work.source, SourceCounts())
            counts.outcomes[Outcome.FAILED] += 1
            counts.last_error, counts.last_error_at = reason, self.wall_clock()
            try:
                work.crashed(reason)
            except Exception:
                log.exception("error recording the failure of %s", printable(work.label))
            self._tell(work.source, Result(work.label, Filed(Outcome.FAILED, None, reason)))
            return []
        if results:
            self._index_dirty = True
        return results

    def _report(self, source: str, result: Result) -> None:
        """One line per arrival, and the counts `fapiao status` shows."""
        filed = result.filed
        where = f" -> {printable(filed.path)}" if filed.path else ""
        why = f" ({printable(filed.reason)})" if filed.reason else ""
        level = logging.WARNING if filed.outcome is Outcome.FAILED else logging.INFO
        log.log(level, "%s %s %s%s%s", filed.outcome, printable(source), printable(result.name), where, why)
        counts = self.counts.setdefault(source, SourceCounts())
        counts.outcomes[filed.outcome] += 1
        counts.last_arrival_at = self.wall_clock()
        if filed.outcome is Outcome.FAILED:
            counts.last_error = f"{result.name}: {filed.reason}"
            counts.last_error_at = self.wall_clock()
        self._tell(source, result)

    def _tell(self, source: str, result: Result) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(source, result)
        except Exception:  # whoever listens must not fail an arrival
            log.exception("error passing on the result of %s", printable(result.name))

    def write_index(self) -> None:
        started = self.clock()
        try:
            self.intake.archive.write_index()
        except Exception:
            log.exception("error writing index.csv (tried again after the next invoice)")
            return
        self._index_dirty = False
        self._index_written = self.clock()
        self._index_cost = self._index_written - started

    def _write_index_if_due(self, *, idle: bool) -> None:
        since = self.clock() - self._index_written
        affordable = since >= INDEX_COST_FACTOR * self._index_cost
        if self._index_dirty and affordable and (idle or since >= INDEX_EVERY_SECONDS):
            self.write_index()
