"""Periodic jobs (folder rescans, retries, backups on a cron schedule): the only APScheduler import."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
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

    def cron(self, expression: str, job: Callable[[], object], name: str, *, run_now: bool = False) -> None:
        """`job` at the times of a crontab expression (local time); with `run_now`, also once at start."""
        extra = {"next_run_time": datetime.now().astimezone()} if run_now else {}
        self._scheduler.add_job(_logged(job, name), _crontab(expression), id=name, name=name, **extra)

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


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid crontab line (minute hour day month weekday), or None."""
    try:
        _crontab(expression)
    except ValueError as exc:
        return str(exc)
    return None


def next_run(expression: str, after: datetime) -> datetime | None:
    """The first time `expression` names more than a second after `after` (naive: local time; snapshot
    names have whole seconds, so a run named at its own scheduled time is not due again); aware, local."""
    moment = after if after.tzinfo is not None else after.astimezone()
    fire: datetime | None = _crontab(expression).get_next_fire_time(None, moment + timedelta(seconds=1))
    return fire


def _crontab(expression: str) -> CronTrigger:
    return CronTrigger.from_crontab(expression)
