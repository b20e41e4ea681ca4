"""`fapiao mail test`: log in to each configured mailbox, list its folders with counts, or say plainly what is wrong."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich.table import Table

from ingest.cli_common import EXIT_FAILURE, EXIT_USAGE, ConfigOption, settings_from, shown, stdout_console
from ingest.mail_config import MailboxSettings
from ingest.mail_secret import SecretError, read_secret
from ingest.sources.imap_connection import Folder, MailConnectError, connect, folder_counts, list_folders

mail_app = typer.Typer(help="Check the \\[\\[mailbox]] accounts.", no_args_is_help=True)


@mail_app.command("test")
def test_command(
    account: Annotated[str | None, typer.Argument(help="the mailbox's name (default: every [[mailbox]])")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the server")] = 30.0,
    config: ConfigOption = None,
) -> None:
    """Connect, log in, send ID and list the folders with their message counts; say what is wrong if that fails.

    Exit code 1 when a mailbox cannot be used, 2 when none is configured or ACCOUNT is not one of them.
    """
    settings = settings_from(config)
    mailboxes = settings.mailboxes
    if not mailboxes:
        where = settings.source or "the config"
        typer.echo(
            f"no [[mailbox]] in {where}: add one with a name, a provider (or host), a username and a "
            "password_env, password_file or password_command",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    if account is not None:
        mailboxes = tuple(m for m in mailboxes if m.name == account)
        if not mailboxes:
            names = ", ".join(m.name for m in settings.mailboxes)
            typer.echo(f"no mailbox named {account!r}; configured: {names}", err=True)
            raise typer.Exit(EXIT_USAGE)
    failed = [mailbox.name for mailbox in mailboxes if not _test_mailbox(mailbox, timeout)]
    if failed:
        raise typer.Exit(EXIT_FAILURE)


def _test_mailbox(mailbox: MailboxSettings, timeout: float) -> bool:
    """Print what the mailbox looks like from here; False (after one sentence on stderr) when it cannot be used."""
    console = stdout_console()
    console.print(
        f"{shown(mailbox.name)}: {shown(mailbox.username)} at {mailbox.host}:{mailbox.port} "
        f"(tls {mailbox.tls}, {mailbox.auth})"
    )
    try:
        secret = read_secret(mailbox.secret, timeout=timeout)
    except SecretError as exc:
        what = "token" if mailbox.auth == "xoauth2" else "password"
        typer.echo(f"{mailbox.name}: cannot read the {what}: {exc}", err=True)
        return False
    try:
        client = connect(mailbox, secret, timeout=timeout)
    except MailConnectError as exc:
        typer.echo(f"{mailbox.name}: {exc.message}", err=True)
        return False
    try:
        identified = client.has_capability("ID")
        folders = list_folders(client)
        counts = {c.folder: c for f in folders if f.selectable for c in folder_counts(client, [f.name])}
    except MailConnectError as exc:
        typer.echo(f"{mailbox.name}: {exc.message}", err=True)
        return False
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    console.print(f"logged in; {'ID sent' if identified else 'the server does not ask for ID'}")
    table = Table()
    table.add_column("folder", overflow="fold")
    table.add_column("use", no_wrap=True)
    for column in ("messages", "unseen"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("watched", no_wrap=True)
    watched = {_configured_name(f, folders) for f in mailbox.folders}
    for folder in folders:
        count = counts.get(folder.name)
        table.add_row(
            shown(folder.name),
            (folder.special_use or "").lstrip("\\").lower(),
            str(count.messages) if count else "-",
            str(count.unseen) if count else "-",
            "yes" if folder.name in watched else "",
        )
    console.print(table)
    return _report_configured(mailbox, folders)


def _configured_name(configured: str, folders: list[Folder]) -> str:
    """The server's name for a configured folder: INBOX is case-insensitive (RFC 3501), other names are not;
    '/' between levels stands for the server's own delimiter ('.' on many Dovecot and Courier servers), as
    the poller reads it."""
    if configured.upper() == "INBOX":
        return next((f.name for f in folders if f.name.upper() == "INBOX"), configured)
    if "/" in configured:
        for folder in folders:
            if folder.delimiter and folder.name == configured.replace("/", folder.delimiter):
                return folder.name
    return configured


def _report_configured(mailbox: MailboxSettings, folders: list[Folder]) -> bool:
    names = {f.name for f in folders}
    missing = [f for f in mailbox.folders if _configured_name(f, folders) not in names]
    found = [f for f in mailbox.folders if f not in missing]
    if found:
        stdout_console().print(f"watched folders found: {', '.join(shown(f) for f in found)}")
    if not missing:
        return True
    advice = "use a name from the list above ('/' between levels works on every server)"
    typer.echo(
        f"{mailbox.name}: configured folder{'s' if len(missing) > 1 else ''} "
        f"{', '.join(repr(m) for m in missing)} not on the server: {advice}",
        err=True,
    )
    return False
