"""The Dovecot test server (tests/dovecot_server.py) does what the IMAP tests rely on: real connections, no mocks."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import secrets
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from dovecot_server import Dovecot, process_group_alive, require_dovecot, running_dovecot
from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import LoginError

_names = itertools.count()


@pytest.fixture(scope="module")
def polling_dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    with running_dovecot(idle=False) as server:
        yield server


def message(subject: str = "电子发票 No. 12345678", body: str = "您好，附件是发票。") -> bytes:
    mail = EmailMessage()
    mail["From"] = "开票平台 <fapiao@example.com>"
    mail["To"] = "finance@example.com"
    mail["Subject"] = subject
    mail["Date"] = "Fri, 02 Jan 2026 03:04:05 +0800"
    mail.set_content(body)
    return mail.as_bytes(policy=policy.SMTP)  # CRLF line ends, as IMAP stores them


def idle_until(client: Any, wanted: Callable[[list[Any]], bool], timeout: float = 5.0) -> list[Any]:
    """IDLE responses until one batch is what the test waits for, with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    seen: list[Any] = []
    while (left := deadline - time.monotonic()) > 0:
        seen += client.idle_check(timeout=left)
        if wanted(seen):
            return seen
    raise AssertionError(f"IDLE did not bring what was expected within {timeout} s: {seen}")


def connect(dovecot: Dovecot, *, tls: bool = True, context: ssl.SSLContext | None = None, host: str = "") -> Any:
    """A client not yet logged in: IMAPS, or the plain port (tls=False). Use it in a with block."""
    port = dovecot.imaps_port if tls else dovecot.imap_port
    context = context or (dovecot.ssl_context() if tls else None)
    return IMAPClient(host or dovecot.host, port, ssl=tls, ssl_context=context, timeout=10)


def test_imaps_login_verifies_the_test_ca(dovecot: Dovecot, user: str) -> None:
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    for host in ("127.0.0.1", "localhost"):  # both are in the certificate's SAN
        with connect(dovecot, context=context, host=host) as client:
            assert isinstance(client.socket(), ssl.SSLSocket)
            client.login(user, dovecot.password(user))
            assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_starttls_and_plaintext_login_on_the_plain_port(dovecot: Dovecot, user: str) -> None:
    with connect(dovecot, tls=False) as client:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(ssl.create_default_context(cafile=str(dovecot.ca_file)))
        assert isinstance(client.socket(), ssl.SSLSocket)
        client.login(user, dovecot.password(user))
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    with connect(dovecot, tls=False) as plain:  # disable_plaintext_auth = no
        plain.login(user, dovecot.password(user))
        assert not isinstance(plain.socket(), ssl.SSLSocket)


@pytest.mark.parametrize("how", ["imaps", "starttls"])
def test_a_client_that_does_not_trust_the_test_ca_refuses_the_certificate(dovecot: Dovecot, how: str) -> None:
    default = ssl.create_default_context()  # the system trust store: no test CA in it
    if how == "imaps":
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(dovecot, context=default)
        return
    client = connect(dovecot, tls=False)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(default)
    finally:
        with contextlib.suppress(OSError):  # the failed handshake has closed the socket already
            client.shutdown()


