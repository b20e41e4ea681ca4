"""`fapiao mail test` end to end: a real `fapiao` process against a real Dovecot, its table, its sentences, its exit
codes."""

from __future__ import annotations

import itertools
import secrets
import socket
from pathlib import Path

from cli_run import fapiao
from dovecot_server import Dovecot
from test_dovecot_server import message

_names = itertools.count()


def write_config(tmp_path: Path, *mailboxes: str) -> None:
    (tmp_path / "config.toml").write_text("\n".join(mailboxes), encoding="utf-8")


def mailbox_toml(
    dovecot: Dovecot,
    user: str,
    *,
    name: str = "local",
    extra: str = "",
    port: int | None = None,
    ca_file: bool = True,
    password_file: str = "password",
) -> str:
    lines = [
        "[[mailbox]]",
        f'name = "{name}"',
        f'host = "{dovecot.host}"',
        f"port = {port or dovecot.imaps_port}",
        f'username = "{user}"',
        f'password_file = "{password_file}"',
    ]
    if ca_file:
        lines.append(f'ca_file = "{dovecot.ca_file}"')
    return "\n".join(lines) + "\n" + extra + "\n"


def write_password(tmp_path: Path, password: str, name: str = "password") -> None:
    path = tmp_path / name
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)


def test_mail_test_logs_in_sends_id_and_lists_folders_with_counts(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    dovecot.append(user, "INBOX", message())
    for n in range(3):
        dovecot.append(user, "发票", message(f"发票 {n}"), flags=[b"\\Seen"] if n else [])
    dovecot.append(user, "其他", message())
    write_password(tmp_path, dovecot.password(user))
    write_config(tmp_path, mailbox_toml(dovecot, user, extra='folders = ["inbox", "发票"]'))
    result = fapiao("mail", "test", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"local: {user} at 127.0.0.1:{dovecot.imaps_port} (tls ssl, password)"
    assert "logged in; ID sent" in lines
    rows = {cells[0]: cells[1:] for cells in (_cells(line) for line in lines) if cells}
    assert rows["INBOX"] == ["1", "1", "yes"]
    assert rows["发票"] == ["3", "1", "yes"]
    assert rows["其他"] == ["1", "1"]
    assert lines[-1] == "watched folders found: inbox, 发票"
    assert result.stderr == ""
    log = dovecot.wait_for_log("ID sent: name=fapiao-inbox")
    assert any(f"imap({user})" in line and "ID sent" in line for line in log.splitlines())


def _cells(line: str) -> list[str]:
    """The non-empty cells of a rich table row ('│ a │ b │'), or [] for other lines."""
    if not line.startswith("│"):
        return []
    return [cell.strip() for cell in line.strip("│").split("│") if cell.strip()]


def test_a_wrong_authorization_code_for_qq_says_what_qq_needs(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    write_password(tmp_path, wrong)
    write_config(tmp_path, mailbox_toml(dovecot, user, extra='provider = "qq"'))
    result = fapiao("mail", "test", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("local: QQ Mail needs an authorization code (授权码")
    assert f"refused the login of {user}" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_an_untrusted_certificate_and_a_closed_port_are_said_plainly(
    dovecot: Dovecot, user: str, tmp_path: Path
) -> None:
    write_password(tmp_path, dovecot.password(user))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    write_config(
        tmp_path,
        mailbox_toml(dovecot, user, name="private-ca", ca_file=False),
        mailbox_toml(dovecot, user, name="closed", port=closed),
    )
    result = fapiao("mail", "test", cwd=tmp_path)
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2, result.stderr
    assert errors[0].startswith(f"private-ca: the server's certificate is not trusted: 127.0.0.1:{dovecot.imaps_port}")
    assert errors[0].endswith("set ca_file if it uses a private CA")
    assert errors[1].startswith(f"closed: cannot reach 127.0.0.1:{closed}: connection refused")


def test_one_named_account_is_tested_and_a_missing_folder_fails(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    write_password(tmp_path, dovecot.password(user))
    dovecot.append(user, "发票.2025", message())  # Maildir++ separates levels with "."
    write_config(
        tmp_path,
        mailbox_toml(dovecot, user, name="good"),
        mailbox_toml(dovecot, user, name="folders", extra='folders = ["INBOX", "发票/2025", "Archive"]'),
    )
    good = fapiao("mail", "test", "good", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("good: ") and "folders: " not in good.stdout
    result = fapiao("mail", "test", "folders", cwd=tmp_path)
    assert result.returncode == 1
    assert "watched folders found: INBOX, 发票/2025" in result.stdout  # '/' read as the server's '.'
    assert result.stderr.strip() == (
        "folders: configured folder 'Archive' not on the server: "
        "use a name from the list above ('/' between levels works on every server)"
    )


def test_a_secret_that_cannot_be_read_is_named(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    write_config(tmp_path, mailbox_toml(dovecot, user, password_file="missing"))
    result = fapiao("mail", "test", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"local: cannot read the password: secret file {tmp_path.resolve() / 'missing'} does not exist"
    )


def test_an_unknown_account_or_no_mailbox_is_a_usage_error(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    write_config(tmp_path, mailbox_toml(dovecot, user, name="a"), mailbox_toml(dovecot, user, name="b"))
    unknown = fapiao("mail", "test", "c", cwd=tmp_path)
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "no mailbox named 'c'; configured: a, b")
    write_config(tmp_path, "[extract]\nocr = false\n")
    none = fapiao("mail", "test", cwd=tmp_path)
    assert none.returncode == 2
    assert none.stderr.startswith("no [[mailbox]] in config.toml: add one with a name, a provider (or host)")
