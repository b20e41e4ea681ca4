"""Connecting to a mailbox against a real Dovecot: TLS modes and verification, login, XOAUTH2, ID, folders, and
failures that say what is wrong; reading the secret from env, file or command without ever showing it."""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import secrets
import shlex
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dovecot_server import Dovecot, _write_test_ca
from test_dovecot_server import message

from ingest.mail_config import MailboxSettings, Secret
from ingest.mail_secret import SecretError, read_secret
from ingest.sources.imap_connection import (
    Folder,
    FolderCount,
    MailConnectError,
    _folder,
    connect,
    folder_counts,
    list_folders,
)

_names = itertools.count()
WRONG = "wrong-secret-1234"


def mailbox(dovecot: Dovecot, user: str, **changes: Any) -> MailboxSettings:
    """IMAPS to the test server, trusting its CA; `changes` override any field."""
    fields: dict[str, Any] = {
        "name": "test",
        "host": dovecot.host,
        "username": user,
        "secret": Secret("env", "UNUSED"),
        "port": dovecot.imaps_port,
        "ca_file": dovecot.ca_file,
    }
    fields.update(changes)
    return MailboxSettings(**fields)


@contextlib.contextmanager
def connected(box: MailboxSettings, secret: str, timeout: float = 10) -> Iterator[Any]:
    client = connect(box, secret, timeout=timeout)
    try:
        yield client
    finally:
        client.logout()


def refused(box: MailboxSettings, secret: str, timeout: float = 10) -> MailConnectError:
    with pytest.raises(MailConnectError) as raised:
        connect(box, secret, timeout=timeout).logout()
    error = raised.value
    assert secret not in str(error)
    return error


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- TLS modes and verification ----------------------------------------------------------------------------------


def test_imaps_verifies_the_certificate_against_ca_file_and_sends_id(dovecot: Dovecot, user: str) -> None:
    with connected(mailbox(dovecot, user), dovecot.password(user)) as client:
        assert isinstance(client.socket(), ssl.SSLSocket)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0  # logged in: a mail folder is reachable
    log = dovecot.wait_for_log(f"imap({user})")
    sent = dovecot.wait_for_log("ID sent: name=fapiao-inbox")
    assert any(f"imap({user})" in line and "ID sent: name=fapiao-inbox" in line for line in sent.splitlines()), log


def test_starttls_upgrades_the_plain_port_and_verifies_the_certificate(dovecot: Dovecot, user: str) -> None:
    box = mailbox(dovecot, user, tls="starttls", port=dovecot.imap_port)
    with connected(box, dovecot.password(user)) as client:
        assert isinstance(client.socket(), ssl.SSLSocket)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    unverified = refused(mailbox(dovecot, user, tls="starttls", port=dovecot.imap_port, ca_file=None), WRONG)
    assert unverified.kind == "tls" and "not trusted" in unverified.message


def test_tls_none_logs_in_on_the_plain_port_without_tls(dovecot: Dovecot, user: str) -> None:
    box = mailbox(dovecot, user, tls="none", port=dovecot.imap_port, ca_file=None)
    with connected(box, dovecot.password(user)) as client:
        assert not isinstance(client.socket(), ssl.SSLSocket)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_a_certificate_not_signed_by_a_trusted_ca_is_refused_with_the_advice_to_set_ca_file(
    dovecot: Dovecot, user: str
) -> None:
    error = refused(mailbox(dovecot, user, ca_file=None), dovecot.password(user))
    assert error.kind == "tls"
    assert error.message.startswith("the server's certificate is not trusted: ")
    assert "set ca_file if it uses a private CA" in error.message


