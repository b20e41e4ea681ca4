"""The archive commands: import, list, find, check, status, archive relayout."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ingest.cli_backup import backup_lines
from ingest.cli_common import (
    EXIT_FAILURE,
    ConfigOption,
    date_range,
    extract_limits,
    ocr_reader,
    open_archive,
    settings_from,
    shown,
    stdout_console,
)
from ingest.cli_notify import notify_lines
from ingest.cli_review import retry_text
from ingest.daemon_status import DaemonStatus, read_status
from ingest.importer import ExtractWith, import_paths
from ingest.logs import printable
from ingest.unpack import UnpackLimits
from storage import ledger
from storage.archive import STATE_FOLDER, Outcome
from storage.index_csv import fen_to_yuan
from storage.mail_state import MailState
from storage.source_files import SourceFiles
from storage.unarchived import Unarchived

archive_app = typer.Typer(help="Maintain the archive tree.", no_args_is_help=True)

_SUMMARY_ORDER = (
    (Outcome.ARCHIVED, "archived"),
    (Outcome.REVIEW, "archived for review"),
    (Outcome.DUPLICATE, "duplicates"),
    (Outcome.COMPANION, "companions"),
    (Outcome.CONFLICT, "conflicts"),
    (Outcome.UNRECOGNIZED, "unrecognized"),
    (Outcome.SKIPPED, "skipped"),
    (Outcome.LINK_ONLY, "mails with only download links"),
    (Outcome.FAILED, "failed"),
    (Outcome.SEEN, "seen before (same mail, same file)"),
)
MAX_PROBLEMS_SHOWN = 20  # malformed messages in mail files: the first ones, then a count


def import_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="files, folders (recursive), zips, .eml and mbox files")
    ],
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="extraction processes (0: the CPU count, at most 4)")] = 0,
    config: ConfigOption = None,
) -> None:
    """File every invoice under PATH into the archive, once; a summary at the end.

    Exit code 1 when a file could not be processed (each is listed with its reason).
    """
    settings = settings_from(config)
    archive = open_archive(settings)
    extract = ExtractWith(extract_limits(settings), ocr_reader(settings), date.today())
    workers = jobs or min(os.cpu_count() or 1, 4)
    err = Console(stderr=True, highlight=False)
    problems: list[str] = []
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as progress:
        # By bytes, not files: one mbox can be most of the work.
        task = progress.add_task("import", total=None)
        summary = import_paths(
            paths,
            archive,
            extract=extract,
            unpack_limits=UnpackLimits(),
            workers=workers,
            on_total=lambda total: progress.update(task, total=total),
            on_progress=lambda done: progress.update(task, completed=done),
            on_problem=problems.append,
        )
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"problem: {printable(problem)}", err=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        typer.echo(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems in mail files", err=True)
    for failure in summary.failures:
        typer.echo(f"failed: {printable(failure.name)}: {printable(failure.filed.reason)}", err=True)
    parts = [f"{summary.counts[outcome]} {label}" for outcome, label in _SUMMARY_ORDER if summary.counts[outcome]]
    typer.echo("import: " + (", ".join(parts) if parts else "nothing to import") + f" (archive: {archive.root})")
    if summary.failures:
        raise typer.Exit(EXIT_FAILURE)


def list_command(
    since: Annotated[str | None, typer.Option("--since", help="issued on or after YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="issued on or before YYYY-MM-DD")] = None,
    seller: Annotated[str | None, typer.Option("--seller", help="seller name contains this")] = None,
    status: Annotated[str | None, typer.Option("--status", help="ok or review")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    config: ConfigOption = None,
) -> None:
    """The archived invoices, by issue date."""
    first, last = date_range(since, until)
    archive = open_archive(settings_from(config))
    views = ledger.list_invoices(
        archive.engine,
        since=first,
        until=last,
        seller=seller,
        status=status,
    )
    if as_json:
        for view in views:
            typer.echo(json.dumps(_invoice_json(view), ensure_ascii=False))
        return
    stdout_console().print(_invoice_table(views))


FIND_DAYS = 90  # how far back `fapiao find` explains arrivals that did not become invoices, by default


def find_command(
    text: Annotated[
        str, typer.Argument(help="an invoice number (O/0, I/1, spaces tolerated), seller, amount or file name")
    ],
    since: Annotated[
        str | None,
        typer.Option("--since", help=f"explain arrivals from YYYY-MM-DD on (default: {FIND_DAYS} days ago)"),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="explain arrivals up to YYYY-MM-DD (default: today)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Find invoices, and every arrival that matches, with what became of it.

    A number no invoice has brings the invoices with a similar number (digits that differ, two swapped, one
    missing...), and every arrival from --since to --until that did not become an invoice, with its reason:
    not an invoice, no text and no QR code, only download links, a conflict, failed N times.
    Exit code 1 when no invoice is found.
    """
    today = date.today()
    given_first, given_last = date_range(since, until)
    first = given_first or today - timedelta(days=FIND_DAYS)
    last = given_last or today
    if first > last:
        raise typer.BadParameter(f"{first} is after --until {last}: no day is in that range", param_hint="--since")
    period = (datetime.combine(first, time.min).astimezone(), datetime.combine(last, time.max).astimezone())
    archive = open_archive(settings_from(config))
    found = ledger.find(archive.engine, text, period=period)
    console = stdout_console()
    if found.invoices:
        console.print(_invoice_table(found.invoices))
    if found.similar:
        typer.echo(printable(f"no invoice has the number {text}; similar numbers:"))
        console.print(_similar_table(found.similar))
    if found.arrivals:
        table = Table(title="arrivals")
        for column in ("when", "source", "from", "outcome", "reason"):
            table.add_column(column, overflow="fold")
        for arrival in found.arrivals:
            table.add_row(
                f"{arrival.last_seen.astimezone():%Y-%m-%d %H:%M}",
                shown(arrival.source),
                shown(arrival.source_key),
                arrival.outcome,
                shown(arrival.reason),
            )
        console.print(table)
    if found.invoices:
        return
    if not found.similar and not found.arrivals:
        typer.echo(printable(f"nothing matches {text!r}"))
    if found.unarchived or found.troubles:
        typer.echo(f"arrivals from {first} to {last} that did not become invoices:")
        console.print(_unarchived_table(found))
    else:
        typer.echo(f"every arrival from {first} to {last} became an invoice (--since/--until to look further)")
    raise typer.Exit(EXIT_FAILURE)