def test_xoauth2_and_oauthbearer_log_in_with_the_token_as_password(dovecot: Dovecot) -> None:
    name, token = f"oauth{next(_names)}@example.com", f"ya29.{secrets.token_urlsafe(24)}"
    dovecot.add_user(name, token)
    with connect(dovecot) as client:
        assert {b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER"} <= set(client.capabilities())
        client.oauth2_login(name, token)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    with connect(dovecot) as client:
        client.oauthbearer_login(name, token)
    with connect(dovecot) as client, pytest.raises(LoginError):
        client.oauth2_login(name, "ya29.expired")
    log = dovecot.wait_for_log(f"user=<{name}>, method=OAUTHBEARER")
    assert f"user=<{name}>, method=XOAUTH2" in log


def test_the_id_a_client_sends_shows_in_the_log(dovecot: Dovecot, user: str) -> None:
    with dovecot.login(user) as client:
        server_id = dict(client.id_({"name": "fapiao-inbox", "version": "0.1.0"}))
    assert server_id[b"name"] == b"Dovecot"
    log = dovecot.wait_for_log("ID sent: name=fapiao-inbox, version=0.1.0")
    assert any(f"imap({user})" in line and "ID sent" in line for line in log.splitlines())


def test_idle_is_offered_or_left_out(dovecot: Dovecot, polling_dovecot: Dovecot) -> None:
    capabilities = []
    for server in (dovecot, polling_dovecot):
        name = f"caps{next(_names)}"
        server.add_user(name, "secret")
        with server.login(name) as client:
            capabilities.append(set(client.capabilities()))
    with_idle, without_idle = capabilities
    assert b"IDLE" in with_idle
    assert with_idle - without_idle == {b"IDLE"}  # everything else as before
    assert without_idle <= with_idle


def test_idle_wakes_after_an_append_from_another_connection(dovecot: Dovecot, user: str) -> None:
    with dovecot.login(user) as client:
        client.select_folder("INBOX")
        client.idle()
        started = time.monotonic()
        uid = dovecot.append(user, "INBOX", message())
        idle_until(client, lambda seen: (1, b"EXISTS") in seen)
        woke_after = time.monotonic() - started
        client.idle_done()
        assert client.search(["UID", str(uid)]) == [uid]
    assert woke_after < 3, woke_after


def test_kick_disconnects_an_idling_client_with_bye(dovecot: Dovecot, user: str) -> None:
    with dovecot.login(user) as client:
        client.select_folder("INBOX")
        client.idle()
        dovecot.kick(user)
        responses = idle_until(client, lambda seen: any(r[0] == b"BYE" for r in seen))
        assert responses[0][:2] == (b"BYE", b"Server")  # "* BYE Server shutting down."
        with pytest.raises((IMAPClient.AbortError, OSError)):
            client.idle_done()
            client.noop()


@pytest.mark.parametrize("folder", ["INBOX", "发票"])
def test_a_new_uidvalidity_is_seen_by_a_new_select(dovecot: Dovecot, user: str, folder: str) -> None:
    uids = [dovecot.append(user, folder, message(f"发票 {n}")) for n in range(2)]
    with dovecot.login(user) as watcher:
        before = watcher.select_folder(folder)[b"UIDVALIDITY"]
        assert watcher.search() == uids
        dovecot.set_uidvalidity(user, folder, before + 1000)
        with pytest.raises((IMAPClient.AbortError, OSError)):  # a session with the folder selected is dropped
            watcher.noop()
            watcher.noop()
    with dovecot.login(user) as client:
        after = client.select_folder(folder)
        assert after[b"UIDVALIDITY"] == before + 1000
        assert after[b"EXISTS"] == 2  # the messages stay
        assert client.search() == uids


def test_a_chinese_folder_name_round_trips(dovecot: Dovecot, user: str) -> None:
    folders = ["发票", "发票.电子发票"]  # "." is Maildir++'s hierarchy separator
    date = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    raw = message()
    uids = {folder: dovecot.append(user, folder, raw, flags=[b"\\Seen", "$Invoice"], date=date) for folder in folders}
    assert uids == {folder: 1 for folder in folders}
    with dovecot.login(user) as client:
        assert set(folders) <= {name for _flags, _separator, name in client.list_folders()}
        for folder in folders:
            client.select_folder(folder, readonly=True)
            fetched = client.fetch([uids[folder]], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])[uids[folder]]
            assert fetched[b"BODY[]"] == raw
            assert set(fetched[b"FLAGS"]) - {b"\\Recent"} == {b"\\Seen", b"$Invoice"}
            assert fetched[b"INTERNALDATE"].astimezone(dt.UTC) == date.astimezone(dt.UTC)
    maildir = dovecot.mail_dir / user / "Maildir"
    assert (maildir / ("." + imap_utf7.encode("发票").decode())).is_dir(), sorted(p.name for p in maildir.iterdir())


