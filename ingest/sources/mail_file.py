"""Saved mail on disk: telling an .eml or an mbox file by its first bytes, and streaming its messages; pure apart
from reading the stream it is given.

An mbox (Thunderbird's folder files, mutt, Gmail Takeout, Apple Mail exports) is messages one after another,
each after a separator line 'From <sender> <date>' that follows a blank line. Writers escape body lines that
begin 'From ' with '>' (mboxrd escapes '>From ' too), which is undone here. Nothing else in the file is
trusted: Content-Length headers (mboxcl) are ignored, and a damaged separator that is plainly followed by a
header block still starts a message, with a problem saying so, so one bad line never hides the rest.

Files can be gigabytes: lines are read with a bounded readline, a message's lines are joined once, and a
message over the size limit keeps only its header block (up to 1 MiB) while the rest is skipped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

MailFileKind = Literal["eml", "mbox"]

HEADER_LIMIT = 1024 * 1024  # of a message over the size limit, this much of its header block is kept
LINE_LIMIT = 64 * 1024  # one readline returns at most this; a longer line comes in pieces
_DRAIN_CHUNK = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_BLANK_LINES = (b"\n", b"\r\n")
_MIN_KNOWN_HEADERS = 2  # names from _MAIL_HEADERS at the start of a file that make it a message
_SHOWN_LINE_CHARS = 80  # of a malformed separator, in a problem

_WEEKDAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = rb"\d{1,2}:\d{2}(?::\d{2})?"
_ZONE = rb"(?:[+-]\d{4}|[A-Z]{1,5})"
# 'From <sender> <date>': the sender is one word ('-' for Thunderbird, MAILER-DAEMON, Gmail Takeout's
# '1791234567890@xxx'), the date asctime's ('Thu Jan  1 00:00:00 2025', a zone before or after the year, as
# Takeout writes it) or RFC 5322's ('Thu, 1 Jan 2025 00:00:00 +0000'), as tools write one or the other.
# Anything may follow ('remote from host').
_SEPARATOR = re.compile(
    rb"From +(?:\S+ +)?(?:" + _WEEKDAY + rb",? +)?"
    rb"(?:" + _MONTH + rb" +\d{1,2},? +" + _TIME + rb"(?: +" + _ZONE + rb")? +\d{4}"
    rb"|\d{1,2} +" + _MONTH + rb" +\d{4},? +" + _TIME + rb")"
    rb"(?=[ \t\r\n]|\Z)"
)
# RFC 5322 field name: printable ASCII but ':', then the colon (obsolete syntax allows blanks before it).
_HEADER_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
# Names that mail always has a few of at its start, and other text files hardly ever.
_MAIL_HEADER_NAMES = (
    b"from to cc bcc subject date message-id received return-path mime-version content-type "
    b"content-transfer-encoding delivered-to x-mailer reply-to sender in-reply-to references dkim-signature "
    b"authentication-results user-agent x-received x-originating-ip thread-topic thread-index x-priority "
    b"importance x-mozilla-status x-gm-thrid x-gmail-labels"
)
_MAIL_HEADERS = frozenset(_MAIL_HEADER_NAMES.split())


@dataclass(frozen=True)
class StoredMessage:
    """One message of a mail file."""

    number: int  # 1-based position in the file (an .eml is message 1)
    offset: int  # byte offset of the message's first line in the file (its 'From ' line in an mbox)
    end: int  # byte offset just after it, the blank line before the next separator included (for progress)
    data: bytes  # the message ('From ' line dropped, '>From ' unescaped); when too big, its header block only
    too_big: bool = False
    problem: str | None = None  # a damaged separator; over the size limit


def mail_file_kind(head: bytes, name: str) -> MailFileKind | None:
    """What the first few KiB of a file (`head`) say it is: 'mbox' when it starts with a separator line, 'eml'
    when it starts with a mail header block or its name ends '.eml' (so a damaged one still reaches the MIME
    reader, which says what is wrong); None for anything else."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if _SEPARATOR.match(head.lstrip(b"\r\n")):  # blank lines before the first separator are nothing
        return "mbox"
    if _starts_with_header_block(head) or name.lower().endswith(".eml"):
        return "eml"
    return None


