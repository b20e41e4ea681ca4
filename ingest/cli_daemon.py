"""The daemon's commands: `fapiao init` (a config to start from) and `fapiao run` (the daemon itself)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from ingest.cli_common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigOption,
    extract_limits,
    ocr_reader,
    open_archive,
    settings_from,
)
from ingest.daemon import Daemon
from ingest.importer import ExtractWith
from ingest.logs import setup_logging
from ingest.unpack import UnpackLimits
from storage.archive import STATE_FOLDER
from storage.lock import ArchiveBusyError, held

log = logging.getLogger("fapiao")

LOCK_NAME = "daemon.lock"

# What `fapiao init` writes: a folder that holds everything (config, archive, inbox), so trying the
# program leaves nothing elsewhere. Every other setting is in config.example.toml.
STARTER_CONFIG = """\
# fapiao-inbox configuration, written by `fapiao init`.
# Every setting, with its default and what it does, is in config.example.toml.
# Relative paths are taken from this file's folder.

[archive]
root = "archive"

[[watch]]
# Save or drop invoices here (PDF, OFD, XML or zip); each is filed into the archive once.
path = "inbox"
after = "keep"                # keep | delete | move:<folder>  (only once it is in the archive)

# More folders: one [[watch]] each. For a network share or NAS mount add `polling = true`.
# [[watch]]
# path = "~/Downloads"
"""


def init_command(
    folder: Annotated[Path, typer.Argument(help="the folder for config.toml, archive/ and inbox/")] = Path(),
) -> None:
    """Write a commented config.toml to start from, with an archive/ and a watched inbox/ beside it."""
    config = folder / "config.toml"
    if config.exists():
        typer.echo(f"{config} already exists; not overwritten", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        (folder / "inbox").mkdir(parents=True, exist_ok=True)
        with config.open("x", encoding="utf-8") as out:
            out.write(STARTER_CONFIG)
    except OSError as exc:
        typer.echo(f"cannot write {config}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {config}")
    typer.echo(f"start the daemon with: fapiao run --config {config}")
    typer.echo(f"then drop invoices into {folder / 'inbox'}")


def run_command(
    once: Annotated[
        bool, typer.Option("--once", help="one pass over every source, then exit (for cron, Task Scheduler)")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Run the daemon: watch the configured folders and mailboxes and file every invoice that arrives.

    Stops cleanly on SIGTERM or Ctrl-C (the file in hand is finished first).

    With --once, the exit code is 1 when a file failed.
    """
    settings = settings_from(config)
    if not settings.watches and not settings.mailboxes:
        where = settings.source or "the built-in defaults"
        typer.echo(
            f"nothing to watch: {where} has no [[watch]] folder and no [[mailbox]]. "
            "Add one, or start from `fapiao init DIR` (a config with an inbox/ folder).",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    handler = setup_logging(settings.daemon.log_file)
    archive = open_archive(settings)
    daemon = Daemon(
        settings,
        archive,
        extract=ExtractWith(extract_limits(settings), ocr_reader(settings)),
        unpack_limits=UnpackLimits(),
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        with held(archive.root / STATE_FOLDER / LOCK_NAME, what="fapiao run"):
            code = daemon.run(stop, once=once)
    except ArchiveBusyError as exc:
        log.error("%s", exc)
        code = EXIT_FAILURE
    finally:
        handler.flush()
    raise typer.Exit(code)


def _stop_on_signals(stop: threading.Event) -> None:
    """The first SIGTERM or SIGINT asks for a clean stop; a second one ends the process at once."""

    def request_stop(number: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping after the current file", signal.Signals(number).name)
        stop.set()
        for name in ("SIGTERM", "SIGINT"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)

    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), request_stop)
