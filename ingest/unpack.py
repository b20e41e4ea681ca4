"""One incoming file's bytes -> the files inside it that could be invoices, zips opened (also nested), within limits.

Pure: no filesystem, no network. A zip is hostile until read: every member is
read through a bounded reader, and any limit hit, damage or refusal becomes a
Part with a `problem` instead of an exception, so the caller can record it.
"""

from __future__ import annotations

import lzma
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO

from ingest.extract.reader import sniff

_ZIP_SIGNATURE = b"PK\x03\x04"
_CENTRAL_ENTRY_SIGNATURE = b"PK\x01\x02"
_UTF8_NAME_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_MIB = 1024 * 1024
# Folders and junk are entries but not members, so a zip may list a few times more entries than members;
# past this many times the member limit it is refused before zipfile parses its directory (~500 bytes an entry).
_ENTRY_CEILING_FACTOR = 10
_READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_METHOD_NAMES = {6: "Implode", 9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 98: "PPMd", 99: "AES"}
_JUNK_NAMES = frozenset({".ds_store", "thumbs.db"})
_DRIVE = re.compile(r"^[A-Za-z]:")
_ZIP_OPEN_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError)
_MEMBER_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,  # bz2 reports damage as OSError
    EOFError,
    ValueError,
    RuntimeError,
)


@dataclass(frozen=True)
class UnpackLimits:
    max_total_bytes: int = 200 * 1024 * 1024  # uncompressed bytes over the whole tree of one file
    max_member_bytes: int = 50 * 1024 * 1024  # one member, uncompressed
    max_members: int = 1000  # members over the whole tree
    max_depth: int = 3  # zip inside zip inside zip
    # Deflate reaches ~1000:1 on zeros; invoices and their images stay far below 200:1.
    max_ratio: int = 200  # compression ratio above which a member is a bomb (only checked for members > 1 MiB)


@dataclass(frozen=True)
class Part:
    name: str  # display path: 'bundle.zip!发票/发票1.pdf'; nested: 'a.zip!b.zip!c.pdf'
    data: bytes  # b'' when `problem` is set
    problem: str | None = None  # why this part was not read; such parts are returned so the caller records them


@dataclass
class _Budget:
    """What is left of the limits over the whole tree of one file; shared by the zips nested in it."""

    members_left: int
    bytes_left: int


def unpack(data: bytes, name: str, *, limits: UnpackLimits = UnpackLimits()) -> list[Part]:
    """The files in `data` (named `name`) that could be invoices; never raises.

    A non-zip file is returned as one Part. A zip (not an OFD: use ingest.extract.reader.sniff) becomes its
    members, recursively; directory entries skipped; macOS junk (__MACOSX/, ._*, .DS_Store, Thumbs.db) skipped
    silently. Bytes read out of zips count against `limits.max_total_bytes`, nested zips included; `data`
    itself does not (the caller already holds it).
    """
    budget = _Budget(members_left=limits.max_members, bytes_left=limits.max_total_bytes)
    return _unpack_file(data, name, depth=0, limits=limits, budget=budget)


def _unpack_file(data: bytes, name: str, *, depth: int, limits: UnpackLimits, budget: _Budget) -> list[Part]:
    """`data` as Parts; `depth` is how many zips enclose it."""
    if not data:
        return [Part(name, b"", "empty file (0 bytes)")]
    # Not sniff(data) == 'zip': sniff finds '%PDF-' anywhere in the first KiB, so a zip whose first member
    # is a stored PDF sniffs as 'pdf'; and a PDF never starts with the zip signature.
    if not data.startswith(_ZIP_SIGNATURE):
        return [Part(name, data)]
    entries = data.count(_CENTRAL_ENTRY_SIGNATURE)
    if entries > limits.max_members * _ENTRY_CEILING_FACTOR:
        # Every entry zipfile parses starts with this signature, so the count is an upper bound.
        return [
            Part(
                name,
                b"",
                f"zip archive lists up to {entries} entries, far over the {limits.max_members}-member "
                "limit: not opened",
            )
        ]
    looks_like_ofd = sniff(data) == "ofd"
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (*_ZIP_OPEN_ERRORS, NotImplementedError) as exc:
        if looks_like_ofd:
            return [Part(name, data)]  # the OFD reader says what is wrong with it, in OFD terms
        if isinstance(exc, NotImplementedError):
            # Raised for an entry that asks for a newer zip format than zipfile knows ('zip file version 9.9').
            return [Part(name, b"", f"zip archive needs a newer zip reader ({exc}): not opened")]
        return [Part(name, b"", f"damaged zip archive, not opened: {exc}")]
    with archive:
        infos = archive.infolist()
        # sniff only finds the bytes 'OFD.xml' somewhere: a bundle holding a stored OFD has them too.
        if looks_like_ofd and any(_decoded_name(info).lower() == "ofd.xml" for info in infos):
            return [Part(name, data)]
        if depth >= limits.max_depth:
            return [
                Part(
                    name,
                    b"",
                    f"zip nested {depth + 1} levels deep, over the {limits.max_depth}-level limit: not opened",
                )
            ]
        parts = _unpack_members(archive, infos, name, depth=depth + 1, limits=limits, budget=budget)
    if not parts:
        # An empty result would let the file vanish without a trace.
        return [Part(name, b"", "zip archive holds no files, only folders or system metadata (__MACOSX, .DS_Store)")]
    return parts


