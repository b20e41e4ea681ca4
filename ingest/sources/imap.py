"""A mailbox as a source: one connection per account, kept open, IDLE where the server offers it.

Sync is by identity. For each folder the database keeps UIDVALIDITY and the highest UID handed over
(`storage.mail_state`); a poll asks the server only for UIDs above it. The first sync backfills the `since`
window (a day early: SINCE compares dates only) in batches. A changed UIDVALIDITY (the server renumbered the
folder) starts a rescan that recognises handled messages by Message-ID, and their files by sha256, so nothing
is taken twice.

For each batch of new messages the poller fetches the BODYSTRUCTURE and a few header fields; filters (sender,
subject) are matched here on the decoded text, since many servers reject non-ASCII SEARCH. Only the parts
that can be invoices are downloaded (`mail_fetch`). Each message with something in it goes through the ingest
queue as one piece of work (`MailWork`); the worker, the one writer, stores its candidates and records the
message. A message that failed is fetched again later with backoff and quarantined after `max_attempts`.

The after-action (seen, flag, move) is owed only once every invoice of a message is committed, and is done by
the poller's thread, the only one that talks to the server. Work in flight is bounded in count and bytes, so
memory does not follow the mailbox's size.

Connection trouble is retried with exponential backoff and jitter; a refused login or an untrusted certificate
is reported once and retried slowly, since it will not fix itself in seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ingest.logs import printable
from ingest.mail_config import MailboxSettings, Secret
from ingest.mail_secret import SecretError, read_secret
from ingest.pipeline import Result
from ingest.sources.imap_connection import (
    HEADER_FIELDS,
    MailCommandError,
    MailConnectError,
    MailSession,
    Selected,
    open_session,
)
from ingest.sources.mail_fetch import FetchedMail, read_over_imap, source_key
from ingest.sources.mail_identity import message_identity
from ingest.sources.mail_parts import DEFAULT_LIMITS, MailLimits
from ingest.sources.mail_store import store_mail
from ingest.sources.mime import MailContents, read_envelope
from ingest.worker import Intake, Work
from storage.archive import Outcome
from storage.mail_state import Ack, FolderPosition, MailState, MessageFacts, MessageRef
from storage.source_files import FileState

log = logging.getLogger("fapiao")

BATCH = 200  # messages per BODYSTRUCTURE fetch
MAX_IN_FLIGHT = 32  # messages handed to the worker and not yet stored
MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024  # their candidates' bytes (one bigger message still goes alone)
FIRST_BACKOFF_SECONDS = 2.0
LAST_BACKOFF_SECONDS = 300.0
# A refused login, a missing secret or an untrusted certificate waits this long before the next try.
SLOW_RETRY_SECONDS = 1800.0
CONNECT_TIMEOUT_SECONDS = 60.0
# Outcomes that mean the message's invoice is in the archive: only then is the after-action done.
_INVOICE_OUTCOMES = frozenset(
    {Outcome.ARCHIVED, Outcome.REVIEW, Outcome.DUPLICATE, Outcome.COMPANION, Outcome.CONFLICT}
)


def backoff_seconds(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Wait before reconnect number `failures` (1, 2, ...): doubling from FIRST_BACKOFF_SECONDS up to
    LAST_BACKOFF_SECONDS, spread by ±25 % so that many daemons behind one NAT do not come back in step."""
    base = min(FIRST_BACKOFF_SECONDS * 2.0 ** max(failures - 1, 0), LAST_BACKOFF_SECONDS)
    return float(base * (0.75 + 0.5 * rand()))


def wanted_by_filters(mailbox: MailboxSettings, envelope: MailContents) -> bool:
    """The [[mailbox]] senders/subjects filters on the decoded From and Subject: case-insensitive substrings;
    an empty list lets everything through."""
    sender = f"{envelope.sender_name} <{envelope.sender_address}>".lower()
    subject = envelope.subject.lower()
    if mailbox.senders and not any(word.lower() in sender for word in mailbox.senders):
        return False
    return not mailbox.subjects or any(word.lower() in subject for word in mailbox.subjects)


