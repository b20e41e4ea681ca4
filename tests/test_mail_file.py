"""Saved mail files: telling .eml and mbox files by content, and streaming an mbox's messages (separators,
mboxrd escapes, damaged separators, size limits, offsets) with literal bytes."""

from __future__ import annotations

import io
import itertools
import os
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mbox_messages import generated_mailbox, mbox_bytes

from ingest.sources.mail_file import (
    HEADER_LIMIT,
    LINE_LIMIT,
    StoredMessage,
    iter_messages,
    mail_file_kind,
)

MIB = 1024 * 1024
BIG = 64 * MIB  # a limit nothing here reaches

MUTT = b"From invoice@example-fapiao.cn Thu Jan  2 03:04:05 2025\n"
ONE = b"From: a@example.com\nSubject: one\n\nfirst body\n"
TWO = b"From: b@example.com\nSubject: two\n\nsecond body\n"


def split(data: bytes, *, limit: int = BIG) -> list[StoredMessage]:
    return list(iter_messages(io.BytesIO(data), "mbox", max_message_bytes=limit))


def datas(data: bytes) -> list[bytes]:
    return [message.data for message in split(data)]


# --- telling the kind ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first_line",
    [
        b"From invoice@example-fapiao.cn Thu Jan  2 03:04:05 2025",  # mutt, Apple Mail
        b"From - Thu Jan  1 00:00:00 2025",  # Thunderbird
        b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011",  # a bounce
        b"From 1791234567890123456@xxx Wed Mar 06 09:50:14 +0000 2024",  # Gmail Takeout
        b"From someone@example.com Sat Jan  4 10:00 2025",  # no seconds
        b"From someone@example.com Sat Jan 04 10:00:00 CST 2025",  # a zone name before the year
        b"From someone@example.com Sat, 4 Jan 2025 10:00:00 +0800",  # an RFC 5322 date
        b"From uucp@example.com Sat Jan  4 10:00:00 2025 remote from gateway",
    ],
)
def test_mbox_told_by_its_first_line_whatever_the_name(first_line: bytes) -> None:
    for ending in (b"\n", b"\r\n"):
        head = first_line + ending + b"Subject: x" + ending + ending + b"body" + ending
        assert mail_file_kind(head, "Inbox") == "mbox"
        assert mail_file_kind(head, "notes.txt") == "mbox"
        assert mail_file_kind(b"\xef\xbb\xbf" + head, "Inbox") == "mbox"  # a UTF-8 BOM before it
        assert mail_file_kind(ending + ending + head, "Inbox") == "mbox"  # blank lines before it


@pytest.mark.parametrize(
    "head",
    [
        b"From: a@example.com\nTo: b@example.com\nSubject: hi\n\nbody\n",
        b"Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n\tby mail.example.com; "
        b"Tue, 29 Jul 2025 10:15:00 +0800\r\nReturn-Path: <a@example.com>\r\nX-Custom: 1\r\n",
        b"\xef\xbb\xbfMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n\r\n",
        b"X-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\nDate: Tue, 29 Jul 2025 10:15:00 +0800\n"
        b"Content-Type: text/plain\n\nbody",
        # the head ends mid-line: the cut line is not judged
        b"Delivered-To: me@example.com\nDelivered-To: me@example.com\nFrom: a@example.com\nSubject: abcdef",
    ],
)
def test_eml_told_by_a_header_block(head: bytes) -> None:
    assert mail_file_kind(head, "message") == "eml"
    assert mail_file_kind(head, "x.txt") == "eml"


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a.pdf"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "invoices.zip"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00OFD.xml", "invoice.ofd"),
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<EInvoice><Header/></EInvoice>\n', "invoice.xml"),
        (b"Hello,\nthe invoices are in the other folder.\n", "readme.txt"),
        (b"Note: only one header-like line\nSubject: and one mail name\n\ntext\n", "note.txt"),
        (b"From here on, the text is not mail\nat all\n", "From"),  # 'From ' but no sender and date
        (b"", "empty"),
        (b"\x00\x01\x02garbage\xff\xfe", "blob.bin"),
    ],
)
def test_not_mail(head: bytes, name: str) -> None:
    assert mail_file_kind(head, name) is None


def test_a_file_named_eml_is_mail_whatever_it_holds() -> None:
    # So binary garbage saved as .eml still reaches the MIME reader, which says what is wrong with it.
    assert mail_file_kind(b"\x00\x01\x02garbage\xff\xfe", "saved.EML") == "eml"
    assert mail_file_kind(b"%PDF-1.7\n", "odd.eml") == "eml"
    assert mail_file_kind(b"", "empty.eml") == "eml"


# --- splitting an mbox -----------------------------------------------------------------------------------------


