"""The archive: each invoice filed once in the tree and the database, never overwritten, never lost.

Placing a file is a small journal so that a crash at any point leaves nothing
half done: (1) the bytes go to a temp file beside the target and are fsynced;
(2) one transaction claims the path (the file row says 'placing') and records
the invoice and the arrival; (3) the temp file is linked to its name; (4) the
row says 'placed'. `recover()` finishes or undoes a placement a crash cut
short and removes orphaned temp files, so a rerun files each invoice exactly once.

Renaming an invoice's files after a hand correction is journaled the same way:
one transaction gives each file row its new path (state 'moving') and keeps the
old one in file_moves; then the new name is linked, the old removed, the row
says 'placed'. `recover()` finishes such a rename wherever a crash left it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Collection, Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path, PurePosixPath

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.atomic import (
    TEMP_PREFIX,
    PlacementError,
    fsync_folder,
    link_into_place,
    replace_file_streamed,
    write_temp,
)
from storage.hashed_io import file_sha256
from storage.index_csv import IndexRow, fen_to_yuan, write_index_csv
from storage.models import Arrival, FileMove, Invoice, StoredFile
from storage.paths import PathValues, render, unrecognized_path, with_clash_suffix

REVIEW_FOLDER = "_review"
INDEX_NAME = "index.csv"
STATE_FOLDER = ".fapiao"  # the database and other state, never part of the browsable tree


class Outcome(StrEnum):
    ARCHIVED = "archived"  # a new invoice, checks passed
    REVIEW = "review"  # a new invoice filed under _review/ (a check failed)
    DUPLICATE = "duplicate"  # the same file, or the same invoice in the same format, is already there
    COMPANION = "companion"  # the same invoice in another format, stored beside the first
    CONFLICT = "conflict"  # same invoice key, different amount or seller: kept under _review/
    UNRECOGNIZED = "unrecognized"  # not an invoice (or unreadable as one): kept under _unrecognized/
    SKIPPED = "skipped"  # not a kind of file invoices come in; not stored
    LINK_ONLY = "link_only"  # a mail with no invoice file, only links to download one (the reason lists them)
    FAILED = "failed"  # could not be processed; retried when it arrives again
    # The same message's same file came in before, by this way or another (an mbox imported twice, a saved
    # .eml of a message also seen over IMAP): nothing is recorded, not even an arrival. Never stored.
    SEEN = "seen"


STORED = frozenset({Outcome.ARCHIVED, Outcome.REVIEW, Outcome.COMPANION, Outcome.CONFLICT, Outcome.UNRECOGNIZED})


@dataclass(frozen=True)
class ArrivalKey:
    """Which thing came in: the source, its key there (a path, a mail part), and its bytes' sha256."""

    source: str
    source_key: str
    sha256: str
    message_id: str | None = None  # the mail it came in (ingest.sources.mail_identity), None when not by mail


@dataclass(frozen=True)
class Arriving:
    key: ArrivalKey
    name: str  # the file name as it came (for _unrecognized/ and messages)
    data: bytes
    kind: str  # 'pdf', 'ofd', 'xml' or 'unknown', by content


@dataclass(frozen=True)
class InvoiceData:
    """What the archive keeps of an extracted invoice (storage never imports the extractor)."""

    key: str
    invoice_number: str
    variant: str | None = None
    invoice_code: str | None = None
    issue_date: date | None = None
    total_fen: int | None = None
    pretax_fen: int | None = None
    tax_fen: int | None = None
    seller_name: str | None = None
    seller_tax_id: str | None = None
    buyer_name: str | None = None
    buyer_tax_id: str | None = None
    check_code: str | None = None
    status: str = "ok"
    problems: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Filed:
    outcome: Outcome
    path: str | None = None  # relative to the archive root
    reason: str = ""
    earlier: Outcome | None = None  # SEEN: what became of it the first time


