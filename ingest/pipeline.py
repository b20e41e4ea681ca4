"""One candidate's way into the archive: every stage of design.md, in order, in `process`.

Import, the folder watcher and the IMAP poller all hand their candidates here.
The stages that only compute (unpack, extract, identity) are pure; the archive
(database and tree) is passed in, and so is the extractor, which lets import
run extraction in worker processes while this function stays the one writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ingest.extract.reader import sniff
from ingest.model import Candidate, Extraction, InvoiceFields, Status
from ingest.unpack import Part, UnpackLimits, unpack
from storage.archive import (
    Archive,
    ArrivalKey,
    Arriving,
    EarlierArrival,
    Filed,
    InvoiceData,
    Outcome,
    sha256_hex,
)

Extractor = Callable[[bytes, str], Extraction]
INVOICE_KINDS = frozenset({"pdf", "ofd", "xml"})


@dataclass(frozen=True)
class Result:
    """What became of one file of a candidate (a zip gives one per member)."""

    name: str  # display name: 'bundle.zip!发票/1.pdf' inside zips
    filed: Filed


def process(candidate: Candidate, archive: Archive, *, extract: Extractor, limits: UnpackLimits) -> list[Result]:
    """Unpack, skip what is stored, extract, identify, store; one Result per file inside `candidate`."""
    results = []
    for part in unpack(candidate.data, candidate.name, limits=limits):
        digest = sha256_hex(part.data) if part.data else ""
        key = ArrivalKey(candidate.source, part_source_key(candidate, part), digest, candidate.message_id)
        if candidate.message_id is not None and (earlier := archive.earlier_arrival(candidate.message_id, digest)):
            if earlier.outcome is not Outcome.FAILED:
                results.append(Result(part.name, seen_before(earlier)))
                continue
            key = earlier.key  # a retry of a failure: its own row is updated, none added
        if part.problem is not None:
            filed = archive.record_failure(key, part.problem)
        elif (stored := archive.known_file(key.sha256)) is not None:
            filed = archive.record_known_file(key, stored)
        elif (kind := sniff(part.data)) not in INVOICE_KINDS:
            filed = archive.record_failure(key, "not a PDF, OFD or XML file (by its content)", Outcome.SKIPPED)
        else:
            extraction = extract(part.data, part.name)
            arriving = Arriving(key, base_name(part.name), part.data, kind)
            invoice = invoice_data(extraction)
            if invoice is None:
                filed = archive.file_unrecognized(arriving, "; ".join(extraction.problems) or "no invoice number")
            else:
                filed = archive.file_invoice(arriving, invoice)
        results.append(Result(part.name, filed))
    return results


def record_refusal(archive: Archive, key: ArrivalKey, reason: str, outcome: Outcome = Outcome.FAILED) -> Filed:
    """Something that could not even be read (or holds no file: a mail with only download links), recorded
    as an arrival with its reason; from a mail that brought the same before, nothing is added."""
    if key.message_id is not None and (earlier := archive.earlier_arrival(key.message_id, key.sha256, reason=reason)):
        if earlier.outcome is not Outcome.FAILED:
            return seen_before(earlier)
        key = earlier.key
    return archive.record_failure(key, reason, outcome)


def seen_before(earlier: EarlierArrival) -> Filed:
    """The result of a message's file that came in before: nothing recorded, the first arrival named."""
    where = f"{earlier.key.source} {earlier.key.source_key}"
    reason = f"the same mail's same file came in before ({where}: {earlier.outcome})"
    return Filed(Outcome.SEEN, earlier.path, reason, earlier=earlier.outcome)


def invoice_key(fields: InvoiceFields) -> str | None:
    """What makes two files one invoice: the 20-digit number of a 数电 invoice, else code and number."""
    number, code = fields.invoice_number, fields.invoice_code
    if not number:
        return None
    if (fields.variant is not None and fields.variant.is_digital) or (len(number) == 20 and not code):
        return f"num:{number}"
    if code:
        return f"code:{code}:{number}"
    return None


def invoice_data(extraction: Extraction) -> InvoiceData | None:
    """The archive's record of an extraction; None when it has no invoice identity (not an invoice)."""
    fields = extraction.fields
    key = invoice_key(fields)
    if key is None or fields.invoice_number is None or extraction.status in (Status.NOT_INVOICE, Status.ERROR):
        return None
    return InvoiceData(
        key=key,
        invoice_number=fields.invoice_number,
        variant=str(fields.variant) if fields.variant else None,
        invoice_code=fields.invoice_code,
        issue_date=fields.issue_date,
        total_fen=_fen(fields.total),
        pretax_fen=_fen(fields.pretax),
        tax_fen=_fen(fields.tax),
        seller_name=fields.seller_name,
        seller_tax_id=fields.seller_tax_id,
        buyer_name=fields.buyer_name,
        buyer_tax_id=fields.buyer_tax_id,
        check_code=fields.check_code,
        status=str(extraction.status),
        problems=extraction.problems,
        sources=tuple(sorted(extraction.sources.items())),
    )


def part_source_key(candidate: Candidate, part: Part) -> str:
    """The candidate's key, plus the member path for a file inside a zip ('…/a.zip!x/b.pdf')."""
    inner = part.name[len(candidate.name) :] if part.name.startswith(candidate.name) else ""
    return candidate.source_key + inner


def base_name(display_name: str) -> str:
    """'a.zip!x/b.pdf' -> 'b.pdf'."""
    return display_name.rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def _fen(value: Decimal | None) -> int | None:
    return None if value is None else int((value * 100).to_integral_value())