def _similar_table(similar: list[ledger.Similar]) -> Table:
    # No file column: a path is one long word a narrow terminal cannot fold; `fapiao find NUMBER` shows it.
    table = Table()
    table.add_column("number", min_width=20, overflow="fold")
    table.add_column("differs", overflow="fold", max_width=18)
    table.add_column("date", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("seller", overflow="fold", max_width=16)
    table.add_column("status", no_wrap=True)
    for hit in similar:
        invoice = hit.view.invoice
        number = f"{invoice.invoice_code} {invoice.invoice_number}" if invoice.invoice_code else invoice.invoice_number
        table.add_row(
            number,
            shown(hit.differences if hit.compared == "number" else f"{hit.differences} (in code and number)"),
            invoice.issue_date.isoformat() if invoice.issue_date else "",
            fen_to_yuan(invoice.total_fen),
            shown(invoice.seller_name),
            invoice.status,
        )
    return table


def _unarchived_table(found: ledger.Found) -> Table:
    table = Table()
    table.add_column("when", no_wrap=True)
    table.add_column("source", overflow="fold")
    table.add_column("from", overflow="fold")
    table.add_column("why", overflow="fold")
    table.add_column("detail", overflow="fold")
    for item in found.unarchived:
        arrival = item.arrival
        table.add_row(
            f"{arrival.last_seen.astimezone():%Y-%m-%d %H:%M}",
            shown(arrival.source),
            shown(arrival.source_key),
            item.kind,
            "\n".join(shown(line) for line in unarchived_details(item)),
        )
    for trouble in found.troubles:
        subject = f" ({trouble.subject})" if trouble.subject else ""
        table.add_row(
            f"{trouble.updated.astimezone():%Y-%m-%d %H:%M}",
            shown(trouble.source),
            shown(trouble.key + subject),
            "quarantined" if trouble.retry.state == "quarantined" else "failed",
            shown(f"{trouble.retry.reason} ({retry_text(trouble.retry)})"),
        )
    return table


def unarchived_details(item: Unarchived) -> list[str]:
    """What a person needs to know about an arrival that did not become an invoice, line by line."""
    lines = [item.detail] if item.detail else []
    if item.conflict_with is not None:
        invoice = item.conflict_with
        lines.append(
            f"conflicts with invoice {invoice.id}: {fen_to_yuan(invoice.total_fen)}, {invoice.seller_name or '?'}"
        )
    if item.file:
        lines.append(f"kept as {item.file}")
    if item.retry is not None:
        lines.append(f"source: {retry_text(item.retry)}")
    if item.similar:
        lines.append(f"similar number {item.similar}")
    return lines


def check_command(
    fix: Annotated[
        bool, typer.Option("--fix", help="repair what is safe: pending placements, temp files, index")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Compare the database with the archive tree. Exit code 1 when they differ."""
    archive = open_archive(settings_from(config))
    if fix:
        for note in archive.fix():
            typer.echo(f"fixed: {printable(note)}")
    report = archive.check()
    for label, paths in (
        ("missing (in the database, not in the tree)", report.missing),
        ("changed (bytes differ from when filed)", report.changed),
        ("stray (in the tree, not in the database)", report.strays),
        ("placement not finished (run check --fix)", report.pending),
        ("temp file left over (run check --fix)", report.temp_files),
    ):
        for path in paths:
            typer.echo(f"{label}: {printable(path)}")
    if not report.clean:
        raise typer.Exit(EXIT_FAILURE)
    typer.echo(f"check: database and tree agree ({archive.root})")


def status_command(config: ConfigOption = None) -> None:
    """The daemon and its sources (state, queue, counts, last error), and counts of invoices, files, arrivals."""
    settings = settings_from(config)
    archive = open_archive(settings)
    state = ledger.status(archive.engine)
    typer.echo(f"archive: {archive.root}")
    typer.echo(f"invoices: {sum(state.invoices_by_status.values())} ({_counts(state.invoices_by_status)})")
    typer.echo(f"files: {sum(state.files_by_role.values())} ({_counts(state.files_by_role)})")
    typer.echo(f"arrivals: {sum(state.arrivals_by_outcome.values())} ({_counts(state.arrivals_by_outcome)})")
    last = f"{state.last_arrival.astimezone():%Y-%m-%d %H:%M:%S}" if state.last_arrival else "none"
    typer.echo(f"last arrival: {last}")
    daemon = read_status(archive.root / STATE_FOLDER)
    now = datetime.now(UTC)
    for line in [*daemon_lines(daemon, now), *backup_lines(settings, daemon, now), *notify_lines(daemon)]:
        typer.echo(printable(line))
    files = SourceFiles(archive.engine)
    for watch in settings.watches:
        source = f"folder:{watch.path}"
        for path, file_state, reason in files.problems(source):
            typer.echo(printable(f"  {file_state}: {path}: {reason}"))
    mail = MailState(archive.engine)
    for mailbox in settings.mailboxes:
        for problem in mail.problems(mailbox.source):
            subject = f" ({problem.subject})" if problem.subject else ""
            when = f", next try {problem.next_try.astimezone():%Y-%m-%d %H:%M}" if problem.next_try else ""
            typer.echo(
                printable(
                    f"  {problem.state} after {problem.attempts} attempts{when}: {mailbox.source} "
                    f"{problem.folder} UID {problem.uid}{subject}: {problem.reason}"
                )
            )


def daemon_lines(status: DaemonStatus | None, now: datetime) -> list[str]:
    """The daemon's part of `fapiao status`, from the file it keeps up to date."""
    if status is None:
        return ["daemon: has not run here"]
    state = status.state(now)
    since = _local(status.stopped_at if state == "stopped" else status.started_at)
    lines = [
        f"daemon: {state} (pid {status.pid}, {'stopped at' if state == 'stopped' else 'since'} {since}, "
        f"last update {_local(status.updated_at)})",
        f"queue: {status.queue} waiting{', storing one now' if status.busy else ''}",
    ]
    for source in status.sources:
        outcomes = ", ".join(f"{count} {name}" for name, count in source.outcomes.items()) or "nothing yet"
        scanned = f", last scan {_local(source.last_scan)}" if source.last_scan else ""
        waiting = (
            f"{source.queued} messages queued"
            if source.kind == "mailbox"
            else f"{source.settling} settling, {source.queued} queued"
        )
        lines.append(f"source {source.name}: {source.state}; {waiting}; taken since start: {outcomes}{scanned}")
        if source.last_error:
            lines.append(f"  last error ({_local(source.last_error_at)}): {source.last_error}")
    return lines


def _local(iso: str | None) -> str:
    return f"{datetime.fromisoformat(iso).astimezone():%Y-%m-%d %H:%M:%S}" if iso else "?"


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counter.items())) or "none"


def _invoice_json(view: ledger.InvoiceView) -> dict[str, object]:
    invoice = view.invoice
    return {
        "invoice_number": invoice.invoice_number,
        "invoice_code": invoice.invoice_code,
        "issue_date": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "total": fen_to_yuan(invoice.total_fen) or None,
        "seller_name": invoice.seller_name,
        "status": invoice.status,
        "path": view.path,
        "companions": list(view.companions),
    }


def _invoice_table(views: list[ledger.InvoiceView]) -> Table:
    table = Table()
    table.add_column("date", no_wrap=True)
    table.add_column("number", min_width=20, overflow="fold")
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("seller", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("file", overflow="fold")
    for view in views:
        invoice = view.invoice
        number = f"{invoice.invoice_code} {invoice.invoice_number}" if invoice.invoice_code else invoice.invoice_number
        table.add_row(
            invoice.issue_date.isoformat() if invoice.issue_date else "",
            number,
            fen_to_yuan(invoice.total_fen),
            shown(invoice.seller_name),
            invoice.status,
            shown(" + ".join(p for p in (view.path, *view.companions) if p)),
        )
    return table


@archive_app.command("relayout")
def relayout_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the moves, change nothing")] = False,
    config: ConfigOption = None,
) -> None:
    """Move every file to the name the current layout gives it (after a layout change)."""
    archive = open_archive(settings_from(config))
    moves = archive.relayout(dry_run=dry_run)
    for old, new in moves:
        typer.echo(f"{'would move' if dry_run else 'moved'}: {printable(old)} -> {printable(new)}")
    typer.echo(f"relayout: {len(moves)} {'to move' if dry_run else 'moved'}")
