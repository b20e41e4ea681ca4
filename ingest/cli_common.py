"""What every `fapiao` command shares: the typer app, the --config option, settings and archive opening."""

from __future__ import annotations

import sys
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
