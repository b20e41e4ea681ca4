"""Invoice values -> relative archive paths that are legal and unambiguous on Windows, macOS and Linux (pure)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import PurePosixPath

PLACEHOLDERS: tuple[str, ...] = (
    "year",
    "month",
    "day",
    "date",
    "seller",
    "seller_tax_id",
    "buyer",
    "total",
    "number",
    "code",
    "variant",
)
UNKNOWN = "未知"  # what a missing value renders as
MAX_COMPONENT_BYTES = 255  # ext4's limit in UTF-8 bytes; never more than NTFS/APFS's 255 UTF-16 units
EXTENSION_ROOM = 16  # left free by render() for ".pdf"/".ofd"/".xml" and a clash suffix up to " (99999)"
MAX_EXTENSION_BYTES = 8  # what with_clash_suffix() still leaves free, whatever the clash number
UNRECOGNIZED_FOLDER = "_unrecognized"

# Control characters (C0, DEL, C1) and invisible format characters, which include the bidi overrides
# that make "fdp.exe" display as "exe.pdf".
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})
_RESERVED_TO_UNDERSCORE = str.maketrans(dict.fromkeys('<>:"/\\|?*', "_"))
_RESERVED_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789¹²³"}
)
_SPACE_RUNS = re.compile(" {2,}")
_EXTENSION = re.compile(r"\.[0-9A-Za-z]{1,15}\Z")  # a real extension is short ASCII; "Co., Ltd" has none
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PathValues:
    issue_date: date | None
    seller: str | None
    seller_tax_id: str | None
    buyer: str | None
    total: Decimal | None
    number: str | None
    code: str | None
    variant: str | None


def render(template: str, values: PathValues) -> PurePosixPath:
    """The relative path (without extension) for `values` under `template`, e.g.
    "{year}/{year}-{month}/{date}_{seller}_{total}_{number}"
    -> 2025/2025-07/2025-07-29_示例有限公司_117.00_25322000000350147748.
    '/' in the template separates folders; a '/' or '\\' inside a value never does (it is replaced). Each component
    sanitised and cut as in `sanitize_component`; the last one leaves EXTENSION_ROOM bytes free."""
    components = _template_components(template, _value_texts(values))
    *folders, last = components
    names = [_fit_component(parts, MAX_COMPONENT_BYTES) for parts in folders]
    names.append(_fit_component(last, MAX_COMPONENT_BYTES - EXTENSION_ROOM))
    return PurePosixPath(*names)


def sanitize_component(text: str) -> str:
    """One path component made safe everywhere."""
    return _sanitize(text, MAX_COMPONENT_BYTES)


def with_clash_suffix(relative: PurePosixPath, n: int) -> PurePosixPath:
    """The n-th alternative name when `relative` is taken: n=1 -> unchanged, n=2 -> 'name (2)', ... (suffix added to
    the last component, still within the 255-byte limit with MAX_EXTENSION_BYTES free for the extension)."""
    if n < 1:
        raise ValueError(f"clash number must be at least 1, not {n}")
    if not relative.name:
        raise ValueError(f"{str(relative)!r} has no name to add a clash suffix to")
    if n == 1:
        return relative
    suffix = f" ({n})"
    # The suffix goes into the room render() left, so a rendered name (and the invoice number at its end) stays
    # whole unless the clash number is absurdly large.
    room = min(MAX_COMPONENT_BYTES - EXTENSION_ROOM, MAX_COMPONENT_BYTES - MAX_EXTENSION_BYTES - len(suffix))
    stem = _cut_utf8(relative.name, room).rstrip(" ")
    return relative.with_name(stem + suffix)


def unrecognized_path(sha256_hex: str, original_name: str) -> PurePosixPath:
    """'_unrecognized/<first 12 hex of sha256>_<sanitised original name incl. its extension>' (cut to 255 bytes
    keeping the extension)."""
    digest = sha256_hex.lower()
    if not _SHA256_HEX.fullmatch(digest):
        raise ValueError(f"expected a sha256 as 64 hex digits, not {sha256_hex!r}")
    # Split before cutting: a long name must keep its extension.
    stem, extension = _split_extension(_make_safe(original_name))
    # The hash prefix keeps the result from starting with a dot or being a device name, whatever the stem is.
    room = MAX_COMPONENT_BYTES - len(extension.encode("utf-8"))
    name = _cut_utf8(f"{digest[:12]}_{stem}", room).rstrip(". ") + extension
    return PurePosixPath(UNRECOGNIZED_FOLDER, name)


def _value_texts(values: PathValues) -> dict[str, str]:
    issued = values.issue_date
    raw: dict[str, str | None] = {
        "year": f"{issued.year:04d}" if issued else None,
        "month": f"{issued.month:02d}" if issued else None,
        "day": f"{issued.day:02d}" if issued else None,
        "date": issued.isoformat() if issued else None,
        "seller": values.seller,
        "seller_tax_id": values.seller_tax_id,
        "buyer": values.buyer,
        "total": _money_text(values.total) if values.total is not None else None,
        "number": values.number,
        "code": values.code,
        "variant": values.variant,
    }
    # A value with nothing visible in it (blank, only zero-width characters) is as good as missing.
    cleaned = {name: _clean_characters(text).strip(" ") if text is not None else "" for name, text in raw.items()}
    return {name: text or UNKNOWN for name, text in cleaned.items()}


def _money_text(total: Decimal) -> str | None:
    if not total.is_finite():
        return None
    # Half-up as on the invoice itself, in a local context so the caller's decimal settings do not matter.
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        text = format(total, ".2f")
    return "0.00" if text == "-0.00" else text


def _template_components(template: str, texts: Mapping[str, str]) -> list[list[tuple[str, bool]]]:
    """The template's folder levels, each a list of (text, is_value) parts; only the template's own '/' splits."""
    components: list[list[tuple[str, bool]]] = [[]]
    names: list[str] = []
    for literal, name, format_spec, conversion in _parse_template(template):
        first, *rest = literal.split("/")
        components[-1].append((_clean_characters(first), False))
        components.extend([(_clean_characters(piece), False)] for piece in rest)
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            available = " ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ValueError(f"layout {template!r} uses {{{name}}}; available: {available}")
        if format_spec or conversion:
            raise ValueError(f"layout {template!r}: write {{{name}}} without a conversion or format spec")
        names.append(name)
        components[-1].append((texts[name], True))
    if "number" not in names:
        raise ValueError(f"layout {template!r} must contain {{number}} so two invoices never share a name")
    # Empty levels from a leading, trailing or doubled '/' are dropped: the path must stay relative.
    return [parts for parts in components if any(text or is_value for text, is_value in parts)]


def _parse_template(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"layout {template!r} is malformed: {exc}") from exc


def _fit_component(parts: list[tuple[str, bool]], max_bytes: int) -> str:
    """Join one level's parts, cutting the longest values first so that short ones like {number} stay whole."""
    literal_bytes = sum(len(text.encode("utf-8")) for text, is_value in parts if not is_value)
    value_bytes = [len(text.encode("utf-8")) for text, is_value in parts if is_value]
    cap = _value_cap(value_bytes, max_bytes - literal_bytes)
    joined = "".join(_cut_utf8(text, cap) if is_value else text for text, is_value in parts)
    return _sanitize(joined, max_bytes)