def iter_messages(stream: BinaryIO, kind: MailFileKind, *, max_message_bytes: int) -> Iterator[StoredMessage]:
    """The messages of a mail file read from `stream` (at its start), in order. Memory stays bounded by
    `max_message_bytes` (plus the 1 MiB kept of a too-big message's header block), never by the file's size.
    Never raises on bad content; only the stream's own errors (OSError) come through."""
    if kind == "eml":
        return _eml_messages(stream, max_message_bytes)
    return _MboxReader(stream, max_message_bytes).messages()


def _starts_with_header_block(head: bytes) -> bool:
    """The first line is a header field, and among the header lines before anything else come at least two
    names mail always has."""
    lines = head.splitlines()
    if not lines or not _HEADER_FIELD.match(lines[0]):
        return False
    known = set()
    for line in lines[:-1] if len(lines) > 1 else lines:  # the last line may be cut by the end of `head`
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's continuation
        field = _HEADER_FIELD.match(line)
        if field is None:
            break
        name = field.group(1).lower()
        if name in _MAIL_HEADERS:
            known.add(name)
    return len(known) >= _MIN_KNOWN_HEADERS


def header_block_end(data: bytes) -> int:
    """Where the header block of `data` ends, its closing blank line included; len(data) when none closes."""
    if data[:1] == b"\n":
        return 1
    if data[:2] == b"\r\n":
        return 2
    ends = [at + len(blank) for blank in (b"\n\n", b"\n\r\n") if (at := data.find(blank)) >= 0]
    return min(ends) if ends else len(data)


def _too_big_problem(number: int, offset: int, size: int, limit: int) -> str:
    return (
        f"message {number} (offset {offset}): {size:,} bytes, over the limit of {limit:,} bytes for one message; "
        "only its header block was read"
    )


def _eml_messages(stream: BinaryIO, max_message_bytes: int) -> Iterator[StoredMessage]:
    # Enough for the whole message, or for a too-big one's header block: never more.
    data = stream.read(max(max_message_bytes, HEADER_LIMIT) + 1)
    offset = len(_BOM) if data.startswith(_BOM) else 0
    data = data[offset:]
    if len(data) <= max_message_bytes:
        problem = "the file is empty" if not data else None
        yield StoredMessage(1, offset, offset + len(data), data, problem=problem)
        return
    header = data[: min(header_block_end(data), HEADER_LIMIT)]
    del data
    end = _end_of_stream(stream, offset + max(max_message_bytes, HEADER_LIMIT) + 1)
    problem = _too_big_problem(1, offset, end - offset, max_message_bytes)
    yield StoredMessage(1, offset, end, header, too_big=True, problem=problem)


def _end_of_stream(stream: BinaryIO, position: int) -> int:
    """The stream's size, `position` being where it now stands; without reading it where it can seek."""
    try:
        if stream.seekable():
            return stream.seek(0, io.SEEK_END)
    except OSError:
        pass
    while chunk := stream.read(_DRAIN_CHUNK):
        position += len(chunk)
    return position