@dataclass(frozen=True)
class EarlierArrival:
    """The first arrival of a message's file (see `Archive.earlier_arrival`)."""

    key: ArrivalKey
    outcome: Outcome
    path: str | None  # the stored file it became, if any


@dataclass(frozen=True)
class Renamed:
    """One file given its new name by `finish_moves`; `problem` says why it could not be, if so."""

    old: str
    new: str
    problem: str | None = None


@dataclass
class CheckReport:
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.changed or self.strays or self.pending or self.temp_files)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archive:
    def __init__(
        self, root: Path, engine: Engine, *, layout: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.root = root
        self.engine = engine
        self.layout = layout
        self.now = now

    # --- what comes in ---------------------------------------------------------------------------

    def known_file(self, sha256: str) -> StoredFile | None:
        with Session(self.engine) as session:
            return session.exec(select(StoredFile).where(StoredFile.sha256 == sha256)).first()

    def earlier_arrival(self, message_id: str, sha256: str, *, reason: str | None = None) -> EarlierArrival | None:
        """The first arrival of these bytes from this message, by any source; None when there is none. Things
        without bytes (sha256 '': a part over a limit, a mail with only links) are told apart by `reason`."""
        query = select(Arrival, StoredFile.path).join(StoredFile, col(StoredFile.id) == Arrival.file_id, isouter=True)
        query = query.where(Arrival.message_id == message_id, Arrival.sha256 == sha256)
        if reason is not None:
            query = query.where(Arrival.reason == reason)
        with Session(self.engine) as session:
            found = session.exec(query.order_by(col(Arrival.id))).first()
        if found is None:
            return None
        row, path = found
        key = ArrivalKey(row.source, row.source_key, row.sha256, row.message_id)
        return EarlierArrival(key, Outcome(row.outcome), path)

    def record_known_file(self, key: ArrivalKey, stored: StoredFile) -> Filed:
        """The same bytes are already in the archive: only the arrival is recorded."""
        reason = f"same file as {stored.path}"
        with Session(self.engine) as session:
            self._arrive(session, key, Outcome.DUPLICATE, reason, invoice_id=stored.invoice_id, file_id=stored.id)
            session.commit()
        return Filed(Outcome.DUPLICATE, stored.path, reason)

    def record_failure(self, key: ArrivalKey, reason: str, outcome: Outcome = Outcome.FAILED) -> Filed:
        """Nothing stored; the arrival says why (a failure is retried when the thing comes in again)."""
        with Session(self.engine) as session:
            self._arrive(session, key, outcome, reason)
            session.commit()
        return Filed(outcome, None, reason)

    def file_unrecognized(self, arriving: Arriving, reason: str) -> Filed:
        relative = unrecognized_path(arriving.key.sha256, arriving.name)
        return self._place_new(arriving, relative, "", role="unrecognized", invoice=None, reason=reason)

    def file_invoice(self, arriving: Arriving, invoice: InvoiceData) -> Filed:
        """A new invoice, a companion, a duplicate or a conflict, decided by the invoice key."""
        with Session(self.engine) as session:
            existing = session.exec(select(Invoice).where(Invoice.key == invoice.key)).first()
            files = [] if existing is None else self._files_of(session, existing)
        if existing is None:
            relative = render(self.layout, _path_values(invoice))
            if invoice.status != "ok":
                relative = PurePosixPath(REVIEW_FOLDER) / relative
            outcome = Outcome.ARCHIVED if invoice.status == "ok" else Outcome.REVIEW
            reason = "; ".join(invoice.problems)
            return self._place_new(
                arriving, relative, arriving.kind, role="primary", invoice=invoice, reason=reason, outcome=outcome
            )
        assert existing.id is not None
        primary = next((f for f in files if f.role == "primary"), files[0] if files else None)
        if (why := _conflict(existing, invoice)) is not None:
            relative = PurePosixPath(REVIEW_FOLDER) / render(self.layout, _path_values(invoice))
            reason = f"{why} (archived copy: {primary.path if primary else existing.key})"
            return self._place_new(
                arriving,
                relative,
                arriving.kind,
                role="conflict",
                invoice=existing.id,
                reason=reason,
                outcome=Outcome.CONFLICT,
            )
        same_kind = next((f for f in files if f.kind == arriving.kind and f.role in ("primary", "companion")), None)
        if same_kind is not None or primary is None:
            reason = f"same invoice as {same_kind.path if same_kind else existing.key} (other bytes); first copy kept"
            with Session(self.engine) as session:
                self._arrive(session, arriving.key, Outcome.DUPLICATE, reason, invoice_id=existing.id)
                session.commit()
            return Filed(Outcome.DUPLICATE, same_kind.path if same_kind else None, reason)
        stem = PurePosixPath(primary.path).with_suffix("")
        reason = f"{arriving.kind.upper()} of the invoice in {primary.path}"
        return self._place_new(
            arriving,
            stem,
            arriving.kind,
            role="companion",
            invoice=existing.id,
            reason=reason,
            outcome=Outcome.COMPANION,
        )

    # --- placement ---------------------------------------------------------------------------------

    def _place_new(
        self,
        arriving: Arriving,
        relative: PurePosixPath,
        extension: str,
        *,
        role: str,
        invoice: InvoiceData | int | None,
        reason: str,
        outcome: Outcome = Outcome.UNRECOGNIZED,
    ) -> Filed:
        folder = self.root / relative.parent
        try:
            temp = write_temp(folder, arriving.data)
        except PlacementError as exc:
            return self.record_failure(arriving.key, str(exc))
        now = self.now()
        with Session(self.engine) as session:
            for attempt in range(1, 10_000):
                path = _with_extension(with_clash_suffix(relative, attempt), extension)
                claimed = session.exec(select(StoredFile.id).where(StoredFile.path == str(path))).first()
                if claimed is None and not (self.root / path).exists():
                    break
            invoice_id = invoice if isinstance(invoice, int) or invoice is None else self._add_invoice(session, invoice)
            stored = StoredFile(
                sha256=arriving.key.sha256,
                invoice_id=invoice_id,
                role=role,
                path=str(path),
                state="placing",
                temp_name=temp.name,
                size=len(arriving.data),
                kind=arriving.kind,
                original_name=arriving.name,
                created_at=now,
            )
            session.add(stored)
            session.flush()
            self._arrive(session, arriving.key, outcome, reason, invoice_id=invoice_id, file_id=stored.id)
            session.commit()
            try:
                while not link_into_place(temp, self.root / path):
                    # Someone put a file there since we looked: never overwrite, take the next name.
                    attempt += 1
                    path = _with_extension(with_clash_suffix(relative, attempt), extension)
                    stored.path = str(path)
                    session.add(stored)
                    session.commit()
            except PlacementError as exc:
                self._undo_placement(session, stored)
                temp.unlink(missing_ok=True)
                return self.record_failure(arriving.key, str(exc))
            stored.state, stored.temp_name = "placed", None
            session.add(stored)
            session.commit()
        return Filed(outcome, str(path), reason)

    def _add_invoice(self, session: Session, invoice: InvoiceData) -> int:
        row = Invoice(
            key=invoice.key,
            variant=invoice.variant,
            invoice_code=invoice.invoice_code,
            invoice_number=invoice.invoice_number,
            issue_date=invoice.issue_date,
            total_fen=invoice.total_fen,
            pretax_fen=invoice.pretax_fen,
            tax_fen=invoice.tax_fen,
            seller_name=invoice.seller_name,
            seller_tax_id=invoice.seller_tax_id,
            buyer_name=invoice.buyer_name,
            buyer_tax_id=invoice.buyer_tax_id,
            check_code=invoice.check_code,
            status=invoice.status,
            problems=json.dumps(list(invoice.problems), ensure_ascii=False),
            sources=json.dumps(dict(invoice.sources), ensure_ascii=False),
            created_at=self.now(),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id

    def _arrive(
        self,
        session: Session,
        key: ArrivalKey,
        outcome: Outcome,
        reason: str,
        *,
        invoice_id: int | None = None,
        file_id: int | None = None,
    ) -> Arrival:
        """One row per thing that came in. The same thing again counts an attempt; a failed one is
        overwritten by the new result (a failure never blocks a retry), any other result stays."""
        now = self.now()
        row = session.exec(
            select(Arrival).where(
                Arrival.source == key.source, Arrival.source_key == key.source_key, Arrival.sha256 == key.sha256
            )
        ).first()
        if row is None:
            row = Arrival(
                source=key.source,
                source_key=key.source_key,
                sha256=key.sha256,
                message_id=key.message_id,
                outcome=outcome,
                reason=reason,
                invoice_id=invoice_id,
                file_id=file_id,
                first_seen=now,
                last_seen=now,
            )
        else:
            row.attempts += 1
            row.last_seen = now
            row.message_id = row.message_id or key.message_id
            if row.outcome == Outcome.FAILED:
                row.outcome, row.reason, row.invoice_id, row.file_id = outcome, reason, invoice_id, file_id
        session.add(row)
        return row

    def _undo_placement(self, session: Session, stored: StoredFile) -> None:
        """Forget a placement that never reached its name: its arrivals, the file row, and the invoice
        row if this was its only file. The thing is then filed afresh when it comes in again."""
        for arrival in session.exec(select(Arrival).where(Arrival.file_id == stored.id)).all():
            session.delete(arrival)
        invoice_id = stored.invoice_id
        session.delete(stored)
        session.flush()
        if invoice_id is not None and stored.role == "primary":
            others = session.exec(select(StoredFile).where(StoredFile.invoice_id == invoice_id)).first()
            if others is None:
                for arrival in session.exec(select(Arrival).where(Arrival.invoice_id == invoice_id)).all():
                    session.delete(arrival)
                invoice = session.get(Invoice, invoice_id)
                if invoice is not None:
                    session.delete(invoice)
        session.commit()

    # --- after a crash -----------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or undo placements a crash cut short, finish renames; remove orphaned temp files.
        Returns what it did."""
        notes = [
            renamed.problem or f"finished the interrupted rename of {renamed.old} to {renamed.new}"
            for renamed in self.finish_moves()
        ]
        with Session(self.engine) as session:
            for stored in session.exec(select(StoredFile).where(StoredFile.state == "placing")).all():
                final = self.root / stored.path
                temp = final.parent / (stored.temp_name or "")
                if final.is_file() and file_sha256(final) == stored.sha256:
                    temp.unlink(missing_ok=True)
                elif stored.temp_name and temp.is_file() and file_sha256(temp) == stored.sha256 and not final.exists():
                    link_into_place(temp, final)
                else:
                    notes.append(f"placement of {stored.path} was interrupted before its file was written; undone")
                    self._undo_placement(session, stored)
                    continue
                stored.state, stored.temp_name = "placed", None
                session.add(stored)
                session.commit()
                notes.append(f"finished the interrupted placement of {stored.path}")
        # Every placement is settled now: a temp file left is from a write that never reached its commit.
        for temp in list(self.temp_files()):
            temp.unlink(missing_ok=True)
            notes.append(f"removed an orphaned temp file {temp.relative_to(self.root)}")
        return notes

    def temp_files(self) -> Iterator[Path]:
        if not self.root.exists():
            return
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if name.startswith(TEMP_PREFIX) and name != INDEX_NAME:
                    yield Path(folder) / name

    # --- database against tree ---------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Compare the database with the tree: files missing, files whose bytes changed, files nobody
        filed (strays), placements left pending, temp files left over."""
        report = CheckReport()
        known: set[str] = set()
        with Session(self.engine) as session:
            for stored in session.exec(select(StoredFile)).all():
                known.add(stored.path)
                path = self.root / stored.path
                if stored.state != "placed":
                    report.pending.append(stored.path)
                elif not path.is_file():
                    report.missing.append(stored.path)
                elif path.stat().st_size != stored.size or file_sha256(path) != stored.sha256:
                    report.changed.append(stored.path)
        for folder, dirs, names in os.walk(self.root):
            here = Path(folder)
            if here == self.root:
                dirs[:] = [d for d in dirs if d != STATE_FOLDER]
            for name in names:
                relative = (here / name).relative_to(self.root).as_posix()
                if name.startswith(TEMP_PREFIX):
                    report.temp_files.append(relative)
                elif relative != INDEX_NAME and relative not in known:
                    report.strays.append(relative)
        report.temp_files.sort()
        report.strays.sort()
        return report

    def fix(self) -> list[str]:
        """What is safe to repair without a person: pending placements, temp files, the index."""
        notes = self.recover()
        self.write_index()
        return notes

    # --- layout changes -----------------------------------------------------------------------------

    def relayout(self, *, dry_run: bool = False) -> list[tuple[str, str]]:
        """Give every invoice's files the names the current layout renders; (old, new) for each move.
        Conflicts and unrecognized files stay where they are. Each move links the new name, commits,
        then removes the old name, so a crash leaves at worst a second name `check` reports."""
        moves: list[tuple[str, str]] = []
        with Session(self.engine) as session:
            taken = set(session.exec(select(StoredFile.path)).all())
            for invoice in session.exec(select(Invoice).order_by(col(Invoice.id))).all():
                stem = self._layout_stem(invoice)
                for stored in self._files_of(session, invoice):
                    if stored.role not in ("primary", "companion") or stored.state != "placed":
                        continue
                    target = self._free_name(stem, stored, taken)
                    if target == stored.path:
                        continue
                    moves.append((stored.path, target))
                    if dry_run:
                        taken.add(target)
                        continue
                    self._move(session, stored, target)
                    taken.discard(moves[-1][0])
                    taken.add(target)
        if moves and not dry_run:
            self.write_index()
        return moves

    def _layout_stem(self, invoice: Invoice) -> PurePosixPath:
        """Where the layout puts `invoice`'s files (without extension): under _review/ unless it is 'ok'."""
        stem = render(self.layout, _path_values(_invoice_data(invoice)))
        return stem if invoice.status == "ok" else PurePosixPath(REVIEW_FOLDER) / stem

    def _free_name(self, stem: PurePosixPath, stored: StoredFile, taken: Container[str]) -> str:
        for attempt in range(1, 10_000):
            candidate = str(_with_extension(with_clash_suffix(stem, attempt), stored.kind))
            if candidate == stored.path:
                return candidate
            if candidate not in taken and not (self.root / candidate).exists():
                return candidate
        raise PlacementError(f"no free name for {stem}")

    def _move(self, session: Session, stored: StoredFile, target: str) -> None:
        old, new = self.root / stored.path, self.root / target
        new.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(old, new)
        except FileExistsError:
            if file_sha256(new) != stored.sha256:  # not our own half-done move: never overwrite
                raise PlacementError(f"{target} exists and holds other bytes") from None
        stored.path = target
        session.add(stored)
        session.commit()
        old.unlink(missing_ok=True)
        fsync_folder(new.parent)
        fsync_folder(old.parent)
        _remove_empty_folders(old.parent, self.root)

    # --- one invoice renamed after a hand correction ----------------------------------------------------

    def stage_moves(self, session: Session, invoice: Invoice) -> list[tuple[StoredFile, str]]:
        """In the caller's transaction: give `invoice`'s primary and companion files the names the layout
        renders for its row as it is now. Each file row to rename gets its new path and state 'moving', and
        its old path is kept in file_moves. Returns (row, old path) for each. The caller commits, then calls
        `finish_moves`; a crash in between is finished by `recover`."""
        stem = self._layout_stem(invoice)
        claimed = _ClaimedPaths(session)
        staged: list[tuple[StoredFile, str]] = []
        for stored in self._files_of(session, invoice):
            if stored.role not in ("primary", "companion") or stored.state != "placed" or stored.id is None:
                continue  # (a companion the daemon is placing right now keeps the name it gets)
            target = self._free_name(stem, stored, claimed)
            if target == stored.path:
                continue
            staged.append((stored, stored.path))
            session.add(FileMove(file_id=stored.id, from_path=stored.path, created_at=self.now()))
            stored.path, stored.state = target, "moving"
            session.add(stored)
            session.flush()  # the next file's free name must see this one's claim
        return staged

    def finish_moves(self, file_ids: Collection[int] | None = None) -> list[Renamed]:
        """Rename the files that file_moves has on their way (only those of `file_ids`, if given): link the
        new name, never over another file (a clash takes the next free suffix), remove the old, mark the
        row 'placed'. Safe to repeat at any point a crash left it."""
        done: list[Renamed] = []
        with Session(self.engine) as session:
            query = select(FileMove).order_by(col(FileMove.id))
            if file_ids is not None:
                query = query.where(col(FileMove.file_id).in_(list(file_ids)))
            for move in session.exec(query).all():
                stored = session.get(StoredFile, move.file_id)
                if stored is None:  # (the foreign key makes this impossible; nothing to rename then)
                    session.delete(move)
                    session.commit()
                    continue
                done.append(self._finish_move(session, stored, move))
        return done

    def _finish_move(self, session: Session, stored: StoredFile, move: FileMove) -> Renamed:
        old = self.root / move.from_path
        problem = None
        if _holds(self.root / stored.path, stored.sha256):
            # Linked before a crash: only the old name may be left. It is removed only while it still holds
            # these bytes and no row has claimed it since (a new file may have been filed under that name).
            if _holds(old, stored.sha256) and move.from_path not in _ClaimedPaths(session):
                old.unlink()
        elif _holds(old, stored.sha256):
            (self.root / stored.path).parent.mkdir(parents=True, exist_ok=True)
            base, attempt = PurePosixPath(stored.path).with_suffix(""), 1
            while not link_into_place(old, self.root / stored.path):
                # Someone put a file there since the name was chosen: never overwrite, take the next name.
                candidate = stored.path
                while candidate in _ClaimedPaths(session) or (self.root / candidate).exists():
                    attempt += 1
                    candidate = str(_with_extension(with_clash_suffix(base, attempt), stored.kind))
                stored.path = candidate
                session.add(stored)
                session.commit()
        else:
            problem = (
                f"neither {move.from_path} nor {stored.path} holds the bytes filed as {stored.path}; "
                "check reports it missing"
            )
        stored.state = "placed"
        session.add(stored)
        session.delete(move)
        session.commit()
        fsync_folder(old.parent)
        _remove_empty_folders(old.parent, self.root)
        return Renamed(move.from_path, stored.path, problem)

    # --- the index people open -------------------------------------------------------------------

    def write_index(self) -> None:
        """Rewrite index.csv from the database (atomically: a reader sees the old or the new file). Rows are
        streamed from one sorted query into the file, so memory stays flat however large the archive."""
        self.root.mkdir(parents=True, exist_ok=True)
        with Session(self.engine) as session:
            rows = session.execute(
                select(Invoice, StoredFile.path, StoredFile.role)
                .outerjoin(
                    StoredFile,
                    (col(StoredFile.invoice_id) == col(Invoice.id))
                    & col(StoredFile.role).in_(("primary", "companion")),
                )
                .order_by(col(Invoice.issue_date).asc().nulls_first(), col(Invoice.invoice_number), col(Invoice.id))
                .execution_options(yield_per=500)
            )
            index_rows = (
                _index_row([(invoice, path, role) for invoice, path, role in group])
                for _, group in itertools.groupby(rows, key=lambda row: row[0].id)
            )
            replace_file_streamed(self.root / INDEX_NAME, lambda out: write_index_csv(out, index_rows))

    @staticmethod
    def _files_of(session: Session, invoice: Invoice) -> list[StoredFile]:
        return list(session.exec(select(StoredFile).where(StoredFile.invoice_id == invoice.id)).all())


class _ClaimedPaths:
    """The paths file rows claim, asked of the database one at a time (for a name or two, not a whole tree)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __contains__(self, path: object) -> bool:
        return self.session.exec(select(StoredFile.id).where(StoredFile.path == path)).first() is not None


def _holds(path: Path, sha256: str) -> bool:
    """`path` is a file with exactly these bytes."""
    return path.is_file() and file_sha256(path) == sha256


def _conflict(existing: Invoice, new: InvoiceData) -> str | None:
    """Why a file with an archived invoice's key cannot be that invoice; None when nothing disagrees."""
    if existing.total_fen is not None and new.total_fen is not None and existing.total_fen != new.total_fen:
        return (
            f"same invoice key {existing.key} but total {fen_to_yuan(new.total_fen)}, "
            f"archived {fen_to_yuan(existing.total_fen)}"
        )
    if existing.seller_tax_id and new.seller_tax_id and existing.seller_tax_id != new.seller_tax_id:
        return (
            f"same invoice key {existing.key} but seller tax id {new.seller_tax_id}, archived {existing.seller_tax_id}"
        )
    if (
        not (existing.seller_tax_id and new.seller_tax_id)
        and existing.seller_name
        and new.seller_name
        and "".join(existing.seller_name.split()) != "".join(new.seller_name.split())
    ):
        return f"same invoice key {existing.key} but seller {new.seller_name}, archived {existing.seller_name}"
    return None


def _index_row(joined: list[tuple[Invoice, str | None, str | None]]) -> IndexRow:
    """One invoice's row, from its rows joined with its primary and companion files."""
    invoice = joined[0][0]
    return IndexRow(
        issue_date=invoice.issue_date,
        invoice_number=invoice.invoice_number,
        invoice_code=invoice.invoice_code,
        seller_name=invoice.seller_name,
        seller_tax_id=invoice.seller_tax_id,
        buyer_name=invoice.buyer_name,
        buyer_tax_id=invoice.buyer_tax_id,
        total_fen=invoice.total_fen,
        pretax_fen=invoice.pretax_fen,
        tax_fen=invoice.tax_fen,
        variant=invoice.variant,
        status=invoice.status,
        path=next((path for _, path, role in joined if role == "primary" and path), ""),
        companions=tuple(sorted(path for _, path, role in joined if role == "companion" and path)),
        problems=tuple(json.loads(invoice.problems)),
    )


def _invoice_data(row: Invoice) -> InvoiceData:
    return InvoiceData(
        key=row.key,
        invoice_number=row.invoice_number,
        variant=row.variant,
        invoice_code=row.invoice_code,
        issue_date=row.issue_date,
        total_fen=row.total_fen,
        seller_name=row.seller_name,
        seller_tax_id=row.seller_tax_id,
        buyer_name=row.buyer_name,
    )


def _remove_empty_folders(folder: Path, root: Path) -> None:
    """Remove `folder` and its parents up to `root` while they are empty (what a move left behind)."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _path_values(invoice: InvoiceData) -> PathValues:
    return PathValues(
        issue_date=invoice.issue_date,
        seller=invoice.seller_name,
        seller_tax_id=invoice.seller_tax_id,
        buyer=invoice.buyer_name,
        total=None if invoice.total_fen is None else _fen_decimal(invoice.total_fen),
        number=invoice.invoice_number,
        code=invoice.invoice_code,
        variant=invoice.variant,
    )


def _fen_decimal(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _with_extension(path: PurePosixPath, extension: str) -> PurePosixPath:
    return path.with_name(f"{path.name}.{extension}") if extension else path
