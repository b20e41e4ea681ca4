"""[notify]: webhooks and the digest as the config file gives them; every mistake is named with its key, and no
message ever quotes a URL (it holds the robot's key) or a password."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.config import ConfigError, load_settings
from ingest.mail_config import Secret
from ingest.notify_config import DigestSettings, NotifySettings, WebhookSettings

REPO = Path(__file__).resolve().parent.parent
ARCHIVE = '[archive]\nroot = "archive"\n'
WEBHOOK = '[[notify.webhook]]\nformat = "wecom"\nurl_env = "FAPIAO_WECOM_URL"\n'
DIGEST = (
    '[notify.digest]\nschedule = "0 8 * * *"\nto = ["me@example.com"]\nhost = "smtp.qq.com"\n'
    'username = "10001@qq.com"\npassword_env = "FAPIAO_SMTP_PASSWORD"\n'
)


def load(tmp_path: Path, text: str) -> NotifySettings:
    path = tmp_path / "config.toml"
    path.write_text(text + ARCHIVE, encoding="utf-8")  # [archive] last: top-level keys in `text` stay top-level
    return load_settings(path).notify


def mistake(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert str(tmp_path / "config.toml") in message
    return message


def test_nothing_configured_means_no_notifications(tmp_path: Path) -> None:
    assert load(tmp_path, "") == NotifySettings()
    assert NotifySettings().webhooks == () and NotifySettings().digest is None


def test_a_full_notify_section(tmp_path: Path) -> None:
    text = (
        '[notify]\nevents = ["invoice", "failure"]\nbatch_seconds = 30\n'
        + WEBHOOK
        + '[[notify.webhook]]\nformat = "dingtalk"\nurl_file = "secrets/ding-url"\nsecret_env = "DING_SECRET"\n'
        + '[[notify.webhook]]\nformat = "json"\nurl = "http://192.168.1.10:8080/fapiao"\nevents = ["review"]\n'
        + DIGEST
    )
    notify = load(tmp_path, text)
    assert notify.events == ("invoice", "failure")
    assert notify.batch_seconds == 30.0
    wecom, ding, plain = notify.webhooks
    assert wecom == WebhookSettings(1, "wecom", Secret("env", "FAPIAO_WECOM_URL"), events=("invoice", "failure"))
    assert ding.url_source == Secret("file", str(tmp_path.resolve() / "secrets" / "ding-url"))
    assert ding.secret == Secret("env", "DING_SECRET")
    assert (plain.url, plain.url_source, plain.events) == ("http://192.168.1.10:8080/fapiao", None, ("review",))
    assert plain.label == "json webhook #3"
    assert notify.digest == DigestSettings(
        schedule="0 8 * * *",
        to=("me@example.com",),
        sender="10001@qq.com",  # from the username, when it is an address
        host="smtp.qq.com",
        port=465,
        tls="ssl",
        username="10001@qq.com",
        password=Secret("env", "FAPIAO_SMTP_PASSWORD"),
    )


def test_starttls_and_plain_default_ports(tmp_path: Path) -> None:
    starttls = load(tmp_path, DIGEST + 'tls = "starttls"\n').digest
    assert starttls is not None and starttls.port == 587
    relay = (
        '[notify.digest]\nschedule = "0 8 * * 1"\nto = ["a@example.com", "b@example.com"]\n'
        'from = "fapiao@nas.lan"\nhost = "127.0.0.1"\ntls = "none"\n'
    )
    plain = load(tmp_path, relay).digest
    assert plain is not None
    assert (plain.port, plain.username, plain.password, plain.to) == (25, "", None, ("a@example.com", "b@example.com"))


def test_the_commented_example_loads_once_uncommented(tmp_path: Path) -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    section = text[text.index("# [notify]") :]
    lines = [line[2:] for line in section.splitlines() if re.match(r"^# (\[|[a-z_]+ = )", line)]
    notify = load(tmp_path, "\n".join(lines) + "\n")
    assert [w.format for w in notify.webhooks] == ["wecom", "dingtalk", "feishu", "json"]
    assert notify.webhooks[2].events == ("failure",)
    assert notify.digest is not None and notify.digest.schedule == "0 8 * * *"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[notify]\nevent = []\n", "unknown key 'event' in [notify]; allowed: events, batch_seconds, webhook, digest"),
        ('[notify]\nevents = ["invoices"]\n', "[notify] events has 'invoices'; choose from invoice, review, failure"),
        ("[notify]\nbatch_seconds = 3600\n", "[notify] batch_seconds must be between 0 and 600"),
        ('[notify]\nbatch_seconds = "15"\n', "[notify] batch_seconds must be a number, not str"),
        ("notify = 1\n", "[notify] must be a table"),
        ('[notify.webhook]\nformat = "wecom"\n', "webhooks are written [[notify.webhook]] (with two brackets)"),
        ('[[notify.webhook]]\nformat = "slack"\nurl_env = "X"\n', "format = 'slack'; choose wecom, dingtalk"),
        ('[[notify.webhook]]\nurl_env = "X"\n', "[[notify.webhook]] #1 format is missing; choose wecom"),
        ('[[notify.webhook]]\nformat = "wecom"\nurl_env = "X"\nkey = "k"\n', "unknown key 'key' in [[notify.webhook]]"),
        (
            '[[notify.webhook]]\nformat = "wecom"\n',
            "needs exactly one of url_env, url_file, url_command, url (found 0)",
        ),
        (
            '[[notify.webhook]]\nformat = "wecom"\nurl_env = "X"\nurl_file = "f"\n',
            "#1 (wecom) needs exactly one of url_env, url_file, url_command, url (found 2)",
        ),
        (
            '[[notify.webhook]]\nformat = "wecom"\nurl_env = "X"\nsecret_env = "S"\n',
            "has secret_env, but only dingtalk and feishu robots sign",
        ),
        (
            '[[notify.webhook]]\nformat = "feishu"\nurl_env = "X"\nsecret_env = "S"\nsecret_file = "f"\n',
            "needs at most one of secret_env, secret_file, secret_command",
        ),
        (
            '[[notify.webhook]]\nformat = "json"\nurl_env = "X"\nevents = ["all"]\n',
            "[[notify.webhook]] #1 (json) events has 'all'",
        ),
        (DIGEST.replace('schedule = "0 8 * * *"\n', ""), "[notify.digest] needs a schedule"),
        (DIGEST.replace("0 8 * * *", "every morning"), "[notify.digest] schedule 'every morning' is not a cron line"),
        (DIGEST.replace("0 8 * * *", "0 25 * * *"), "[notify.digest] schedule '0 25 * * *' is not a cron line"),
        (DIGEST.replace('to = ["me@example.com"]\n', ""), "[notify.digest] needs to, a list of mail addresses"),
        (DIGEST.replace('"me@example.com"', '"me"'), "[notify.digest] to has 'me', which is not a mail address"),
        (DIGEST.replace('to = ["me@example.com"]', 'to = "me@example.com"'), "[notify.digest] to must be a list"),
        (
            DIGEST.replace('"me@example.com"', '"a@example.com\\nBcc: x@evil.example"'),
            "which is not a mail address",
        ),
        (DIGEST.replace('host = "smtp.qq.com"\n', ""), "[notify.digest] needs a host, the SMTP server"),
        (DIGEST + 'tls = "tls"\n', "[notify.digest] tls = 'tls'; choose ssl, starttls, none"),
        (DIGEST + "port = 70000\n", "[notify.digest] port 70000 is not a port number"),
        (DIGEST + 'from = "Me <me@example.com>"\n', "[notify.digest] from = 'Me <me@example.com>' is not a mail"),
        (DIGEST.replace('password_env = "FAPIAO_SMTP_PASSWORD"\n', ""), "has a username but no password_env"),
        (DIGEST.replace('username = "10001@qq.com"\n', 'from = "a@b.example"\n'), "has a password source but no"),
        (DIGEST + 'password_file = "pw"\n', "needs at most one of password_env, password_file, password_command"),
        (
            DIGEST.replace('username = "10001@qq.com"\npassword_env = "FAPIAO_SMTP_PASSWORD"\n', ""),
            "[notify.digest] needs from, the address the digest is sent from",
        ),
        (DIGEST + "colour = 1\n", "unknown key 'colour' in [notify.digest]; allowed: schedule, to, from"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in mistake(tmp_path, text)


def test_a_url_written_in_the_config_is_never_quoted(tmp_path: Path) -> None:
    text = '[[notify.webhook]]\nformat = "wecom"\nurl = "ftp://qyapi.weixin.qq.com/send?key=ROBOT-KEY-42"\n'
    message = mistake(tmp_path, text)
    assert "url must be an http:// or https:// address" in message
    assert "ROBOT-KEY-42" not in message


def test_a_password_written_in_the_config_is_refused_unquoted(tmp_path: Path) -> None:
    message = mistake(tmp_path, DIGEST + 'password = "hunter2-auth-code"\n')
    assert "never write the password into the config" in message
    assert "hunter2" not in message


def test_notify_is_a_known_section(tmp_path: Path) -> None:
    message = mistake(tmp_path, "[notifications]\n")
    assert "unknown section [notifications]; known sections: archive, database, extract, daemon, backup, notify" in (
        message
    )