def test_a_ca_file_of_another_ca_is_named_in_the_refusal(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    other_ca, _cert, _key = _write_test_ca(tmp_path)
    error = refused(mailbox(dovecot, user, ca_file=other_ca), dovecot.password(user))
    assert error.kind == "tls"
    assert f"not signed by the CA in ca_file {other_ca}" in error.message


def test_a_certificate_for_another_name_is_refused_as_a_hostname_mismatch(dovecot: Dovecot, user: str) -> None:
    # "127.1" reaches 127.0.0.1, but the certificate names only localhost and 127.0.0.1
    error = refused(mailbox(dovecot, user, host="127.1"), dovecot.password(user))
    assert error.kind == "tls"
    assert "is not for the name 127.1" in error.message


def test_tls_on_a_port_without_tls_says_to_use_starttls(dovecot: Dovecot, user: str) -> None:
    error = refused(mailbox(dovecot, user, port=dovecot.imap_port), dovecot.password(user))
    assert error.kind == "tls"
    assert 'for port 143 set tls = "starttls"' in error.message


def test_a_missing_ca_file_is_named(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    error = refused(mailbox(dovecot, user, ca_file=tmp_path / "nope.pem"), dovecot.password(user))
    assert (error.kind, error.message) == ("tls", f"ca_file {tmp_path / 'nope.pem'} does not exist")


# --- login ---------------------------------------------------------------------------------------------------------


def test_a_wrong_password_is_an_auth_error_with_the_providers_hint(dovecot: Dovecot, user: str) -> None:
    wrong = f"wrong-{secrets.token_hex(6)}"
    error = refused(mailbox(dovecot, user, provider="qq"), wrong)
    assert error.kind == "auth"
    assert error.message.startswith("QQ Mail needs an authorization code (授权码")
    assert f"127.0.0.1 refused the login of {user} ([AUTHENTICATIONFAILED] Authentication failed.)" in error.message
    plain = refused(mailbox(dovecot, user), wrong)
    assert plain.kind == "auth" and plain.message.endswith(": check the username and password")


def test_xoauth2_logs_in_with_the_token_and_a_bad_token_is_an_auth_error(dovecot: Dovecot) -> None:
    name, token = f"oauth{next(_names)}@example.com", f"ya29.{secrets.token_urlsafe(24)}"
    dovecot.add_user(name, token)
    with connected(mailbox(dovecot, name, auth="xoauth2"), token) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    dovecot.wait_for_log(f"user=<{name}>, method=XOAUTH2")
    error = refused(mailbox(dovecot, name, auth="xoauth2", provider="gmail"), "ya29.expired")
    assert error.kind == "auth" and error.message.startswith("Gmail needs an app password")
    plain = refused(mailbox(dovecot, name, auth="xoauth2"), "ya29.expired")
    assert "check the access token (it may have expired)" in plain.message


def test_no_log_record_or_error_holds_the_secret(dovecot: Dovecot, user: str, caplog: pytest.LogCaptureFixture) -> None:
    token_user, token = f"oauth{next(_names)}@example.com", f"ya29.{secrets.token_urlsafe(24)}"
    dovecot.add_user(token_user, token)
    caplog.set_level(logging.DEBUG)  # imapclient logs every command and response at DEBUG
    password = dovecot.password(user)
    with connected(mailbox(dovecot, user), password):
        pass
    with connected(mailbox(dovecot, token_user, auth="xoauth2"), token):
        pass
    errors = [
        refused(mailbox(dovecot, user, provider="163"), password + "x"),
        refused(mailbox(dovecot, token_user, auth="xoauth2"), token + "x"),
    ]
    assert any("LOGIN **REDACTED**" in r.getMessage() for r in caplog.records)  # the login was logged, redacted
    encoded = base64.b64encode(f"user={token_user}\1auth=Bearer {token}\1\1".encode()).decode()
    for text in [r.getMessage() for r in caplog.records] + [str(e) for e in errors]:
        assert password not in text and token not in text and encoded not in text


# --- network failures ------------------------------------------------------------------------------------------------


def test_a_closed_port_is_refused(dovecot: Dovecot, user: str) -> None:
    port = free_port()
    error = refused(mailbox(dovecot, user, port=port), WRONG)
    assert error.kind == "refused"
    assert error.message.startswith(f"cannot reach 127.0.0.1:{port}: connection refused")


def test_an_unknown_host_is_a_dns_error(dovecot: Dovecot, user: str) -> None:
    error = refused(mailbox(dovecot, user, host="imap.fapiao-test.invalid"), WRONG)  # .invalid never resolves
    assert error.kind == "dns"
    assert error.message.startswith("cannot find the server imap.fapiao-test.invalid: ")


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_a_server_that_never_answers_is_a_timeout(dovecot: Dovecot, user: str, tls: str) -> None:
    with socket.socket() as silent:  # listening, never accepting: the TCP handshake succeeds, no greeting comes
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        error = refused(mailbox(dovecot, user, port=port, tls=tls), WRONG, timeout=0.3)
        assert time.monotonic() - started < 5
    assert error.kind == "timeout"
    assert error.message.startswith(f"127.0.0.1:{port} did not answer within 0.3 s")


def test_starttls_against_the_imaps_port_on_993_says_to_use_ssl() -> None:
    from ingest.sources.imap_connection import _explained

    box = MailboxSettings("t", "127.0.0.1", "u", Secret("env", "X"), port=993, tls="starttls")
    with pytest.raises(MailConnectError) as raised, _explained(box, "s", "connecting", 1):
        raise TimeoutError
    assert 'port 993 is IMAPS, where the server waits for TLS first: set tls = "ssl"' in raised.value.message


# --- folders ---------------------------------------------------------------------------------------------------------


def test_folders_are_listed_decoded_with_their_counts(dovecot: Dovecot, user: str) -> None:
    dovecot.append(user, "INBOX", message())
    dovecot.append(user, "发票", message("一"), flags=[b"\\Seen"])
    dovecot.append(user, "发票", message("二"))
    with connected(mailbox(dovecot, user), dovecot.password(user)) as client:
        folders = list_folders(client)
        assert {f.name for f in folders} == {"INBOX", "发票"}
        assert all(f.selectable and f.delimiter == "." and f.special_use is None for f in folders)
        inbox, invoices = folder_counts(client, ["INBOX", "发票"])
        with pytest.raises(MailConnectError) as missing:
            folder_counts(client, ["没有"])
    assert (inbox.folder, inbox.messages, inbox.unseen, inbox.uidnext) == ("INBOX", 1, 1, 2)
    assert (invoices.folder, invoices.messages, invoices.unseen, invoices.uidnext) == ("发票", 2, 1, 3)
    assert inbox.uidvalidity > 0 and isinstance(inbox, FolderCount)
    assert missing.value.kind == "protocol" and "'没有'" in missing.value.message


def test_special_use_flags_and_unselectable_folders_are_recognised() -> None:
    sent = _folder((b"\\HasNoChildren", b"\\Sent"), b"/", "[Gmail]/已发邮件")
    assert sent == Folder("[Gmail]/已发邮件", "/", ("\\HasNoChildren", "\\Sent"), "\\Sent")
    assert sent.selectable
    gmail = _folder((b"\\Noselect", b"\\HasChildren"), b"/", "[Gmail]")
    assert gmail.special_use is None and not gmail.selectable
    assert _folder((b"\\JUNK",), None, 2024) == Folder("2024", None, ("\\JUNK",), "\\Junk")


# --- the secret ------------------------------------------------------------------------------------------------------


def test_a_secret_from_the_environment() -> None:
    assert read_secret(Secret("env", "CODE"), env={"CODE": "  abcd efgh\n"}) == "abcd efgh"
    with pytest.raises(SecretError, match=r"^environment variable CODE is not set$"):
        read_secret(Secret("env", "CODE"), env={})
    with pytest.raises(SecretError, match=r"^environment variable CODE is empty$"):
        read_secret(Secret("env", "CODE"), env={"CODE": " \n"})


def secret_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secret"
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_secret_from_a_file_is_its_first_line(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "  s3cret-授权码 \nsecond line\n")
    assert read_secret(Secret("file", str(path))) == "s3cret-授权码"


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("hunter2\n", 0o640, "can be read by other users (mode 640); run: chmod 600 "),
        ("hunter2\n", 0o604, "can be read by other users (mode 604); run: chmod 600 "),
        ("\nhunter2\n", 0o600, "is empty (the secret is its first line)"),
        ("", 0o600, "is empty (the secret is its first line)"),
    ],
)
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_a_secret_file_that_is_shared_or_empty_is_refused(
    tmp_path: Path, content: str, mode: int, message: str
) -> None:
    path = secret_file(tmp_path, content, mode)
    with pytest.raises(SecretError) as raised:
        read_secret(Secret("file", str(path)))
    assert str(raised.value).startswith(f"secret file {path} {message}")
    assert "hunter2" not in str(raised.value)