def test_separators_split_and_are_dropped_with_the_blank_line_before_them() -> None:
    data = MUTT + ONE + b"\n" + b"From - Fri Mar 14 09:26:53 2025\n" + TWO + b"\n"
    messages = split(data)
    assert [m.data for m in messages] == [ONE, TWO]
    assert [m.number for m in messages] == [1, 2]
    assert [m.problem for m in messages] == [None, None]
    # Offsets at the 'From ' lines; each message ends where the next starts, the last at the end of the file.
    assert [(m.offset, m.end) for m in messages] == [(0, len(MUTT + ONE) + 1), (len(MUTT + ONE) + 1, len(data))]


def test_more_blank_lines_before_a_separator_keep_all_but_one() -> None:
    data = MUTT + ONE + b"\n\n\n" + MUTT + TWO
    assert datas(data) == [ONE + b"\n\n", TWO]


def test_crlf_mbox_keeps_its_line_endings() -> None:
    one = b"From: a@example.com\r\nSubject: one\r\n\r\nbody\r\n"
    two = b"From: b@example.com\r\nSubject: two\r\n\r\nbody two\r\n"
    data = b"From - Thu Jan  1 00:00:00 2025\r\n" + one + b"\r\n" + b"From - Thu Jan  1 00:00:01 2025\r\n" + two
    assert datas(data) == [one, two]


def test_a_utf8_bom_before_the_first_separator() -> None:
    messages = split(b"\xef\xbb\xbf" + MUTT + ONE)
    assert [(m.offset, m.data, m.problem) for m in messages] == [(3, ONE, None)]


def test_body_from_lines_that_are_no_separators_are_text() -> None:
    body = (
        b"Subject: minutes\n\nFrom the desk of the manager:\n\n"  # after a blank line, but no date
        b"From now on, meetings start on time.\n"  # no blank line before it
        b"text\nFrom a@example.com Thu Jan  2 03:04:05 2025\n"  # looks like a separator, but no blank line before
    )
    assert datas(MUTT + body + b"\n" + MUTT + TWO) == [body, TWO]


def test_mboxrd_escapes_are_undone_at_line_starts_only() -> None:
    stored = b"Subject: q\n\n>From the start\n>>From quoted\n>>>From deeper\nsay >From here\n>Fromage\n> From x\n"
    read = b"Subject: q\n\nFrom the start\n>From quoted\n>>From deeper\nsay >From here\n>Fromage\n> From x\n"
    assert datas(MUTT + stored) == [read]


def test_a_continuation_of_an_over_long_line_is_not_a_line_start() -> None:
    # The readline cut falls just before '>From ' and before a separator-like text: neither begins a line.
    long_line = b"x" * LINE_LIMIT + b">From inside a long line\n"
    separator_like = b"y" * LINE_LIMIT + b"From a@example.com Thu Jan  2 03:04:05 2025\nSubject: no\n"
    body = b"Subject: long\n\n" + long_line + b"\n" + separator_like
    assert datas(MUTT + body) == [body]


def test_content_length_is_not_trusted() -> None:
    # mboxcl writers add Content-Length; it may be wrong, and the separators say where messages end.
    one = b"Subject: one\nContent-Length: 5\n\nlonger than five bytes\n\nand a paragraph\n"
    two = b"Subject: two\nContent-Length: 99999\n\nshort\n"
    assert datas(MUTT + one + b"\n" + MUTT + two + b"\n" + MUTT + ONE) == [one, two, ONE]


@pytest.mark.parametrize(
    "broken", [b"From garbage\n", b"From \n", b"From\n", b"From garbage without a date\r\n", b"From - Thu\n"]
)
def test_a_broken_separator_before_headers_starts_a_message_with_a_problem(broken: bytes) -> None:
    data = MUTT + ONE + b"\n" + broken + TWO + b"\n" + MUTT + ONE
    offset = len(MUTT + ONE) + 1
    messages = split(data)
    assert [m.data for m in messages] == [ONE, TWO, ONE]
    assert messages[0].problem is None and messages[2].problem is None
    problem = messages[1].problem
    assert problem is not None
    assert problem.startswith(f"message 2 (offset {offset}): malformed mbox From line")
    assert repr(broken.rstrip(b"\r\n").decode()) in problem
    assert (messages[1].offset, messages[1].end) == (offset, offset + len(broken + TWO) + 1)


def test_a_broken_separator_not_followed_by_headers_is_body_text() -> None:
    body = b"Subject: s\n\nFrom garbage\nno header here\n\nFrom \n\nend\n"
    assert [(m.data, m.problem) for m in split(MUTT + body)] == [(body, None)]


def test_a_broken_separator_as_the_first_line() -> None:
    messages = split(b"From garbage\n" + ONE + b"\n" + MUTT + TWO)
    assert [m.data for m in messages] == [ONE, TWO]
    assert messages[0].problem is not None
    assert messages[0].problem.startswith("message 1 (offset 0): malformed mbox From line 'From garbage'")