def backfill_from(since: date | None) -> date | None:
    """The SINCE date that covers `since`: a day early, because servers compare dates in their own zone."""
    return None if since is None else since - timedelta(days=1)


@dataclass(frozen=True)
class MailWork:
    """One message on its way through the ingest queue."""

    mailbox: MailboxSource
    mail: FetchedMail
    failure: str | None = None  # the message could not be fetched: recorded as a failure

    @property
    def source(self) -> str:
        return self.mailbox.name

    @property
    def label(self) -> str:
        subject = self.mail.envelope.subject
        return f"{source_key(self.mail.ref)}{f' ({subject})' if subject else ''}"

    @property
    def size(self) -> int:
        return sum(len(candidate.data) for candidate in self.mail.candidates)

    def ingest(self, intake: Intake) -> list[Result]:
        return self.mailbox.ingest(self, intake)

    def crashed(self, reason: str) -> None:
        self.mailbox.crashed(self, reason)


@dataclass(frozen=True)
class FolderProgress:
    """Every message of a folder up to `last_uid` has been handed over: once the worker reaches this item,
    everything before it is recorded, so the position can move."""

    mailbox: MailboxSource
    folder: str
    uidvalidity: int
    last_uid: int

    @property
    def source(self) -> str:
        return self.mailbox.name

    @property
    def label(self) -> str:
        return f"{self.folder} up to UID {self.last_uid}"

    def ingest(self, intake: Intake) -> list[Result]:
        self.mailbox.mail_state.advance(self.mailbox.name, self.folder, self.uidvalidity, self.last_uid)
        return []

    def crashed(self, reason: str) -> None:
        """Nothing to undo: the position stays behind, and the messages after it are read again."""


@dataclass(frozen=True)
class AfterActionDone:
    """The after-action of `uids` is done on the server: recorded by the worker, the one writer (a second
    writing thread would meet SQLite's "database is locked")."""

    mailbox: MailboxSource
    folder: str
    uidvalidity: int
    uids: tuple[int, ...]

    @property
    def source(self) -> str:
        return self.mailbox.name

    @property
    def label(self) -> str:
        return f"{self.folder}: after-action of {len(self.uids)} messages"

    def ingest(self, intake: Intake) -> list[Result]:
        self.mailbox.mail_state.acted(self.mailbox.name, self.folder, self.uidvalidity, self.uids)
        self.mailbox._recorded(self)
        return []

    def crashed(self, reason: str) -> None:
        """Still owed in the database: done again later (a flag set twice, a move that finds nothing)."""
        self.mailbox._recorded(self)


