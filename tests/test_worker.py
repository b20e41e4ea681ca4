"""The ingest worker: index.csv rewrites are spaced by their cost; a failing item never stops the worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ingest.pipeline import Result
from ingest.unpack import UnpackLimits
from ingest.worker import Intake, Worker
from storage.archive import Archive, Filed, Outcome


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class SlowIndexArchive:
    """Our own boundary: an archive whose index rebuild takes `cost` seconds of the fake clock."""

    clock: Clock
    cost: float
    writes: list[float] = field(default_factory=list)

    def write_index(self) -> None:
        self.clock.now += self.cost
        self.writes.append(self.clock.now)


@dataclass
class StoredOne:
    source: str = "folder:/in"
    label: str = "a.pdf"

    def ingest(self, intake: Intake) -> list[Result]:
        result = Result(self.label, Filed(Outcome.ARCHIVED, "2025/a.pdf"))
        intake.report(self.source, result)
        return [result]

    def crashed(self, reason: str) -> None:
        raise AssertionError(reason)


@dataclass
class Exploding(StoredOne):
    reasons: list[str] = field(default_factory=list)

    def ingest(self, intake: Intake) -> list[Result]:
        raise RuntimeError("disk on fire")

    def crashed(self, reason: str) -> None:
        self.reasons.append(reason)


def make_worker(cost: float) -> tuple[Worker, SlowIndexArchive, Clock]:
    clock = Clock()
    archive = SlowIndexArchive(clock, cost)
    intake = Intake(cast(Archive, archive), lambda data, name: cast(Any, None), UnpackLimits())
    return Worker(intake, clock=clock, wall_clock=clock), archive, clock


def test_one_file_at_a_time_into_a_large_archive_does_not_rebuild_the_index_each_time() -> None:
    worker, archive, clock = make_worker(cost=2.0)
    for _ in range(10):
        worker.put(StoredOne())
        assert worker.run_one(timeout=0)
        clock.now += 1.0  # a file a second
    # The first rebuild took 2 s: the next waits 20 s, however idle the queue is in between.
    assert len(archive.writes) == 1
    clock.now += 20.0
    worker.run_one(timeout=0)  # idle: the waiting rebuild is done now
    assert len(archive.writes) == 2
    assert archive.writes[1] - archive.writes[0] >= 20.0


def test_a_cheap_index_is_rewritten_whenever_the_queue_runs_empty() -> None:
    worker, archive, clock = make_worker(cost=0.001)
    for _ in range(3):
        worker.put(StoredOne())
        worker.run_one(timeout=0)
        clock.now += 1.0
    assert len(archive.writes) == 3


def test_an_item_that_raises_is_handed_back_and_counted_as_a_failure() -> None:
    worker, _, _ = make_worker(cost=0.0)
    bad = Exploding()
    worker.put(bad)
    worker.put(StoredOne())
    assert worker.run_one(timeout=0) and worker.run_one(timeout=0)
    assert bad.reasons == ["RuntimeError: disk on fire"]
    counts = worker.counts["folder:/in"]
    assert counts.outcomes[Outcome.FAILED] == 1
    assert counts.outcomes[Outcome.ARCHIVED] == 1
    assert counts.last_error == "RuntimeError: disk on fire"