class _Message:
    """The lines of one mbox message as they are read, kept within the size limit."""

    __slots__ = (
        "broken_separator",
        "header_open",
        "header_parts",
        "header_size",
        "kept",
        "offset",
        "parts",
        "preamble",
        "size",
    )

    def __init__(self, offset: int, *, broken_separator: bytes = b"", preamble: bool = False) -> None:
        self.offset = offset
        self.broken_separator = broken_separator  # the damaged 'From ' line that started it
        self.preamble = preamble  # text before the first separator
        self.parts: list[bytes] = []
        self.size = 0
        self.header_open = True
        self.header_parts = 0  # the first parts that are the header block
        self.header_size = 0
        self.kept = -1  # bytes kept once over the limit (the header block, at most HEADER_LIMIT); -1: not over

    def add(self, piece: bytes, blank: bool, limit: int) -> None:
        self.size += len(piece)
        if self.kept < 0:
            self.parts.append(piece)
            if self.header_open:
                self.header_parts += 1
                self.header_size += len(piece)
                self.header_open = not blank
            if self.size > limit:
                self._keep_header_only()
        elif self.header_open and self.kept < HEADER_LIMIT:
            piece = piece[: HEADER_LIMIT - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
            self.header_open = not blank

    def _keep_header_only(self) -> None:
        del self.parts[self.header_parts :]
        if self.header_size > HEADER_LIMIT:
            self.parts = [b"".join(self.parts)[:HEADER_LIMIT]]
        self.kept = min(self.header_size, HEADER_LIMIT)

    @property
    def too_big(self) -> bool:
        return self.kept >= 0

    def only_blank_lines(self) -> bool:
        return all(part in _BLANK_LINES for part in self.parts) and not self.too_big


class _MboxReader:
    """One pass over an mbox stream, line by line; a line is read ahead only after a damaged separator."""

    def __init__(self, stream: BinaryIO, max_message_bytes: int) -> None:
        self.stream = stream
        self.limit = max_message_bytes
        self.count = 0

    def messages(self) -> Iterator[StoredMessage]:
        readline = self.stream.readline
        limit = self.limit
        line = readline(LINE_LIMIT)
        position = len(_BOM) if line.startswith(_BOM) else 0
        line = line[position:]
        # Text before the first separator (a file cut at the start, or not quite an mbox) is still a message,
        # with a problem; blank lines there are nothing.
        current = _Message(position, preamble=True)
        first = True
        line_start = True  # `line` begins a line of the file
        after_blank = True  # the line before it was blank, or it is the first
        held_blank = b""  # a blank line not yet added: it belongs to the separator if one follows
        pending: bytes | None = None  # a line read ahead
        while line:
            offset = position
            position += len(line)
            ends_line = line[-1:] == b"\n"
            blank = line_start and (line == b"\n" or line == b"\r\n")
            if line_start and after_blank and line[:4] == b"From" and _is_from_line(line):
                separator = _SEPARATOR.match(line) is not None
                following = b""
                if not separator and not first and ends_line:
                    following = readline(LINE_LIMIT)
                if separator or first or _HEADER_FIELD.match(following):
                    if not current.preamble or not current.only_blank_lines():
                        yield self._finish(current, offset)
                    current = _Message(offset, broken_separator=b"" if separator else line)
                    held_blank, first = b"", False
                    while not ends_line and (line := readline(LINE_LIMIT)):  # the rest of an over-long separator
                        position += len(line)
                        ends_line = line[-1:] == b"\n"
                    line, line_start, after_blank = following or readline(LINE_LIMIT), True, False
                    continue
                pending = following or None  # body text after all; the line after it is read already
            elif line_start and line[:1] == b">" and line.lstrip(b">")[:5] == b"From ":
                line = line[1:]  # mboxrd: one '>' less
            first = False
            if held_blank:
                current.add(held_blank, True, limit)
                held_blank = b""
            if blank:
                held_blank = line
            else:
                current.add(line, False, limit)
            line_start, after_blank = ends_line, blank
            line, pending = pending or readline(LINE_LIMIT), None
        # A blank line at the very end is the one a writer puts after every message.
        if not current.preamble or not current.only_blank_lines():
            yield self._finish(current, position)

    def _finish(self, message: _Message, end: int) -> StoredMessage:
        self.count += 1
        number, offset = self.count, message.offset
        data = b"".join(message.parts)
        problems = []
        where = f"message {number} (offset {offset})"
        if message.broken_separator:
            shown = message.broken_separator.rstrip(b"\r\n").decode("latin-1")
            if len(shown) > _SHOWN_LINE_CHARS:
                shown = shown[:_SHOWN_LINE_CHARS] + "..."
            problems.append(
                f"{where}: malformed mbox From line {shown!r} (not 'From <sender> <date>'); read as the start of "
                "a message, as headers follow it"
            )
        if message.preamble:
            problems.append(f"{where}: text before the first mbox From line, read as a message")
        if message.too_big:
            problems.append(_too_big_problem(number, offset, message.size, self.limit))
        elif not data and not message.preamble:
            problems.append(f"{where}: empty (a From line and nothing after it)")
        return StoredMessage(
            number, offset, end, data, too_big=message.too_big, problem="; ".join(problems) if problems else None
        )


def _is_from_line(line: bytes) -> bool:
    """'From ' at the start of the line, or 'From' alone on it: a separator, or what is left of one."""
    return line[:5] == b"From " or line.rstrip(b"\r\n") == b"From"
