"""Content-Transfer-Encoding undone (base64, quoted-printable, uuencode), tolerant of damage; pure, never raises.

A module of its own because both readers of mail need it and neither should need the other: part bytes (a part
fetched alone, or a leaf of a whole message in `mime`) and B-encoded words in headers (`mail_headers`).
"""

from __future__ import annotations

import binascii
import re

_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/=]")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]+=*")
_BASE64_INVALID = re.compile(rb"[^A-Za-z0-9+/=\s]")
UUENCODE_NAMES = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Bytes of a part as fetched (`BODY.PEEK[n]`) with its Content-Transfer-Encoding undone; never raises.

    base64 ignores line breaks and junk characters, and tolerates missing or doubled padding (several
    base64 runs glued together decode one after another); quoted-printable keeps malformed escapes as they
    are; uuencode (x-uuencode, uue) is read between its begin and end lines; 7bit, 8bit, binary and unknown
    encodings give the bytes back unchanged.
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
        return _uu_decode(data)
    return data, f"unknown transfer encoding {encoding.strip()[:40]!r}: bytes kept as they are"


def _uu_decode(data: bytes) -> tuple[bytes, str | None]:
    """uuencode (old Outlook Express and Unix mailers): the lines between 'begin' and 'end'."""
    out = []
    problem = None
    inside = False
    for line in data.splitlines():
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
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
    return b"".join(out), problem


def decode_base64(data: bytes) -> tuple[bytes, str | None]:
    """base64 with junk skipped and padding repaired, and what was damaged, if anything."""
    problem = None
    if _BASE64_INVALID.search(data):
        problem = "base64 data holds characters outside the base64 alphabet (skipped)"
    chunks = []
    for run in _BASE64_RUN.findall(_BASE64_JUNK.sub(b"", data)):
        body = run.rstrip(b"=")
        if len(body) % 4 == 1:
            # One character carries only 6 bits, not a whole byte: the data was cut off.
            body = body[:-1]
            problem = "base64 data ends in the middle of a byte (truncated?)"
        chunks.append(binascii.a2b_base64(body + b"=" * (-len(body) % 4)))
    return b"".join(chunks), problem
