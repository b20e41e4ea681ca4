"""What the IMAP poller remembers between polls and restarts: how far each folder has been read, and the
messages that carried something or failed.

A folder's position is its UIDVALIDITY and the highest UID handed over; a poll asks the server only for UIDs
above it. A message is remembered only when it matters later: it failed (retried, then quarantined), its
after-action is still owed, or it carried invoices or links (its Message-ID recognises it again if the server
ever renumbers the folder). Ordinary mail leaves no row at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage.models import MailFolder, MailMessage
from storage.source_files import FileState, after_failure, as_utc


class Ack(StrEnum):
    """Whether a message's after-action (seen, flag, move) is owed."""

    NONE = "none"  # nothing to do: `after = "keep"`, or the message brought no invoice
    PENDING = "pending"  # every invoice is committed; the mailbox has not been told yet
    DONE = "done"


@dataclass(frozen=True)
class FolderPosition:
    uidvalidity: int
    last_uid: int
    updated: datetime  # when it last moved: a rescan after renumbering starts from that day


@dataclass(frozen=True)
class MessageRef:
    """Where a message is on the server."""

    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class MessageFacts:
    """What the envelope said, kept for `fapiao find` and for recognising the message later."""

    message_id: str | None
    subject: str
    sender: str
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageProblem:
    folder: str
    uid: int
    subject: str
    state: FileState
    attempts: int
    reason: str
    next_try: datetime | None


class MailState:
    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.now = now

    # -- folders ---------------------------------------------------------------------------------------

    def position(self, source: str, folder: str) -> FolderPosition | None:
        with Session(self.engine) as session:
            row = self._folder_row(session, source, folder)
            return None if row is None else FolderPosition(row.uidvalidity, row.last_uid, as_utc(row.updated))

    def advance(self, source: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Every message up to `last_uid` is handed over. A new UIDVALIDITY replaces the old position; under
        the same one the position never goes back."""
        with Session(self.engine) as session:
            row = self._folder_row(session, source, folder)
            if row is None:
                row = MailFolder(source=source, folder=folder, uidvalidity=uidvalidity, last_uid=0, updated=self.now())
            if row.uidvalidity != uidvalidity:
                row.uidvalidity, row.last_uid = uidvalidity, 0
            row.last_uid = max(row.last_uid, last_uid)
            row.updated = self.now()
            session.add(row)
            session.commit()

    # -- messages --------------------------------------------------------------------------------------

    def done(self, source: str, ref: MessageRef, facts: MessageFacts, *, ack: Ack, reason: str = "") -> None:
        """The message is handled: every candidate committed, or nothing in it to store."""
        with Session(self.engine) as session:
            row = self._message_row(session, source, ref)
            row.message_id, row.subject, row.sender = facts.message_id, facts.subject, facts.sender
            row.links = json.dumps(list(facts.links), ensure_ascii=False)
            row.state, row.ack, row.attempts, row.reason, row.next_try = FileState.DONE, ack, 0, reason, None
            row.updated = self.now()
            session.add(row)
            session.commit()

    def failed(self, source: str, ref: MessageRef, facts: MessageFacts, reason: str, *, max_attempts: int) -> FileState:
        """One more failure: fetched again later (each wait twice the last) or quarantined after
        `max_attempts`."""
        with Session(self.engine) as session:
            row = self._message_row(session, source, ref)
            attempts = row.attempts + 1 if row.state != FileState.DONE else 1
            state, next_try = after_failure(attempts, max_attempts, self.now())
            row.message_id, row.subject, row.sender = facts.message_id, facts.subject, facts.sender
            row.state, row.ack, row.attempts, row.reason, row.next_try = state, Ack.NONE, attempts, reason, next_try
            row.updated = self.now()
            session.add(row)
            session.commit()
            return state

    def due(self, source: str, folder: str, uidvalidity: int) -> list[int]:
        """UIDs of failed messages whose next try has come."""
        now = self.now()
        with Session(self.engine) as session:
            rows = session.exec(
                self._in_folder(source, folder, uidvalidity).where(MailMessage.state == FileState.RETRY)
            ).all()
            return sorted(row.uid for row in rows if row.next_try is None or as_utc(row.next_try) <= now)

    def owed(self, source: str, folder: str, uidvalidity: int) -> list[int]:
        """UIDs whose after-action is still owed (the daemon stopped before it could act)."""
        with Session(self.engine) as session:
            rows = session.exec(
                self._in_folder(source, folder, uidvalidity).where(MailMessage.ack == Ack.PENDING)
            ).all()
            return sorted(row.uid for row in rows)

    def acted(self, source: str, folder: str, uidvalidity: int, uids: Iterable[int]) -> None:
        wanted = set(uids)
        if not wanted:
            return
        with Session(self.engine) as session:
            rows = session.exec(
                self._in_folder(source, folder, uidvalidity).where(col(MailMessage.uid).in_(sorted(wanted)))
            ).all()
            for row in rows:
                row.ack, row.updated = Ack.DONE, self.now()
                session.add(row)
            session.commit()

    def known_message_ids(self, source: str, message_ids: Sequence[str]) -> set[str]:
        """Those of `message_ids` already handled in any folder of `source`, under any UIDVALIDITY."""
        found: set[str] = set()
        with Session(self.engine) as session:
            for start in range(0, len(message_ids), 500):  # bound the IN list: SQLite caps bound parameters
                chunk = list(message_ids[start : start + 500])
                rows = session.exec(
                    select(MailMessage.message_id).where(
                        MailMessage.source == source,
                        MailMessage.state == FileState.DONE,
                        col(MailMessage.message_id).in_(chunk),
                    )
                ).all()
                found.update(row for row in rows if row)
        return found

    def problems(self, source: str) -> list[MessageProblem]:
        """Messages waiting for a retry or quarantined."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(MailMessage)
                .where(MailMessage.source == source, MailMessage.state != FileState.DONE)
                .order_by(col(MailMessage.folder), col(MailMessage.uid))
            ).all()
            return [
                MessageProblem(
                    row.folder,
                    row.uid,
                    row.subject,
                    FileState(row.state),
                    row.attempts,
                    row.reason,
                    None if row.next_try is None else as_utc(row.next_try),
                )
                for row in rows
            ]

    def message(self, source: str, ref: MessageRef) -> MailMessage | None:
        with Session(self.engine) as session:
            return session.exec(
                self._in_folder(source, ref.folder, ref.uidvalidity).where(MailMessage.uid == ref.uid)
            ).first()

    # -- rows ------------------------------------------------------------------------------------------

    @staticmethod
    def _in_folder(source: str, folder: str, uidvalidity: int) -> SelectOfScalar[MailMessage]:
        return select(MailMessage).where(
            MailMessage.source == source, MailMessage.folder == folder, MailMessage.uidvalidity == uidvalidity
        )

    @staticmethod
    def _folder_row(session: Session, source: str, folder: str) -> MailFolder | None:
        return session.exec(select(MailFolder).where(MailFolder.source == source, MailFolder.folder == folder)).first()

    def _message_row(self, session: Session, source: str, ref: MessageRef) -> MailMessage:
        found = session.exec(
            self._in_folder(source, ref.folder, ref.uidvalidity).where(MailMessage.uid == ref.uid)
        ).first()
        return found or MailMessage(
            source=source,
            folder=ref.folder,
            uidvalidity=ref.uidvalidity,
            uid=ref.uid,
            state=FileState.DONE,
            updated=self.now(),
        )
