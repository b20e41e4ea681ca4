"""`fapiao inspect FILE...`: every attachment the MIME reader finds in saved mail, and whether it is taken."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingest.cli_common import EXIT_FAILURE, shown, stdout_console
from ingest.mail_inspect import FileReport, InspectedMessage, inspect_file
from ingest.sources.mime import Attachment

SHA_SHOWN = 16  # hex digits of sha256 in the human view (the JSON has all 64)


def inspect_command(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="saved mail: .eml files and mbox files (by content)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per input file, one per line")] = False,
) -> None:
    """Show every attachment found in each message: decoded name, type, size, sha256, where it sits, and
    whether it is an invoice candidate and why. Nothing is archived.

    Exit code 1 when a file cannot be read or is not saved mail.
    """
    console = stdout_console()
    unreadable = False
    for path in files:
        report = inspect_file(path)
        unreadable = unreadable or not report.readable
        if as_json:
            # Printed as each file is done: an mbox of gigabytes takes a while, and a pipe sees lines early.
            sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            _print_report(console, report)
    if unreadable:
        raise typer.Exit(EXIT_FAILURE)


def _print_report(console: Console, report: FileReport) -> None:
    kind = f"{report.kind}, {_count(len(report.messages), 'message')}" if report.kind else "not read"
    console.print(f"[bold]{shown(str(report.path))}[/] ({kind})")
    for problem in report.problems:
        console.print(f"  [red]problem:[/] {shown(problem)}")
    quiet = 0
    for message in report.messages:
        if not message.envelope.attachments and not message.problems and len(report.messages) > 1:
            quiet += 1  # an mbox is mostly mail without attachments: counted, not listed
            continue
        _print_message(console, message, numbered=len(report.messages) > 1)
    if quiet:
        console.print(f"  {_count(quiet, 'other message')} without attachments or problems")


def _print_message(console: Console, message: InspectedMessage, *, numbered: bool) -> None:
    envelope = message.envelope
    indent = "  "
    if numbered:
        console.print(f"  [bold]message {message.number}[/]")
        indent = "    "
    sender = f"{envelope.sender_name} <{envelope.sender_address}>" if envelope.sender_name else envelope.sender_address
    date = envelope.date.isoformat(sep=" ") if envelope.date else "no date"
    console.print(f"{indent}subject: {shown(envelope.subject) or '(none)'}")
    console.print(f"{indent}from: {shown(sender) or '(none)'}   date: {date}")
    console.print(f"{indent}message-id: {shown(envelope.message_id) or '(none)'}")
    if not envelope.attachments:
        console.print(f"{indent}no attachments")
    for attachment in envelope.attachments:
        _print_attachment(console, attachment, indent)
    for link in envelope.links:
        console.print(f"{indent}link: {shown(link.url)}")
    for problem in message.problems:
        console.print(f"{indent}[red]problem:[/] {shown(problem)}")


def _print_attachment(console: Console, attachment: Attachment, indent: str) -> None:
    name = shown(attachment.name) if attachment.name else f"[dim](no name; stored as {shown(attachment.file_name)})[/]"
    where = f"part {attachment.part}" + (", in a forwarded message" if attachment.forwarded else "")
    verdict = "[green]candidate[/]" if attachment.candidate else "[dim]not a candidate[/]"
    console.print(f"{indent}- {name}")
    digest = attachment.sha256[:SHA_SHOWN] + "…" if attachment.sha256 else "-"
    size = f"{attachment.size:,} bytes" if attachment.sha256 else "not read"
    console.print(f"{indent}  {where}; {shown(attachment.content_type)}; {size}; sha256 {digest}")
    console.print(f"{indent}  {verdict}: {shown(attachment.why)}")
    if attachment.problem:
        console.print(f"{indent}  [red]problem:[/] {shown(attachment.problem)}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
