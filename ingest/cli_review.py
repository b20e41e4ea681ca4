"""`fapiao review [show|set|accept]`: what needs a person, one item in detail, corrections by hand, acceptance.

IDs are what `fapiao review` prints: an invoice's number in the database ('12'), a stored conflict or
unrecognized file ('f7'), a failed arrival ('a3').
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from ingest.cli_common import EXIT_FAILURE, EXIT_USAGE, ConfigOption, open_archive, settings_from, shown, stdout_console
from ingest.logs import printable
from ingest.review_fields import FIELDS, FieldError, correction, parse_assignments, problem_fields
from storage import ledger
from storage.archive import Archive, Renamed
from storage.atomic import PlacementError
from storage.index_csv import fen_to_yuan
from storage.models import Invoice, ReviewChange
from storage.review_edit import (
    Applied,
    ReviewEditError,
    accept,
    correct,
    set_aside_arrival,
    set_aside_file,
)
from storage.unarchived import Retry, Unarchived

review_app = typer.Typer(
    help="What needs a person, and why; `review show|set|accept ID` for one item.",
    invoke_without_command=True,
)

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="as `fapiao review` lists it: 12, f7 or a3")]


@review_app.callback()
def review_list(ctx: typer.Context, config: ConfigOption = None) -> None:
    """What needs a person, and why: invoices whose checks failed (ID 12), conflicting and unrecognized
    files (f7), failed arrivals (a3). `fapiao review show ID` for one of them."""
    if ctx.invoked_subcommand is not None:
        return
    archive = open_archive(settings_from(config))
    items = ledger.review(archive.engine)
    if not items:
        typer.echo("nothing to review")
        return
    # One block per item rather than a table: file names and reasons are long, and a table of eight columns
    # in an 80- or 100-column terminal crops them.
    width = max(len(str(item.id)) for item in items) + 2
    for item in items:
        why = "; ".join(item.reasons)
        if item.retry is not None:
            why = f"{why} ({retry_text(item.retry)})"
        facts = [
            item.issue_date.isoformat() if item.issue_date else "",
            item.number or "",
            fen_to_yuan(item.total_fen),
            item.seller or "",
        ]
        typer.echo(printable(f"{str(item.id).ljust(width)}{item.what:<13}{'  '.join(f for f in facts if f)}".rstrip()))
        typer.echo(printable(f"{'':{width}}file: {item.path}"))
        if why:
            typer.echo(printable(f"{'':{width}}why:  {why}"))
    counts = Counter(item.what for item in items)
    typer.echo(
        f"{len(items)} to review ({', '.join(f'{n} {what}' for what, n in counts.items())}); "
        "`fapiao review show ID` for one"
    )


@review_app.command("show")
def show_command(item: IdArgument, config: ConfigOption = None) -> None:
    """One review item: an invoice's fields with where each came from and its problems side by side, its
    files, arrivals and the history of changes; or a file's or a failed arrival's story."""
    review_id = _review_id(item)
    archive = open_archive(settings_from(config))
    detail = ledger.review_detail(archive.engine, review_id)
    if detail is None:
        typer.echo(f"review: there is no {_what(review_id)} {review_id}", err=True)
        raise typer.Exit(EXIT_FAILURE)
    if isinstance(detail, ledger.InvoiceReview):
        _show_invoice(detail)
    elif isinstance(detail, ledger.FileReview):
        _show_file(detail)
    else:
        _show_arrival(detail)


@review_app.command("set")
def set_command(
    item: IdArgument,
    assignments: Annotated[
        list[str],
        typer.Argument(
            metavar="FIELD=VALUE...",
            help="number, code, date, pretax, tax (*** if exempt), total, seller, seller_tax_id, buyer, "
            "buyer_tax_id, check_code, variant; an empty value clears the field",
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Correct an invoice's fields by hand; its files are renamed to match and each change is recorded.

    The checks run again on the corrected invoice: with no problem left it is ok and its files leave
    _review/ (as an invoice that passed its checks on arrival); otherwise it stays in review, and
    `fapiao review accept ID` vouches for it as it is. Typing a value the invoice already has confirms it.
    Exit code 2 for an unknown field or a malformed value, 1 when the number is another invoice's.
    """
    review_id = _review_id(item)
    if review_id.kind != ledger.INVOICE:
        what = _what(review_id)
        article = "an" if what[0] in "aeiou" else "a"
        _usage(
            f"{review_id} is {article} {what}, not an invoice: only invoices have fields to set (accept sets it aside)"
        )
    try:
        parse_assignments(assignments)  # a typing mistake is told before anything is opened
    except FieldError as exc:
        _usage(str(exc))
    archive = open_archive(settings_from(config))
    detail = ledger.review_detail(archive.engine, review_id)
    if not isinstance(detail, ledger.InvoiceReview):
        _fail(f"there is no invoice {review_id}")
    try:
        wanted = correction(detail.invoice, assignments, today=date.today())
    except FieldError as exc:
        _usage(str(exc))
    applied = _apply(archive, lambda: correct(archive, review_id.number, wanted))
    _report(review_id, applied)
    if applied.problems:
        typer.echo(printable(f"still in review: {'; '.join(applied.problems)}"))