class MailboxSource:
    def __init__(
        self,
        mailbox: MailboxSettings,
        *,
        mail_state: MailState,
        put: Callable[[Work], None],
        max_attempts: int,
        limits: MailLimits = DEFAULT_LIMITS,
        secret_reader: Callable[[Secret], str] = read_secret,
        session_opener: Callable[[MailboxSettings, str], MailSession] = lambda mailbox, secret: open_session(
            mailbox, secret, timeout=CONNECT_TIMEOUT_SECONDS
        ),
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.mailbox = mailbox
        self.name = mailbox.source
        self.mail_state = mail_state
        self.put = put
        self.max_attempts = max_attempts
        self.limits = limits
        self.secret_reader = secret_reader
        self.session_opener = session_opener
        self.rand = rand
        # 'connecting', 'syncing', 'idle' (IDLE), 'polling' (no IDLE: every poll_seconds), 'offline' (waiting to
        # reconnect), 'login failed', 'stopped'.
        self.state = "stopped"
        self.last_scan: datetime | None = None
        self.last_trouble = ""  # why the account cannot be read now ('' while it can)
        self.last_trouble_at: datetime | None = None
        self.folder_trouble: dict[str, str] = {}  # folder -> why it was skipped at the last sync
        self.pass_failed = False  # `run --once`: the mailbox could not be read
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._acks_owed = threading.Event()
        self._thread: threading.Thread | None = None
        self._once = False
        self._cursor: dict[str, FolderPosition] = {}
        self._in_flight = 0
        self._in_flight_bytes = 0
        self._flight = threading.Condition()
        self._acting: set[tuple[str, int, int]] = set()  # after-actions done, not yet recorded by the worker

    # --- the source interface the daemon drives ------------------------------------------------------

    def start(self, *, observe: bool = True) -> None:
        """Connect and keep the mailbox in sync on a thread of its own; with `observe` False, one pass."""
        self._once = not observe
        self._stop.clear()
        self.state = "connecting"
        self._thread = threading.Thread(target=self._run, name=f"mailbox {self.mailbox.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._flight:
            self._flight.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.state = "stopped"

    def scan(self) -> int:
        """Look for new mail now (the daemon's periodic rescan; IDLE usually says so first)."""
        self._wake.set()
        return 0

    def retry_due(self) -> int:
        """Wake the poller when a failed message is due again."""
        due = sum(
            len(self.mail_state.due(self.name, folder, position.uidvalidity))
            for folder, position in list(self._cursor.items())
        )
        if due:
            self._wake.set()
        return due

    def tick(self) -> int:
        return 0

    @property
    def settling(self) -> int:
        """1 while a one-time pass (`run --once`) is still reading the mailbox."""
        return int(self._once and self._thread is not None and self._thread.is_alive())

    @property
    def queued(self) -> int:
        return self._in_flight

    # --- the worker's side: storing one message ------------------------------------------------------

    def ingest(self, work: MailWork, intake: Intake) -> list[Result]:
        try:
            return self._store(work, intake)
        finally:
            self._landed(work)

    def crashed(self, work: MailWork, reason: str) -> None:
        try:
            self._failed(work, reason)
        finally:
            self._landed(work)

    def _store(self, work: MailWork, intake: Intake) -> list[Result]:
        mail = work.mail
        results = store_mail(
            intake,
            source=self.name,
            message_key=source_key(mail.ref),
            identity=message_identity(mail.envelope),
            envelope=mail.envelope,
            candidates=mail.candidates,
            refused=mail.refused,
            links=mail.links,
        )
        if work.failure is not None:
            results.append(intake.refuse(self.name, source_key(mail.ref), work.failure))
        refused = {key for key, _name, _reason in mail.refused}
        failed = [r for r in results if r.filed.outcome is Outcome.FAILED]
        if failed:
            # A part over the size limit stays over it: quarantined at once, not fetched again and again.
            lasting = work.failure is None and all(r.name in refused for r in failed)
            self._failed(work, "; ".join(f"{r.name}: {r.filed.reason}" for r in failed), lasting=lasting)
            return results
        # A file this message brought before (a saved copy imported, say) counts as what it became then.
        brought_invoice = any(
            result.filed.outcome in _INVOICE_OUTCOMES or result.filed.earlier in _INVOICE_OUTCOMES for result in results
        )
        ack = Ack.PENDING if brought_invoice and self.mailbox.after.kind != "keep" else Ack.NONE
        self.mail_state.done(self.name, mail.ref, _facts(mail), ack=ack)
        if ack is Ack.PENDING:
            self._acks_owed.set()
        return results

    def _failed(self, work: MailWork, reason: str, *, lasting: bool = False) -> None:
        attempts = 1 if lasting else self.max_attempts
        state = self.mail_state.failed(self.name, work.mail.ref, _facts(work.mail), reason, max_attempts=attempts)
        if state is FileState.QUARANTINED:
            log.warning(
                "quarantined %s %s after %d attempts (%s); it is not fetched again",
                self.name,
                printable(work.label),
                attempts,
                printable(reason),
            )

    def _landed(self, work: MailWork) -> None:
        with self._flight:
            self._in_flight -= 1
            self._in_flight_bytes -= work.size
            self._flight.notify_all()

    # --- the poller's thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            slow = False
            session: MailSession | None = None
            scanned = self.last_scan
            try:
                self.state = "connecting"
                session = self.session_opener(self.mailbox, self.secret_reader(self.mailbox.secret))
                if self.last_trouble:
                    log.info("%s: connected again", self.name)
                self.last_trouble = ""
                self._serve(session)
                if self._once:
                    return
            except SecretError as exc:
                slow = self._trouble(f"cannot read the secret: {exc}", slow=True)
            except MailConnectError as exc:
                slow = self._trouble(exc.message, slow=exc.kind in ("auth", "tls"))
            except MailCommandError as exc:
                slow = self._trouble(str(exc), slow=False)
            except Exception as exc:  # a bug must not end the mailbox's thread for good
                log.exception("%s: unexpected error; reconnecting", self.name)
                slow = self._trouble(f"{type(exc).__name__}: {exc}", slow=False)
            finally:
                if session is not None:
                    session.close()
            if self._once:
                self.pass_failed = True
                return
            # The backoff starts again only after a connection that served a whole pass: one the server
            # refuses a command on (a missing folder, a refused move) must not reconnect every 2 s.
            failures = 1 if self.last_scan != scanned else failures + 1
            self.state = "login failed" if slow else "offline"
            self._stop.wait(SLOW_RETRY_SECONDS if slow else backoff_seconds(failures, self.rand))
        self.state = "stopped"

    def _trouble(self, message: str, *, slow: bool) -> bool:
        """Said once at warning level (error for what needs a person); the same trouble again only in debug."""
        if message != self.last_trouble:
            level = logging.ERROR if slow else logging.WARNING
            then = f"trying again in {SLOW_RETRY_SECONDS / 60:.0f} min" if slow else "reconnecting with backoff"
            log.log(level, "%s: %s (%s)", self.name, printable(message), then)
        else:
            log.debug("%s: again: %s", self.name, printable(message))
        self.last_trouble, self.last_trouble_at = message, datetime.now(UTC)
        return slow

    def _serve(self, session: MailSession) -> None:
        """Sync every folder, then wait for news (IDLE or the poll interval); until stopped or disconnected."""
        while not self._stop.is_set():
            self.state = "syncing"
            self._wake.clear()
            for folder in self.mailbox.folders:
                self._sync_or_skip(session, folder)
                if self._stop.is_set():
                    return
            self.last_scan = datetime.now(UTC)
            if self._once:
                self._finish_pass(session)
                return
            self._wait(session)

    def _sync_or_skip(self, session: MailSession, folder: str) -> None:
        """One folder the server refuses a command on (it was deleted, a move is refused) is skipped until
        the next sync, said once; the other folders go on."""
        try:
            self._sync(session, folder)
        except MailCommandError as exc:
            if self.folder_trouble.get(folder) != str(exc):
                log.warning("%s %s: %s; skipped until the next sync", self.name, folder, printable(str(exc)))
            self.folder_trouble[folder] = str(exc)
            self.last_trouble_at = datetime.now(UTC)
            session.selected = None  # the server may have left no folder selected
            return
        if self.folder_trouble.pop(folder, None) is not None:
            log.info("%s %s: read again", self.name, folder)

    def _wait(self, session: MailSession) -> None:
        def interrupted() -> bool:
            return self._stop.is_set() or self._wake.is_set() or self._acks_owed.is_set()

        idle_folder = next((f for f in self.mailbox.folders if f not in self.folder_trouble), None)
        if session.can_idle and idle_folder is not None:
            self.state = "idle"
            self._select(session, idle_folder)
            many = len(self.mailbox.folders) > 1  # only the first folder is IDLEd on: poll the others
            seconds = min(self.mailbox.idle_seconds, self.mailbox.poll_seconds) if many else self.mailbox.idle_seconds
            session.idle(seconds, interrupted)
            return
        self.state = "polling"
        deadline = time.monotonic() + self.mailbox.poll_seconds
        while not interrupted() and time.monotonic() < deadline:
            self._wake.wait(min(1.0, max(deadline - time.monotonic(), 0)))

    def _finish_pass(self, session: MailSession) -> None:
        """`run --once`: wait for the worker to store what was handed over, then do the owed after-actions."""
        with self._flight:
            while self._in_flight and not self._stop.is_set():
                self._flight.wait(0.5)
        for folder in self.mailbox.folders:
            selected = self._select(session, folder)
            self._acknowledge(session, selected)
        with self._flight:  # and for it to record them, so that nothing is left in the queue at exit
            while self._acting and not self._stop.is_set():
                self._flight.wait(0.5)

    def _select(self, session: MailSession, folder: str) -> Selected:
        """The folder selected; again only when another is selected, so a quiet poll costs one command.
        Read-only (EXAMINE) unless an after-action needs to change the mail."""
        readonly = self.mailbox.after.kind == "keep"
        current = session.selected
        if current is not None and current.folder == folder and session.readonly == readonly:
            return current
        return session.select(folder, readonly=readonly)

    def _sync(self, session: MailSession, folder: str) -> None:
        selected = self._select(session, folder)
        position = self._cursor.get(folder) or self.mail_state.position(self.name, folder)
        if position is None:
            self._first_sync(session, selected)
        elif position.uidvalidity != selected.uidvalidity:
            log.warning(
                "%s %s: UIDVALIDITY changed (%d -> %d), the server renumbered the folder: rescanning, recognising "
                "messages already taken by Message-ID and their files by sha256",
                self.name,
                folder,
                position.uidvalidity,
                selected.uidvalidity,
            )
            self._cursor[folder] = FolderPosition(selected.uidvalidity, 0, position.updated)
            day = backfill_from(self.mailbox.since or position.updated.date())
            top = self._top(session, selected)
            if self._take(session, selected, session.uids_since(day), recognise=True):
                self._hand_over_progress(selected, top)
        else:
            self._take(session, selected, session.uids_above(position.last_uid))
        due = self.mail_state.due(self.name, folder, selected.uidvalidity)
        if due:
            self._take(session, selected, due, retry=True)
        self._acknowledge(session, selected)

    def _first_sync(self, session: MailSession, selected: Selected) -> None:
        top = self._top(session, selected)
        if self.mailbox.since is None:  # only mail from now on
            log.info("%s %s: first sync, taking mail from UID %d on (no `since`)", self.name, selected.folder, top + 1)
            self._hand_over_progress(selected, top)
            return
        uids = session.uids_since(backfill_from(self.mailbox.since))
        log.info("%s %s: first sync, %d messages since %s", self.name, selected.folder, len(uids), self.mailbox.since)
        if self._take(session, selected, uids):
            # Older mail (below `since`) stays behind the position: later polls ask only above the top.
            self._hand_over_progress(selected, top)

    @staticmethod
    def _top(session: MailSession, selected: Selected) -> int:
        """The highest UID in the folder when it was selected (UIDNEXT - 1; found by a search if the server
        does not say)."""
        if selected.uidnext:
            return max(selected.uidnext - 1, 0)
        return max(session.uids_since(None), default=0)

    def _take(
        self, session: MailSession, selected: Selected, uids: list[int], *, recognise: bool = False, retry: bool = False
    ) -> bool:
        """Read `uids` in batches and hand over each message that carries something; the folder's position
        moves after each batch (not for retries, which are below it). False when stopped half-way."""
        for start in range(0, len(uids), BATCH):
            if self._stop.is_set():
                return False
            batch = uids[start : start + BATCH]
            for work in self._read_batch(session, selected, batch, recognise=recognise, retry=retry):
                self._hand_over(work)
                if self._stop.is_set():
                    return False
            if not retry:
                self._hand_over_progress(selected, batch[-1])
            self._acknowledge(session, selected)
        return True

    def _read_batch(
        self, session: MailSession, selected: Selected, batch: list[int], *, recognise: bool, retry: bool
    ) -> Iterable[MailWork]:
        items = ["RFC822.SIZE", "BODYSTRUCTURE", f"BODY.PEEK[{HEADER_FIELDS}]"]
        try:
            answer = session.fetch(batch, items)
        except MailCommandError:
            if len(batch) == 1:
                raise
            # One message the server (or the parser) chokes on must not hold back the others: one at a time.
            answer = {}
            for uid in batch:
                try:
                    answer.update(session.fetch([uid], items))
                except MailCommandError as exc:
                    ref = MessageRef(selected.folder, selected.uidvalidity, uid)
                    yield MailWork(self, FetchedMail(ref, MailContents("", "", "", None, None)), failure=str(exc))
        envelopes = {uid: read_envelope(_header(data)) for uid, data in answer.items()}
        known: set[str] = set()
        if recognise:
            ids = [envelope.message_id for envelope in envelopes.values() if envelope.message_id]
            known = self.mail_state.known_message_ids(self.name, ids)
        for uid in batch:
            data, envelope = answer.get(uid), envelopes.get(uid)
            if data is None or envelope is None:  # expunged meanwhile, or failed above
                continue
            if recognise and envelope.message_id in known:
                continue
            if not wanted_by_filters(self.mailbox, envelope):
                continue
            ref = MessageRef(selected.folder, selected.uidvalidity, uid)
            try:
                mail = read_over_imap(
                    session,
                    source=self.name,
                    ref=ref,
                    envelope=envelope,
                    bodystructure=data.get(b"BODYSTRUCTURE"),
                    size=int(data.get(b"RFC822.SIZE") or 0),
                    limits=self.limits,
                )
            except MailCommandError as exc:
                yield MailWork(self, FetchedMail(ref, envelope), failure=str(exc))
                continue
            for problem in mail.problems:
                log.info("%s %s: %s", self.name, printable(source_key(ref)), printable(problem))
            if mail.carries_something or retry:  # a retried message is recorded whatever it carries now
                yield MailWork(self, mail)

    def _hand_over(self, work: MailWork) -> None:
        """Onto the worker's queue, once there is room: at most MAX_IN_FLIGHT messages and
        MAX_IN_FLIGHT_BYTES of candidates wait at a time."""
        with self._flight:
            while (
                self._in_flight
                and (self._in_flight >= MAX_IN_FLIGHT or self._in_flight_bytes + work.size > MAX_IN_FLIGHT_BYTES)
                and not self._stop.is_set()
            ):
                self._flight.wait(0.5)
            self._in_flight += 1
            self._in_flight_bytes += work.size
        self.put(work)

    def _recorded(self, done: AfterActionDone) -> None:
        with self._flight:
            self._acting.difference_update((done.folder, done.uidvalidity, uid) for uid in done.uids)
            self._flight.notify_all()

    def _hand_over_progress(self, selected: Selected, last_uid: int) -> None:
        previous = self._cursor.get(selected.folder)
        updated = datetime.now(UTC)
        self._cursor[selected.folder] = FolderPosition(
            selected.uidvalidity, max(last_uid, previous.last_uid if previous else 0), updated
        )
        self.put(FolderProgress(self, selected.folder, selected.uidvalidity, last_uid))

    def _acknowledge(self, session: MailSession, selected: Selected) -> None:
        """The owed after-actions of the selected folder: messages whose every invoice is committed."""
        after = self.mailbox.after
        if after.kind == "keep":
            return
        self._acks_owed.clear()
        with self._flight:
            acting = set(self._acting)
        uids = [
            uid
            for uid in self.mail_state.owed(self.name, selected.folder, selected.uidvalidity)
            if (selected.folder, selected.uidvalidity, uid) not in acting
        ]
        if not uids:
            return
        if after.kind == "seen":
            session.add_flags(uids, ["\\Seen"])
            how = "marked seen"
        elif after.kind == "flag":
            session.add_flags(uids, ["\\Flagged"])
            how = "flagged"
        else:
            assert after.folder is not None
            how = f"moved to {after.folder} ({session.move(uids, after.folder)})"
        with self._flight:
            self._acting.update((selected.folder, selected.uidvalidity, uid) for uid in uids)
        self.put(AfterActionDone(self, selected.folder, selected.uidvalidity, tuple(uids)))
        log.info("%s %s: %d messages %s", self.name, selected.folder, len(uids), printable(how))


def _header(data: dict[bytes, object]) -> bytes:
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[HEADER") and isinstance(value, bytes):
            return value
    return b""


def _facts(mail: FetchedMail) -> MessageFacts:
    envelope = mail.envelope
    sender = f"{envelope.sender_name} <{envelope.sender_address}>" if envelope.sender_name else envelope.sender_address
    return MessageFacts(envelope.message_id, envelope.subject, sender, tuple(link.url for link in mail.links))
