"""TOML config -> validated, frozen settings; unknown keys and wrong types are errors that name the valid choices."""

from __future__ import annotations

import os
import string
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.config_tables import ConfigError as ConfigError
from ingest.config_tables import check_table, move_target, resolve_path
from ingest.mail_config import MailboxSettings, parse_mailboxes
from ingest.notify_config import NotifySettings, parse_notify
from ingest.scheduler import cron_problem
from storage.backup_retention import Keep
from storage.paths import PLACEHOLDERS

LAYOUT_FIELDS = PLACEHOLDERS  # the archive renders exactly these
DEFAULT_LAYOUT = "{year}/{year}-{month}/{date}_{seller}_{total}_{number}"
DEFAULT_ROOT = "~/发票"


@dataclass(frozen=True)
class ArchiveSettings:
    root: Path = field(default_factory=lambda: Path(DEFAULT_ROOT).expanduser())
    layout: str = DEFAULT_LAYOUT


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = ""  # empty: SQLite inside the archive root (see `database_url`)


@dataclass(frozen=True)
class ExtractSettings:
    max_pages: int = 20
    max_file_mb: int = 50
    ocr: bool = True  # used only when Tesseract (with chi_sim) is installed


@dataclass(frozen=True)
class AfterAction:
    """What happens to a dropped file once everything in it is safely in the archive."""

    kind: str = "keep"  # 'keep', 'delete' or 'move'
    folder: Path | None = None  # the target of 'move'

    def __str__(self) -> str:
        return f"move:{self.folder}" if self.kind == "move" else self.kind


@dataclass(frozen=True)
class WatchSettings:
    """One [[watch]] folder."""

    path: Path
    after: AfterAction = field(default_factory=AfterAction)
    # Network shares and some NAS mounts send no change events: look at the folder every poll_seconds instead.
    polling: bool = False
    poll_seconds: float = 5.0
    # A file is taken once its size and modification time have not changed for this long.
    settle_seconds: float = 2.0


@dataclass(frozen=True)
class DaemonSettings:
    rescan_minutes: float = 10.0  # the safety net for change events a watcher missed
    max_attempts: int = 5  # a file that failed this often waits until it changes
    log_file: Path | None = None  # None: standard output (journald, Docker and cron collect it there)


@dataclass(frozen=True)
class BackupSettings:
    dir: Path | None = None  # None: no backups (`fapiao backup` asks for one)
    schedule: str = ""  # crontab line, local time; empty: only `fapiao backup now`
    keep: Keep = field(default_factory=Keep)


@dataclass(frozen=True)
class Settings:
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    watches: tuple[WatchSettings, ...] = ()
    mailboxes: tuple[MailboxSettings, ...] = ()
    notify: NotifySettings = field(default_factory=NotifySettings)
    source: Path | None = None  # the file these came from; None for the built-in defaults

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.archive.root / '.fapiao' / 'fapiao.db'}"


_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "archive": {"root": str, "layout": str},
    "database": {"url": str},
    "extract": {"max_pages": int, "max_file_mb": int, "ocr": bool},
    "daemon": {"rescan_minutes": (int, float), "max_attempts": int, "log_file": str},
    "backup": {"dir": str, "schedule": str, "keep": dict},
}
# Arrays of tables: [[watch]] may appear any number of times.
_LISTS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "mailbox": {},  # checked by ingest.mail_config
    "watch": {
        "path": str,
        "after": str,
        "polling": bool,
        "poll_seconds": (int, float),
        "settle_seconds": (int, float),
    },
}


def default_config_paths(*, env: Mapping[str, str] = os.environ, home: Path | None = None) -> list[Path]:
    """Where `--config` is looked for when not given: ./config.toml, then the platform's config dir."""
    home = home or Path.home()
    paths = [Path("config.toml")]
    if sys.platform == "win32" and env.get("APPDATA"):
        paths.append(Path(env["APPDATA"]) / "fapiao" / "config.toml")
    elif sys.platform == "darwin":
        paths.append(home / "Library" / "Application Support" / "fapiao" / "config.toml")
    else:
        paths.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "fapiao" / "config.toml")
    return paths


def load_settings(path: Path | None = None, *, env: Mapping[str, str] = os.environ) -> Settings:
    """Settings from `path`, or from the first default location that exists, or the built-in defaults."""
    if path is None:
        path = next((p for p in default_config_paths(env=env) if p.is_file()), None)
        if path is None:
            return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file (write one with `fapiao init`)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_settings(document, base_dir=path.parent.resolve(), source=path)


def parse_settings(document: Mapping[str, Any], *, base_dir: Path, source: Path | None = None) -> Settings:
    """Validate a parsed TOML document; relative paths are taken from `base_dir` (the config's folder)."""
    where = str(source) if source else "config"
    # [notify] holds tables of its own ([[notify.webhook]], [notify.digest]): ingest.notify_config checks it.
    known = [*_SECTIONS, "notify", *(f"[{name}]" for name in _LISTS)]
    unknown = sorted(set(document) - set(_SECTIONS) - set(_LISTS) - {"notify"})
    if unknown:
        raise ConfigError(f"{where}: unknown section [{unknown[0]}]; known sections: {', '.join(known)}")
    values: dict[str, dict[str, Any]] = {}
    for section, allowed in _SECTIONS.items():
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        values[section] = check_table(where, f"[{section}]", table, allowed)
    archive = _archive(where, values["archive"], base_dir)
    extract = ExtractSettings(**values["extract"])
    for name in ("max_pages", "max_file_mb"):
        if getattr(extract, name) < 1:
            raise ConfigError(f"{where}: [extract] {name} must be at least 1")
    watches = _watches(where, document.get("watch", []), base_dir, archive.root)
    return Settings(
        archive=archive,
        database=DatabaseSettings(**values["database"]),
        extract=extract,
        daemon=_daemon(where, values["daemon"], base_dir),
        backup=_backup(where, values["backup"], base_dir, archive.root, watches),
        watches=watches,
        mailboxes=parse_mailboxes(where, document.get("mailbox", []), base_dir),
        notify=parse_notify(where, document.get("notify", {}), base_dir),
        source=source,
    )