@review_app.command("accept")
def accept_command(item: IdArgument, config: ConfigOption = None) -> None:
    """Vouch for an invoice as it is (status ok, its files out of _review/, its problems recorded); or, for a
    conflicting or unrecognized file or a failed arrival: seen, leave it (off the list, nothing deleted)."""
    review_id = _review_id(item)
    archive = open_archive(settings_from(config))
    if review_id.kind == ledger.INVOICE:
        applied = _apply(archive, lambda: accept(archive, review_id.number))
        _report(review_id, applied)
        if applied.problems:
            typer.echo(printable(f"accepted with: {'; '.join(applied.problems)}"))
        return
    try:
        if review_id.kind == ledger.FILE:
            stored = set_aside_file(archive, review_id.number)
            typer.echo(printable(f"{review_id} set aside: {stored.path} stays where it is, off the review list"))
        else:
            arrival = set_aside_arrival(archive, review_id.number)
            typer.echo(
                printable(f"{review_id} set aside: {arrival.source_key} is off the review list until it fails again")
            )
    except ReviewEditError as exc:
        _fail(str(exc))


def retry_text(retry: Retry) -> str:
    """'quarantined after 3 attempts' or 'attempt 2, next try 2025-07-29 10:00'."""
    if retry.state == "quarantined":
        return f"quarantined after {retry.attempts} attempts"
    when = f", next try {retry.next_try.astimezone():%Y-%m-%d %H:%M}" if retry.next_try else ""
    return f"attempt {retry.attempts}{when}"


def _apply(archive: Archive, change: Callable[[], Applied]) -> Applied:
    try:
        return change()
    except ReviewEditError as exc:
        _fail(str(exc))
    except PlacementError as exc:
        _fail(f"the change is saved, but a file could not be renamed ({exc}); `fapiao check --fix` finishes it")


def _report(review_id: ledger.ReviewId, applied: Applied) -> None:
    for change in applied.changes:
        if change.old == change.new:
            typer.echo(printable(f"invoice {review_id}: {_label(change.field)} {change.new} (confirmed)"))
        else:
            typer.echo(
                printable(f"invoice {review_id}: {_label(change.field)} {change.old or '-'} -> {change.new or '-'}")
            )
    for renamed in applied.renamed:
        typer.echo(printable(_renamed_text(renamed)))


def _renamed_text(renamed: Renamed) -> str:
    if renamed.problem:
        return f"not renamed: {renamed.problem}"
    return f"renamed: {renamed.old} -> {renamed.new}"


# --- show ----------------------------------------------------------------------------------------------------


def _show_invoice(detail: ledger.InvoiceReview) -> None:
    invoice = detail.invoice
    problems: list[str] = list(json.loads(invoice.problems))
    sources: dict[str, str] = json.loads(invoice.sources)
    typer.echo(printable(f"invoice {invoice.id}: {invoice.status}, key {invoice.key}"))
    table = Table()
    for column in ("field", "value", "from", "problem"):
        table.add_column(column, overflow="fold", no_wrap=column == "field")
    placed: set[str] = set()
    for field in FIELDS:
        mine = [p for p in problems if field.source in problem_fields(p)]
        placed.update(mine)
        table.add_row(
            field.label,
            shown(_value_text(invoice, field.column)),
            shown(sources.get(field.source, "")),
            "\n".join(shown(problem) for problem in mine),
        )
    stdout_console().print(table)
    rest = [p for p in problems if p not in placed]
    if rest:
        typer.echo("other problems:")
        for problem in rest:
            typer.echo(printable(f"  {problem}"))
    typer.echo("files:")
    for stored in detail.files:
        typer.echo(printable(f"  {stored.role}: {stored.path} (f{stored.id}, {stored.kind}, {stored.size} bytes)"))
    if detail.arrivals:
        typer.echo("arrivals:")
        for arrival in detail.arrivals:
            typer.echo(
                printable(
                    f"  {_when(arrival.first_seen)} {arrival.source} {arrival.source_key}: {arrival.outcome}"
                    + (f" ({arrival.reason})" if arrival.reason else "")
                )
            )
    _show_history(detail.history)