def test_a_missing_or_unusable_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"does not exist$"):
        read_secret(Secret("file", str(tmp_path / "nope")))
    with pytest.raises(SecretError, match=r"is a folder, not a file$"):
        read_secret(Secret("file", str(tmp_path)))
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfehunter2")
    binary.chmod(0o600)
    with pytest.raises(SecretError, match=r"is not UTF-8 text$") as raised:
        read_secret(Secret("file", str(binary)))
    assert raised.value.__cause__ is None and raised.value.__context__ is not None  # not chained: no bytes shown


def command(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_a_secret_from_a_command_is_the_first_line_of_its_output() -> None:
    line = command("print(' token-1 '); print('more')")
    assert read_secret(Secret("command", line)) == "token-1"
    # no shell: ';' and '$HOME' reach the program as they are
    assert read_secret(Secret("command", command("import sys; print(sys.argv[1])") + " '$HOME;x'")) == "$HOME;x"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("print('hunter' + '2'); raise SystemExit(3)", "failed (exit status 3)"),
        ("print(''); print('hunter' + '2')", "printed nothing on its first line"),
        ("import time; print('hunter' + '2', flush=True); time.sleep(30)", "did not finish within 0.5 s"),
    ],
)
def test_a_failing_secret_command_is_named_without_its_output(code: str, message: str) -> None:
    line = command(code)
    with pytest.raises(SecretError) as raised:
        read_secret(Secret("command", line), timeout=0.5)
    assert str(raised.value) == f"secret command {line!r} {message}"
    assert "hunter2" not in repr(raised.value) and raised.value.__cause__ is None


def test_a_secret_command_that_cannot_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"^secret command '/nonexistent/pass show qq': /nonexistent/pass not found$"):
        read_secret(Secret("command", "/nonexistent/pass show qq"))
    with pytest.raises(SecretError, match="cannot be split into words"):
        read_secret(Secret("command", "pass 'unclosed"))
    with pytest.raises(SecretError, match=r"^the secret command is empty$"):
        read_secret(Secret("command", "  "))
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hunter2\n")
    script.chmod(0o600)
    if sys.platform != "win32":
        with pytest.raises(SecretError, match=r"is not executable$"):
            read_secret(Secret("command", str(script)))
