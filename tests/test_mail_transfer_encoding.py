"""ingest.sources.transfer_encoding: base64, quoted-printable and uuencode undone, damage tolerated."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.sources.transfer_encoding import decode_transfer


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        (b"JVBERi0xLjcK\r\n", "base64", b"%PDF-1.7\n"),
        (b"JVBERi0xLjcKKg\r\n", "BASE64", b"%PDF-1.7\n*"),  # padding missing
        (b"JVBE\r\nRi0x\nLjcK", "base64", b"%PDF-1.7\n"),  # odd line breaks
        (b"YQ==YWI=", "base64", b"aab"),  # two encoded runs glued together
        (b"YQ==\r\n==", "base64", b"a"),  # extra padding
        (b"JVBE*Ri0x", "base64", b"%PDF-1"),  # junk
        (b"JVBERi0xL", "base64", b"%PDF-1"),  # lone last character: no whole byte
        (b"", "base64", b""),
        (b"a=3Db=\r\nc=E5=8F=91\r\n", "quoted-printable", b"a=bc\xe5\x8f\x91\r\n"),
        (b"100% =ZZ done", "Quoted-Printable", b"100% =ZZ done"),
        (b"\x00\xffraw", "binary", b"\x00\xffraw"),
        (b"text\r\n", "7bit", b"text\r\n"),
        (b"text", "", b"text"),
        (b"begin 644 x.pdf\n" + binascii.b2a_uu(b"%PDF-1.7 uu") + b"`\nend\n", "x-uuencode", b"%PDF-1.7 uu"),
        (b"no begin line", "uue", b""),
    ],
)
def test_decode_transfer(data: bytes, encoding: str, expected: bytes) -> None:
    assert decode_transfer(data, encoding) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500), st.sampled_from(["base64", "quoted-printable", "7bit", "x-unknown", ""]))
def test_decode_transfer_never_raises(data: bytes, encoding: str) -> None:
    decode_transfer(data, encoding)
