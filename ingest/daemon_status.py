"""What the running daemon tells `fapiao status`: a small JSON file beside the database, rewritten
every few seconds (atomically), since the two are different processes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from storage.atomic import replace_file

STATUS_NAME = "daemon.json"
# The daemon rewrites the file at least this often while it runs; older than three of these, it is not running.
HEARTBEAT_SECONDS = 30.0


@dataclass
class SourceStatus:
    name: str
    kind: str  # 'folder' or 'mailbox'
    # folder: 'watching', 'polling', 'missing', 'rescans only', 'stopped'; mailbox: 'connecting', 'syncing',
    # 'idle', 'polling', 'offline', 'login failed', 'stopped'
    state: str
    settling: int = 0  # files seen, not yet still for long enough
    queued: int = 0
    last_scan: str | None = None  # ISO time
    outcomes: dict[str, int] = field(default_factory=dict)  # since the daemon started
    last_error: str = ""
    last_error_at: str | None = None


@dataclass
class DaemonStatus:
    pid: int
    started_at: str
    updated_at: str
    queue: int = 0
    busy: bool = False
    stopped_at: str | None = None
    sources: list[SourceStatus] = field(default_factory=list)
    backup_next: str | None = None  # ISO time of the next scheduled backup
    backup_error: str = ""  # the last scheduled backup failed with this (empty once one succeeds)
    backup_error_at: str | None = None
    notify_error: str = ""  # the last notification given up on (a webhook or the digest), with why
    notify_error_at: str | None = None
    notify_dropped: int = 0  # webhook events not delivered since the daemon started

    def state(self, now: datetime) -> str:
        """'running', 'stopped' or 'not responding' (killed, or the machine went down)."""
        if self.stopped_at is not None:
            return "stopped"
        age = (now - datetime.fromisoformat(self.updated_at)).total_seconds()
        return "running" if age <= 3 * HEARTBEAT_SECONDS else "not responding"


def write_status(folder: Path, status: DaemonStatus) -> None:
    replace_file(folder / STATUS_NAME, json.dumps(asdict(status), ensure_ascii=False, indent=1).encode())


def read_status(folder: Path) -> DaemonStatus | None:
    """The last status the daemon wrote; None if it never ran here, or the file is not one it wrote."""
    try:
        document = json.loads((folder / STATUS_NAME).read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            return None
        sources = [SourceStatus(**source) for source in document.pop("sources", [])]
        status = DaemonStatus(**document, sources=sources)
        for moment in (status.started_at, status.updated_at, status.stopped_at):
            if moment is not None:
                datetime.fromisoformat(moment)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return status
