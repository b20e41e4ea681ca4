"""What the daemon hands events to: the worker's results and the troubles it sees go to every webhook that wants
them; nothing here blocks the caller or raises into it.

A file that keeps failing is retried by its source with backoff; it is announced once (per daemon run) for the
same reason, not at every attempt. A trouble (a mailbox whose login fails, a backup that failed) is announced when
it starts, and again only after it cleared and came back.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from ingest.notify.digest_job import DigestJob
from ingest.notify.events import Event, Kind, event_from_result, failure_key, trouble_event, with_invoice
from ingest.notify.http_post import post_json
from ingest.notify.sender import RETRY_DELAYS, Describe, WebhookSender
from ingest.notify.webhook import TIMEOUT_SECONDS, Post, WebhookTarget
from ingest.notify_config import NotifySettings
from ingest.pipeline import Result
from storage.archive import Archive
from storage.digest_query import invoice_facts

log = logging.getLogger("fapiao")

_REMEMBERED_FAILURES = 1000


@dataclass(frozen=True)
class NotifyProblem:
    """For `fapiao status`: the last delivery given up on, and how many events were not delivered."""

    error: str
    error_at: float | None  # wall-clock seconds
    dropped: int


def describe_from(archive: Archive) -> Describe:
    """Events with their invoice's number, date, seller and total, looked up by the stored file's path."""

    def describe(events: list[Event]) -> list[Event]:
        paths = {e.path for e in events if e.path and e.kind is not Kind.FAILURE}
        facts = invoice_facts(archive.engine, paths)
        return [with_invoice(e, facts[e.path]) if e.path in facts else e for e in events]

    return describe


def notify_problem(notifier: Notifier | None, digest: DigestJob | None) -> NotifyProblem:
    """The latest notification given up on (a webhook's or the digest's), and the webhook events dropped."""
    problems = [notifier.problem()] if notifier is not None else []
    if digest is not None and digest.last_error_at is not None:
        problems.append(NotifyProblem(digest.last_error, digest.last_error_at.timestamp(), 0))
    latest = max((p for p in problems if p.error_at is not None), key=lambda p: p.error_at or 0.0, default=None)
    dropped = sum(p.dropped for p in problems)
    return NotifyProblem(latest.error, latest.error_at, dropped) if latest else NotifyProblem("", None, dropped)


class Notifier:
    def __init__(
        self,
        settings: NotifySettings,
        *,
        describe: Describe = lambda events: events,
        env: Mapping[str, str] = os.environ,
        post: Post = post_json,
        timeout: float = TIMEOUT_SECONDS,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.senders = [
            WebhookSender(
                WebhookTarget(webhook, env=env, post=post, timeout=timeout),
                batch_seconds=settings.batch_seconds,
                describe=describe,
                retry_delays=retry_delays,
            )
            for webhook in settings.webhooks
        ]
        self._lock = threading.Lock()
        self._announced: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._troubles: dict[str, str] = {}

    def result(self, source: str, result: Result) -> None:
        """The worker's hook: called after each arrival is committed."""
        try:
            event = event_from_result(source, result)
            if event is not None:
                self.notify(event)
        except Exception:  # a bug here must not fail the arrival
            log.exception("notify: cannot make an event of %s", result.name)

    def notify(self, event: Event) -> None:
        if event.kind is Kind.FAILURE and not self._first_time(event):
            return
        self._send(event)

    def troubles(self, current: Mapping[str, str | None]) -> None:
        """The troubles the daemon sees now, by source ('' while it is fine, None: as it was): each new one is
        announced once."""
        for source, message in current.items():
            if message is None:
                continue
            if message and message != self._troubles.get(source):
                self._send(trouble_event(source, message))
            self._troubles[source] = message

    def start(self) -> None:
        for sender in self.senders:
            sender.start()

    def stop(self, grace: float) -> None:
        """Deliver what is waiting for up to `grace` seconds (all webhooks at once), then drop the rest."""
        threads = [threading.Thread(target=sender.stop, args=(grace,)) for sender in self.senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def problem(self) -> NotifyProblem:
        failed = [s for s in self.senders if s.last_error_at is not None]
        last = max(failed, key=lambda s: s.last_error_at or 0.0, default=None)
        return NotifyProblem(
            last.last_error if last else "",
            last.last_error_at if last else None,
            sum(s.dropped for s in self.senders),
        )

    def _send(self, event: Event) -> None:
        for sender in self.senders:
            if event.kind in sender.target.settings.events:
                sender.put(event)

    def _first_time(self, event: Event) -> bool:
        key = failure_key(event)
        with self._lock:
            if key in self._announced:
                self._announced.move_to_end(key)
                return False
            self._announced[key] = None
            if len(self._announced) > _REMEMBERED_FAILURES:
                self._announced.popitem(last=False)
        return True
