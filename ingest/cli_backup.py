"""`fapiao backup now|list|verify|restore`: snapshots of the archive and its database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ingest.backup_job import backup_source, human_size, summary
from ingest.cli_common import EXIT_FAILURE, EXIT_USAGE, ConfigOption, settings_from, shown, stdout_console
from ingest.config import Settings
from ingest.daemon_status import DaemonStatus
from ingest.logs import printable
from storage.backup import (
    EXPORT_FORMATS,
    BackupBusyError,
    BackupError,
    Snapshot,
    back_up,
    backup_lock,
    leftovers,
    snapshots,
)
from storage.backup_manifest import ManifestError
from storage.backup_restore import Identity, RestoreError, open_snapshot, restore, verify

backup_app = typer.Typer(
    help="Back up the archive and its database; verify and restore snapshots.", no_args_is_help=True
)


def _folder(settings: Settings) -> Path:
    if settings.backup.dir is None:
        where = settings.source or "the built-in defaults"
        typer.echo(f'no backup folder: add [backup] dir = "…" to {where} (see config.example.toml)', err=True)
        raise typer.Exit(EXIT_USAGE)
    return settings.backup.dir


@backup_app.command("now")
def now_command(
    fmt: Annotated[
        str, typer.Option("--format", help="folder; or tar / zip: the snapshot also as one file, for a cloud drive")
    ] = "folder",
    out: Annotated[Path | None, typer.Option("--out", help="where the tar or zip goes (default: beside it)")] = None,
    config: ConfigOption = None,
) -> None:
    """Take a snapshot now (archive, database, manifest), then apply retention.

    Safe while the daemon runs. Exit code 1 when it failed; nothing that looks complete is left then.
    """
    if fmt not in ("folder", *EXPORT_FORMATS):
        raise typer.BadParameter(f"{fmt!r}: choose folder, tar or zip", param_hint="--format")
    if out is not None and fmt == "folder":
        raise typer.BadParameter("--out goes with --format tar or zip", param_hint="--out")
    settings = settings_from(config)
    folder = _folder(settings)
    try:
        result = back_up(
            backup_source(settings), folder, keep=settings.backup.keep, export=None if fmt == "folder" else fmt, out=out
        )
    except BackupError as exc:
        typer.echo(f"backup: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from exc
    for leftover in result.cleaned:
        typer.echo(f"removed {leftover}, left by an interrupted backup")
    for note in [*result.notes, *result.manifest.notes]:
        typer.echo(printable(f"note: {note}"))
    typer.echo(printable(f"backup: {summary(result)} ({folder})"))


@backup_app.command("list")
def list_command(config: ConfigOption = None) -> None:
    """The snapshots in the backup folder, oldest first."""
    folder = _folder(settings_from(config))
    found = _snapshots(folder)
    if not found:
        typer.echo(f"no snapshots in {folder} yet (make one with `fapiao backup now`)")
    else:
        stdout_console().print(_table(found))
    running = _backup_running(folder)
    for leftover in leftovers(folder):
        if running:
            typer.echo(f"in progress: {leftover.name} (a backup is running)")
        else:
            typer.echo(f"incomplete: {leftover.name} (an interrupted backup; removed by the next one)")


def _snapshots(folder: Path) -> list[Snapshot]:
    try:
        return snapshots(folder)
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_FAILURE) from exc


def _backup_running(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    try:
        with backup_lock(folder):
            return False
    except BackupBusyError:
        return True
    except OSError:  # the folder cannot be written: then nobody is backing up into it either
        return False


def _table(found: list[Snapshot]) -> Table:
    table = Table()
    for column in ("snapshot", "files", "archive", "new", "unchanged files", "schema", "version", "also"):
        table.add_column(column, no_wrap=column != "also", overflow="fold")
    for snapshot in found:
        try:
            manifest = snapshot.manifest()
        except ManifestError as exc:
            table.add_row(snapshot.name, "", "", "", "", "", "", shown(f"manifest unreadable: {exc}"))
            continue
        also = [p.name for p in snapshot.exports()] + (
            ["no database (PostgreSQL)"] if manifest.database is None else []
        )
        table.add_row(
            snapshot.name,
            str(len(manifest.files)),
            human_size(manifest.archive_bytes),
            human_size(manifest.copied_bytes),
            "hard links" if manifest.linked else "copies (no hard links)",
            manifest.schema_revision or "",
            manifest.program_version,
            shown(", ".join(also)),
        )
    return table


@backup_app.command("verify")
def verify_command(
    snapshot: Annotated[
        str | None, typer.Argument(help="a snapshot name, folder, or .tar/.zip export (default: the newest)")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="verify every snapshot in the backup folder")] = False,
    config: ConfigOption = None,
) -> None:
    """Re-hash every file of a snapshot and compare it with the manifest; each difference is listed.

    Exit code 1 when anything differs or cannot be read.
    """
    settings = settings_from(config)
    if every:
        targets = [s.path for s in _snapshots(_folder(settings))]
    elif snapshot is not None:
        targets = [_resolve(snapshot, settings)]
    else:
        newest = _snapshots(_folder(settings))[-1:]
        targets = [s.path for s in newest]
    if not targets:
        typer.echo("no snapshots to verify (make one with `fapiao backup now`)", err=True)
        raise typer.Exit(EXIT_FAILURE)
    hashed: dict[Identity, tuple[int, str]] = {}  # files shared by hard links are read once
    failed = False
    for path in targets:
        try:
            with open_snapshot(path) as reader:
                report = verify(reader, hashed=hashed)
        except ManifestError as exc:
            typer.echo(printable(f"{path.name}: {exc}"))
            failed = True
            continue
        for difference in report.differences:
            typer.echo(printable(f"{report.name}: {difference}"))
        rate = report.bytes / 1e6 / report.seconds if report.seconds > 0 else 0.0
        count = len(report.differences)
        verdict = "all match" if report.ok else f"{count} difference{'s' if count > 1 else ''}"
        typer.echo(
            f"verify {report.name}: {report.files} files, {human_size(report.bytes)} in {report.seconds:.1f} s "
            f"({rate:.0f} MB/s): {verdict}"
        )
        failed = failed or not report.ok
    if failed:
        raise typer.Exit(EXIT_FAILURE)


@backup_app.command("restore")
def restore_command(
    snapshot: Annotated[str, typer.Argument(help="a snapshot name, folder, or .tar/.zip export")],
    to: Annotated[Path, typer.Option("--to", help="a new or empty folder for the archive, database and config")],
    config: ConfigOption = None,
) -> None:
    """Write a snapshot's archive and database into an empty folder, with a config.toml pointing at them.

    Never writes into a folder that has anything in it. Exit code 1 when a file did not match its manifest.
    """
    path = _resolve(snapshot, settings_from(config))
    try:
        with open_snapshot(path) as reader:
            report = restore(reader, to)
    except (ManifestError, RestoreError) as exc:
        typer.echo(printable(f"restore: {exc}"), err=True)
        raise typer.Exit(EXIT_FAILURE) from exc
    for problem in report.problems:
        typer.echo(printable(f"problem: {problem}"), err=True)
    typer.echo(
        printable(
            f"restored {report.name} into {to}: {report.files} files ({human_size(report.bytes)}); "
            f"config {report.config}"
        )
    )
    typer.echo(printable(f"next: fapiao check --config {report.config}"))
    if report.problems:
        raise typer.Exit(EXIT_FAILURE)


def _resolve(text: str, settings: Settings) -> Path:
    """A snapshot given as a path, or by name (or export file name) in the backup folder."""
    given = Path(text).expanduser()
    if given.exists():
        return given
    folder = settings.backup.dir
    if folder is not None and (folder / text).exists() and Path(text).name == text:
        return folder / text
    where = f" in {folder}" if folder is not None else " (and no [backup] dir is configured)"
    typer.echo(printable(f"no snapshot {text!r}{where}; `fapiao backup list` shows them"), err=True)
    raise typer.Exit(EXIT_FAILURE)


def backup_lines(settings: Settings, status: DaemonStatus | None, now: datetime) -> list[str]:
    """The backup part of `fapiao status`: the newest snapshot, the next scheduled one, the last failure."""
    folder = settings.backup.dir
    if folder is None:
        return ["backups: none configured (add [backup] dir, see config.example.toml)"]
    try:
        found = snapshots(folder)
    except BackupError as exc:
        return [f"backups: {exc}"]
    last = f"last {found[-1].name}" if found else "no snapshot yet"
    lines = [f"backups: {folder}; {len(found)} snapshots; {last}"]
    running = status is not None and status.state(now) == "running"
    if settings.backup.schedule:
        when = status.backup_next if running and status is not None and status.backup_next else None
        lines.append(f"  schedule: {settings.backup.schedule}" + (f"; next {_local(when)}" if when else ""))
    if status is not None and status.backup_error:  # also after `run --once`, whose status says stopped
        lines.append(f"  last backup failed ({_local(status.backup_error_at)}): {status.backup_error}")
    return lines


def _local(iso: str | None) -> str:
    return f"{datetime.fromisoformat(iso).astimezone():%Y-%m-%d %H:%M}" if iso else "?"
