"""The files inside an Outlook winmail.dat (TNEF); pure, never raises. The one module that imports `tnefparse`.

Outlook sending mail in Rich Text format packs the real attachments into one application/ms-tnef part: a
stream of attributes, each with a level (message or attachment), an id, a length and a checksum. `tnefparse`
reads the attributes; the frame is walked here first, so that a damaged file gives a clear problem and the
files before the damage, and so that a hostile file cannot make the parser slice its bytes over and over.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import tnefparse
from tnefparse.properties import MAPI_ATTACH_LONG_FILENAME

from ingest.sources.mail_headers import decode_bytes

_SIGNATURE = 0x223E9F78
_ATTRIBUTE_HEAD = struct.Struct("<BHHI")  # level, id, type, length; then the data and a 2-byte checksum
_CHECKSUM = struct.Struct("<H")
_ATTACH_RENDDATA = 0x9002  # starts each attached file
_ATTACH_TITLE = 0x8010  # its short name, in the OEM code page
_ATTACH_DATA = 0x800F  # its bytes
_LEVEL_ATTACHMENT = 2
# Far above what Outlook writes (a dozen attributes per file): more is a damaged or hostile stream.
_MAX_ATTRIBUTES = 20_000
# tnefparse copies the rest of the stream for every attribute it reads: many attributes before a big one would
# cost that copy many times over. Outlook's files (a few dozen attributes) stay far below this.
_MAX_COPIED_BYTES = 4 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class TnefFile:
    """One file packed in a winmail.dat."""

    name: str  # the long file name when the file carries one, else its short title; '' when it has neither
    data: bytes
    problem: str | None = None  # the file's bytes are damaged or missing; `data` is then b''


@dataclass(frozen=True)
class TnefContents:
    files: tuple[TnefFile, ...] = ()
    problem: str | None = None  # the winmail.dat itself is damaged; the files before the damage are in `files`


def unpack_tnef(data: bytes, *, max_files: int) -> TnefContents:
    """The files packed in a winmail.dat, at most `max_files`; never raises."""
    if len(data) < 6 or int.from_bytes(data[:4], "little") != _SIGNATURE:
        return TnefContents(problem="not a TNEF file: the winmail.dat signature is missing")
    frame = _walk_frame(data)
    try:
        # Checksums were checked by the walk; tnefparse would only log them.
        parsed = tnefparse.TNEF(data[: frame.end], do_checksum=False)
        attachments = list(parsed.attachments)
        codepage = parsed.codepage if isinstance(parsed.codepage, str) else None
    except Exception as exc:  # a third-party parser of hostile bytes: any error it meets means "damaged"
        return TnefContents(problem=frame.problem or f"winmail.dat cannot be read: {type(exc).__name__}: {exc}")
    files = []
    for number, attachment in enumerate(attachments[:max_files]):
        name = _name(attachment, frame.titles[number] if number < len(frame.titles) else b"", codepage)
        body = attachment.data if isinstance(attachment.data, bytes) else b""
        if number in frame.damaged_files:
            files.append(TnefFile(name, b"", "its bytes in winmail.dat are damaged (checksum mismatch)"))
        elif not body:
            files.append(TnefFile(name, b"", "its bytes are missing from winmail.dat (cut off?)"))
        else:
            files.append(TnefFile(name, body))
    problem = frame.problem
    if len(attachments) > max_files:
        problem = f"winmail.dat holds {len(attachments)} files: only the first {max_files} were read"
    return TnefContents(tuple(files), problem)


@dataclass(frozen=True)
class _Walk:
    end: int
    titles: tuple[bytes, ...]
    damaged_files: frozenset[int]
    problem: str | None


def _walk_frame(data: bytes) -> _Walk:
    """The attributes' frame: where the last whole one ends, the files' raw titles, bad checksums."""
    offset, count, copied, file_number = 6, 0, 0, -1
    titles: list[bytes] = []
    damaged: set[int] = set()
    problem = None
    while offset < len(data):
        if len(data) - offset < _ATTRIBUTE_HEAD.size + _CHECKSUM.size:
            problem = f"winmail.dat is cut off: {len(data) - offset} stray bytes at its end"
            break
        level, ident, _kind, length = _ATTRIBUTE_HEAD.unpack_from(data, offset)
        start = offset + _ATTRIBUTE_HEAD.size
        end = start + length + _CHECKSUM.size
        if end > len(data):
            problem = f"winmail.dat is cut off inside an attribute at byte {offset}"
            break
        count += 1
        copied += len(data) - offset
        if count > _MAX_ATTRIBUTES or copied > _MAX_COPIED_BYTES:
            problem = f"winmail.dat has too many attributes ({count} read): the rest were not read"
            break
        if ident == _ATTACH_RENDDATA:
            file_number += 1
            titles.append(b"")
        elif level == _LEVEL_ATTACHMENT and file_number < 0:
            problem = f"winmail.dat is damaged: a file's attribute at byte {offset} comes before any file starts"
            break
        if level == _LEVEL_ATTACHMENT and file_number >= 0:
            if ident == _ATTACH_TITLE:
                titles[file_number] = data[start : start + length]
            checksum = _CHECKSUM.unpack_from(data, end - _CHECKSUM.size)[0]
            if ident == _ATTACH_DATA and sum(data[start : start + length]) & 0xFFFF != checksum:
                damaged.add(file_number)
        offset = end
    if problem is None and damaged:
        problem = "winmail.dat is damaged: a file's bytes fail their checksum"
    return _Walk(offset, tuple(titles), frozenset(damaged), problem)


def _name(attachment: object, title: bytes, codepage: str | None) -> str:
    """The long file name (a MAPI property, Unicode or in the code page), else the short title in the code page
    (GBK on Chinese Windows), else UTF-8, else GB18030; '' when there is neither."""
    for prop in getattr(attachment, "mapi_attrs", ()):
        if getattr(prop, "name", None) == MAPI_ATTACH_LONG_FILENAME:
            value = getattr(prop, "data", None)
            text = decode_bytes(value, codepage) if isinstance(value, bytes) else value
            if isinstance(text, str) and text.strip("\x00").strip():
                return text.strip("\x00")
    short = title.rstrip(b"\x00")
    return decode_bytes(short, codepage) if short else ""
