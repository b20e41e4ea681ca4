"""Fixtures several test files share: a real Dovecot for each test module and a fresh user on it; a fresh SQLite
database and a clock moved by hand."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from dovecot_server import Dovecot, require_dovecot, running_dovecot
from fixed_clock import Clock
from sqlalchemy import Engine

from storage.db import open_database

_users = itertools.count()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    with running_dovecot() as server:
        yield server


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    """A new user on the module's server, so tests do not see each other's mail."""
    name = f"user{next(_users)}@example.com"
    dovecot.add_user(name, f"pw-{secrets.token_urlsafe(12)}")
    return name


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite database file, migrated to the head revision."""
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()