def _show_file(detail: ledger.FileReview) -> None:
    stored = detail.file
    typer.echo(printable(f"f{stored.id}: {stored.role} file {stored.path}"))
    typer.echo(printable(f"  {stored.kind}, {stored.size} bytes, arrived as {stored.original_name!r}"))
    if detail.invoice is not None and stored.role == "conflict":
        invoice = detail.invoice.invoice
        typer.echo(
            printable(
                f"  conflicts with invoice {invoice.id}: {invoice.invoice_number}, {fen_to_yuan(invoice.total_fen)}, "
                f"{invoice.seller_name or '?'} ({detail.invoice.path or 'no file'})"
            )
        )
    for arrival in detail.arrivals:
        _show_unarchived(arrival)
    _show_history(detail.history)


def _show_arrival(detail: ledger.ArrivalReview) -> None:
    arrival = detail.arrival.arrival
    typer.echo(printable(f"a{arrival.id}: {detail.arrival.kind}"))
    _show_unarchived(detail.arrival)
    typer.echo(printable(f"  first seen {_when(arrival.first_seen)}, last seen {_when(arrival.last_seen)}"))
    _show_history(detail.history)


def _show_unarchived(item: Unarchived) -> None:
    arrival = item.arrival
    typer.echo(printable(f"  from {arrival.source} {arrival.source_key}"))
    if item.detail:
        typer.echo(printable(f"  why: {item.detail}"))
    if item.retry is not None:
        typer.echo(printable(f"  source: {retry_text(item.retry)}: {item.retry.reason}"))


def _show_history(changes: list[ReviewChange]) -> None:
    if not changes:
        return
    typer.echo("history:")
    for change in changes:
        typer.echo(printable(f"  {_when(change.changed_at)} {history_text(change)}"))


def history_text(change: ReviewChange) -> str:
    """One recorded change as a person reads it."""
    if change.action == "set" and change.old_value == change.new_value:
        return f"confirmed {_label(change.field)} {change.new_value}"
    if change.action in ("set", "status"):
        return f"{_label(change.field)} {change.old_value or '-'} -> {change.new_value or '-'}"
    if change.action == "renamed":
        return f"renamed {change.old_value} -> {change.new_value}"
    if change.action == "accepted":
        had = json.loads(change.note or "[]")
        return "accepted as it is" + (f" (with: {'; '.join(had)})" if had else "")
    if change.action == "set_aside":
        return f"set aside ({change.note})"
    return f"{change.action} {change.note}"


def _value_text(invoice: Invoice, column: str) -> str:
    value = getattr(invoice, column)
    if value is None:
        return ""
    if column.endswith("_fen"):
        return fen_to_yuan(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _label(column: str | None) -> str:
    """'total_fen' -> 'total', 'invoice_number' -> 'number': the names `review set` takes."""
    return next((field.name for field in FIELDS if field.column == column), column or "")


def _when(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M}"


def _review_id(text: str) -> ledger.ReviewId:
    review_id = ledger.parse_review_id(text)
    if review_id is None:
        _usage(f"{text!r} is not a review ID: use one `fapiao review` lists (12, f7 or a3)")
    return review_id


def _what(review_id: ledger.ReviewId) -> str:
    return {ledger.INVOICE: "invoice", ledger.FILE: "stored file", ledger.ARRIVAL: "arrival"}[review_id.kind]


def _usage(message: str) -> NoReturn:
    typer.echo(f"review: {printable(message)}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _fail(message: str) -> NoReturn:
    typer.echo(f"review: {printable(message)}", err=True)
    raise typer.Exit(EXIT_FAILURE)