def test_text_before_the_first_separator_is_a_message_with_a_problem() -> None:
    messages = split(ONE + b"\n" + MUTT + TWO)
    assert [m.data for m in messages] == [ONE, TWO]
    assert messages[0].problem == "message 1 (offset 0): text before the first mbox From line, read as a message"
    assert messages[1].offset == len(ONE) + 1


def test_blank_lines_before_the_first_separator_are_nothing() -> None:
    messages = split(b"\n\r\n\n" + MUTT + ONE)
    assert [(m.number, m.offset, m.data, m.problem) for m in messages] == [(1, 4, ONE, None)]


def test_empty_and_nearly_empty_files() -> None:
    assert split(b"") == []
    assert split(b"\n\n") == []
    (only,) = split(MUTT)
    assert (only.data, only.offset, only.end) == (b"", 0, len(MUTT))
    assert only.problem == "message 1 (offset 0): empty (a From line and nothing after it)"
    (no_newline,) = split(MUTT.rstrip(b"\n"))
    assert no_newline.data == b""


def test_a_last_message_without_a_newline_or_cut_short() -> None:
    assert datas(MUTT + b"Subject: x\n\nno newline at the end") == [b"Subject: x\n\nno newline at the end"]
    cut = b"Subject: x\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjcKJeLjz9MK\nJVBE"
    assert datas(MUTT + ONE + b"\n" + MUTT + cut) == [ONE, cut]


def test_an_over_long_separator_line_is_dropped_whole() -> None:
    separator = b"From a@example.com Thu Jan  2 03:04:05 2025 " + b"z" * (3 * LINE_LIMIT) + b"\n"
    messages = split(separator + ONE + b"\n" + separator + TWO)
    assert [m.data for m in messages] == [ONE, TWO]
    assert messages[1].offset == len(separator + ONE) + 1


def test_an_over_long_line_under_the_limit_comes_back_whole() -> None:
    body = b"Subject: one line\n\n" + b"A" * (5 * MIB)  # no newline at all
    assert datas(MUTT + body + b"\n\n" + MUTT + ONE) == [body + b"\n", ONE]


# --- size limits -----------------------------------------------------------------------------------------------


def _streamed_peak(path: Path, kind: str, limit: int) -> tuple[list[StoredMessage], int]:
    """The messages of a file and the peak of memory allocated while reading them."""
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            messages = list(iter_messages(stream, "mbox" if kind == "mbox" else "eml", max_message_bytes=limit))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return messages, peak