def test_a_wrong_password_fails_fast_and_does_not_delay_later_logins(dovecot: Dovecot, user: str) -> None:
    for _ in range(2):
        with connect(dovecot) as client:
            started = time.monotonic()
            with pytest.raises(LoginError):
                client.login(user, "wrong password")
            failed_after = time.monotonic() - started
        # Dovecot 2.3 answers failures from a queue it flushes every 0.5 s, whatever auth_failure_delay says
        assert failed_after < 1.5, failed_after
        started = time.monotonic()
        dovecot.login(user).logout()
        assert time.monotonic() - started < 1.0  # no auth penalty for 127.0.0.1 (the anvil fix)


def test_a_new_user_logs_in_at_once_and_a_new_password_replaces_the_old(dovecot: Dovecot) -> None:
    name = f"fresh{next(_names)}"
    dovecot.add_user(name, "first")
    dovecot.login(name).logout()
    dovecot.add_user(name, "second")  # waits up to a second (Dovecot's passwd-file check)
    dovecot.login(name).logout()
    with connect(dovecot) as client, pytest.raises(LoginError):
        client.login(name, "first")


def test_stop_and_start_keep_ports_and_mail() -> None:
    require_dovecot()
    with running_dovecot() as server:
        server.add_user("kept", "secret")
        uid = server.append("kept", "INBOX", message())
        ports = (server.imap_port, server.imaps_port)
        with server.login("kept") as client:
            uidvalidity = client.select_folder("INBOX")[b"UIDVALIDITY"]
            client.idle()
            server.stop()
            assert not server.running
            started = time.monotonic()
            assert client.idle_check(timeout=5) == []  # a stopped server is a plain EOF, not a BYE ...
            assert time.monotonic() - started < 1  # ... that imapclient returns as an early empty list
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.imaps_port), timeout=5).close()
        server.start()
        assert (server.imap_port, server.imaps_port) == ports
        with server.login("kept") as client:
            assert client.select_folder("INBOX")[b"UIDVALIDITY"] == uidvalidity
            assert client.search() == [uid]


def test_a_port_taken_meanwhile_is_replaced_by_a_free_one(monkeypatch: pytest.MonkeyPatch) -> None:
    require_dovecot()
    import dovecot_server

    real_free_ports = dovecot_server._free_ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        offered: list[list[int]] = [[taken, real_free_ports(1)[0]]]
        monkeypatch.setattr(
            dovecot_server, "_free_ports", lambda count: offered.pop(0) if offered else real_free_ports(count)
        )
        with running_dovecot() as server:
            assert taken not in (server.imap_port, server.imaps_port)
            assert not offered and f"listen(127.0.0.1, {taken}) failed: Address already in use" in server.log_text()
            server.add_user("u", "p")
            server.login("u").logout()


@pytest.mark.parametrize("fails", [False, True])
def test_nothing_is_left_behind(fails: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    require_dovecot()
    made: list[Path] = []  # every temp folder made meanwhile (a glob of /tmp would also see parallel test runs)
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = str(real_mkdtemp(*args, **kwargs))
        made.append(Path(path))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext(), running_dovecot() as server:
        directory, group, port = server.directory, server.pid, server.imaps_port
        assert directory.parent == Path("/tmp") and group is not None and process_group_alive(group)
        server.add_user("u", "p")
        server.append("u", "INBOX", message())
        server.set_uidvalidity("u", "INBOX", 7)
        if fails:
            raise RuntimeError("a test failing inside the with block")
    assert made == [directory]
    assert not directory.exists()
    assert not process_group_alive(group)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
