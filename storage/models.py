"""The database tables (SQLModel). The schema itself is owned by the Alembic migrations in storage/migrations.

Amounts are integers in fen, so sums and comparisons are exact on every database.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Invoice(SQLModel, table=True):
    """One invoice, however many files and arrivals brought it."""

    __tablename__ = "invoices"

    id: int | None = Field(default=None, primary_key=True)
    # 'num:<20 digits>' (数电) or 'code:<code>:<number>' (old style, 区块链): what makes two files one invoice.
    key: str = Field(unique=True, index=True)
    variant: str | None = None
    invoice_code: str | None = None
    invoice_number: str = Field(index=True)
    issue_date: date | None = Field(default=None, index=True)
    total_fen: int | None = None
    pretax_fen: int | None = None
    tax_fen: int | None = None
    seller_name: str | None = Field(default=None, index=True)
    seller_tax_id: str | None = None
    buyer_name: str | None = None
    buyer_tax_id: str | None = None
    check_code: str | None = None
    status: str  # 'ok' or 'review'
    problems: str = "[]"  # JSON list of reasons
    sources: str = "{}"  # JSON: field -> where it came from
    created_at: datetime


class StoredFile(SQLModel, table=True):
    """One file in the archive tree, known by its bytes."""

    __tablename__ = "stored_files"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(unique=True, index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    role: str  # 'primary', 'companion', 'conflict' or 'unrecognized'
    path: str = Field(unique=True)  # relative to the archive root, '/'-separated
    # 'placing' from the commit that claims the path until the file is renamed into place; then 'placed'.
    # A crash in between leaves a 'placing' row that recovery finishes or rolls back. 'moving' while a hand
    # correction renames it (the old name is in file_moves until the new one is in place).
    state: str
    temp_name: str | None = None  # the temp file beside `path` while placing
    size: int
    kind: str  # 'pdf', 'ofd', 'xml' or 'unknown' (by content)
    original_name: str
    created_at: datetime


class Arrival(SQLModel, table=True):
    """One thing that came in from a source, and what became of it: the answer to "where is my invoice?"."""

    __tablename__ = "arrivals"
    __table_args__ = (
        UniqueConstraint("source", "source_key", "sha256", name="uq_arrival_source_key_sha"),
        Index("ix_arrivals_message_id_sha256", "message_id", "sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str  # 'import', 'folder:<path>', 'imap:<account>'
    source_key: str  # a path ('a.zip!b.pdf' inside zips), or mailbox/UIDVALIDITY/UID/part
    sha256: str = Field(index=True)  # '' when the bytes could not be read
    # The mail it came in (Message-ID, else a digest of its envelope: ingest.sources.mail_identity); None for
    # files that did not come by mail. The same message's same bytes arriving again add no row.
    message_id: str | None = None
    outcome: str  # see storage.archive.Outcome
    reason: str = ""
    attempts: int = 1
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    file_id: int | None = Field(default=None, foreign_key="stored_files.id")
    first_seen: datetime
    last_seen: datetime


class SourceFile(SQLModel, table=True):
    """A file a watched folder handed over, remembered by path, size and modification time, so that a
    restart or a rescan does not read it again; and, for a file that failed, when to try it next."""

    __tablename__ = "source_files"
    __table_args__ = (UniqueConstraint("source", "path", name="uq_source_file_path"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str  # 'folder:<path>'
    path: str
    size: int = Field(sa_type=BigInteger)
    mtime_ns: int = Field(sa_type=BigInteger)  # nanoseconds since 1970: past 32 bits
    sha256: str
    state: str  # 'done', 'retry' (failed; tried again at next_try) or 'quarantined' (failed too often)
    attempts: int = 0  # failures in a row
    reason: str = ""
    next_try: datetime | None = None
    updated: datetime


class MailFolder(SQLModel, table=True):
    """How far a mailbox folder has been read: every message with a UID up to `last_uid` under this
    UIDVALIDITY has been handed over (done, or remembered in mail_messages for a retry)."""

    __tablename__ = "mail_folders"
    __table_args__ = (UniqueConstraint("source", "folder", name="uq_mail_folder"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str  # 'imap:<account>'
    folder: str  # as the server names it, decoded from modified UTF-7
    uidvalidity: int = Field(sa_type=BigInteger)  # UIDs are 32-bit unsigned: past a signed int
    last_uid: int = Field(sa_type=BigInteger)
    updated: datetime


class MailMessage(SQLModel, table=True):
    """A message that carried something (invoice candidates, download links) or failed: what became of it,
    whether the after-action is still owed, and its Message-ID, by which it is recognised if the folder's
    UIDs are ever renumbered (UIDVALIDITY changed)."""

    __tablename__ = "mail_messages"
    __table_args__ = (UniqueConstraint("source", "folder", "uidvalidity", "uid", name="uq_mail_message_uid"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    folder: str
    uidvalidity: int = Field(sa_type=BigInteger)
    uid: int = Field(sa_type=BigInteger)
    message_id: str | None = Field(default=None, index=True)
    subject: str = ""
    sender: str = ""
    state: str  # 'done', 'retry' (failed; fetched again at next_try) or 'quarantined' (failed too often)
    ack: str = "none"  # the after-action: 'none' (not wanted or not applicable), 'pending' or 'done'
    attempts: int = 0
    reason: str = ""
    links: str = "[]"  # JSON list of invoice download links found in the body
    next_try: datetime | None = None
    updated: datetime


class ReviewChange(SQLModel, table=True):
    """What a person did in `fapiao review`, one row per change: a field corrected (old -> new, the same value
    when only confirmed), the status it led to, a file renamed to match, an invoice accepted as it is (with the
    problems it had), a conflict or unrecognized file or a failed arrival set aside. Never updated or deleted."""

    __tablename__ = "review_changes"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoices.id", index=True)
    # No foreign keys: an arrival or file row may later be replaced (a failed arrival that succeeds, a placement
    # undone after a crash) and the history must never stand in the way.
    file_id: int | None = Field(default=None, index=True)
    arrival_id: int | None = Field(default=None, index=True)
    action: str  # 'set', 'status', 'renamed', 'accepted' or 'set_aside'
    field: str | None = None  # for 'set': the column (invoice_number, total_fen, ...)
    old_value: str | None = None  # as a person reads it: '117.00', '2025-07-29'
    new_value: str | None = None
    note: str = ""  # 'accepted': the problems it had (JSON list); 'set_aside': what it was and why
    changed_at: datetime


class FileMove(SQLModel, table=True):
    """A file on its way to a new name (after a hand correction): its row already has the new path and says
    'moving'; this keeps the old one until the rename is done, so that `Archive.recover` can finish it."""

    __tablename__ = "file_moves"

    id: int | None = Field(default=None, primary_key=True)
    file_id: int = Field(foreign_key="stored_files.id", unique=True)
    from_path: str
    created_at: datetime