def _value_cap(lengths: list[int], budget: int) -> int:
    """The largest per-value byte length under which all values together fit in `budget` bytes."""
    remaining = budget
    ordered = sorted(lengths)
    for index, length in enumerate(ordered):
        share = remaining // (len(ordered) - index)
        if length > share:
            return max(share, 0)
        remaining -= length
    return max(ordered, default=0)


def _sanitize(text: str, max_bytes: int) -> str:
    # Cutting can expose a trailing dot or space but never a leading one or a device name (those are short).
    return _cut_utf8(_make_safe(text), max_bytes).rstrip(". ") or "_"


def _make_safe(text: str) -> str:
    """Every rule but the length limit."""
    # Windows drops trailing dots and spaces; a leading dot hides the file on Unix.
    text = _clean_characters(text).strip(" ").rstrip(". ")
    if text.startswith("."):
        text = "_" + text[1:]
    return _avoid_device_name(text) or "_"


def _clean_characters(text: str) -> str:
    """One spelling (NFC), no control or invisible characters, single spaces, no characters Windows reserves."""
    # Lone surrogates come from undecodable bytes in file names (surrogateescape) and cannot be written as UTF-8.
    text = "".join("_" if unicodedata.category(char) == "Cs" else char for char in text)
    # macOS hands out decomposed names; compose first so e.g. U+2000 has become an ordinary space before the next step.
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in _INVISIBLE_CATEGORIES
    )
    # Removing a zero-width character can bring a letter and its combining accent together.
    text = unicodedata.normalize("NFC", text)
    return _SPACE_RUNS.sub(" ", text).translate(_RESERVED_TO_UNDERSCORE)


def _avoid_device_name(text: str) -> str:
    # Windows ignores everything from the first dot and trailing spaces before it: "con.txt" and "CON .pdf" are CON.
    base = text.partition(".")[0].rstrip(" ")
    if base.upper() not in _RESERVED_DEVICES:
        return text
    return base + "_" + text[len(base) :]


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` within `max_bytes` UTF-8 bytes, never ending inside a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # The only invalid bytes left after slicing are the start of the character that did not fit.
    return encoded[: max(max_bytes, 0)].decode("utf-8", errors="ignore")


def _split_extension(name: str) -> tuple[str, str]:
    match = _EXTENSION.search(name)
    if match is None or match.start() == 0:
        return name, ""
    return name[: match.start()], match.group()
