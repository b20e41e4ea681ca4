"""OFD invoices (a zip of XML): the embedded invoice data, custom tags resolved against page text, the QR image.

Old-style OFDs carry `Attachs/original_invoice.xml` (an eInvoice document);
数电 OFDs carry `Tags/CustomTag.xml` whose entries point at TextObjects on the
page. The zip is opened with limits on member count, sizes and compression
ratio, because a file named .ofd may be a zip bomb.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from xml.etree.ElementTree import Element

from ingest.extract.fields import detect_variant
from ingest.extract.normalize import fold, without_spaces
from ingest.extract.qr import QrInvoice, read_image_qr
from ingest.extract.structured import fields_from_values
from ingest.extract.xml import XmlError, leaf_values, local_name, parse_xml
from ingest.model import InvoiceFields, Variant

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


class OfdError(Exception):
    """An OFD we refuse or cannot read; the message says why."""


@dataclass(frozen=True)
class OfdLimits:
    max_members: int = 5_000
    max_member_bytes: int = 20 * 1024 * 1024
    max_total_bytes: int = 100 * 1024 * 1024
    # Deflate reaches ~1000:1 on zeros; real OFD members stay far below 100:1.
    max_ratio: int = 200


@dataclass(frozen=True)
class OfdInvoice:
    fields: InvoiceFields
    data_source: str | None  # which embedded data the fields came from, for messages; None: none found
    qr: QrInvoice | None


def is_ofd_zip(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04") and b"OFD.xml" in data


def read_ofd(data: bytes, *, limits: OfdLimits = OfdLimits()) -> OfdInvoice:
    """Fields of the invoice in an OFD; raises OfdError for a file that is not a readable OFD."""
    package = _Package(data, limits)
    document_path = package.document_path()
    document = package.xml(document_path)
    base = posixpath.dirname(document_path)
    pages = _locations(document, "Page", base)
    templates = _locations(document, "TemplatePage", base)
    texts = package.text_objects(pages + templates)
    values, data_source = _invoice_values(package, document, base, texts)
    page_text = "\n".join(without_spaces(fold(text)) for text in texts.values())
    qr = package.find_qr()
    variant = detect_variant(page_text) or (qr.variant if qr else None)
    if variant is None and values.get("InvoiceCode"):
        variant = _old_style_variant(values)
    fields = fields_from_values(values, variant=variant, pages=max(len(pages), 1))
    return OfdInvoice(fields, data_source, qr)


def _old_style_variant(values: dict[str, list[str]]) -> Variant | None:
    # eInvoice TypeCode: 0 ordinary (普票); the special (专票) OFD is not seen in the wild yet.
    return Variant.OLD_ORDINARY if (values.get("TypeCode") or [""])[0].strip() in ("", "0", "10") else None


def _locations(document: Element, kind: str, base: str) -> list[str]:
    return [
        _join(base, element.get("BaseLoc", ""))
        for element in document.iter()
        if isinstance(element.tag, str) and local_name(element.tag) == kind and element.get("BaseLoc")
    ]


def _join(base: str, location: str) -> str:
    location = location.strip()
    if location.startswith("/"):
        return posixpath.normpath(location.lstrip("/"))
    return posixpath.normpath(posixpath.join(base, location))


def _child_text(element: Element, name: str) -> str | None:
    for child in element.iter():
        if isinstance(child.tag, str) and local_name(child.tag) == name and (child.text or "").strip():
            return (child.text or "").strip()
    return None


def _invoice_values(
    package: _Package, document: Element, base: str, texts: dict[str, str]
) -> tuple[dict[str, list[str]], str | None]:
    """The invoice's named values: the attached eInvoice XML if any, else the custom tags, else XBRL."""
    for path in package.attachments(document, base):
        try:
            root = package.xml(path)
        except OfdError:
            continue
        if local_name(str(root.tag)).lower() == "einvoice":
            return leaf_values(root), posixpath.basename(path)
    for path in package.custom_tag_files(document, base):
        try:
            root = package.xml(path)
        except OfdError:
            continue  # some producers write custom tags that are not well-formed XML
        values = _resolve_tags(root, texts)
        if values:
            return values, "custom tags"
    for path in package.names_containing("xbrl"):
        try:
            return leaf_values(package.xml(path)), posixpath.basename(path)
        except OfdError:
            continue
    return {}, None


