"""The rules both ways into a mail share: which parts may be invoices, how parts are numbered, how far to read.

A message comes in two ways, and both must find the same invoice candidates under the same section numbers:

- whole (an .eml file, a message of an mbox, or `BODY.PEEK[]`): `mime.read_message` walks its parts;
- part by part over IMAP: `bodystructure.wanted_sections` chooses sections from the BODYSTRUCTURE; a part's
  header block (`BODY.PEEK[n.MIME]`) goes through `mail_headers.part_header_info`.

Either way each leaf is read by `mime.read_part`. Sections are IMAP section numbers (RFC 3501 6.4.5), so a part
found either way can be fetched by its number, and the source key of a candidate is the same whichever way it
came in. What the two ways must agree on lives here, in one place: what an attachment is, the verdict on a
part, which parts are text bodies and containers (winmail.dat), section numbers, names fit for files, and the
bounds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ingest.sources.transfer_encoding import UUENCODE_NAMES

_MIB = 1024 * 1024

INVOICE_EXTENSIONS = (".pdf", ".ofd", ".xml", ".zip")
# Encoded bytes read to sniff a part whose type and name say nothing (or one over the size limit): base64 of the
# first ~3 KB, enough for sniff().
SNIFF_BYTES = 4096

# Declared types that say "invoice file" on their own.
_INVOICE_TYPES = frozenset(
    {
        "application/pdf",
        "application/x-pdf",
        "application/acrobat",
        "applications/vnd.pdf",
        "text/pdf",
        "application/ofd",
        "application/x-ofd",
        "application/xml",
        "text/xml",
        "application/zip",
        "application/x-zip",
        "application/x-zip-compressed",
    }
)
# Declared types that say nothing: only a name or the bytes can tell what the part is.
_GENERIC_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/x-octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/download",
        "application/x-download",
        "application/force-download",
        "application/unknown",
        "application/x-unknown",
    }
)
# A forwarded message: its body is read like the top message's, its parts numbered below its own section.
ENCAPSULATED_TYPES = frozenset({"message/rfc822", "message/global"})
# Transfer encodings that hide a forwarded message's text from a server (it shows no parts inside): such a part
# is read by decoding it and reading the message within.
ENCODED_TRANSFERS = frozenset({"base64", "quoted-printable"}) | UUENCODE_NAMES
# Outlook's container of the real attachments of mail sent in Rich Text format (`tnef`).
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")


class Verdict(StrEnum):
    """Whether a part may carry an invoice, judged from its declared type and name."""

    YES = "yes"  # an invoice type, or a name ending .pdf/.ofd/.xml/.zip: take it
    BY_CONTENT = "by_content"  # a type that says nothing and no telling name: take it if its bytes sniff as one
    NO = "no"


@dataclass(frozen=True)
class MailLimits:
    """Bounds that keep one hostile or odd message from taking the daemon's time or memory."""

    max_message_bytes: int = 100 * _MIB  # bigger messages: headers only, and a problem
    max_attachment_bytes: int = 50 * _MIB  # one decoded part (the extractor's own file limit)
    max_parts: int = 500  # MIME parts walked, over the whole tree
    max_depth: int = 5  # forwarded messages inside forwarded messages (message/rfc822 nesting)
    max_nesting: int = 30  # multiparts inside multiparts
    max_links: int = 20
    max_text_bytes: int = 2 * _MIB  # of each text body, searched for links
    # A text/plain body at least this big (on the server) in a mail with no other candidate is fetched over IMAP
    # and searched for uuencoded files (`bodystructure.uuencode_candidates`).
    uuencode_text_bytes: int = 16 * 1024


DEFAULT_LIMITS = MailLimits()


# A part with no name is called 'attachment-<section>' plus the extension of what its bytes are (sniff), else of
# its declared type.
_KIND_EXTENSIONS = {"pdf": ".pdf", "ofd": ".ofd", "xml": ".xml", "zip": ".zip"}
_TYPE_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "application/ofd": ".ofd",
    "application/x-ofd": ".ofd",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/zip": ".zip",
    "application/x-zip": ".zip",
    "application/x-zip-compressed": ".zip",
}


def fallback_name(section: str, sniffed: str, content_type: str) -> str:
    """The name of a part that has none, alike both ways: 'attachment-2.pdf'. `sniffed` is what sniff() said of
    its bytes ('unknown' when they are not at hand)."""
    extension = _KIND_EXTENSIONS.get(sniffed) or _TYPE_EXTENSIONS.get(content_type, ".bin")
    return f"attachment-{section}{extension}"


def clean_file_name(name: str) -> str:
    """A name fit for writing a file: no directories (a name is later used for filing), no control or format
    characters (a right-to-left override can make 'fdp.exe' read 'exe.pdf'), no surrounding quotes or spaces;
    '' when nothing is left. What a mail says is reported as it is; this is applied only where a file is named."""
    text = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf"))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    return text.strip().strip("\"'").strip()


def is_attachment(content_type: str, disposition: str | None, name: str | None) -> bool:
    """Whether a leaf part is an attached file rather than a body of the message: it has a file name, or
    Content-Disposition attachment, or a type that is not text (multipart and message parts are not leaves)."""
    return bool(name) or disposition == "attachment" or not content_type.startswith(("text/", "multipart/", "message/"))


def is_tnef(content_type: str, name: str | None) -> bool:
    """Whether a part is Outlook's winmail.dat (TNEF), whose own attachments are packed inside it."""
    return content_type in TNEF_TYPES or clean_file_name(name or "").lower() == "winmail.dat"


def member_content_type(name: str) -> str:
    """The type of a file unpacked from a part (TNEF, uuencode), which declares none: by its name's extension
    for the invoice types, else application/octet-stream (judged then by its name and bytes, as any such part)."""
    extension = clean_file_name(name).lower().rsplit(".", 1)[-1]
    return _MEMBER_TYPES.get(extension, "application/octet-stream")


_MEMBER_TYPES = {"pdf": "application/pdf", "ofd": "application/ofd", "xml": "application/xml", "zip": "application/zip"}


def judge_part(content_type: str, name: str | None) -> Verdict:
    """Whether a part may be an invoice, by its declared type and name (the bytes decide later: sniff).

    YES: an invoice type (PDF, OFD, XML, zip), or any type with a name ending .pdf/.ofd/.xml/.zip.
    BY_CONTENT: a type that says nothing (application/octet-stream and kin) with no name or a name without an
    extension: only the bytes can tell. NO: everything else (text bodies, images, office files...).
    """
    kind = content_type.strip().lower()
    if kind in _INVOICE_TYPES:
        return Verdict.YES
    base = clean_file_name(name or "").lower()
    if base.endswith(INVOICE_EXTENSIONS):
        return Verdict.YES
    if kind in _GENERIC_TYPES and not _EXTENSION.search(base):
        return Verdict.BY_CONTENT
    return Verdict.NO


def is_text_body(content_type: str, disposition: str | None, name: str | None) -> bool:
    """Whether a part is a text body of the message (searched for download links), not an attached file."""
    return content_type in ("text/plain", "text/html") and disposition != "attachment" and name is None


def join_section(prefix: str, number: int) -> str:
    """The IMAP section of part `number` below `prefix` ('' for the top message: '1', '2'...)."""
    return f"{prefix}.{number}" if prefix else str(number)


def whole_quads(data: bytes, encoding: str) -> bytes:
    """The first bytes of a base64 body cut back to whole 4-character groups, so the cut does not read as
    damage; other encodings as they are."""
    if encoding != "base64":
        return data
    compact = b"".join(data.split())
    return compact[: len(compact) - len(compact) % 4]
