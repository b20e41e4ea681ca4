"""[[mailbox]] settings: presets fill in hosts, the secret is only ever a reference, every mistake is named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ingest.config import ConfigError, load_settings
from ingest.mail_config import PROVIDERS, MailAfter, Secret

_QQ_HEAD = '[[mailbox]]\nname = "qq"\nprovider = "qq"\nusername = "10001@qq.com"\n'
_QQ = _QQ_HEAD + 'password_env = "FAPIAO_QQ_CODE"\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_provider_preset_fills_in_the_server_and_the_defaults_are_safe(tmp_path: Path) -> None:
    [box] = load_settings(_write(tmp_path, _QQ)).mailboxes
    assert (box.host, box.port, box.tls, box.auth) == ("imap.qq.com", 993, "ssl", "password")
    assert box.secret == Secret("env", "FAPIAO_QQ_CODE")
    assert box.folders == ("INBOX",)
    assert box.after == MailAfter("keep")
    assert box.since is None
    assert box.source == "imap:qq"
    assert "authorization code" in box.hint


def test_every_key_is_read(tmp_path: Path) -> None:
    text = """
[[mailbox]]
name = "work"
host = "mail.example.com"
tls = "starttls"
ca_file = "certs/ca.pem"
username = "me@example.com"
password_file = "secrets/work"
folders = ["INBOX", "发票/2025"]
since = 2024-01-01
senders = ["nuonuo", "baiwang"]
subjects = ["发票"]
after = "move:已处理"
poll_seconds = 60
idle_seconds = 120.5
"""
    [box] = load_settings(_write(tmp_path, text)).mailboxes
    assert (box.host, box.port, box.tls) == ("mail.example.com", 143, "starttls")
    assert box.ca_file == tmp_path.resolve() / "certs" / "ca.pem"
    assert box.secret == Secret("file", str(tmp_path.resolve() / "secrets" / "work"))
    assert box.folders == ("INBOX", "发票/2025")
    assert box.since == date(2024, 1, 1)
    assert (box.senders, box.subjects) == (("nuonuo", "baiwang"), ("发票",))
    assert box.after == MailAfter("move", "已处理")
    assert (box.poll_seconds, box.idle_seconds) == (60.0, 120.5)


def test_outlook_uses_xoauth2_with_a_token_source(tmp_path: Path) -> None:
    text = '[[mailbox]]\nname = "o"\nprovider = "outlook"\nusername = "me@outlook.com"\ntoken_command = "get-token"\n'
    [box] = load_settings(_write(tmp_path, text)).mailboxes
    assert (box.host, box.auth) == ("outlook.office365.com", "xoauth2")
    assert box.secret == Secret("command", "get-token")


def test_since_may_be_a_string(tmp_path: Path) -> None:
    [box] = load_settings(_write(tmp_path, _QQ + 'since = "2023-05-06"\n')).mailboxes
    assert box.since == date(2023, 5, 6)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_preset_loads(tmp_path: Path, provider: str) -> None:
    secret = "token_env" if PROVIDERS[provider].auth == "xoauth2" else "password_env"
    text = f'[[mailbox]]\nname = "a"\nprovider = "{provider}"\nusername = "u"\n{secret} = "X"\n'
    [box] = load_settings(_write(tmp_path, text)).mailboxes
    assert box.host == PROVIDERS[provider].host
    assert box.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[mailbox]\nname = "a"\n', "written [[mailbox]] (with two brackets)"),
        ('[[mailbox]]\nhost = "h"\n', "needs a name"),
        ('[[mailbox]]\nname = "a"\nprovider = "hotmail"\n', "provider 'hotmail'; known: qq, 163"),
        ('[[mailbox]]\nname = "a"\nusername = "u"\npassword_env = "X"\n', "needs a host (or a provider"),
        ('[[mailbox]]\nname = "a"\nprovider = "qq"\npassword_env = "X"\n', "needs a username"),
        (_QQ_HEAD + 'tls = "ssl3"\n', "tls = 'ssl3'; choose ssl, starttls, none"),
        (_QQ_HEAD + 'auth = "cram-md5"\n', "auth = 'cram-md5'; choose password, xoauth2"),
        (_QQ_HEAD + "port = 0\n", "port 0 is not a port number"),
        (_QQ_HEAD + 'password = "hunter2"\n', "never write the password into the config; use password_env"),
        (_QQ_HEAD, "needs exactly one of password_env, password_file, password_command (found 0)"),
        (_QQ + 'password_file = "f"\n', "(found 2)"),
        (_QQ + 'auth = "xoauth2"\n', "has password_env but auth is 'xoauth2'"),
        (_QQ + 'since = "last year"\n', "since = 'last year' is not a date"),
        (_QQ + 'after = "archive"\n', "after = 'archive'; choose keep, seen, flag or move:<folder>"),
        (_QQ + 'after = "move:"\n', "choose keep, seen, flag or move:<folder>"),
        (_QQ + 'folders = ["INBOX", 3]\n', "folders must be a list of non-empty strings"),
        (_QQ + 'folders = "INBOX"\n', "folders must be a list, not str"),
        (_QQ + "poll_seconds = 0\n", "poll_seconds must be more than 0"),
        (_QQ + 'user = "x"\n', "unknown key 'user' in [[mailbox]] #1; allowed: name, provider, host"),
        (_QQ + _QQ, "two mailboxes are named 'qq'"),
        (_QQ + 'after = "move:inbox"\n', "moves mail into a folder it reads"),
        (_QQ + 'folders = ["发票"]\nafter = "move:发票"\n', "moves mail into a folder it reads"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_write(tmp_path, text))
    assert message in str(raised.value)


def test_the_secret_never_appears_in_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAPIAO_QQ_CODE", "abcdefghijklmnop")
    settings = load_settings(_write(tmp_path, _QQ))
    assert "abcdefghijklmnop" not in repr(settings)


def test_the_example_config_has_a_working_mailbox_example() -> None:
    example = load_settings(Path(__file__).resolve().parent.parent / "config.example.toml")
    [box] = example.mailboxes
    assert (box.host, box.port, box.tls, box.folders, box.after.kind) == ("imap.qq.com", 993, "ssl", ("INBOX",), "keep")
    assert box.since is not None and box.secret.kind == "env"
