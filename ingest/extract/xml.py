"""The 数电 XML invoice file (the structured original) and the XML parsing every structured format shares.

Parsing goes through defusedxml: an invoice file comes from strangers, and
entity expansion ('billion laughs') or external entities must be refused,
not expanded.
"""

from __future__ import annotations

from collections import defaultdict
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_untrusted

from ingest.extract.structured import fields_from_values
from ingest.model import InvoiceFields, Variant

# 数电 XML: Header/InherentLabel/GeneralOrSpecialVAT/LabelCode.
_LABEL_CODES = {"01": Variant.DIGITAL_SPECIAL, "02": Variant.DIGITAL_ORDINARY}


class XmlError(Exception):
    """XML we refuse or cannot parse; the message says which."""


def parse_xml(data: bytes, what: str = "XML") -> Element:
    try:
        root: Element = parse_untrusted(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise XmlError(f"{what} refused: it declares a DTD or entities ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise XmlError(f"{what} is not well-formed: {exc}") from exc
    return root


def local_name(tag: str) -> str:
    """'{namespace}InvoiceNo' or 'fp:InvoiceNo' -> 'InvoiceNo'."""
    return tag.rpartition("}")[2].rpartition(":")[2]


def leaf_values(root: Element) -> dict[str, list[str]]:
    """Text of every element that has no children, by local name, in document order."""
    values: dict[str, list[str]] = defaultdict(list)
    for element in root.iter():
        if len(element) == 0 and isinstance(element.tag, str):
            values[local_name(element.tag)].append(element.text or "")
    return values


def looks_like_digital_xml(root: Element) -> bool:
    return local_name(root.tag) == "EInvoice"


def read_digital_xml(data: bytes) -> InvoiceFields:
    """Fields of a 数电 XML invoice; raises XmlError for XML that is refused, malformed or not an invoice."""
    root = parse_xml(data)
    if not looks_like_digital_xml(root):
        raise XmlError(f"XML whose root is <{local_name(str(root.tag))}>, not a 数电 <EInvoice>")
    return fields_from_values(leaf_values(root), variant=_digital_variant(root), pages=1)


def _digital_variant(root: Element) -> Variant:
    for element in root.iter():
        if isinstance(element.tag, str) and local_name(element.tag) == "GeneralOrSpecialVAT":
            for child in element:
                if local_name(child.tag) == "LabelCode":
                    return _LABEL_CODES.get((child.text or "").strip(), Variant.DIGITAL_OTHER)
    return Variant.DIGITAL_OTHER
