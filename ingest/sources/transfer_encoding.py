"""Content-Transfer-Encoding undone (base64, quoted-printable, uuencode), tolerant of damage, and uuencoded files
found inside a text body; pure, never raises.

A module of its own because both readers of mail need it and neither should need the other: part bytes (a part
fetched alone, or a leaf of a whole message in `mime`) and B-encoded words in headers (`mail_headers`).
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/=]")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]+=*")
_BASE64_INVALID = re.compile(rb"[^A-Za-z0-9+/=\s]")
UUENCODE_NAMES = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
# 'begin 644 name' opens a uuencoded file (POSIX uuencode); the mode is octal, the name the rest of the line.
_UU_BEGIN = re.compile(rb"^begin[ \t]+([0-7]{3,4})[ \t]+([^\r\n]*?)[ \t]*\r?$", re.MULTILINE)


@dataclass(frozen=True)
class UuFile:
    """One file uuencoded inside a text: its name as the begin line writes it (bytes: no charset says how)."""

    name: bytes
    data: bytes
    problem: str | None = None


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Bytes of a part as fetched (`BODY.PEEK[n]`) with its Content-Transfer-Encoding undone; never raises.

    base64 ignores line breaks, junk characters and lines of text around the data, and tolerates missing or
    doubled padding (several base64 runs glued together decode one after another); quoted-printable keeps
    malformed escapes as they are; uuencode (x-uuencode, uue) is read between its begin and end lines; 7bit,
    8bit, binary and unknown encodings give the bytes back unchanged.
    """
    return decode_transfer_with_problem(data, encoding)[0]


def decode_transfer_with_problem(data: bytes, encoding: str) -> tuple[bytes, str | None]:
    """The decoded bytes (as `decode_transfer`) and, when the encoding was damaged or unknown, what was wrong."""
    name = encoding.strip().strip("\"'").lower()
    if name == "base64":
        return decode_base64(data)
    if name == "quoted-printable":
        return binascii.a2b_qp(data), None
    if name in ("", "7bit", "8bit", "binary"):
        return data, None
    if name in UUENCODE_NAMES:
        begin = _UU_BEGIN.search(data)
        if begin is None:
            return b"", "uuencoded part without a 'begin' line"
        found = _uu_file(data, begin)
        return found.data, found.problem
    return data, f"unknown transfer encoding {encoding.strip()[:40]!r}: bytes kept as they are"


def find_uuencoded(text: bytes, *, max_files: int) -> list[UuFile]:
    """The files uuencoded inside a text body ('begin 644 name' ... 'end'), as old mailers attach them; at most
    `max_files`."""
    found: list[UuFile] = []
    position = 0
    while len(found) < max_files:
        begin = _UU_BEGIN.search(text, position)
        if begin is None:
            break
        uu = _uu_file(text, begin)
        found.append(uu)
        end = text.find(b"\nend", begin.end())
        position = len(text) if end < 0 else end + 4
    return found


def _uu_file(data: bytes, begin: re.Match[bytes]) -> UuFile:
    """The file whose begin line is `begin`: its lines decoded up to the 'end' line."""
    out = []
    problem = None
    ended = False
    for line in data[begin.end() :].splitlines()[1:]:  # [0] is what is left of the begin line: its line break
        stripped = line.strip()
        if stripped == b"end":
            ended = True
            break
        if stripped in (b"`", b""):
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # Some encoders pad lines wrongly; the length byte says how much is real (as the stdlib does).
            length = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out.append(binascii.a2b_uu(line[:length]))
            except binascii.Error:
                problem = "damaged uuencode line (skipped)"
    if not ended:
        problem = "uuencoded file without its 'end' line (cut off?)"
    return UuFile(begin.group(2), b"".join(out), problem)


def decode_base64(data: bytes) -> tuple[bytes, str | None]:
    """base64 as a careful reader takes it, and what was damaged, if anything.

    Line breaks and characters outside the alphabet are skipped; lines of text before or after the data (a
    signature or a list footer added below an attachment: words with spaces, or mostly punctuation) are left
    out; padding is repaired, and a '=' inside the data ends one run and starts the next (encodings glued
    together); a last group of 2 or 3 characters gives its 1 or 2 bytes, a lone last character none.
    """
    problem = None
    if not data.translate(None, _BASE64_ALPHABET + b"\r\n"):  # nothing but base64 lines: the common case, fast
        return _decode_runs(data.translate(None, b"\r\n"), None)
    kept: list[bytes] = []
    for line in data.splitlines():
        text = line.strip()
        if not text:
            continue
        if _is_text_line(text):
            if kept:
                problem = "text after the base64 data (ignored)"
                break
            problem = "text before the base64 data (ignored)"
            continue
        kept.append(text)
    body = b"".join(kept)
    if _BASE64_INVALID.search(body):
        problem = problem or "base64 data holds characters outside the base64 alphabet (skipped)"
    return _decode_runs(body, problem)


def _decode_runs(body: bytes, problem: str | None) -> tuple[bytes, str | None]:
    """Runs of base64 (a '=' ends one) decoded one after another, padding repaired."""
    chunks = []
    for run in _BASE64_RUN.findall(_BASE64_JUNK.sub(b"", body)):
        digits = run.rstrip(b"=")
        if len(digits) % 4 == 1:
            # One character carries only 6 bits, not a whole byte: the data was cut off.
            digits = digits[:-1]
            problem = "base64 data ends in the middle of a byte (truncated?)"
        chunks.append(binascii.a2b_base64(digits + b"=" * (-len(digits) % 4)))
    return b"".join(chunks), problem


def _is_text_line(line: bytes) -> bool:
    """A line that is not base64: words with spaces between them, or mostly characters outside the alphabet.
    (Junk inside a real base64 line, a few characters, leaves it base64.)"""
    if b" " in line or b"\t" in line:
        return True
    outside = len(line.translate(None, _BASE64_ALPHABET))
    return outside * 4 > len(line)
