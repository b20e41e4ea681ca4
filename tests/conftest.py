"""Fixtures several test files share: a real Dovecot for each test module, and a fresh user on it."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator

import pytest
from dovecot_server import Dovecot, require_dovecot, running_dovecot

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
