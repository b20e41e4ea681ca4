"""The `fapiao` command: parses arguments, calls the library, maps errors to exit codes (0 ok, 1 failure, 2 usage)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ingest.cli_archive import (
    archive_app,
    check_command,
    find_command,
    import_command,
    list_command,
    status_command,
)
from ingest.cli_backup import backup_app
from ingest.cli_common import (
    EXIT_FAILURE,
    ConfigOption,
    app,
    extract_limits,
    ocr_reader,
    settings_from,
    shown,
    stdout_console,
)
from ingest.cli_daemon import init_command, run_command
from ingest.cli_inspect import inspect_command
from ingest.cli_mail import mail_app
from ingest.cli_notify import notify_app
from ingest.cli_print import print_command
from ingest.cli_report import export_command, stats_command
from ingest.cli_review import review_app
from ingest.extract.reader import extract_path
from ingest.model import Extraction, Status

_STATUS_STYLE = {Status.OK: "green", Status.REVIEW: "yellow", Status.NOT_INVOICE: "dim", Status.ERROR: "red"}


@app.command()
def extract(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE...", help="invoice files: PDF, OFD or 数电 XML (recognised by content)"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line, in input order")] = False,
    config: ConfigOption = None,
) -> None:
    """Read each invoice's fields and print them; archive nothing.

    Exit code 1 when a file could not be read at all (status 'error').
    """
    settings = settings_from(config)
    limits = extract_limits(settings)
    today = date.today()
    ocr = ocr_reader(settings)
    results: list[Extraction] = []
    for path in files:
        result = extract_path(path, today=today, limits=limits, ocr=ocr)
        results.append(result)
        if as_json:
            # Printed as each file is done, so a long batch shows progress and a pipe sees lines early.
            sys.stdout.write(json.dumps(result.to_json_dict(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
    if not as_json:
        stdout_console().print(_table(results))
    if any(r.status is Status.ERROR for r in results):
        raise typer.Exit(EXIT_FAILURE)


def _table(results: list[Extraction]) -> Table:
    table = Table(show_lines=False)
    table.add_column("file", overflow="fold")
    for column in ("status", "variant"):
        table.add_column(column, no_wrap=True)
    # Numbers must stay whole: a person copies them. 20 digits for 数电; code + number for old style.
    table.add_column("number", min_width=20, overflow="fold")
    for column in ("date", "total"):
        table.add_column(column, no_wrap=True)
    table.add_column("seller", overflow="fold")
    table.add_column("problems", overflow="fold", min_width=12)
    for result in results:
        fields = result.fields
        number = fields.invoice_number or ""
        if fields.invoice_code:
            number = f"{fields.invoice_code} {number}"
        table.add_row(
            shown(Path(result.file).name),
            f"[{_STATUS_STYLE[result.status]}]{result.status}[/]",
            str(fields.variant or ""),
            number,
            fields.issue_date.isoformat() if fields.issue_date else "",
            f"{fields.total:.2f}" if fields.total is not None else "",
            shown(fields.seller_name),
            shown("; ".join(result.problems)),
        )
    return table


app.command("init")(init_command)
app.command("run")(run_command)
app.command("import")(import_command)
app.command("list")(list_command)
app.command("find")(find_command)
app.add_typer(review_app, name="review")
app.command("check")(check_command)
app.command("status")(status_command)
app.command("export")(export_command)
app.command("stats")(stats_command)
app.command("print")(print_command)
app.command("inspect")(inspect_command)
app.add_typer(archive_app, name="archive")
app.add_typer(backup_app, name="backup")
app.add_typer(mail_app, name="mail")
app.add_typer(notify_app, name="notify")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
