"""`fapiao print`: the chosen invoices merged into one PDF to print for reimbursement."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ingest.cli_common import EXIT_FAILURE, ConfigOption, check_output_file, date_range, open_archive, settings_from
from ingest.logs import printable
from storage import ledger
from storage.index_csv import grouped_yuan

if TYPE_CHECKING:
    from ingest.report.print_pdf import PrintResult


class PrintStatus(StrEnum):
    OK = "ok"
    REVIEW = "review"
    ALL = "all"


def print_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE.pdf", help="the PDF to write (replaced if it exists)")
    ],
    since: Annotated[str | None, typer.Option("--since", help="issued on or after YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="issued on or before YYYY-MM-DD")] = None,
    seller: Annotated[str | None, typer.Option("--seller", help="seller name contains this")] = None,
    buyer: Annotated[str | None, typer.Option("--buyer", help="buyer name contains this")] = None,
    status: Annotated[
        PrintStatus,
        typer.Option(
            "--status",
            help="ok: only invoices whose checks passed, what you hand in (the default); "
            "review: only those waiting for a look; all: both",
        ),
    ] = PrintStatus.OK,
    config: ConfigOption = None,
) -> None:
    """Merge the chosen invoices into one PDF to print, two per A4 page, after a cover listing them.

    The invoices follow in date order, at true size or shrunk to fit (never enlarged); the cover lists each one
    with the page it is on, and the total.

    An invoice with only an OFD or XML file gets a card in its place: print the OFD from an OFD reader.
    Exit code 1 when an invoice's file is missing or unreadable (the PDF is still written, with a card instead).
    """
    first, last = date_range(since, until)
    archive = open_archive(settings_from(config))
    check_output_file(output, archive.root, command="print", what="PDF")
    chosen = None if status is PrintStatus.ALL else status.value
    views = ledger.list_invoices(archive.engine, since=first, until=last, seller=seller, buyer=buyer, status=chosen)
    if not views:
        hint = ""
        if status is PrintStatus.OK:
            review = ledger.list_invoices(
                archive.engine, since=first, until=last, seller=seller, buyer=buyer, status=PrintStatus.REVIEW.value
            )
            if review:
                verb = "matches" if len(review) == 1 else "match"
                hint = f" ({_count(len(review), 'invoice')} under review {verb}: add --status review or --status all)"
        typer.echo(f"print: no invoices match, nothing written{hint}", err=True)
        raise typer.Exit(EXIT_FAILURE)
    # Imported here: pdfium imposition and reportlab are for this command and `export --format pdf` only,
    # not for the start of every other one.
    from ingest.report.print_pdf import PrintError, Selection, write_print_pdf

    selection = Selection(since=first, until=last, seller=seller, buyer=buyer, status=chosen)
    try:
        result = write_print_pdf(views, archive.root, output, selection=selection)
    except PrintError as exc:
        typer.echo(f"print: {printable(str(exc))}", err=True)
        raise typer.Exit(EXIT_FAILURE) from exc
    tell_result(result, output, "print")


def tell_result(result: PrintResult, output: Path, command: str) -> None:
    """What `print` (and `export --format pdf`) says about the PDF it wrote; exit code 1 when a file was missing."""
    for path in result.not_pdf:
        typer.echo(f"OFD/XML only, a card in its place (print it from an OFD reader): {printable(path)}")
    for path in result.missing:
        what = "unreadable, not a PDF pdfium can open" if path in result.unreadable else "missing from the archive"
        typer.echo(f"{what}: {printable(path)}", err=True)
    typer.echo(summary_line(result, output, command))
    if result.missing:
        typer.echo(
            f"{command}: {_count(len(result.missing), 'invoice file')} "
            f"{'is' if len(result.missing) == 1 else 'are'} missing or unreadable, a card in its place "
            "(run `fapiao check`)",
            err=True,
        )
        raise typer.Exit(EXIT_FAILURE)


def summary_line(result: PrintResult, output: Path, command: str) -> str:
    """'print: 12 invoices on 7 pages (cover 1), total 3,456.78 -> out.pdf'."""
    line = (
        f"{command}: {_count(result.invoices, 'invoice')} on {_count(result.pages, 'page')} "
        f"(cover {result.cover_pages}), total {grouped_yuan(result.total_fen)}"
    )
    if result.without_total:
        line += f" ({_count(result.without_total, 'invoice')} without a total, left out)"
    return f"{line} -> {printable(str(output))}"


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
