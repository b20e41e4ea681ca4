"""unpack(): zips opened into the files that could be invoices; every hostile case a Part with a problem."""

from __future__ import annotations

import io
import random
import stat
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.extract.reader import sniff
from ingest.unpack import Part, UnpackLimits, unpack

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
XML = b'<?xml version="1.0" encoding="UTF-8"?><EInvoice/>'
OFD_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">'
    b"<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
)
INVOICE_NAME = "发票/电子发票.pdf"

Member = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(members: list[Member], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def with_raw_name(raw_name: bytes, content: bytes = PDF) -> bytes:
    """A one-member zip whose name is exactly `raw_name`, UTF-8 flag clear, as Windows and macOS tools write.

    zipfile sets the UTF-8 flag on any non-ASCII name it writes, so the member is written under an ASCII
    name of the same length and the name's bytes are swapped in afterwards (the CRC does not cover names).
    """
    placeholder = b"N" * (len(raw_name) - 4) + b".pdf"
    data = make_zip([(placeholder.decode("ascii"), content)])
    assert data.count(placeholder) == 2  # local header and central directory
    return data.replace(placeholder, raw_name)


def with_header_field(data: bytes, offset: int, value: int, width: int = 2) -> bytes:
    """A one-member zip with a field rewritten in both headers; `offset` is the field's place in the local header.

    From the flags to the sizes, a central directory entry has the local header's fields two bytes later.
    """
    patched = bytearray(data)
    central = data.index(b"PK\x01\x02")
    for start in (offset, central + offset + 2):
        patched[start : start + width] = value.to_bytes(width, "little")
    return bytes(patched)


def nested(levels: int, innermost: list[Member]) -> bytes:
    """`levels` zips one inside the next, named level1.zip .. levelN.zip from the outside in."""
    data = make_zip(innermost)
    for level in range(levels, 1, -1):
        data = make_zip([(f"level{level}.zip", data)])
    return data


def names(parts: list[Part]) -> list[str]:
    return [part.name for part in parts]


def only_problem(parts: list[Part]) -> str:
    assert len(parts) == 1, parts
    assert parts[0].data == b""
    assert parts[0].problem is not None
    return parts[0].problem


# --- files that are not zips -------------------------------------------------


@pytest.mark.parametrize("data", [PDF, XML, b"\x89PNG\r\n\x1a\n not an invoice", b"PK\x05\x06" + bytes(18)])
def test_a_file_that_is_not_a_zip_is_one_part(data: bytes) -> None:
    assert unpack(data, "in.bin") == [Part("in.bin", data)]


def test_an_empty_file_is_a_part_with_a_problem() -> None:
    assert unpack(b"", "empty.pdf") == [Part("empty.pdf", b"", "empty file (0 bytes)")]


def test_an_ofd_is_returned_whole() -> None:
    ofd = make_zip([("OFD.xml", OFD_XML), ("Doc_0/Document.xml", b"<Document/>")])
    assert unpack(ofd, "invoice.ofd") == [Part("invoice.ofd", ofd)]


def test_an_ofd_inside_a_zip_is_one_member_returned_whole() -> None:
    ofd = make_zip([("OFD.xml", OFD_XML), ("Doc_0/Document.xml", b"<Document/>")])
    parts = unpack(make_zip([("a.ofd", ofd), ("b.pdf", PDF)]), "bundle.zip")
    assert parts == [Part("bundle.zip!a.ofd", ofd), Part("bundle.zip!b.pdf", PDF)]


def test_a_bundle_holding_a_stored_ofd_is_not_taken_for_an_ofd() -> None:
    # Stored, the OFD's bytes (its 'OFD.xml' name included) sit in the bundle as they are, which fools sniff.
    ofd = make_zip([("OFD.xml", OFD_XML)])
    bundle = make_zip([("a.ofd", ofd), ("b.pdf", PDF)], zipfile.ZIP_STORED)
    assert names(unpack(bundle, "bundle.zip")) == ["bundle.zip!a.ofd", "bundle.zip!b.pdf"]


def test_a_zip_whose_first_member_is_a_stored_pdf_is_opened() -> None:
    # '%PDF-' sits in the first KiB of such a zip: the zip signature must win.
    bundle = make_zip([("a.pdf", PDF), ("b.xml", XML)], zipfile.ZIP_STORED)
    assert sniff(bundle) == "zip"
    assert unpack(bundle, "bundle.zip") == [Part("bundle.zip!a.pdf", PDF), Part("bundle.zip!b.xml", XML)]


# --- members ---------------------------------------------------------------------


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_members_become_parts_in_order_folders_skipped(compression: int) -> None:
    bundle = make_zip([("发票/", b""), ("发票/a.pdf", PDF), ("b.xml", XML)], compression)
    assert unpack(bundle, "bundle.zip") == [Part("bundle.zip!发票/a.pdf", PDF), Part("bundle.zip!b.xml", XML)]


def test_system_junk_is_skipped_silently() -> None:
    bundle = make_zip(
        [
            ("__MACOSX/发票/._a.pdf", b"\x00\x05\x16\x07"),
            ("发票/._a.pdf", b"\x00\x05\x16\x07"),
            ("发票/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ("发票/Thumbs.db", b"\xd0\xcf\x11\xe0"),
            ("发票/a.pdf", PDF),
        ]
    )
    assert unpack(bundle, "bundle.zip") == [Part("bundle.zip!发票/a.pdf", PDF)]


def test_a_zip_of_nothing_but_folders_and_junk_is_still_recorded() -> None:
    problem = only_problem(unpack(make_zip([("a/", b""), ("__MACOSX/._a", b"x")]), "bundle.zip"))
    assert "holds no files" in problem


def test_an_empty_member_is_a_part_with_a_problem() -> None:
    assert unpack(make_zip([("a.pdf", b"")]), "z.zip") == [Part("z.zip!a.pdf", b"", "empty zip member (0 bytes)")]


# --- member names ------------------------------------------------------------------


def test_a_gbk_name_without_the_utf8_flag_is_decoded_as_gbk() -> None:
    bundle = with_raw_name(INVOICE_NAME.encode("gbk"))
    info = zipfile.ZipFile(io.BytesIO(bundle)).infolist()[0]
    assert not info.flag_bits & 0x800
    assert info.filename != INVOICE_NAME  # what zipfile alone makes of it: cp437 mojibake
    assert unpack(bundle, "bundle.zip") == [Part(f"bundle.zip!{INVOICE_NAME}", PDF)]


def test_a_gbk_character_whose_second_byte_is_a_backslash_stays_whole() -> None:
    # '乗' is 0x81 0x5C in GBK: the backslash must not be read as a folder separator.
    assert "乗".encode("gbk")[-1:] == b"\\"
    parts = unpack(with_raw_name("乗车票.pdf".encode("gbk")), "bundle.zip")
    assert names(parts) == ["bundle.zip!乗车票.pdf"]


def test_a_name_with_the_utf8_flag_is_taken_as_utf8() -> None:
    bundle = make_zip([(INVOICE_NAME, PDF)])
    assert zipfile.ZipFile(io.BytesIO(bundle)).infolist()[0].flag_bits & 0x800
    assert unpack(bundle, "bundle.zip") == [Part(f"bundle.zip!{INVOICE_NAME}", PDF)]


def test_a_utf8_name_without_the_flag_is_taken_as_utf8() -> None:
    # macOS Archive Utility writes UTF-8 names without setting the flag; as GB18030 they would be mojibake.
    parts = unpack(with_raw_name(INVOICE_NAME.encode("utf-8")), "bundle.zip")
    assert names(parts) == [f"bundle.zip!{INVOICE_NAME}"]


def test_a_name_that_is_neither_utf8_nor_gbk_keeps_the_cp437_text() -> None:
    raw = b"\xff\xfe\xff.pdf"  # 0xFF starts no UTF-8 or GB18030 character
    assert names(unpack(with_raw_name(raw), "bundle.zip")) == [f"bundle.zip!{raw.decode('cp437')}"]


@pytest.mark.parametrize(
    ("member", "shown"),
    [
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/x.pdf", "abs/x.pdf"),
        ("a/../../b.pdf", "a/b.pdf"),
        ("./a/./b.pdf", "a/b.pdf"),
        ("C:\\Windows\\x.pdf", "Windows/x.pdf"),
        ("C:x.pdf", "x.pdf"),
        ("..\\..\\x.pdf", "x.pdf"),
        ("a/.. /. ./b.pdf", "a/b.pdf"),
        ("line\nbreak.pdf", "linebreak.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("..", "(no name)"),
    ],
)
def test_member_names_cannot_leave_their_folder(member: str, shown: str) -> None:
    assert unpack(make_zip([(member, PDF)]), "bundle.zip") == [Part(f"bundle.zip!{shown}", PDF)]


# --- members that are not read --------------------------------------------------------


def test_a_symbolic_link_is_not_followed_or_read() -> None:
    link = zipfile.ZipInfo("invoice.pdf")
    link.create_system = 3  # Unix
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    parts = unpack(make_zip([(link, b"/etc/passwd"), ("b.pdf", PDF)]), "bundle.zip")
    assert parts == [
        Part("bundle.zip!invoice.pdf", b"", "symbolic link in zip: not read"),
        Part("bundle.zip!b.pdf", PDF),
    ]


def test_an_encrypted_member_is_not_read() -> None:
    # zipfile clears flag_bits of a ZipInfo it writes, so the flag is set in the written bytes.
    secret = with_header_field(make_zip([("secret.pdf", PDF)]), offset=6, value=0x1)
    assert zipfile.ZipFile(io.BytesIO(secret)).infolist()[0].flag_bits & 0x1
    parts = unpack(secret, "bundle.zip")
    assert parts == [Part("bundle.zip!secret.pdf", b"", "encrypted zip member (password-protected): not read")]


def test_an_unsupported_compression_method_is_named() -> None:
    bundle = with_header_field(make_zip([("a.pdf", PDF)], zipfile.ZIP_STORED), offset=8, value=99)
    problem = only_problem(unpack(bundle, "bundle.zip"))
    assert problem == "zip member compressed with method 99 (AES), which cannot be read"


def test_a_truncated_zip_is_one_part_with_a_problem() -> None:
    bundle = make_zip([("a.pdf", PDF * 50), ("b.pdf", PDF * 50)])
    problem = only_problem(unpack(bundle[: len(bundle) // 2], "bundle.zip"))
    assert problem.startswith("damaged zip archive, not opened: ")


def test_a_zip_asking_for_a_newer_zip_format_is_one_part_with_a_problem() -> None:
    bundle = with_header_field(make_zip([("a.pdf", PDF)]), offset=4, value=99)  # version needed to extract: 9.9
    assert only_problem(unpack(bundle, "bundle.zip")) == (
        "zip archive needs a newer zip reader (zip file version 9.9): not opened"
    )


def test_a_member_with_a_bad_crc_is_a_part_with_a_problem() -> None:
    bundle = bytearray(make_zip([("a.pdf", PDF), ("b.pdf", PDF)], zipfile.ZIP_STORED))
    first = bytes(bundle).index(PDF)
    bundle[first + 20] ^= 0xFF
    parts = unpack(bytes(bundle), "bundle.zip")
    assert names(parts) == ["bundle.zip!a.pdf", "bundle.zip!b.pdf"]
    assert parts[0].data == b""
    assert parts[0].problem is not None
    assert parts[0].problem.startswith("damaged zip member, not read: Bad CRC-32")
    assert parts[1] == Part("bundle.zip!b.pdf", PDF)


def test_corrupt_deflate_data_is_a_part_with_a_problem() -> None:
    content = random.Random(1).randbytes(5000)
    bundle = bytearray(make_zip([("a.pdf", content)]))
    bundle[100:140] = bytes(40)
    problem = only_problem(unpack(bytes(bundle), "bundle.zip"))
    assert problem.startswith("damaged zip member, not read: ")


# --- nesting -------------------------------------------------------------------------------


def test_a_zip_inside_a_zip_is_unpacked() -> None:
    inner = make_zip([("a.pdf", PDF), ("b.xml", XML)])
    outer = make_zip([("inner.zip", inner), ("c.pdf", PDF)])
    assert unpack(outer, "outer.zip") == [
        Part("outer.zip!inner.zip!a.pdf", PDF),
        Part("outer.zip!inner.zip!b.xml", XML),
        Part("outer.zip!c.pdf", PDF),
    ]


def test_three_levels_are_unpacked_and_a_fourth_is_not() -> None:
    assert unpack(nested(3, [("a.pdf", PDF)]), "level1.zip") == [Part("level1.zip!level2.zip!level3.zip!a.pdf", PDF)]
    parts = unpack(nested(4, [("a.pdf", PDF)]), "level1.zip")
    assert parts == [
        Part(
            "level1.zip!level2.zip!level3.zip!level4.zip",
            b"",
            "zip nested 4 levels deep, over the 3-level limit: not opened",
        )
    ]


def test_the_depth_limit_can_be_lowered() -> None:
    parts = unpack(nested(2, [("a.pdf", PDF)]), "level1.zip", limits=UnpackLimits(max_depth=1))
    assert only_problem(parts) == "zip nested 2 levels deep, over the 1-level limit: not opened"
    assert only_problem(unpack(make_zip([("a.pdf", PDF)]), "z.zip", limits=UnpackLimits(max_depth=0)))


# --- bounds --------------------------------------------------------------------------------------


def test_a_zip_bomb_member_is_refused_by_its_size() -> None:
    bomb = make_zip([("bomb.pdf", bytes(60 * 1024 * 1024))])
    assert len(bomb) < 200 * 1024
    parts = unpack(bomb, "bomb.zip")
    assert parts == [
        Part("bomb.zip!bomb.pdf", b"", "zip member is 62914560 bytes uncompressed, over the 52428800-byte limit")
    ]


def test_a_member_over_a_lowered_size_limit_is_refused() -> None:
    parts = unpack(
        make_zip([("a.pdf", bytes(2000)), ("b.pdf", PDF)]), "z.zip", limits=UnpackLimits(max_member_bytes=1000)
    )
    assert parts == [
        Part("z.zip!a.pdf", b"", "zip member is 2000 bytes uncompressed, over the 1000-byte limit"),
        Part("z.zip!b.pdf", PDF),
    ]


def test_a_header_that_understates_the_size_does_not_let_more_through() -> None:
    content = random.Random(2).randbytes(5000)
    bundle = with_header_field(make_zip([("a.pdf", content)], zipfile.ZIP_STORED), offset=22, value=10, width=4)
    parts = unpack(bundle, "z.zip", limits=UnpackLimits(max_member_bytes=1000))
    assert only_problem(parts)
    assert parts[0].name == "z.zip!a.pdf"


def test_a_member_that_expands_too_much_is_a_bomb() -> None:
    parts = unpack(make_zip([("zeros.pdf", bytes(2 * 1024 * 1024))]), "z.zip")
    problem = only_problem(parts)
    assert problem.startswith("zip member expands ")
    assert problem.endswith(":1 limit (a zip bomb?)")


def test_the_ratio_is_not_checked_below_one_mib_nor_for_incompressible_data() -> None:
    small_zeros = bytes(900 * 1024)
    noise = random.Random(3).randbytes(2 * 1024 * 1024)
    parts = unpack(make_zip([("zeros.pdf", small_zeros), ("noise.pdf", noise)]), "z.zip")
    assert parts == [Part("z.zip!zeros.pdf", small_zeros), Part("z.zip!noise.pdf", noise)]


def test_the_total_over_the_whole_tree_is_bounded() -> None:
    content = random.Random(4).randbytes(1200)
    inner = make_zip([("b.pdf", content), ("c.pdf", content)])
    outer = make_zip([("a.pdf", content), ("inner.zip", inner)])
    limit = 1200 + len(inner) + 1200 + 100
    parts = unpack(outer, "outer.zip", limits=UnpackLimits(max_total_bytes=limit))
    assert names(parts) == ["outer.zip!a.pdf", "outer.zip!inner.zip!b.pdf", "outer.zip!inner.zip!c.pdf"]
    assert parts[0].data == parts[1].data == content
    assert parts[2].data == b""
    assert parts[2].problem == (
        f"zip member is 1200 bytes uncompressed, over what is left (100 bytes) of the {limit}-byte limit "
        "for everything unpacked from one file"
    )


def test_past_the_member_limit_one_part_records_the_rest() -> None:
    bundle = make_zip([(f"{index}.pdf", PDF) for index in range(5)])
    parts = unpack(bundle, "bundle.zip", limits=UnpackLimits(max_members=3))
    assert parts == [
        Part("bundle.zip!0.pdf", PDF),
        Part("bundle.zip!1.pdf", PDF),
        Part("bundle.zip!2.pdf", PDF),
        Part("bundle.zip", b"", "2 more zip members not read: over the 3-member limit"),
    ]


def test_the_member_limit_counts_over_the_whole_tree() -> None:
    inner = make_zip([("a.pdf", PDF), ("b.pdf", PDF)])
    outer = make_zip([("inner.zip", inner), ("c.pdf", PDF)])
    parts = unpack(outer, "outer.zip", limits=UnpackLimits(max_members=2))
    assert parts == [
        Part("outer.zip!inner.zip!a.pdf", PDF),
        Part("outer.zip!inner.zip", b"", "1 more zip member not read: over the 2-member limit"),
        Part("outer.zip", b"", "1 more zip member not read: over the 2-member limit"),
    ]


def test_a_zip_listing_far_too_many_entries_is_not_opened() -> None:
    bundle = make_zip([(f"{index}.pdf", PDF) for index in range(25)])
    problem = only_problem(unpack(bundle, "bundle.zip", limits=UnpackLimits(max_members=2)))
    assert problem == "zip archive lists up to 25 entries, far over the 2-member limit: not opened"


# --- never raises ----------------------------------------------------------------------------------

SMALL = UnpackLimits(max_total_bytes=64 * 1024, max_member_bytes=16 * 1024, max_members=20, max_depth=2)
SAMPLES = [
    make_zip(
        [
            ("发票/a.pdf", PDF),
            ("b.xml", XML),
            ("inner.zip", make_zip([("c.pdf", PDF * 3), ("d/e.xml", XML)], compression)),
            ("f.bin", bytes(3000)),
        ],
        compression,
    )
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
]


def assert_well_formed(parts: list[Part], name: str, limits: UnpackLimits) -> None:
    assert parts
    for part in parts:
        assert (part.problem is None) == (part.data != b""), part
        assert part.name == name or part.name.startswith(f"{name}!")
        for path in part.name[len(name) :].split("!")[1:]:
            assert path
            assert not path.startswith("/")
            assert ".." not in path.split("/")
    assert sum(len(part.data) for part in parts if part.name != name) <= limits.max_total_bytes


@settings(max_examples=300)
@given(st.binary(max_size=2000) | st.binary(max_size=2000).map(lambda tail: b"PK\x03\x04" + tail))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert_well_formed(unpack(data, "in.bin", limits=SMALL), "in.bin", SMALL)


@st.composite
def corrupted_zips(draw: st.DrawFn) -> bytes:
    """A valid zip with a few bytes overwritten, perhaps cut short."""
    corrupted = bytearray(draw(st.sampled_from(SAMPLES)))
    for position, value in draw(st.lists(st.tuples(st.integers(0, len(corrupted) - 1), st.integers(0, 255)))):
        corrupted[position] = value
    return bytes(corrupted[: draw(st.integers(1, len(corrupted)))])


@settings(max_examples=500)
@given(corrupted_zips())
def test_corrupted_zips_never_raise(data: bytes) -> None:
    assert_well_formed(unpack(data, "bundle.zip", limits=SMALL), "bundle.zip", SMALL)
