"""Periodic jobs (folder rescans now; mail polls and backups later): the only APScheduler import."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("fapiao")


class Scheduler:
    """Jobs run on a background thread; a job never runs twice at once, and runs missed while the
    machine slept are folded into one."""

    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    def every(self, seconds: float, job: Callable[[], object], name: str) -> None:
        self._scheduler.add_job(_logged(job, name), IntervalTrigger(seconds=seconds), id=name, name=name)

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop; a job that is running is let finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def _logged(job: Callable[[], object], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # the job runs again at its next time
            log.exception("error in scheduled job %r", name)

    return run