def _resolve_tags(root: Element, texts: dict[str, str]) -> dict[str, list[str]]:
    """Each tag element with ObjectRef children -> the text of the referenced TextObjects."""
    values: dict[str, list[str]] = defaultdict(list)
    for element in root.iter():
        refs = [c for c in element if isinstance(c.tag, str) and local_name(c.tag) == "ObjectRef"]
        if not refs:
            continue
        parts = [texts.get((ref.text or "").strip(), "") for ref in refs]
        parts = [p for p in parts if p]
        # Producers draw some values twice (fake bold) and reference both copies.
        if len(set(parts)) == 1:
            parts = parts[:1]
        values[local_name(str(element.tag))].append("".join(parts))
    return values


class _Package:
    """The zip, read with limits; member names matched case-insensitively (producers disagree on case)."""

    def __init__(self, data: bytes, limits: OfdLimits) -> None:
        try:
            self._zip = zipfile.ZipFile(BytesIO(data))
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise OfdError("not an OFD: not a readable zip archive") from exc
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            raise OfdError(f"OFD refused: {len(infos)} members, more than {limits.max_members}")
        total = sum(info.file_size for info in infos)
        if total > limits.max_total_bytes:
            raise OfdError(f"OFD refused: it would expand to {total} bytes (limit {limits.max_total_bytes})")
        for info in infos:
            if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise OfdError(
                    f"OFD refused: {info.filename} expands {info.file_size // max(info.compress_size, 1)}:1 "
                    "(a zip bomb?)"
                )
        self._limits = limits
        self._names = {info.filename.lower(): info.filename for info in infos if not info.is_dir()}

    def read(self, path: str) -> bytes:
        name = self._names.get(path.lower())
        if name is None:
            raise OfdError(f"OFD is missing {path}")
        cap = self._limits.max_member_bytes
        try:
            with self._zip.open(name) as member:
                # Read one byte past the cap: the sizes in a zip header can lie.
                content = member.read(cap + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise OfdError(f"OFD member {path} cannot be read: {exc}") from exc
        if len(content) > cap:
            raise OfdError(f"OFD refused: {path} is larger than {cap} bytes")
        return content

    def xml(self, path: str) -> Element:
        try:
            return parse_xml(self.read(path), what=path)
        except XmlError as exc:
            raise OfdError(str(exc)) from exc

    def document_path(self) -> str:
        if "ofd.xml" not in self._names:
            raise OfdError("not an OFD: the zip has no OFD.xml")
        root = self.xml("OFD.xml")
        location = _child_text(root, "DocRoot")
        if location is None:
            raise OfdError("OFD.xml names no DocRoot")
        return _join("", location)

    def names_containing(self, fragment: str) -> list[str]:
        return [name for lower, name in self._names.items() if fragment in lower]

    def text_objects(self, contents: list[str]) -> dict[str, str]:
        """TextObject ID -> its text, over the given page and template contents (IDs are document-wide)."""
        texts: dict[str, str] = {}
        for path in contents:
            try:
                root = self.xml(path)
            except OfdError:
                continue
            for element in root.iter():
                if isinstance(element.tag, str) and local_name(element.tag) == "TextObject":
                    codes = [c.text or "" for c in element.iter() if local_name(str(c.tag)) == "TextCode"]
                    texts[element.get("ID", f"{path}#{len(texts)}")] = "".join(codes)
        return texts

    def attachments(self, document: Element, base: str) -> Iterator[str]:
        index = _child_text(document, "Attachments")
        if index is not None:
            index_path = _join(base, index)
            try:
                root = self.xml(index_path)
            except OfdError:
                root = None
            if root is not None:
                for element in root.iter():
                    if isinstance(element.tag, str) and local_name(element.tag) == "FileLoc" and element.text:
                        yield _join(posixpath.dirname(index_path), element.text)
        yield from (n for n in self.names_containing("original_invoice") if n.lower().endswith(".xml"))

    def custom_tag_files(self, document: Element, base: str) -> Iterator[str]:
        index = _child_text(document, "CustomTags")
        if index is None:
            return
        index_path = _join(base, index)
        try:
            root = self.xml(index_path)
        except OfdError:
            return
        for element in root.iter():
            if isinstance(element.tag, str) and local_name(element.tag) == "FileLoc" and element.text:
                yield _join(posixpath.dirname(index_path), element.text)

    def find_qr(self) -> QrInvoice | None:
        """The first image resource that decodes as an invoice QR (JBIG2 images cannot be decoded here)."""
        for lower, name in self._names.items():
            if lower.endswith(_IMAGE_SUFFIXES):
                try:
                    found = read_image_qr(self.read(name))
                except OfdError:
                    continue
                if found is not None:
                    return found
        return None
