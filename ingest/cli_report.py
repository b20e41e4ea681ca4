"""The report commands: export (a ledger as CSV or xlsx, or the invoices as one print PDF) and stats."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.table import Table

from ingest.cli_common import (
    EXIT_FAILURE,
    ConfigOption,
    check_output_file,
    date_range,
    open_archive,
    settings_from,
    shown,
    stdout_console,
)
from ingest.logs import printable
from ingest.report.csv_ledger import write_csv_ledger
from storage import ledger, report
from storage.atomic import PlacementError, replace_file_streamed
from storage.index_csv import fen_to_yuan, grouped_yuan
from storage.report import Totals


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


class SheetsBy(StrEnum):
    MONTH = "month"


class StatsBy(StrEnum):
    MONTH = "month"
    SELLER = "seller"
    VARIANT = "variant"


class InvoiceStatus(StrEnum):
    OK = "ok"
    REVIEW = "review"


SinceOption = Annotated[str | None, typer.Option("--since", help="issued on or after YYYY-MM-DD")]
UntilOption = Annotated[str | None, typer.Option("--until", help="issued on or before YYYY-MM-DD")]
SellerOption = Annotated[str | None, typer.Option("--seller", help="seller name contains this")]
BuyerOption = Annotated[str | None, typer.Option("--buyer", help="buyer name contains this")]
StatusOption = Annotated[InvoiceStatus | None, typer.Option("--status", help="only invoices with this status")]
_UNKNOWN = {"month": "(no date)", "seller": "(no seller)", "variant": "(no variant)"}


def export_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="the file to write (replaced if it exists)")
    ],
    export_format: Annotated[
        ExportFormat | None,
        typer.Option("--format", help="default: from the output file's suffix (.csv, .xlsx or .pdf)"),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    seller: SellerOption = None,
    buyer: BuyerOption = None,
    status: StatusOption = None,
    by: Annotated[
        SheetsBy | None, typer.Option("--by", help="xlsx only: a summary sheet, then one sheet per month")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write the chosen invoices as a ledger with totals (csv, xlsx) or as one PDF to print (pdf).

    Invoices under review are included (their status column says so) unless --status chooses.
    Exit code 1 when the file cannot be written, or (pdf) when an invoice's file is missing.
    """
    if output.is_dir():
        raise typer.BadParameter(f"{printable(str(output))} is a folder; give a file name", param_hint="--output")
    chosen_format = _export_format(export_format, output)
    if by is not None and chosen_format is not ExportFormat.XLSX:
        raise typer.BadParameter(f"sheets per month need --format xlsx, not {chosen_format}", param_hint="--by")
    first, last = date_range(since, until)
    archive = open_archive(settings_from(config))
    check_output_file(output, archive.root, command="export", what="export")
    views = ledger.list_invoices(
        archive.engine, since=first, until=last, seller=seller, buyer=buyer, status=status.value if status else None
    )
    if chosen_format is ExportFormat.PDF:
        _export_pdf(views, archive.root, output)
        return

    def write(out: BinaryIO) -> None:
        if chosen_format is ExportFormat.CSV:
            write_csv_ledger(out, views)
        else:
            from ingest.report.xlsx_ledger import write_xlsx_ledger  # openpyxl: for this format only

            write_xlsx_ledger(out, views, by_month=by is SheetsBy.MONTH)

    try:
        replace_file_streamed(output, write)
    except PlacementError as exc:
        typer.echo(f"export: {printable(str(exc))}", err=True)
        raise typer.Exit(EXIT_FAILURE) from exc
    typer.echo(f"export: {_totals_line(report.totals(views))} -> {printable(str(output))}")


