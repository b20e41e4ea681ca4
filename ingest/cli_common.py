"""What every `fapiao` command shares: the typer app, the --config option, settings and archive opening."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ingest.config import ConfigError, Settings, load_settings
from ingest.extract.reader import Limits
from ingest.extract.tesseract import Tesseract, find_tesseract
from ingest.logs import printable
from storage.archive import Archive
from storage.db import DatabaseError, open_database

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    name="fapiao",
    help="Collect Chinese e-invoices (电子发票) from mailboxes and folders into one archive.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Collect Chinese e-invoices (电子发票) from mailboxes and folders into one archive."""


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="config file (default: ./config.toml, then the platform config dir)"),
]


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"config error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc


def extract_limits(settings: Settings) -> Limits:
    return Limits(max_pages=settings.extract.max_pages, max_file_bytes=settings.extract.max_file_mb * 1024 * 1024)


def ocr_reader(settings: Settings) -> Tesseract | None:
    """Tesseract when OCR is on and it is installed with the languages invoices need."""
    return find_tesseract() if settings.extract.ocr else None


def stdout_console() -> Console:
    # Piped into a file or a pager there is no terminal width: keep each row on one line.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def open_archive(settings: Settings) -> Archive:
    """The archive of `settings`, its database upgraded to the current schema (after a copy)."""
    try:
        engine = open_database(settings.database_url)
    except DatabaseError as exc:
        typer.echo(f"database error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from exc
    return Archive(settings.archive.root, engine, layout=settings.archive.layout)


def shown(text: str | None) -> str:
    """`printable`, and escaped for a rich table, where '[...]' would be read as markup."""
    return escape(printable(text))


def date_option(text: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option's value, or a usage error naming the option."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date like 2025-07-29", param_hint=option) from exc


def date_range(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    """--since and --until (both inclusive), checked to leave at least one day."""
    first, last = date_option(since, "--since"), date_option(until, "--until")
    if first and last and first > last:
        raise typer.BadParameter(f"{first} is after --until {last}: no day is in that range", param_hint="--since")
    return first, last


def check_output_file(output: Path, archive_root: Path, *, command: str, what: str) -> None:
    """Before anything is written: usage errors for an output inside the archive (it would be a stray to
    `fapiao check`) or that is a folder; exit code 1 when its folder does not exist (not created: a typo
    should not leave folders behind)."""
    if output.resolve().is_relative_to(archive_root.resolve()):
        raise typer.BadParameter(
            f"{printable(str(output))} is inside the archive ({printable(str(archive_root))}); "
            f"write the {what} somewhere else",
            param_hint="--output",
        )
    if output.is_dir():
        raise typer.BadParameter(f"{printable(str(output))} is a folder; give a file name", param_hint="--output")
    if not output.parent.is_dir():
        typer.echo(f"{command}: {printable(str(output.parent))} is not a folder (create it first)", err=True)
        raise typer.Exit(EXIT_FAILURE)
