"""The database: engine and pragmas, sessions, schema migrations (Alembic), and SQLite copies.

SQLite runs in WAL mode (readers never block the one writer) with synchronous=FULL:
an invoice's row must survive a power cut once its file is in the tree. Before a
migration changes a database, it is copied with SQLite's online backup API.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be opened or upgraded; the message says which and why."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (with ~ expanded), None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created and the pragmas are set on every connection."""
    path = sqlite_path(url)
    if path is None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            # A plain postgresql:// URL means psycopg 3 (the `postgres` extra), not SQLAlchemy's psycopg2 default.
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database folder {path.parent}: {exc.strerror or exc}") from exc
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    # Python's sqlite3 commits before every CREATE or ALTER on its own, so a migration killed halfway
    # would leave tables without their revision. With the driver's own transaction handling off and
    # BEGIN issued here, a schema change commits whole or not at all.
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # see create_db_engine: SQLAlchemy issues BEGIN itself
    cursor = connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def head_revision() -> str:
    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    assert head is not None, "storage/migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, *, now: Callable[[], datetime] = datetime.now) -> Path | None:
    """Bring the schema to the newest revision. An existing SQLite database is first copied beside
    itself (returned); a new one is simply created. Nothing happens when it is already current."""
    current = current_revision(engine)
    if current == head_revision():
        return None
    copy = None
    path = sqlite_path(str(engine.url))
    if current is not None and path is not None:
        copy = path.with_name(f"{path.stem}.before-{current}-{now():%Y%m%d-%H%M%S}{path.suffix}")
        sqlite_copy(path, copy)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except Exception as exc:
        saved = f"; the database before it is saved as {copy}" if copy else ""
        raise DatabaseError(f"schema upgrade from {current or 'empty'} failed: {exc}{saved}") from exc
    return copy


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (SQLite's online backup API), safe while others write."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    # sqlite3's context manager commits but does not close.
    src.close()
    dst.close()


def open_database(url: str) -> Engine:
    """The engine for `url` with the schema current (upgraded, after a copy, if it was older)."""
    engine = create_db_engine(url)
    upgrade(engine)
    return engine