def stats_command(
    by: Annotated[StatsBy, typer.Option("--by", help="one row per month, seller or variant")] = StatsBy.MONTH,
    since: SinceOption = None,
    until: UntilOption = None,
    seller: SellerOption = None,
    buyer: BuyerOption = None,
    status: StatusOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document: the groups and the total")] = False,
    config: ConfigOption = None,
) -> None:
    """How many invoices and what they add up to (pretax, tax, total), per month, seller or variant."""
    first, last = date_range(since, until)
    archive = open_archive(settings_from(config))
    result = report.stats(
        archive.engine,
        by=by.value,
        since=first,
        until=last,
        seller=seller,
        buyer=buyer,
        status=status.value if status else None,
    )
    if as_json:
        typer.echo(json.dumps(_stats_json(result), ensure_ascii=False))
        return
    stdout_console().print(_stats_table(result))
    if note := _missing_line(result.total):
        typer.echo(f"note: {note}")


def _stats_json(result: report.Stats) -> dict[str, object]:
    """Amounts as decimal strings ('1234.50'), exact for any program that reads them."""
    return {
        "by": result.by,
        "groups": [{result.by: group.key, **_totals_json(group.totals)} for group in result.groups],
        "total": _totals_json(result.total),
    }


def _totals_json(totals: Totals) -> dict[str, object]:
    return {
        "invoices": totals.invoices,
        "pretax": fen_to_yuan(totals.pretax_fen),
        "tax": fen_to_yuan(totals.tax_fen),
        "total": fen_to_yuan(totals.total_fen),
        "missing_pretax": totals.missing_pretax,
        "missing_tax": totals.missing_tax,
        "missing_total": totals.missing_total,
    }


def _stats_table(result: report.Stats) -> Table:
    table = Table()
    table.add_column(result.by, overflow="fold")
    for column in ("invoices", "pretax", "tax", "total"):
        table.add_column(column, justify="right", no_wrap=True)
    for group in result.groups:
        table.add_row(shown(group.key) if group.key else _UNKNOWN[result.by], *_amount_cells(group.totals))
    table.add_section()
    table.add_row("total", *_amount_cells(result.total), style="bold")
    return table


def _amount_cells(totals: Totals) -> tuple[str, str, str, str]:
    return (
        str(totals.invoices),
        grouped_yuan(totals.pretax_fen),
        grouped_yuan(totals.tax_fen),
        grouped_yuan(totals.total_fen),
    )


def _totals_line(totals: Totals) -> str:
    line = (
        f"{_invoices(totals.invoices)}, total {grouped_yuan(totals.total_fen)} "
        f"(pretax {grouped_yuan(totals.pretax_fen)}, tax {grouped_yuan(totals.tax_fen)})"
    )
    note = _missing_line(totals)
    return f"{line}; {note}" if note else line


def _missing_line(totals: Totals) -> str:
    """What the sums leave out, e.g. '1 invoice without a total, left out of its sum'."""
    parts = [
        f"{_invoices(count)} without {what}"
        for count, what in (
            (totals.missing_total, "a total"),
            (totals.missing_pretax, "a pretax amount"),
            (totals.missing_tax, "a tax amount"),
        )
        if count
    ]
    return ", ".join(parts) + ", left out of the sums" if parts else ""


def _invoices(count: int) -> str:
    return f"{count} invoice" if count == 1 else f"{count} invoices"


def _export_pdf(views: list[ledger.InvoiceView], root: Path, output: Path) -> None:
    # Imported here: the print PDF brings pdfium imposition and reportlab, which no other command needs.
    from ingest.cli_print import tell_result
    from ingest.report.print_pdf import write_print_pdf

    try:
        result = write_print_pdf(views, root, output)
    except PlacementError as exc:
        typer.echo(f"export: {printable(str(exc))}", err=True)
        raise typer.Exit(EXIT_FAILURE) from exc
    tell_result(result, output, "export")


def _export_format(given: ExportFormat | None, output: Path) -> ExportFormat:
    if given is not None:
        return given
    try:
        return ExportFormat(output.suffix.lower().lstrip("."))
    except ValueError:
        raise typer.BadParameter(
            f"cannot tell the format from {output.name!r}: give --format csv, xlsx or pdf, "
            "or a file name ending in .csv, .xlsx or .pdf",
            param_hint="--format",
        ) from None