def _unpack_members(
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    name: str,
    *,
    depth: int,
    limits: UnpackLimits,
    budget: _Budget,
) -> list[Part]:
    members = [(info, path) for info in infos if (path := _member_path(info)) is not None]
    parts: list[Part] = []
    for index, (info, path) in enumerate(members):
        if budget.members_left <= 0:
            rest = len(members) - index
            parts.append(
                Part(
                    name,
                    b"",
                    f"{rest} more zip member{'s' * (rest != 1)} not read: over the {limits.max_members}-member limit",
                )
            )
            break
        budget.members_left -= 1
        display = f"{name}!{path}"
        refusal = _refusal(info, limits, budget)
        if refusal is not None:
            parts.append(Part(display, b"", refusal))
            continue
        content, problem = _read_member(archive, info, limits, budget)
        if problem is not None:
            parts.append(Part(display, b"", problem))
        elif not content:
            parts.append(Part(display, b"", "empty zip member (0 bytes)"))
        else:
            parts.extend(_unpack_file(content, display, depth=depth, limits=limits, budget=budget))
    return parts


def _decoded_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its maker meant it.

    Without the UTF-8 flag zipfile decodes names as cp437, which no Chinese tool writes: Windows tools write
    GBK, macOS Archive Utility writes UTF-8 without setting the flag. A GBK name of more than a character or
    two is almost never valid UTF-8, so UTF-8 is tried first, then GB18030 (a superset of GBK).
    """
    # orig_filename: zipfile later cuts `filename` at a NUL and, on Windows, swaps '\\' for '/' - which would
    # break GBK characters whose second byte is 0x5C.
    if info.flag_bits & _UTF8_NAME_FLAG:
        return info.orig_filename
    raw = info.orig_filename.encode("cp437")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.orig_filename


def _member_path(info: zipfile.ZipInfo) -> str | None:
    """A safe relative display path for the member; None for folders and system junk, which are skipped."""
    decoded = _decoded_name(info).replace("\\", "/")
    if decoded.endswith("/"):
        return None
    path = _safe_member_path(decoded)
    components = path.split("/")
    base = components[-1].lower()
    if "__MACOSX" in components or base.startswith("._") or base in _JUNK_NAMES:
        return None
    return path or "(no name)"


def _safe_member_path(name: str) -> str:
    """`name` as a relative path that cannot leave its folder: the name is shown and later used for filing.

    Components made only of dots and spaces are dropped, not resolved (Windows reads '.. ' as '..'), as are
    empty ones (a leading '/'), drive letters and control and format characters.
    """
    # Format characters too: a right-to-left override makes 'x\u202efdp.exe' look like 'xexe.pdf'.
    text = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf")).replace("\\", "/")
    text = _DRIVE.sub("", text.lstrip("/"), count=1)
    kept = [part for part in text.split("/") if part.strip(" .") and not _DRIVE.fullmatch(part)]
    return "/".join(kept)


def _refusal(info: zipfile.ZipInfo, limits: UnpackLimits, budget: _Budget) -> str | None:
    """Why the member must not be read, judged from its header alone; None if it may be read."""
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link in zip: not read"
    if info.flag_bits & _ENCRYPTED_FLAG:
        return "encrypted zip member (password-protected): not read"
    if info.compress_type not in _READABLE_METHODS:
        return _unreadable_method(info.compress_type)
    size = info.file_size
    if size > limits.max_member_bytes:
        return f"zip member is {size} bytes uncompressed, over the {limits.max_member_bytes}-byte limit"
    if size > budget.bytes_left:
        return (
            f"zip member is {size} bytes uncompressed, over what is left ({budget.bytes_left} bytes) of the "
            f"{limits.max_total_bytes}-byte limit for everything unpacked from one file"
        )
    compressed = max(info.compress_size, 1)
    if size > _MIB and size > limits.max_ratio * compressed:
        return (
            f"zip member expands {size // compressed}:1 ({compressed} to {size} bytes), over the "
            f"{limits.max_ratio}:1 limit (a zip bomb?)"
        )
    return None


def _unreadable_method(method: int) -> str:
    label = _METHOD_NAMES.get(method)
    named = f" ({label})" if label else ""
    return f"zip member compressed with method {method}{named}, which cannot be read"


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: UnpackLimits, budget: _Budget
) -> tuple[bytes, str | None]:
    """The member's bytes, or b'' and why not; reads at most one byte past the tightest limit.

    The sizes in the header were checked already, but a bomb can lie about them: the limits are applied
    again to what actually comes out.
    """
    ratio_cap = max(_MIB, limits.max_ratio * max(info.compress_size, 1))
    cap = min(limits.max_member_bytes, budget.bytes_left, ratio_cap)
    try:
        with archive.open(info) as member:
            content = member.read(cap + 1)
    except NotImplementedError:
        return b"", _unreadable_method(info.compress_type)  # bz2 or lzma missing from this Python
    except _MEMBER_READ_ERRORS as exc:
        return b"", f"damaged zip member, not read: {exc}"
    if len(content) > cap:
        # CPython's zipfile stops at the declared size and then fails the CRC, so this is a second line.
        return b"", f"zip member expands to over {cap} bytes though its header says {info.file_size}: not read"
    budget.bytes_left -= len(content)
    return content, None
