"""Our MIME reader against the stdlib `email` package alone: attachments found and names decoded.

Usage: python bench/mime_vs_stdlib.py [--folder DIR] [--json]

Without --folder: the messy-mail test set (tests/messy_mail.py: messages written byte by byte the way real mail
breaks the rules, each with the attachments a careful reader finds). For each message, both readers:

  - ours: ingest.sources.mime.read_message, its invoice candidates (read without a problem);
  - stdlib: email.message_from_bytes(data, policy=email.policy.default), msg.iter_attachments(), walked into
    message/rfc822 parts (get_content()), each attachment's part.get_filename() and get_payload(decode=True).

A wanted file is found when a reader returns its exact bytes; its name is right when that reader gives the name
the message means (decoded). Printed: a table per message and the totals; an exception from a reader counts as
finding nothing in that message.

With --folder: every *.eml below DIR (a user's own mail; nothing says what it should hold), so only counts: how
many attachments each reader returns, how many of ours are candidates, how many files both return (same bytes) but
name differently, and how many messages make the stdlib raise.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from ingest.sources.mime import read_message

_MAX_FORWARD_DEPTH = 20


@dataclass
class StdlibReading:
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (name or '', decoded bytes)
    error: str = ""


def read_with_stdlib(data: bytes) -> StdlibReading:
    """What the stdlib alone gives: iter_attachments, into forwarded messages."""
    reading = StdlibReading()
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        _walk(message, reading, depth=0)
    except Exception as exc:  # the stdlib's own failure on this message is what is measured
        reading.error = f"{type(exc).__name__}: {exc}"[:80]
    return reading


def _walk(message: Message, reading: StdlibReading, *, depth: int) -> None:
    if not isinstance(message, EmailMessage) or depth > _MAX_FORWARD_DEPTH:
        return
    for part in message.iter_attachments():
        if part.get_content_type() in ("message/rfc822", "message/global"):
            inner = part.get_content()
            if isinstance(inner, Message):
                _walk(inner, reading, depth=depth + 1)
            continue
        payload = part.get_payload(decode=True)
        reading.files.append((part.get_filename() or "", payload if isinstance(payload, bytes) else b""))


@dataclass(frozen=True)
class Row:
    key: str
    rule: str
    wanted: int
    ours_found: int
    ours_named: int
    stdlib_found: int
    stdlib_named: int
    stdlib_error: str


def compare_messy() -> list[Row]:
    from messy_mail import MESSY

    rows = []
    for build in MESSY:
        messy = build()
        wanted = [want for want in messy.wants if want.candidate and not want.problem]
        ours = read_message(messy.data).candidates
        ours_by_bytes = {a.data: a.name for a in ours if a.problem is None}
        stdlib = read_with_stdlib(messy.data)
        stdlib_by_bytes: dict[bytes, str] = {}
        for name, payload in stdlib.files:
            stdlib_by_bytes.setdefault(payload, name)
        rows.append(
            Row(
                messy.key,
                messy.rule,
                len(wanted),
                sum(want.data in ours_by_bytes for want in wanted),
                sum(ours_by_bytes.get(want.data) == want.name for want in wanted),
                sum(want.data in stdlib_by_bytes for want in wanted),
                sum(stdlib_by_bytes.get(want.data) == want.name for want in wanted),
                stdlib.error,
            )
        )
    return rows


def show_messy(rows: list[Row], console: Console) -> None:
    table = Table(title="messy-mail set: invoice files found (same bytes) and names decoded right")
    for column in ("message", "what it is about", "files", "ours found", "ours names", "stdlib found", "stdlib names"):
        table.add_column(column, justify="left" if column in ("message", "what it is about") else "right")
    for row in rows:
        stdlib_found = f"{row.stdlib_found}" + (" (raised)" if row.stdlib_error else "")
        table.add_row(
            row.key,
            row.rule,
            str(row.wanted),
            _mark(row.ours_found, row.wanted),
            _mark(row.ours_named, row.wanted),
            _mark(row.stdlib_found, row.wanted, stdlib_found),
            _mark(row.stdlib_named, row.wanted),
        )
    wanted = sum(row.wanted for row in rows)
    table.add_section()
    table.add_row(
        "total",
        f"{len(rows)} messages",
        str(wanted),
        str(sum(row.ours_found for row in rows)),
        str(sum(row.ours_named for row in rows)),
        str(sum(row.stdlib_found for row in rows)),
        str(sum(row.stdlib_named for row in rows)),
    )
    console.print(table)
    for row in rows:
        if row.stdlib_error:
            console.print(f"stdlib raised on {row.key}: {row.stdlib_error}")


def _mark(got: int, wanted: int, shown: str | None = None) -> str:
    text = shown if shown is not None else str(got)
    return text if got == wanted else f"[red]{text}[/red]"


@dataclass
class FolderCounts:
    messages: int = 0
    ours_attachments: int = 0
    ours_candidates: int = 0
    ours_problems: int = 0
    stdlib_attachments: int = 0
    stdlib_errors: int = 0
    both: int = 0  # files both return, same bytes
    named_differently: int = 0
    only_ours: int = 0
    only_stdlib: int = 0
    ours_seconds: float = 0.0
    stdlib_seconds: float = 0.0
    examples: list[str] = field(default_factory=list)


def compare_folder(folder: Path) -> FolderCounts:
    counts = FolderCounts()
    for path in sorted(folder.rglob("*.eml")):
        data = path.read_bytes()
        counts.messages += 1
        started = time.perf_counter()
        ours = read_message(data)
        counts.ours_seconds += time.perf_counter() - started
        started = time.perf_counter()
        stdlib = read_with_stdlib(data)
        counts.stdlib_seconds += time.perf_counter() - started
        counts.ours_attachments += sum(not a.member for a in ours.attachments)
        counts.ours_candidates += len(ours.candidates)
        counts.ours_problems += bool(ours.problems)
        counts.stdlib_attachments += len(stdlib.files)
        counts.stdlib_errors += bool(stdlib.error)
        our_names = {a.sha256: a.name for a in ours.attachments if a.sha256}
        their_names = {hashlib.sha256(payload).hexdigest(): name for name, payload in stdlib.files}
        shared = our_names.keys() & their_names.keys()
        counts.both += len(shared)
        counts.only_ours += len(our_names.keys() - their_names.keys())
        counts.only_stdlib += len(their_names.keys() - our_names.keys())
        for digest in shared:
            if our_names[digest] != their_names[digest]:
                counts.named_differently += 1
                if len(counts.examples) < 10:
                    counts.examples.append(f"{path.name}: ours {our_names[digest]!r}, stdlib {their_names[digest]!r}")
    return counts


def show_folder(counts: FolderCounts, folder: Path, console: Console) -> None:
    table = Table(title=f"{folder}: {counts.messages} .eml files (counts only: nothing says what they should hold)")
    table.add_column("")
    table.add_column("ours", justify="right")
    table.add_column("stdlib", justify="right")
    table.add_row("attachments returned", str(counts.ours_attachments), str(counts.stdlib_attachments))
    table.add_row("of them invoice candidates", str(counts.ours_candidates), "-")
    table.add_row("files only this reader returns (by bytes)", str(counts.only_ours), str(counts.only_stdlib))
    table.add_row("files both return, named differently", str(counts.named_differently), "")
    table.add_row("messages with problems / exceptions", str(counts.ours_problems), str(counts.stdlib_errors))
    table.add_row("seconds", f"{counts.ours_seconds:.2f}", f"{counts.stdlib_seconds:.2f}")
    console.print(table)
    for example in counts.examples:
        console.print(example)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--folder", type=Path, help="a folder of .eml files instead of the messy-mail set")
    parser.add_argument("--json", action="store_true", help="the figures as JSON instead of tables")
    options = parser.parse_args()
    console = Console()
    if options.folder is not None:
        counts = compare_folder(options.folder)
        if options.json:
            print(json.dumps(vars(counts), ensure_ascii=False, indent=1))
        else:
            show_folder(counts, options.folder, console)
        return 0
    rows = compare_messy()
    if options.json:
        print(json.dumps([vars(row) for row in rows], ensure_ascii=False, indent=1))
    else:
        show_messy(rows, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
