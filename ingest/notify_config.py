"""[notify] settings: the webhooks (WeCom, DingTalk, Feishu group robots, plain JSON) and the daily digest by mail.

A robot's URL carries its key, and a signing secret or an SMTP password is a secret too: the config says where to
read them (an environment variable, a file, a command, as for [[mailbox]]); they are read when a message is sent.
A URL may also be written as it is (`url`), for a relay on the local network that needs no key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.config_tables import ConfigError, check_table, resolve_path
from ingest.mail_config import SECRET_KINDS, Secret, secret_of
from ingest.scheduler import cron_problem

EVENT_KINDS = ("invoice", "review", "failure")
WEBHOOK_FORMATS = ("wecom", "dingtalk", "feishu", "json")
SIGNED_FORMATS = ("dingtalk", "feishu")  # WeCom robots have no signing; plain JSON is ours
SMTP_TLS_MODES = ("ssl", "starttls", "none")
SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
DEFAULT_BATCH_SECONDS = 15.0


@dataclass(frozen=True)
class WebhookSettings:
    """One [[notify.webhook]]."""

    number: int  # its place in the config, for messages: 'wecom webhook #1'
    format: str
    url_source: Secret | None = None  # where the URL is read; None: `url` is written in the config
    url: str = field(default="", repr=False)
    secret: Secret | None = None  # DingTalk/Feishu signing secret ('SEC…'), if the robot signs
    events: tuple[str, ...] = EVENT_KINDS

    @property
    def label(self) -> str:
        return f"{self.format} webhook #{self.number}"


@dataclass(frozen=True)
class DigestSettings:
    """[notify.digest]: one mail on a cron schedule, summarising what happened since the last one."""

    schedule: str
    to: tuple[str, ...]
    sender: str
    host: str
    port: int
    tls: str = "ssl"
    username: str = ""
    password: Secret | None = None
    ca_file: Path | None = None  # a private CA; verification itself is never turned off


@dataclass(frozen=True)
class NotifySettings:
    events: tuple[str, ...] = EVENT_KINDS
    batch_seconds: float = DEFAULT_BATCH_SECONDS  # events are gathered this long into one message
    webhooks: tuple[WebhookSettings, ...] = ()
    digest: DigestSettings | None = None


_NOTIFY_KEYS: dict[str, type | tuple[type, ...]] = {
    "events": list,
    "batch_seconds": (int, float),
    "webhook": list,
    "digest": dict,
}
_WEBHOOK_KEYS: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "url": str,
    **{f"url_{kind}": str for kind in SECRET_KINDS},
    **{f"secret_{kind}": str for kind in SECRET_KINDS},
    "events": list,
}
_DIGEST_KEYS: dict[str, type | tuple[type, ...]] = {
    "schedule": str,
    "to": list,
    "from": str,
    "host": str,
    "port": int,
    "tls": str,
    "ca_file": str,
    "username": str,
    **{f"password_{kind}": str for kind in SECRET_KINDS},
}


def parse_notify(where: str, table: Any, base_dir: Path) -> NotifySettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [notify] must be a table")
    if isinstance(table.get("webhook"), dict):
        raise ConfigError(f"{where}: webhooks are written [[notify.webhook]] (with two brackets), one per robot")
    check_table(where, "[notify]", table, _NOTIFY_KEYS)
    events = _events(where, "[notify]", table.get("events", list(EVENT_KINDS)))
    batch_seconds = float(table.get("batch_seconds", DEFAULT_BATCH_SECONDS))
    if not 0 <= batch_seconds <= 600:
        raise ConfigError(f"{where}: [notify] batch_seconds must be between 0 and 600")
    tables = table.get("webhook", [])
    if not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: webhooks are written [[notify.webhook]] (with two brackets), one per robot")
    webhooks = tuple(
        _webhook(where, number, webhook, events, base_dir) for number, webhook in enumerate(tables, start=1)
    )
    digest = _digest(where, table["digest"], base_dir) if "digest" in table else None
    return NotifySettings(events=events, batch_seconds=batch_seconds, webhooks=webhooks, digest=digest)


def _events(where: str, section: str, values: list[Any]) -> tuple[str, ...]:
    for value in values:
        if value not in EVENT_KINDS:
            raise ConfigError(f"{where}: {section} events has {value!r}; choose from {', '.join(EVENT_KINDS)}")
    return tuple(dict.fromkeys(values))


def _webhook(
    where: str, number: int, table: dict[str, Any], events: tuple[str, ...], base_dir: Path
) -> WebhookSettings:
    section = f"[[notify.webhook]] #{number}"
    check_table(where, section, table, _WEBHOOK_KEYS)
    kind = table.get("format")
    if kind not in WEBHOOK_FORMATS:
        shown = f" = {kind!r}" if kind is not None else " is missing"
        raise ConfigError(f"{where}: {section} format{shown}; choose {', '.join(WEBHOOK_FORMATS)}")
    section = f"[[notify.webhook]] #{number} ({kind})"
    url_keys = [key for key in ("url", *(f"url_{k}" for k in SECRET_KINDS)) if table.get(key)]
    if len(url_keys) != 1:
        raise ConfigError(
            f"{where}: {section} needs exactly one of url_env, url_file, url_command, url (found {len(url_keys)}); "
            "the robot's URL holds its key: prefer url_env or url_file"
        )
    url = table.get("url", "")
    if url and not _is_http_url(url):  # the value is never quoted: it may hold the robot's key
        raise ConfigError(f"{where}: {section} url must be an http:// or https:// address")
    secrets = [kind for kind in SECRET_KINDS if table.get(f"secret_{kind}")]
    if secrets and kind not in SIGNED_FORMATS:
        raise ConfigError(
            f"{where}: {section} has secret_{secrets[0]}, but only {' and '.join(SIGNED_FORMATS)} robots sign"
        )
    if len(secrets) > 1:
        raise ConfigError(f"{where}: {section} needs at most one of secret_env, secret_file, secret_command")
    return WebhookSettings(
        number=number,
        format=kind,
        url_source=secret_of(table, "url", base_dir) if not url else None,
        url=url,
        secret=secret_of(table, "secret", base_dir) if secrets else None,
        events=_events(where, section, table["events"]) if "events" in table else events,
    )


def _digest(where: str, table: Any, base_dir: Path) -> DigestSettings:
    section = "[notify.digest]"
    if "password" in table:  # checked first, so that no message ever quotes it
        raise ConfigError(
            f"{where}: {section}: never write the password into the config; "
            "use password_env, password_file or password_command"
        )
    check_table(where, section, table, _DIGEST_KEYS)
    schedule = " ".join(table.get("schedule", "").split())
    if not schedule:
        raise ConfigError(f'{where}: {section} needs a schedule, a cron line like "0 8 * * *" (08:00 every day)')
    if problem := cron_problem(schedule):
        raise ConfigError(
            f"{where}: {section} schedule {schedule!r} is not a cron line (minute hour day month weekday, "
            f'e.g. "0 8 * * *" for 08:00 every day): {problem}'
        )
    to = table.get("to", [])
    if not to:
        raise ConfigError(f"{where}: {section} needs to, a list of mail addresses the digest goes to")
    for address in to:
        if not isinstance(address, str) or not _is_address(address):
            raise ConfigError(f"{where}: {section} to has {address!r}, which is not a mail address")
    username = table.get("username", "")
    sender = table.get("from") or (username if _is_address(username) else "")
    if not sender:
        raise ConfigError(f"{where}: {section} needs from, the address the digest is sent from")
    if not _is_address(sender):
        raise ConfigError(f"{where}: {section} from = {sender!r} is not a mail address")
    if not table.get("host"):
        raise ConfigError(f'{where}: {section} needs a host, the SMTP server (e.g. "smtp.qq.com")')
    tls = table.get("tls", "ssl")
    if tls not in SMTP_TLS_MODES:
        raise ConfigError(f"{where}: {section} tls = {tls!r}; choose {', '.join(SMTP_TLS_MODES)}")
    port = table.get("port", SMTP_PORTS[tls])
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: {section} port {port} is not a port number")
    passwords = [kind for kind in SECRET_KINDS if table.get(f"password_{kind}")]
    if len(passwords) > 1:
        raise ConfigError(f"{where}: {section} needs at most one of password_env, password_file, password_command")
    if passwords and not username:
        raise ConfigError(f"{where}: {section} has a password source but no username to log in with")
    if username and not passwords:
        raise ConfigError(
            f"{where}: {section} has a username but no password_env, password_file or password_command "
            "(for QQ, 163, 126 mail: the authorization code, 授权码)"
        )
    return DigestSettings(
        schedule=schedule,
        to=tuple(to),
        sender=sender,
        host=table["host"],
        port=port,
        tls=tls,
        username=username,
        password=secret_of(table, "password", base_dir) if passwords else None,
        ca_file=resolve_path(table["ca_file"], base_dir) if table.get("ca_file") else None,
    )


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_address(text: str) -> bool:
    """A plain address (local@domain); no display name, nothing that could start another header."""
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain.strip(".")) and not any(c.isspace() or c in '<>,;"' for c in text)
