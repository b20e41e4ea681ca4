"""[[mailbox]] settings: servers, provider presets, where the secret comes from, folders, filters, after-action.

The config never holds a password or token, only where to get one (an
environment variable, a file, a command); the poller reads it when it logs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ingest.config_tables import ConfigError, check_table, move_target, resolve_path

TLS_MODES = ("ssl", "starttls", "none")
AUTH_MODES = ("password", "xoauth2")
SECRET_KINDS = ("env", "file", "command")


@dataclass(frozen=True)
class Provider:
    """What a mail provider needs that a person should not have to look up."""

    host: str
    hint: str  # said when the login fails: what the password must be
    auth: str = "password"


_AUTH_CODE_163 = "needs a client authorization code (客户端授权密码, 设置 → POP3/SMTP/IMAP), not the login password"
PROVIDERS: dict[str, Provider] = {
    "qq": Provider(
        "imap.qq.com",
        "QQ Mail needs an authorization code (授权码: 设置 → 账户 → POP3/IMAP服务 → 生成授权码), not your QQ password",
    ),
    "163": Provider("imap.163.com", f"163 Mail {_AUTH_CODE_163}"),
    "126": Provider("imap.126.com", f"126 Mail {_AUTH_CODE_163}"),
    "yeah": Provider("imap.yeah.net", f"yeah.net Mail {_AUTH_CODE_163}"),
    "exmail": Provider(
        "imap.exmail.qq.com",
        "Tencent Exmail needs a client-specific password (客户端专用密码) when secure login is on",
    ),
    "aliyun": Provider(
        "imap.qiye.aliyun.com",
        "Aliyun enterprise mail needs a client-specific password (三方客户端安全密码) when it is enabled",
    ),
    "gmail": Provider("imap.gmail.com", "Gmail needs an app password (with 2-step verification on) or XOAUTH2"),
    "outlook": Provider(
        "outlook.office365.com",
        'Outlook.com and Microsoft 365 accept only XOAUTH2 for IMAP: set auth = "xoauth2" and a token source',
        auth="xoauth2",
    ),
}


@dataclass(frozen=True)
class Secret:
    """Where the password or token is read from; never the secret itself."""

    kind: str  # 'env', 'file' or 'command'
    source: str  # the variable's name, the file's path, or the command line

    def __str__(self) -> str:
        return f"{self.kind} {self.source}"


@dataclass(frozen=True)
class MailAfter:
    """What happens to a mail once every invoice in it is committed."""

    kind: str = "keep"  # 'keep', 'seen', 'flag' or 'move'
    folder: str | None = None  # the target of 'move'

    def __str__(self) -> str:
        return f"move:{self.folder}" if self.kind == "move" else self.kind


@dataclass(frozen=True)
class MailboxSettings:
    name: str
    host: str
    username: str
    secret: Secret
    port: int = 993
    tls: str = "ssl"  # IMAPS; 'starttls', or 'none' only when asked for
    auth: str = "password"  # or 'xoauth2' (the secret is then an OAuth access token)
    provider: str | None = None
    ca_file: Path | None = None  # a private CA; verification itself is never turned off
    folders: tuple[str, ...] = ("INBOX",)
    since: date | None = None  # first sync: backfill mail from this day on; None: only new mail
    senders: tuple[str, ...] = ()  # keep mail whose decoded From contains one of these (any, if empty)
    subjects: tuple[str, ...] = ()  # keep mail whose decoded Subject contains one of these (any, if empty)
    after: MailAfter = MailAfter()
    poll_seconds: float = 300.0  # how often to look where the server has no IDLE
    idle_seconds: float = 540.0  # IDLE is re-issued this often: NATs drop quiet connections long before 29 min

    @property
    def source(self) -> str:
        return f"imap:{self.name}"

    @property
    def hint(self) -> str:
        preset = PROVIDERS.get(self.provider or "")
        return preset.hint if preset else ""


_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "provider": str,
    "host": str,
    "port": int,
    "tls": str,
    "ca_file": str,
    "username": str,
    "auth": str,
    **{f"password_{kind}": str for kind in SECRET_KINDS},
    **{f"token_{kind}": str for kind in SECRET_KINDS},
    "folders": list,
    "since": (date, str),
    "senders": list,
    "subjects": list,
    "after": str,
    "poll_seconds": (int, float),
    "idle_seconds": (int, float),
}


def parse_mailboxes(where: str, tables: Any, base_dir: Path) -> tuple[MailboxSettings, ...]:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: mailboxes are written [[mailbox]] (with two brackets), one per account")
    mailboxes: list[MailboxSettings] = []
    for number, table in enumerate(tables, start=1):
        mailbox = _mailbox(where, f"[[mailbox]] #{number}", table, base_dir)
        if any(m.name == mailbox.name for m in mailboxes):
            raise ConfigError(f"{where}: two mailboxes are named {mailbox.name!r}; each needs its own name")
        mailboxes.append(mailbox)
    return tuple(mailboxes)


def _mailbox(where: str, section: str, table: dict[str, Any], base_dir: Path) -> MailboxSettings:
    for written in ("password", "token"):
        if written in table:  # checked first, so that no message ever quotes it
            raise ConfigError(
                f"{where}: {section}: never write the {written} into the config; "
                f"use {written}_env, {written}_file or {written}_command"
            )
    check_table(where, section, table, _KEYS)
    name = table.get("name", "").strip()
    if not name:
        raise ConfigError(f"{where}: {section} needs a name (it labels the account in logs and `fapiao mail test`)")
    section = f"[[mailbox]] {name!r}"
    provider_name = table.get("provider")
    preset = None
    if provider_name is not None:
        preset = PROVIDERS.get(provider_name)
        if preset is None:
            raise ConfigError(f"{where}: {section} provider {provider_name!r}; known: {', '.join(PROVIDERS)}")
    host = table.get("host") or (preset.host if preset else "")
    if not host:
        raise ConfigError(f"{where}: {section} needs a host (or a provider: {', '.join(PROVIDERS)})")
    tls = _choice(where, section, "tls", table.get("tls", "ssl"), TLS_MODES)
    auth = _choice(where, section, "auth", table.get("auth", preset.auth if preset else "password"), AUTH_MODES)
    port = table.get("port", 993 if tls == "ssl" else 143)
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: {section} port {port} is not a port number")
    if not table.get("username"):
        raise ConfigError(f"{where}: {section} needs a username (usually the full mail address)")
    for key in ("poll_seconds", "idle_seconds"):
        if key in table and table[key] <= 0:
            raise ConfigError(f"{where}: {section} {key} must be more than 0")
    folders = _strings(where, section, table, "folders") or ("INBOX",)
    after = _after(where, section, table.get("after", "keep"))
    if after.folder is not None and any(_same_folder(after.folder, folder) for folder in folders):
        raise ConfigError(
            f"{where}: {section} after = 'move:{after.folder}' moves mail into a folder it reads: "
            "every message would come round again; move it elsewhere"
        )
    return MailboxSettings(
        name=name,
        host=host,
        username=table["username"],
        secret=_secret(where, section, table, auth, base_dir),
        port=port,
        tls=tls,
        auth=auth,
        provider=provider_name,
        ca_file=resolve_path(table["ca_file"], base_dir) if table.get("ca_file") else None,
        folders=folders,
        since=_since(where, section, table.get("since")),
        senders=_strings(where, section, table, "senders"),
        subjects=_strings(where, section, table, "subjects"),
        after=after,
        poll_seconds=float(table.get("poll_seconds", MailboxSettings.poll_seconds)),
        idle_seconds=float(table.get("idle_seconds", MailboxSettings.idle_seconds)),
    )


def _same_folder(a: str, b: str) -> bool:
    """INBOX is case-insensitive (RFC 3501); other names are compared as written."""
    return a == b or a.upper() == b.upper() == "INBOX"


def _choice(where: str, section: str, key: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: {section} {key} = {value!r}; choose {', '.join(choices)}")
    return value


def _secret(where: str, section: str, table: dict[str, Any], auth: str, base_dir: Path) -> Secret:
    """Exactly one source of the secret, of the kind `auth` needs; a password written into the file is refused."""
    prefix = "token" if auth == "xoauth2" else "password"
    given = [kind for kind in SECRET_KINDS if table.get(f"{prefix}_{kind}")]
    wrong = [key for key in table if key.startswith(("password_", "token_")) and not key.startswith(prefix)]
    if wrong:
        raise ConfigError(
            f"{where}: {section} has {wrong[0]} but auth is {auth!r}; use {prefix}_env, _file or _command"
        )
    if len(given) != 1:
        raise ConfigError(
            f"{where}: {section} needs exactly one of {prefix}_env, {prefix}_file, {prefix}_command "
            f"(found {len(given)})"
        )
    return secret_of(table, prefix, base_dir)


def secret_of(table: dict[str, Any], prefix: str, base_dir: Path) -> Secret:
    """The `{prefix}_env`, `_file` or `_command` that `table` gives (the caller checked it gives one), a file
    relative to the config's folder."""
    kind = next(kind for kind in SECRET_KINDS if table.get(f"{prefix}_{kind}"))
    value = table[f"{prefix}_{kind}"]
    return Secret(kind, str(resolve_path(value, base_dir)) if kind == "file" else value)


def _strings(where: str, section: str, table: dict[str, Any], key: str) -> tuple[str, ...]:
    values = table.get(key, [])
    if not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"{where}: {section} {key} must be a list of non-empty strings")
    return tuple(values)


def _since(where: str, section: str, value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {section} since = {value!r} is not a date like 2024-01-01") from exc


def _after(where: str, section: str, text: str) -> MailAfter:
    if text in ("keep", "seen", "flag"):
        return MailAfter(text)
    if (target := move_target(text)) is not None:
        return MailAfter("move", target)
    raise ConfigError(f"{where}: {section} after = {text!r}; choose keep, seen, flag or move:<folder>")
