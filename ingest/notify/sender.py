"""One background thread per webhook: events are gathered for a short while into one message, sent, and tried
again with growing delays when the webhook fails; the worker that hands them over never waits.

A backfill files hundreds of invoices in minutes, and the robots take about 20 messages a minute: events that
arrive within `batch_seconds` of the first one waiting go out as one message, and while a message is being sent
(or waits to be tried again) new events gather for the next one. At most one message per webhook is in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ingest.notify.events import Event
from ingest.notify.formats import Message, message_for
from ingest.notify.webhook import WebhookTarget

log = logging.getLogger("fapiao")

RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0)  # after each failed attempt: five attempts in all
MAX_WAITING = 1000  # events waiting for a webhook; past this the oldest are dropped (and counted)
MAX_EVENTS_PER_MESSAGE = 500

Describe = Callable[[list[Event]], list[Event]]


@dataclass
class _InFlight:
    events: list[Event]
    message: Message | None = None
    attempts: int = 0
    next_at: float = 0.0  # monotonic


class WebhookSender:
    def __init__(
        self,
        target: WebhookTarget,
        *,
        batch_seconds: float,
        describe: Describe = lambda events: events,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        max_waiting: int = MAX_WAITING,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.batch_seconds = batch_seconds
        self.describe = describe
        self.retry_delays = retry_delays
        self.max_waiting = max_waiting
        self.clock = clock
        self.wall_clock = wall_clock
        self.delivered = 0  # events
        self.dropped = 0  # events given up on: the queue was full, the webhook kept failing, or the daemon stopped
        self.last_error = ""
        self.last_error_at: float | None = None  # wall-clock seconds
        self._cond = threading.Condition()
        self._waiting: deque[Event] = deque()
        self._first_waiting_at: float | None = None
        self._in_flight: _InFlight | None = None
        self._deadline: float | None = None  # set by `stop`: deliver what is there until then
        self._thread = threading.Thread(target=self._run, name=f"notify {target.settings.label}", daemon=True)

    @property
    def attempts(self) -> int:
        return len(self.retry_delays) + 1

    @property
    def waiting(self) -> int:
        """Events waiting for the next message (not counting the one in flight)."""
        with self._cond:
            return len(self._waiting)

    def put(self, event: Event) -> None:
        """Never blocks for long (a lock held only to touch the queue) and never raises."""
        with self._cond:
            if len(self._waiting) >= self.max_waiting:
                self._waiting.popleft()
                self.dropped += 1
            self._waiting.append(event)
            if self._first_waiting_at is None:
                self._first_waiting_at = self.clock()
            self._cond.notify_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float) -> None:
        """Send what is waiting now (no batching window) for up to `grace` seconds, then drop the rest."""
        with self._cond:
            self._deadline = self.clock() + grace
            self._cond.notify_all()
        if self._thread.is_alive():
            # An attempt under way at the deadline is let finish: its request has a timeout of its own.
            self._thread.join(grace + self.target.timeout + 1)

    def wait_idle(self, timeout: float) -> bool:
        """Until nothing waits or is in flight (True), or `timeout` passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._waiting and self._in_flight is None, timeout)

    def _run(self) -> None:
        while (job := self._next()) is not None:
            self._attempt(job)

    def _next(self) -> _InFlight | None:
        """The message to try now, after waiting for it; None once stopped."""
        with self._cond:
            while True:
                now = self.clock()
                if self._deadline is not None and now >= self._deadline:
                    self._drop_all()
                    return None
                wake: float | None = None
                if self._in_flight is not None:
                    if now >= self._in_flight.next_at:
                        return self._in_flight
                    wake = self._in_flight.next_at
                elif self._waiting:
                    assert self._first_waiting_at is not None
                    due = self._first_waiting_at + self.batch_seconds
                    if now >= due or self._deadline is not None:
                        return self._take()
                    wake = due
                elif self._deadline is not None:
                    return None  # stopping, and everything was delivered
                if self._deadline is not None:
                    wake = min(wake, self._deadline) if wake is not None else self._deadline
                self._cond.wait(None if wake is None else wake - now)

    def _take(self) -> _InFlight:
        count = min(len(self._waiting), MAX_EVENTS_PER_MESSAGE)
        events = [self._waiting.popleft() for _ in range(count)]
        self._first_waiting_at = self.clock() if self._waiting else None
        self._in_flight = _InFlight(events)
        return self._in_flight

    def _attempt(self, job: _InFlight) -> None:
        if job.message is None:
            job.message = message_for(tuple(self._described(job.events)))
        job.attempts += 1
        delivery = self.target.send(job.message)
        label = self.target.label
        with self._cond:
            if delivery.ok:
                self.delivered += len(job.events)
                self._in_flight = None
                log.info("notify %s: delivered %d events", label, len(job.events))
            elif delivery.permanent or job.attempts >= self.attempts:
                self._in_flight = None
                self._give_up(job, delivery.error)
            else:
                delay = self.retry_delays[job.attempts - 1]
                job.next_at = self.clock() + delay
                log.warning(
                    "notify %s: attempt %d of %d failed: %s; trying again in %g s",
                    label,
                    job.attempts,
                    self.attempts,
                    delivery.error,
                    delay,
                )
            self._cond.notify_all()

    def _described(self, events: list[Event]) -> list[Event]:
        try:
            return self.describe(events)
        except Exception:  # the database busy or gone: the message goes out with what the worker knew
            log.exception("notify %s: cannot look up the invoices; sending without their details", self.target.label)
            return events

    def _give_up(self, job: _InFlight, error: str) -> None:
        if job.attempts < self.attempts:
            what = "not tried again (retrying cannot fix this)"
        else:
            what = f"gave up after {job.attempts} attempts"
        log.error("notify %s: %s: %s; %d events not delivered", self.target.label, what, error, len(job.events))
        self.dropped += len(job.events)
        self.last_error, self.last_error_at = f"{self.target.label}: {error}", self.wall_clock()

    def _drop_all(self) -> None:
        left = len(self._waiting) + (len(self._in_flight.events) if self._in_flight else 0)
        if left:
            log.warning("notify %s: stopping; %d events not delivered", self.target.label, left)
            self.dropped += left
        self._waiting.clear()
        self._first_waiting_at = None
        self._in_flight = None
