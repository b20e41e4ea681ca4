"""A batch of generated invoices laid out like a messy inbox: loose PDFs in folders, zips, and duplicates.

Every distinct invoice has its own number (and amount and date); duplicates are either byte-identical
copies under other names or re-rendered copies of the same invoice (same fields, other bytes), which the
archive must count as the invoice it already has, never as a second one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from invoice_pdf import InvoiceSpec, Item, invoice_pdf, sample_spec

# The variants of the batch, in turn: 数电 numbers are 20 digits, old style 8 digits with a 12-digit code.
BATCH_VARIANTS = ("数电普票", "数电专票", "电子普票(旧)")
_RATES = {
    "数电普票": ("13%", Decimal("0.13")),
    "数电专票": ("6%", Decimal("0.06")),
    "电子普票(旧)": ("3%", Decimal("0.03")),
}
_CENT = Decimal("0.01")


@dataclass
class Batch:
    """What was written, and what an archive that imported it must hold."""

    root: Path
    # invoice number -> sha256 of every rendering of that invoice (the first is the one in `specs`)
    renderings: dict[str, set[str]] = field(default_factory=dict)
    specs: dict[str, InvoiceSpec] = field(default_factory=dict)
    # arrival source keys: absolute file paths, 'path/to/a.zip!member' for zip members
    source_keys: set[str] = field(default_factory=set)
    # the count of zip members and loose files that are duplicates (byte-identical or re-rendered)
    duplicates: int = 0

    @property
    def numbers(self) -> set[str]:
        return set(self.specs)


def batch_spec(index: int) -> InvoiceSpec:
    """The index-th distinct invoice: its own number, amount and date; seller and buyer of the variant's sample."""
    variant = BATCH_VARIANTS[index % len(BATCH_VARIANTS)]
    label, rate = _RATES[variant]
    amount = (Decimal(37 + 11 * index) + Decimal(index % 97) / 100).quantize(_CENT)
    tax = (amount * rate).quantize(_CENT, rounding=ROUND_HALF_UP)
    item = Item(f"*办公用品*批量样品{index:03d}", amount, label, tax)
    if variant == "电子普票(旧)":
        return sample_spec(
            variant,
            number=f"6{index:07d}",
            issue_date=date(2019, 1, 7) + timedelta(days=index % 700),
            items=(item,),
            check_code=f"{index:020d}",
        )
    prefix = "2511700000" if variant == "数电普票" else "2532700000"
    return sample_spec(
        variant,
        number=f"{prefix}{index:010d}",
        issue_date=date(2024, 3, 4) + timedelta(days=2 * index % 480),  # never in the future (that is a review)
        items=(item,),
    )


def rerendered(spec: InvoiceSpec, flavour: int) -> InvoiceSpec:
    """The same invoice drawn again: other bytes, the same fields (number, amount, seller, date)."""
    if flavour % 2:
        return dataclasses.replace(spec, seal=not spec.seal)
    return dataclasses.replace(spec, remarks=f"{spec.remarks} 重新下载{flavour}".strip())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Writer:
    def __init__(self, root: Path) -> None:
        self.batch = Batch(root=root)
        self.pdfs: dict[str, bytes] = {}

    def invoice(self, index: int) -> tuple[str, bytes]:
        spec = batch_spec(index)
        data = invoice_pdf(spec)
        self.batch.specs[spec.number] = spec
        self.batch.renderings[spec.number] = {_sha(data)}
        self.pdfs[spec.number] = data
        return spec.number, data

    def rerender(self, number: str, flavour: int) -> bytes:
        data = invoice_pdf(rerendered(self.batch.specs[number], flavour))
        assert _sha(data) not in self.batch.renderings[number], "a re-rendered copy must have other bytes"
        self.batch.renderings[number].add(_sha(data))
        return data

    def file(self, relative: str, data: bytes) -> None:
        path = self.batch.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.batch.source_keys.add(str(path.resolve()))

    def zip(self, relative: str, members: list[tuple[str, bytes]]) -> None:
        path = self.batch.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)
        self.batch.source_keys.update(f"{path.resolve()}!{name}" for name, _ in members)


def write_batch(root: Path, *, distinct: int = 200, seed: int = 20250729) -> Batch:
    """`distinct` invoices under `root`: most as loose PDFs in a few folders, some only inside two zips; plus about
    20% duplicates (byte-identical copies under other names, loose and zipped, and a few re-rendered copies)."""
    rng = random.Random(seed)
    writer = _Writer(root)
    numbers = [writer.invoice(i)[0] for i in range(distinct)]
    zipped_only = set(numbers[-distinct // 5 :])  # the last fifth exists only inside the zips
    loose = [n for n in numbers if n not in zipped_only]
    for k, number in enumerate(loose):
        writer.file(f"inbox/mail-{k % 7:02d}/发票_{number}.pdf", writer.pdfs[number])
    half = len(zipped_only) // 2
    zipped = sorted(zipped_only)
    copies = rng.sample(loose, distinct // 20)
    writer.zip(
        "inbox/downloads/批量下载-1.zip",
        [(f"发票/{n}.pdf", writer.pdfs[n]) for n in zipped[:half]]
        + [(f"副本/{n}.pdf", writer.pdfs[n]) for n in copies],
    )
    writer.zip("inbox/downloads/batch-2.zip", [(f"{n}.pdf", writer.pdfs[n]) for n in zipped[half:]])
    duplicates = len(copies)
    # Byte-identical copies under other names, spread so some come before their original and some after.
    for k, number in enumerate(rng.sample(numbers, distinct // 8)):
        folder = "archive-old" if k % 2 else "zz-forwarded"
        writer.file(f"{folder}/copy-{k:03d}.pdf", writer.pdfs[number])
        duplicates += 1
    # The same invoice downloaded again: other bytes, same fields -> a duplicate, never a second invoice.
    for k, number in enumerate(rng.sample(numbers, max(4, distinct // 40))):
        writer.file(f"redownloaded/{number}-again.pdf", writer.rerender(number, k))
        duplicates += 1
    writer.batch.duplicates = duplicates
    return writer.batch


def write_zip_batch(path: Path, *, distinct: int = 100, first: int = 1000) -> Batch:
    """One zip of `distinct` invoices (numbers from index `first` on) and a tenth more as duplicate members."""
    writer = _Writer(path.parent)
    numbers = [writer.invoice(first + i)[0] for i in range(distinct)]
    members = [(f"发票/{number}.pdf", writer.pdfs[number]) for number in numbers]
    members += [(f"重复/{number}.pdf", writer.pdfs[number]) for number in numbers[:: max(1, distinct // 10)][:-1]]
    members.append((f"重复/{numbers[-1]}-again.pdf", writer.rerender(numbers[-1], 1)))
    writer.zip(path.name, members)
    writer.batch.duplicates = len(members) - distinct
    return writer.batch