def test_a_message_over_the_limit_keeps_its_header_block_and_memory_stays_bounded(tmp_path: Path) -> None:
    header = b"From: big@example.com\nSubject: 50 MB of scans\nContent-Type: application/octet-stream\n\n"
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\n"
    path = tmp_path / "big.mbox"
    with path.open("wb") as out:
        out.write(MUTT + ONE + b"\n" + MUTT + header)
        for _ in range(30 * MIB // len(line)):
            out.write(line)
        out.write(b"\n" + MUTT + TWO)
    messages, peak = _streamed_peak(path, "mbox", MIB)
    assert [m.data for m in messages] == [ONE, header, TWO]
    big = messages[1]
    assert big.too_big and not messages[0].too_big and not messages[2].too_big
    size = len(header) + (30 * MIB // len(line)) * len(line)
    assert big.problem == (
        f"message 2 (offset {len(MUTT + ONE) + 1}): {size:,} bytes, over the limit of 1,048,576 bytes for one "
        "message; only its header block was read"
    )
    assert (messages[2].offset, messages[2].end) == (big.end, path.stat().st_size)
    assert peak < 6 * MIB  # the limit, a line, the joined message: never the 30 MB


def test_an_over_long_header_of_a_too_big_message_is_cut_at_one_mib() -> None:
    header = b"From: x@example.com\nX-Junk: " + b"j" * (3 * MIB) + b"\nSubject: s\n\nbody\n"
    (message, second) = split(MUTT + header + b"\n" + MUTT + ONE, limit=MIB)
    assert message.too_big
    assert message.data == header[:HEADER_LIMIT]
    assert second.data == ONE


def test_a_too_big_message_whose_header_grows_past_the_limit() -> None:
    # Over the limit while the header block is still open: header lines are kept until it closes.
    header = b"Subject: many headers\n" + b"".join(b"X-Trace-%05d: hop\n" % i for i in range(200)) + b"\n"
    (message,) = split(MUTT + header + b"body\n" * 1000, limit=1000)
    assert message.too_big and message.data == header


# --- .eml files ------------------------------------------------------------------------------------------------


def eml(data: bytes, limit: int = BIG) -> list[StoredMessage]:
    return list(iter_messages(io.BytesIO(data), "eml", max_message_bytes=limit))


def test_an_eml_is_one_message_as_it_is() -> None:
    data = b"From: a@example.com\r\nSubject: x\r\n\r\nFrom the start\r\n>From kept\r\n"
    assert eml(data) == [StoredMessage(1, 0, len(data), data)]


def test_an_eml_with_a_bom() -> None:
    assert eml(b"\xef\xbb\xbf" + ONE) == [StoredMessage(1, 3, 3 + len(ONE), ONE)]


def test_an_empty_eml() -> None:
    assert eml(b"") == [StoredMessage(1, 0, 0, b"", problem="the file is empty")]


def test_a_too_big_eml_keeps_its_header_block(tmp_path: Path) -> None:
    header = b"From: a@example.com\r\nSubject: big\r\n\r\n"
    path = tmp_path / "big.eml"
    path.write_bytes(header + b"B" * (3 * MIB))
    messages, peak = _streamed_peak(path, "eml", MIB)
    assert messages == [
        StoredMessage(
            1,
            0,
            len(header) + 3 * MIB,
            header,
            too_big=True,
            problem=f"message 1 (offset 0): {len(header) + 3 * MIB:,} bytes, over the limit of 1,048,576 bytes "
            "for one message; only its header block was read",
        )
    ]
    assert peak < 4 * MIB


@contextmanager
def _pipe_stream(data: bytes) -> Iterator[io.BufferedReader]:
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    with os.fdopen(read_end, "rb") as stream:
        yield stream
    writer.join()


def test_a_too_big_eml_from_a_stream_that_cannot_seek() -> None:
    data = ONE + b"C" * (2 * MIB)
    with _pipe_stream(data) as stream:
        (message,) = iter_messages(stream, "eml", max_message_bytes=MIB)
        assert (message.data, message.too_big, message.end) == (ONE[: ONE.index(b"\n\n") + 2], True, len(data))


# --- any bytes at all ------------------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        MUTT,
        b"From - Thu Jan  1 00:00:00 2025\r\n",
        b"From garbage\n",
        b"From \n",
        b"From",
        b"\n",
        b"\r\n",
        b"\r",
        b"Subject: x\n",
        b"From: a@example.com\r\n",
        b">From x\n",
        b">>From y",
        b"body text\n",
        b"\xef\xbb\xbf",
        b"\x00\xff",
        b" folded\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.one_of(_FRAGMENTS, st.binary(max_size=40)), max_size=40),
    limit=st.integers(min_value=1, max_value=400),
)
def test_any_bytes_split_without_raising_in_order_and_within_the_file(pieces: list[bytes], limit: int) -> None:
    data = b"".join(pieces)
    assert mail_file_kind(data, "x") in (None, "eml", "mbox")
    for kind in ("mbox", "eml"):
        messages = list(iter_messages(io.BytesIO(data), kind, max_message_bytes=limit))
        assert [m.number for m in messages] == list(range(1, len(messages) + 1))
        for message in messages:
            assert 0 <= message.offset <= message.end <= len(data)
            assert len(message.data) <= message.end - message.offset
            if not message.too_big:
                assert len(message.data) <= limit
        for before, after in itertools.pairwise(messages):
            assert before.offset < after.offset
            assert before.end == after.offset  # progress: every byte belongs to one message
        if messages:
            assert messages[-1].end == len(data)
    assert len(list(iter_messages(io.BytesIO(data), "eml", max_message_bytes=limit))) == 1


# --- a generated mailbox ---------------------------------------------------------------------------------------


def test_a_generated_mailbox_splits_into_exactly_its_messages() -> None:
    mailbox = generated_mailbox()
    assert mail_file_kind(mailbox.data[:4096], "Inbox") == "mbox"
    messages = split(mailbox.data, limit=16 * MIB)
    assert len(messages) == len(mailbox.messages) > 250
    assert [m.data for m in messages] == list(mailbox.messages)
    assert all(m.problem is None for m in messages)
    # Duplicates of every kind are there for the import tests to count.
    assert mailbox.indices("duplicate") and mailbox.indices("forward") and mailbox.indices("reattached")
    assert any(fact.message_id is None for fact in mailbox.facts)
    assert any(fact.message_id is None for fact in (mailbox.facts[i] for i in mailbox.indices("duplicate")))
    assert len(mailbox.numbers) > 80


def test_mbox_bytes_escapes_and_the_reader_unescapes() -> None:
    messages = [b"Subject: a\n\nFrom me\n>From you\n", b"From: x\r\n\r\nFrom the top\r\n", b"Subject: b\n\nend"]
    data = mbox_bytes(messages)
    assert b"\n>From me\n>>From you\n" in data and b"\r\n>From the top\r\n" in data
    assert datas(data) == [messages[0], messages[1], b"Subject: b\n\nend\n"]
