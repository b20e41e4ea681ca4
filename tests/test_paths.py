"""Archive path rules with literal values: every sanitising rule as a table, length cuts, clash names, and a property
test that no text at all can produce a path that is unsafe on Windows, macOS or Linux."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.config import DEFAULT_LAYOUT, LAYOUT_FIELDS
from storage.paths import (
    EXTENSION_ROOM,
    MAX_EXTENSION_BYTES,
    PLACEHOLDERS,
    UNKNOWN,
    PathValues,
    render,
    sanitize_component,
    unrecognized_path,
    with_clash_suffix,
)

NUMBER = "25322000000350147748"
SHA256 = "0123456789abcdef" * 4
LONG_SELLER = ("聚光科技（杭州）股份有限公司" * 9)[:120]  # 120 CJK characters, 360 bytes in UTF-8
# Written out from Microsoft's "Naming Files" page rather than imported, so the test is an independent oracle.
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{d}" for p in ("COM", "LPT") for d in "123456789¹²³"}


def values(**changes: Any) -> PathValues:
    base = PathValues(
        issue_date=date(2025, 7, 29),
        seller="示例有限公司",
        seller_tax_id="91330106MA2B1C2D3E",
        buyer="某某大学",
        total=Decimal("117.00"),
        number=NUMBER,
        code=None,
        variant=None,
    )
    return dataclasses.replace(base, **changes)


def rendered(placeholder: str, path_values: PathValues) -> str:
    """How one placeholder renders, as a folder of its own."""
    return render("{" + placeholder + "}/{number}", path_values).parts[0]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


# --- the interface agrees with the config that validates layouts ---------------------------------------------------


def test_placeholders_are_the_ones_the_config_accepts() -> None:
    assert PLACEHOLDERS == LAYOUT_FIELDS


def test_default_layout() -> None:
    path = render(DEFAULT_LAYOUT, values())
    assert path == PurePosixPath("2025/2025-07/2025-07-29_示例有限公司_117.00_25322000000350147748")


def test_storage_does_not_import_ingest() -> None:
    code = "import sys, storage.paths; sys.exit(any(m.split('.')[0] == 'ingest' for m in sys.modules))"
    root = Path(__file__).resolve().parent.parent
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


# --- how values render ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("placeholder", "changes", "expected"),
    [
        ("year", {}, "2025"),
        ("month", {}, "07"),
        ("day", {"issue_date": date(2025, 1, 5)}, "05"),
        ("date", {}, "2025-07-29"),
        ("year", {"issue_date": date(5, 1, 2)}, "0005"),
        ("date", {"issue_date": date(5, 1, 2)}, "0005-01-02"),
        ("total", {}, "117.00"),
        ("total", {"total": Decimal("117")}, "117.00"),
        ("total", {"total": Decimal("-5")}, "-5.00"),
        ("total", {"total": Decimal("1E+3")}, "1000.00"),
        ("total", {"total": Decimal("1234567.891")}, "1234567.89"),
        ("total", {"total": Decimal("0.125")}, "0.13"),  # half-up, not banker's rounding
        ("total", {"total": Decimal("-0.001")}, "0.00"),  # no negative zero
        ("total", {"total": Decimal("1E-7")}, "0.00"),
        ("total", {"total": Decimal("NaN")}, UNKNOWN),
        ("total", {"total": Decimal("-Infinity")}, UNKNOWN),
        ("seller", {}, "示例有限公司"),
        ("seller_tax_id", {}, "91330106MA2B1C2D3E"),
        ("buyer", {}, "某某大学"),
        ("code", {"code": "033002300111"}, "033002300111"),
        ("variant", {"variant": "红字"}, "红字"),
        ("seller", {"seller": "  示例有限公司\n"}, "示例有限公司"),
    ],
)
def test_value_rendering(placeholder: str, changes: dict[str, Any], expected: str) -> None:
    assert rendered(placeholder, values(**changes)) == expected


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
@pytest.mark.parametrize("missing", [None, "", "   ", "\u200b\ufeff"])
def test_missing_or_invisible_values_render_as_unknown(placeholder: str, missing: str | None) -> None:
    empty = values(issue_date=None, seller=missing, seller_tax_id=missing, buyer=missing, total=None, code=missing)
    empty = dataclasses.replace(empty, variant=missing, number=missing)
    assert render("{" + placeholder + "}_{number}", empty) == PurePosixPath(f"{UNKNOWN}_{UNKNOWN}")


# --- sanitize_component, one table per rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x00b", "ab"),
        ("a\x1bb", "ab"),  # ESC: a file name must not carry terminal escape sequences
        ("a\x7fb", "ab"),
        ("a\x9bb", "ab"),  # C1 CSI
        ("a\u200bb", "ab"),
        ("a\u200cb\u200db", "abb"),
        ("a\u200eb\u200fc", "abc"),
        ("a\u202ab\u202bc\u202cd\u202de", "abcde"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # would display as "invoiceexe.pdf"
        ("a\u2066b\u2067c\u2068d\u2069e", "abcde"),
        ("\ufeff示例有限公司", "示例有限公司"),
        ("a\u00adb", "ab"),  # soft hyphen, also a format character
    ],
)
def test_control_and_format_characters_are_removed(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a<b", "a_b"),
        ("a>b", "a_b"),
        ("a:b", "a_b"),
        ('a"b', "a_b"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("a|b", "a_b"),
        ("a?b", "a_b"),
        ("a*b", "a_b"),
        ('<>:"/\\|?*', "_________"),
        ("聚光科技（杭州）股份有限公司", "聚光科技（杭州）股份有限公司"),  # full-width punctuation is legal and common
        ("发票：＜＞｜？＊／＼", "发票：＜＞｜？＊／＼"),
        ("A&B Co., Ltd. #1 [x] {y} 'z' ~$%", "A&B Co., Ltd. #1 [x] {y} 'z' ~$%"),
    ],
)
def test_reserved_characters_are_replaced(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  a   b  ", "a b"),
        ("a\tb\nc\r\nd", "a b c d"),
        ("a\u3000b", "a b"),  # ideographic space
        ("a\u00a0\u2002b", "a b"),
        ("a\u2028b", "a b"),
        ("a \u200b b", "a b"),  # the run is collapsed after the invisible character is gone
    ],
)
def test_whitespace_is_collapsed_and_stripped(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name.", "name"),
        ("name. . .", "name"),
        ("name ", "name"),
        ("name.\u200b", "name"),
        (".hidden", "_hidden"),
        ("..hidden", "_.hidden"),
        (" .hidden", "_hidden"),
        ("\u200b.hidden", "_hidden"),
        ("a.b.c", "a.b.c"),
    ],
)
def test_leading_and_trailing_dots(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CON", "CON_"),
        ("con", "con_"),
        ("Nul", "Nul_"),
        ("PRN", "PRN_"),
        ("aux", "aux_"),
        ("COM1", "COM1_"),
        ("lpt9", "lpt9_"),
        ("COM¹", "COM¹_"),
        ("lpt³", "lpt³_"),
        ("con.txt", "con_.txt"),
        ("CON .pdf", "CON_ .pdf"),
        ("nul.tar.gz", "nul_.tar.gz"),
        ("CON.", "CON_"),
        ("CON. . ", "CON_"),
        ("\u200bAUX\u200b", "AUX_"),
        ("COM10", "COM10"),
        ("CONSOLE", "CONSOLE"),
        ("ACON", "ACON"),
        ("CON_", "CON_"),
        ("com1x.txt", "com1x.txt"),
        ("ＣＯＮ", "ＣＯＮ"),  # full-width letters are not a device to Windows
    ],
)
def test_windows_device_names_get_an_underscore(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


@pytest.mark.parametrize("text", ["", ".", "..", "...", " ", ". .", "\u200b", "\x00\x01"])
def test_nothing_left_becomes_an_underscore(text: str) -> None:
    assert sanitize_component(text) == "_"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("e\u0301", "\u00e9"),  # macOS hands out decomposed names
        ("\u1100\u1161", "\uac00"),  # Hangul jamo
        ("e\u200b\u0301", "\u00e9"),  # composed once the zero-width space between is gone
        ("\u212b", "\u00c5"),  # ANGSTROM SIGN has one spelling: Å
        ("\uff21\u2460", "\uff21\u2460"),  # NFC, not NFKC: full-width and circled forms stay
    ],
)
def test_unicode_is_nfc(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


def test_lone_surrogates_from_undecodable_names_are_replaced() -> None:
    raw = b"caf\xe9.pdf".decode("utf-8", errors="surrogateescape")
    assert sanitize_component(raw) == "caf_.pdf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("聚" * 85, "聚" * 85),  # exactly 255 bytes
        ("聚" * 86, "聚" * 85),
        ("a" + "聚" * 85, "a" + "聚" * 84),  # 256 bytes: cut before the character that does not fit
        ("ab" + "聚" * 85, "ab" + "聚" * 84),
        ("😀" * 64, "😀" * 63),  # 4-byte characters
        ("a" * 300, "a" * 255),
        ("a" * 253 + ". b", "a" * 253),  # the cut exposes a trailing ". "
        (LONG_SELLER, LONG_SELLER[:85]),
    ],
)
def test_component_is_cut_to_255_bytes_on_a_character_boundary(text: str, expected: str) -> None:
    assert sanitize_component(text) == expected


# --- render ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{number}", NUMBER),
        ("发票/{year}/{number}", f"发票/2025/{NUMBER}"),
        ("{year}/{month}/{day}/{number}", f"2025/07/29/{NUMBER}"),
        ("/{year}//{number}/", f"2025/{NUMBER}"),  # empty levels dropped: never absolute
        ("../{number}", f"_/{NUMBER}"),
        ("./ /{number}", f"_/_/{NUMBER}"),
        ("{year}:{month}\\{number}", f"2025_07_{NUMBER}"),  # only '/' separates folders
        ("{seller} - {buyer}/{number}.", f"示例有限公司 - 某某大学/{NUMBER}"),
        ("{{{number}}}", "{" + NUMBER + "}"),
        ("{seller_tax_id}_{code}_{variant}_{number}", f"91330106MA2B1C2D3E_{UNKNOWN}_{UNKNOWN}_{NUMBER}"),
    ],
)
def test_template_structure(template: str, expected: str) -> None:
    assert render(template, values()) == PurePosixPath(expected)


@pytest.mark.parametrize(
    ("seller", "expected_folder"),
    [
        ("A/B\\C有限公司", "A_B_C有限公司"),  # a '/' or '\' in a value never makes a folder
        ("..", "_"),
        ("../../etc", "_._.._etc"),
        ("CON", "CON_"),
        (".config", "_config"),
        ("示例\u202e有限公司", "示例有限公司"),
    ],
)
def test_values_cannot_change_the_folder_structure(seller: str, expected_folder: str) -> None:
    path = render("{seller}/{number}", values(seller=seller))
    assert path.parts == (expected_folder, NUMBER)


def test_long_cjk_seller_is_cut_and_the_number_stays_whole() -> None:
    path = render(DEFAULT_LAYOUT, values(seller=LONG_SELLER))
    # 239 bytes for the name; date, total, number and separators take 39, leaving 200 for 66 three-byte characters.
    assert path == PurePosixPath(f"2025/2025-07/2025-07-29_{LONG_SELLER[:66]}_117.00_{NUMBER}")
    assert utf8_len(path.name) == 237


def test_the_longest_values_are_cut_evenly() -> None:
    path = render("{seller}_{buyer}_{number}", values(seller="聚" * 120, buyer="光" * 100))
    assert path == PurePosixPath(f"{'聚' * 36}_{'光' * 36}_{NUMBER}")


def test_last_component_leaves_room_for_the_extension_folders_get_255() -> None:
    path = render("{seller}/{number}", values(seller="聚" * 100, number="光" * 100))
    assert path.parts == ("聚" * 85, "光" * 79)
    assert utf8_len(path.name) == 237 <= 255 - EXTENSION_ROOM


def test_long_literal_text_is_cut_too() -> None:
    path = render("x" * 300 + "{number}", values())
    assert path == PurePosixPath("x" * 239)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{year}/{seller}", r"must contain \{number\}"),
        ("{number}_{foo}", r"uses \{foo\}; available: \{year\} \{month\}"),
        ("{date.year}_{number}", r"uses \{date\.year\}"),
        ("{}_{number}", r"uses \{\}"),
        ("{number", "malformed"),
        ("{number}}", "malformed"),
        ("{number:>30}", "without a conversion or format spec"),
        ("{number!r}", "without a conversion or format spec"),
    ],
)
def test_bad_templates_are_value_errors(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render(template, values())


# --- clash suffix ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "n", "expected"),
    [
        ("2025/2025-07/a", 1, "2025/2025-07/a"),
        ("2025/2025-07/a", 2, "2025/2025-07/a (2)"),
        ("2025/2025-07/a", 12, "2025/2025-07/a (12)"),
        ("a", 3, "a (3)"),
        ("2025/" + "a" * 239, 99999, "2025/" + "a" * 239 + " (99999)"),  # render()'s room takes the suffix
        ("a" * 239, 1000000, "a" * 237 + " (1000000)"),
        ("a" + "聚" * 79 + "b", 1000000, "a" + "聚" * 78 + " (1000000)"),  # cut on a character boundary
        ("a" * 236 + " bc", 1000000, "a" * 236 + " (1000000)"),  # no double space
    ],
)
def test_clash_suffix(relative: str, n: int, expected: str) -> None:
    assert with_clash_suffix(PurePosixPath(relative), n) == PurePosixPath(expected)


@pytest.mark.parametrize(("relative", "n"), [("a", 0), ("a", -1), ("", 2), (".", 2)])
def test_clash_suffix_rejects_nonsense(relative: str, n: int) -> None:
    with pytest.raises(ValueError):
        with_clash_suffix(PurePosixPath(relative), n)


# --- unrecognized files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected_name"),
    [
        ("发票.pdf", "0123456789ab_发票.pdf"),
        ("scan.JPEG", "0123456789ab_scan.JPEG"),
        ("README", "0123456789ab_README"),
        ("", "0123456789ab__"),
        (".pdf", "0123456789ab__pdf"),
        ("CON.pdf", "0123456789ab_CON_.pdf"),
        ("../../etc/passwd", "0123456789ab__._.._etc_passwd"),
        ("..\\..\\boot.ini", "0123456789ab__._.._boot.ini"),
        ("in\x00voice\x1b[31m\u202e\u200b.pdf ", "0123456789ab_invoice[31m.pdf"),
        ("长" * 200 + ".pdf", "0123456789ab_" + "长" * 79 + ".pdf"),  # 254 bytes, extension kept
        ("长" * 200 + ".pdf. ", "0123456789ab_" + "长" * 79 + ".pdf"),  # Windows would drop the ". " anyway
        ("a" * 300 + ".xml", "0123456789ab_" + "a" * 238 + ".xml"),  # 255 bytes
        ("a" * 300 + ".notanextensionatall", "0123456789ab_" + "a" * 242),  # too long to be an extension
        ("Example Co., Ltd", "0123456789ab_Example Co., Ltd"),
    ],
)
def test_unrecognized_path(original: str, expected_name: str) -> None:
    assert unrecognized_path(SHA256, original) == PurePosixPath("_unrecognized", expected_name)


def test_unrecognized_path_takes_an_uppercase_hash() -> None:
    assert unrecognized_path(SHA256.upper(), "a.pdf") == PurePosixPath("_unrecognized/0123456789ab_a.pdf")


@pytest.mark.parametrize("digest", ["", "0123", SHA256[:-1], SHA256 + "0", "g" * 64, "../" + SHA256[3:]])
def test_unrecognized_path_needs_a_sha256(digest: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        unrecognized_path(digest, "a.pdf")


# --- properties: no input can produce an unsafe path ----------------------------------------------------------------

_TRICKY = list('<>:"/\\|?*. \t\n\x00\x1b\x7f\x85\u200b\u202e\u2066\ufeff\u0301\u3000聚（）😀\udc80')
_TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(_TRICKY)), max_size=300)
_VALUE = st.one_of(st.none(), _TEXT, st.sampled_from(["CON", "con.txt", "COM¹ .pdf", "..", ".", " ", "a/../b"]))


@st.composite
def _templates(draw: st.DrawFn) -> str:
    placeholder = st.sampled_from(["{" + p + "}" for p in PLACEHOLDERS])
    literal = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(_TRICKY)), max_size=6)
    escaped = literal.map(lambda text: text.replace("{", "{{").replace("}", "}}"))
    pieces = draw(st.lists(st.one_of(placeholder, escaped), max_size=8))
    pieces.insert(draw(st.integers(0, len(pieces))), "{number}")
    return "".join(pieces)


_PATH_VALUES = st.builds(
    PathValues,
    issue_date=st.one_of(st.none(), st.dates()),
    seller=_VALUE,
    seller_tax_id=_VALUE,
    buyer=_VALUE,
    total=st.one_of(st.none(), st.decimals()),
    number=_VALUE,
    code=_VALUE,
    variant=_VALUE,
)


def assert_safe_component(name: str, max_bytes: int) -> None:
    assert name not in ("", ".", "..")
    assert utf8_len(name) <= max_bytes  # also: no lone surrogate
    assert not set(name) & set('<>:"/\\|?*')
    assert all(unicodedata.category(char) not in ("Cc", "Cf") for char in name)
    assert not name.startswith((".", " "))
    assert not name.endswith((".", " "))
    assert "  " not in name
    assert name.partition(".")[0].rstrip(" ").upper() not in WINDOWS_DEVICES
    assert unicodedata.is_normalized("NFC", name)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_text_sanitises_to_a_safe_component(text: str) -> None:
    name = sanitize_component(text)
    assert_safe_component(name, 255)
    assert sanitize_component(name) == name


@settings(max_examples=300, deadline=None)
@given(_templates(), _PATH_VALUES)
def test_any_values_render_to_a_safe_relative_path(template: str, path_values: PathValues) -> None:
    path = render(template, path_values)
    assert not path.is_absolute()
    assert path.parts
    for name in path.parts[:-1]:
        assert_safe_component(name, 255)
    assert_safe_component(path.name, 255 - EXTENSION_ROOM)


@settings(max_examples=200, deadline=None)
@given(_PATH_VALUES, st.text(alphabet="0123456789", min_size=20, max_size=20))
def test_default_layout_keeps_the_invoice_number_whatever_the_names(path_values: PathValues, number: str) -> None:
    path = render(DEFAULT_LAYOUT, dataclasses.replace(path_values, number=number))
    assert path.name.endswith("_" + number)


@settings(max_examples=200, deadline=None)
@given(_templates(), _PATH_VALUES, st.integers(1, 10**12))
def test_clash_names_stay_safe(template: str, path_values: PathValues, n: int) -> None:
    path = render(template, path_values)
    alternative = with_clash_suffix(path, n)
    assert alternative.parent == path.parent
    assert_safe_component(alternative.name, 255 - MAX_EXTENSION_BYTES)
    if 1 < n < 100000:
        assert alternative.name == f"{path.name} ({n})"


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.sampled_from(["", ".pdf", ".ofd", ".xml"]))
def test_any_original_name_gives_a_safe_unrecognized_path(stem: str, extension: str) -> None:
    path = unrecognized_path(SHA256, "x" + stem + extension)  # "x": a bare ".pdf" is a hidden file, not an extension
    assert path.parent == PurePosixPath("_unrecognized")
    assert_safe_component(path.name, 255)
    assert path.name.startswith("0123456789ab_")
    assert path.name.endswith(extension)
