"""Pure: a batch of events in words: one headline ("12 new invoices (total ¥3,456.78), 2 to review, 1 failed")
and one line per event, plain or as robot markdown, with untrusted text (seller names, file names, reasons) made
harmless: no control characters, nothing a robot reads as a link, a mention or formatting."""

from __future__ import annotations

from collections.abc import Iterable

from ingest.logs import printable
from ingest.notify.events import Event, Kind
from storage.index_csv import grouped_yuan

LINE_CHARS = 240  # one event's line at most; a long reason or path is cut
# Characters robots read as markup: links and emphasis in markdown, <@user> / <at user_id=...> mentions in text.
_MARKUP = str.maketrans({"<": "‹", ">": "›", "[": "［", "]": "］", "*": "＊", "_": "＿", "`": "'", "#": "＃"})
_MENTIONS = str.maketrans({"<": "‹", ">": "›"})


def yuan(fen: int) -> str:
    """¥3,456.78 (exact: the fen are an int)."""
    return f"¥{grouped_yuan(fen)}"


def headline(events: Iterable[Event]) -> str:
    counts = {kind: 0 for kind in Kind}
    total = 0
    for event in events:
        counts[event.kind] += 1
        if event.kind is Kind.INVOICE:
            total += event.total_fen or 0
    parts = []
    if counts[Kind.INVOICE]:
        parts.append(f"{_plural(counts[Kind.INVOICE], 'new invoice')} (total {yuan(total)})")
    if counts[Kind.REVIEW]:
        parts.append(f"{counts[Kind.REVIEW]} to review")
    if counts[Kind.FAILURE]:
        parts.append(f"{counts[Kind.FAILURE]} failed")
    return "fapiao: " + (", ".join(parts) or "nothing new")


def event_line(event: Event, *, markdown: bool) -> str:
    """One event in one line: what, the invoice if known, where it is, why."""
    safe = _markdown_safe if markdown else _text_safe
    if event.number:
        what = " ".join(
            part
            for part in (
                event.issue_date.isoformat() if event.issue_date else "",
                safe(event.seller),
                yuan(event.total_fen) if event.total_fen is not None else "",
                f"No. {safe(event.number)}",
            )
            if part
        )
    elif event.path:
        what = safe(event.path)
    else:
        what = f"{safe(event.source)} {safe(event.name)}" if event.name != event.source else safe(event.source)
    if event.kind is Kind.REVIEW:
        what = f"{event.outcome}: {what}"
    elif event.kind is Kind.FAILURE:
        what = f"failed: {what}"
    if event.reason and event.kind is not Kind.INVOICE:
        what += f" ({safe(event.reason)})"
    return "- " + _cut(what, LINE_CHARS)


def more_line(count: int) -> str:
    return f"… and {count} more (fapiao list, fapiao review)"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _text_safe(text: str) -> str:
    return printable(text).translate(_MENTIONS)


def _markdown_safe(text: str) -> str:
    return printable(text).translate(_MARKUP)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
