"""The daemon's log: one line per event, to standard output or a file; untrusted text made harmless."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import unicodedata
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(message)s"


def printable(text: str | None) -> str:
    """An untrusted string (a file name, a seller name from a PDF) without control and format characters,
    which would move the cursor, retitle the window, reorder the line or forge a new log line."""
    if not text:
        return ""
    return "".join("?" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def setup_logging(log_file: Path | None, *, level: int = logging.INFO) -> logging.Handler:
    """Log to `log_file` (reopened when logrotate moves it) or to standard output; returns the handler."""
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every job run at INFO: a line every few seconds says nothing to a person.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic narrates each schema upgrade step; the copy made before one is what a person needs to know.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # imapclient warns each time a server's answer is not ASCII (a Chinese folder name in "NO Mailbox doesn't
    # exist: 发票"); the poller says what went wrong itself, once. Its DEBUG would log the protocol, logins too.
    logging.getLogger("imapclient").setLevel(logging.ERROR)
    return handler
