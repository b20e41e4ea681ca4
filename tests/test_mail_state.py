"""What the IMAP poller remembers, in a real SQLite file: folder positions that never go back under one
UIDVALIDITY, message failures that back off into quarantine, owed after-actions, and Message-IDs that
recognise a message after the server renumbers a folder."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fixed_clock import START, Clock
from sqlalchemy import Engine

from storage.mail_state import Ack, MailState, MessageFacts, MessageRef
from storage.source_files import FIRST_RETRY, FileState

SOURCE = "imap:work"
OTHER = "imap:home"
FACTS = MessageFacts("<a@example.com>", "您收到一张电子发票", "诺诺 <fp@nuonuo.com>", ("https://nnfp.jss.com.cn/x",))


@pytest.fixture
def state(engine: Engine, clock: Clock) -> MailState:
    return MailState(engine, now=clock)


def test_a_position_moves_forward_only_and_a_new_uidvalidity_starts_over(state: MailState, clock: Clock) -> None:
    assert state.position(SOURCE, "INBOX") is None
    state.advance(SOURCE, "INBOX", 7, 120)
    state.advance(SOURCE, "INBOX", 7, 80)  # a late batch of retries must not move it back
    position = state.position(SOURCE, "INBOX")
    assert position is not None and (position.uidvalidity, position.last_uid) == (7, 120)
    assert position.updated == START
    clock.now += timedelta(days=1)
    state.advance(SOURCE, "INBOX", 9, 3)
    position = state.position(SOURCE, "INBOX")
    assert position is not None and (position.uidvalidity, position.last_uid, position.updated) == (9, 3, clock.now)
    assert state.position(SOURCE, "发票") is None
    assert state.position(OTHER, "INBOX") is None


def test_uids_past_32_bits_signed_are_kept(state: MailState) -> None:
    state.advance(SOURCE, "INBOX", 4_294_967_295, 4_294_967_200)
    position = state.position(SOURCE, "INBOX")
    assert position is not None and (position.uidvalidity, position.last_uid) == (4_294_967_295, 4_294_967_200)


def test_failures_back_off_and_end_in_quarantine_and_success_clears_them(state: MailState, clock: Clock) -> None:
    ref = MessageRef("INBOX", 7, 42)
    assert state.failed(SOURCE, ref, FACTS, "server said NO", max_attempts=3) is FileState.RETRY
    assert state.due(SOURCE, "INBOX", 7) == []
    clock.now += FIRST_RETRY
    assert state.due(SOURCE, "INBOX", 7) == [42]
    assert state.failed(SOURCE, ref, FACTS, "server said NO", max_attempts=3) is FileState.RETRY
    clock.now += FIRST_RETRY  # the second wait is twice the first
    assert state.due(SOURCE, "INBOX", 7) == []
    clock.now += FIRST_RETRY
    assert state.due(SOURCE, "INBOX", 7) == [42]
    assert state.failed(SOURCE, ref, FACTS, "still NO", max_attempts=3) is FileState.QUARANTINED
    clock.now += timedelta(days=30)
    assert state.due(SOURCE, "INBOX", 7) == []
    [problem] = state.problems(SOURCE)
    assert (problem.uid, problem.state, problem.attempts, problem.reason) == (42, FileState.QUARANTINED, 3, "still NO")
    assert problem.subject == FACTS.subject
    state.done(SOURCE, ref, FACTS, ack=Ack.NONE)
    assert state.problems(SOURCE) == []
    assert state.failed(SOURCE, ref, FACTS, "new trouble", max_attempts=3) is FileState.RETRY  # counted afresh


def test_owed_after_actions_until_acted(state: MailState) -> None:
    for uid, ack in ((1, Ack.PENDING), (2, Ack.NONE), (3, Ack.PENDING)):
        state.done(SOURCE, MessageRef("INBOX", 7, uid), FACTS, ack=ack)
    state.done(SOURCE, MessageRef("INBOX", 8, 4), FACTS, ack=Ack.PENDING)  # another UIDVALIDITY: not these UIDs
    assert state.owed(SOURCE, "INBOX", 7) == [1, 3]
    state.acted(SOURCE, "INBOX", 7, [3])
    assert state.owed(SOURCE, "INBOX", 7) == [1]
    assert state.owed(SOURCE, "INBOX", 8) == [4]


def test_links_and_envelope_are_kept_for_find(state: MailState) -> None:
    ref = MessageRef("INBOX", 7, 5)
    state.done(SOURCE, ref, FACTS, ack=Ack.NONE)
    row = state.message(SOURCE, ref)
    assert row is not None
    assert json.loads(row.links) == list(FACTS.links)
    assert (row.subject, row.sender, row.message_id) == (FACTS.subject, FACTS.sender, FACTS.message_id)


def test_message_ids_are_known_across_folders_and_uidvalidities_once_done(state: MailState) -> None:
    state.done(SOURCE, MessageRef("INBOX", 7, 1), MessageFacts("<a@x>", "", ""), ack=Ack.NONE)
    state.done(SOURCE, MessageRef("发票", 3, 1), MessageFacts("<b@x>", "", ""), ack=Ack.NONE)
    state.failed(SOURCE, MessageRef("INBOX", 7, 2), MessageFacts("<c@x>", "", ""), "NO", max_attempts=5)
    state.done(OTHER, MessageRef("INBOX", 7, 1), MessageFacts("<d@x>", "", ""), ack=Ack.NONE)
    asked = ["<a@x>", "<b@x>", "<c@x>", "<d@x>", "<e@x>"]
    assert state.known_message_ids(SOURCE, asked) == {"<a@x>", "<b@x>"}  # a failed one is not known
    many = [f"<{n}@x>" for n in range(1200)] + ["<a@x>"]  # more than one IN list's worth
    assert state.known_message_ids(SOURCE, many) == {"<a@x>"}