def _daemon(where: str, table: dict[str, Any], base_dir: Path) -> DaemonSettings:
    settings = DaemonSettings(
        rescan_minutes=float(table.get("rescan_minutes", DaemonSettings.rescan_minutes)),
        max_attempts=table.get("max_attempts", DaemonSettings.max_attempts),
        log_file=resolve_path(table["log_file"], base_dir) if table.get("log_file") else None,
    )
    if settings.rescan_minutes <= 0:
        raise ConfigError(f"{where}: [daemon] rescan_minutes must be more than 0")
    if settings.max_attempts < 1:
        raise ConfigError(f"{where}: [daemon] max_attempts must be at least 1")
    return settings


def _backup(
    where: str, table: dict[str, Any], base_dir: Path, archive_root: Path, watches: tuple[WatchSettings, ...]
) -> BackupSettings:
    # Normalised (`../backups` from the config's folder): the folder is shown in every backup message.
    folder = Path(os.path.normpath(resolve_path(table["dir"], base_dir))) if table.get("dir") else None
    schedule = " ".join(table.get("schedule", "").split())
    if schedule and folder is None:
        raise ConfigError(f"{where}: [backup] schedule needs a dir, the folder the snapshots go to")
    if schedule and (problem := cron_problem(schedule)):
        raise ConfigError(
            f"{where}: [backup] schedule {schedule!r} is not a cron line (minute hour day month weekday, "
            f'e.g. "0 3 * * *" for 03:00 every day): {problem}'
        )
    if folder is not None:
        _no_overlap(where, "[backup] dir", folder, archive_root, "the archive root")
        for watch in watches:  # snapshots would be read in as arrivals
            _no_overlap(where, "[backup] dir", folder, watch.path, "a watched folder")
    keep_table = check_table(
        where, "[backup] keep", table.get("keep", {}), {"daily": int, "weekly": int, "monthly": int}
    )
    keep = Keep(**keep_table)
    if min(keep.daily, keep.weekly, keep.monthly) < 0:
        raise ConfigError(f"{where}: [backup] keep counts cannot be negative")
    return BackupSettings(dir=folder, schedule=schedule, keep=keep)


def _watches(where: str, tables: Any, base_dir: Path, archive_root: Path) -> tuple[WatchSettings, ...]:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: watch folders are written [[watch]] (with two brackets), one per folder")
    watches: list[WatchSettings] = []
    for number, table in enumerate(tables, start=1):
        section = f"[[watch]] #{number}"
        check_table(where, section, table, _LISTS["watch"])
        if not table.get("path"):
            raise ConfigError(f"{where}: {section} needs a path, the folder to watch")
        path = resolve_path(table["path"], base_dir)
        watch = WatchSettings(
            path=path,
            after=_after_action(where, section, table.get("after", "keep"), base_dir),
            polling=table.get("polling", False),
            poll_seconds=float(table.get("poll_seconds", WatchSettings.poll_seconds)),
            settle_seconds=float(table.get("settle_seconds", WatchSettings.settle_seconds)),
        )
        if watch.poll_seconds <= 0 or watch.settle_seconds < 0:
            raise ConfigError(f"{where}: {section} poll_seconds must be more than 0 and settle_seconds not negative")
        _no_overlap(where, section, path, archive_root, "the archive root")
        if watch.after.folder is not None:
            _no_overlap(where, section, watch.after.folder, path, "the watched folder")
            _no_overlap(where, section, watch.after.folder, archive_root, "the archive root")
        for other in watches:
            _no_overlap(where, section, path, other.path, "another watched folder")
        watches.append(watch)
    return tuple(watches)


def _after_action(where: str, section: str, text: str, base_dir: Path) -> AfterAction:
    if text in ("keep", "delete"):
        return AfterAction(text)
    if (target := move_target(text)) is not None:
        return AfterAction("move", resolve_path(target, base_dir))
    raise ConfigError(f"{where}: {section} after = {text!r}; choose keep, delete or move:<folder>")


def _no_overlap(where: str, section: str, path: Path, other: Path, what: str) -> None:
    """Two folders where one holds the other would feed files round in a loop (or delete archived ones)."""
    a, b = path.resolve(), other.resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise ConfigError(f"{where}: {section}: {path} overlaps {what} ({other}); use separate folders")


def _archive(where: str, table: dict[str, Any], base_dir: Path) -> ArchiveSettings:
    root = resolve_path(table.get("root", DEFAULT_ROOT), base_dir)
    layout = table.get("layout", DEFAULT_LAYOUT)
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(layout)]
    except ValueError as exc:
        raise ConfigError(f"{where}: [archive] layout {layout!r} is malformed: {exc}") from exc
    names = [name for name, _, _ in fields if name is not None]
    if any(spec or conversion for name, spec, conversion in fields if name is not None):
        raise ConfigError(f"{where}: [archive] layout {layout!r}: write placeholders plainly, like {{seller}}")
    for name in names:
        if name not in LAYOUT_FIELDS:
            raise ConfigError(
                f"{where}: [archive] layout uses {{{name}}}; available: "
                + " ".join("{" + f + "}" for f in LAYOUT_FIELDS)
            )
    if "number" not in names:
        raise ConfigError(f"{where}: [archive] layout must contain {{number}} so two invoices never share a name")
    return ArchiveSettings(root=root, layout=layout)
